"""``--input_encoding NAME rgba|argb32 [bgr|rgb]``: a 4-channel DLC input and an ArgbToRgb op behind it.

SNPE's legacy converters express a colour conversion in the graph, not in an input attribute: the
DLC input becomes ``[N, H, W, 4]`` and a ``ArgbToRgb`` node (input_order 0 ARGB / 1 RGBA,
reverse_output for BGR) feeds what the model read before.  This runs after the spatial-first
rewrite, when image inputs are NHWC.
"""
from __future__ import annotations

from ..errors import ConversionError
from ..ir import axis_format as af
from ..ir.graph import Graph, InputInfo
from ..ops.color import ARGB, RGBA
from .registry import register_pass

_ORDER = {"argb32": ARGB, "rgba": RGBA}


@register_pass("insert_color_transform")
def insert_color_transform(graph: Graph, options) -> bool:
    changed = False
    for name in list(graph.inputs):
        info = graph.input_info.get(name, InputInfo())
        if info.encoding_in not in _ORDER or info.encoding_out not in ("bgr", "rgb"):
            continue
        t = graph.tensors[name]
        if t.rank != 4 or t.shape[-1] != 3 or t.axis_format != af.NSC:
            raise ConversionError(f"--input_encoding {name} {info.encoding_in}: the input must be a 3-channel "
                                  f"image (it is {list(t.shape)} {t.axis_format}); drop the encoding or fix -d")
        post = graph.unique_name(f"{name}_post_transform")
        graph.rename_tensor(name, post)
        graph.inputs[graph.inputs.index(post)] = name
        graph.input_info[name] = graph.input_info.pop(post)
        graph.tensors[name] = type(t)(name, t.shape[:3] + (4,), t.dtype, af.NSC)
        graph._names.add(name)
        graph.tensors[post].axis_format = af.NSC
        graph.add_op("ArgbToRgb", [name], [post], {
            "input_order": _ORDER[info.encoding_in], "reverse_output": info.encoding_out == "bgr"},
            name=post, index=0)
        graph.tensors[post].axis_format = af.NSC
        changed = True
    return changed

"""``--input_encoding NAME ENC_IN [ENC_OUT]`` and ``--input_dtype``: the ops between a DLC input and the model.

SNPE's legacy converters express a colour conversion in the graph, not in an input attribute
(``extract_color_transform``): the DLC input takes the camera's format and a colour op feeds what the
model read before.  This runs after the spatial-first rewrite, when image inputs are NHWC:

* ``rgba``/``argb32`` -> ``rgb``/``bgr``: a ``[N, H, W, 4]`` input and ``ArgbToRgb`` (input_order 0 ARGB /
  1 RGBA, reverse_output for BGR); alpha is dropped.
* ``nv21``/``nv12`` -> ``rgb``/``bgr``: a ``[N, H*W*3/2]`` NONTRIVIAL input and ``Nv21ToRgb``/``Nv12ToRgb``
  (output_order 0 RGB / 1 BGR).
* ``bgr`` <-> ``rgb``: a ``Gather`` of channels 2, 1, 0 (SNPE's own converter refuses this pair; the
  reversal is what a user asking for it means, and Gather loads in every runtime).

An ``--input_dtype`` different from the model's type is applied first (passes/input_cast.py), so the
colour op works on the camera's type and the Cast sits between it and the model.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import axis_format as af
from ..ir.graph import Graph, InputInfo
from ..ops.color import ARGB, BGR_ORDER, RGB_ORDER, RGBA
from .input_cast import cast_input
from .input_splice import splice_input
from .registry import register_pass

_ARGB_ORDER = {"argb32": ARGB, "rgba": RGBA}
_YUV_OP = {"nv21": "Nv21ToRgb", "nv12": "Nv12ToRgb"}
COLOUR_OUT = ("bgr", "rgb")
# the encodings a colour conversion can start from (to rgb or bgr)
COLOUR_IN = ("rgba", "argb32", "nv21", "nv12", "bgr", "rgb")


def transform_input_colors(graph: Graph, name: str, enc_in: str, enc_out: str) -> str | None:
    """Make graph input ``name`` (an NHWC 3-channel image) arrive as ``enc_in`` and be converted to
    ``enc_out`` for the model.  Returns the colour op's output name, None when nothing is to convert."""
    if enc_in == "time_series" and graph.tensors[name].rank != 3:
        raise ConversionError(f"--input_encoding {name} time_series: a time-series input has rank 3 ([batch, time, "
                              f"features]); this one is {list(graph.tensors[name].shape)}")
    if enc_in == enc_out or enc_out not in COLOUR_OUT or enc_in not in COLOUR_IN:
        if enc_in != enc_out and enc_in not in ("time_series", "other"):
            raise ConversionError(f"--input_encoding {name} {enc_in} {enc_out}: no colour conversion from "
                                  f"{enc_in} to {enc_out}; supported: [ARGB32|RGBA|NV21|NV12|BGR|RGB] to [RGB|BGR]")
        return None
    t = graph.tensors[name]
    if t.rank != 4 or t.shape[-1] != 3 or t.axis_format != af.NSC:
        raise ConversionError(f"--input_encoding {name} {enc_in}: the input must be a 3-channel image (it is "
                              f"{list(t.shape)} {t.axis_format}); drop the encoding or fix -d")
    n, h, w, _ = t.shape
    if enc_in in _ARGB_ORDER:
        return splice_input(graph, name, (n, h, w, 4), t.dtype, af.NSC, "ArgbToRgb",
                            {"input_order": _ARGB_ORDER[enc_in], "reverse_output": enc_out == "bgr"},
                            "_post_transform")
    if enc_in in _YUV_OP:
        if h % 2 or w % 2:
            raise ConversionError(f"--input_encoding {name} {enc_in}: an {enc_in.upper()} frame needs an even "
                                  f"height and width (the input is {h}x{w})")
        return splice_input(graph, name, (n, h * w * 3 // 2), t.dtype, af.NONTRIVIAL, _YUV_OP[enc_in],
                            {"output_order": BGR_ORDER if enc_out == "bgr" else RGB_ORDER,
                             "height": h, "width": w}, "_post_transform")
    order = graph.add_const(f"{name}_channel_order", np.asarray([2, 1, 0], dtype=np.int32))
    return splice_input(graph, name, t.shape, t.dtype, af.NSC, "Gather", {"axis": 3}, "_post_transform", [order])


@register_pass("insert_color_transform")
def insert_color_transform(graph: Graph, options) -> bool:
    """Per input: the ``--input_dtype`` Cast, then the ``--input_encoding`` colour op."""
    changed = False
    for name in list(graph.inputs):
        info = graph.input_info.get(name, InputInfo())
        if info.dtype is not None:
            changed |= cast_input(graph, name, info.dtype) is not None
        changed |= transform_input_colors(graph, name, info.encoding_in, info.encoding_out) is not None
    return changed

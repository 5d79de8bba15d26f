"""qairt-converter ``--export_format=DLC_STRIP_QUANT``: a float DLC from a quantized source.

SNPE drops the quantization data: no tensor keeps an encoding.  Float tensors simply lose theirs (QDQ and
FakeQuant sources, ``--quantization_overrides``); integer tensors that carried an encoding (a quantized
TFLite model's int8 weights and activations) become float32 with the real values they stood for; the
Quantize/Dequantize/Convert ops (``OpDef.converts_storage``) left between two float tensors become no-ops
and are removed.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ops.registry import get_op_def
from ..ops.fixed_point import dequantize, is_quantized
from .registry import register_pass


@register_pass("strip_encodings")
def strip_encodings(graph: Graph, options) -> bool:
    if not options.get("strip_quant"):
        return False
    graph.source_encodings.clear()
    changed = False
    for t in graph.tensors.values():
        if t.encoding is None:
            continue
        if is_quantized(t):
            if t.is_static:
                t.data = dequantize(t, t.data).astype(np.float32)
            t.dtype = np.dtype(np.float32)
        t.encoding = None
        changed = True
    for op in list(graph.ops):
        if not get_op_def(op.type).converts_storage:
            continue
        x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        if np.dtype(x.dtype) != np.float32 or np.dtype(y.dtype) != np.float32:
            continue
        graph.remove_op(op)
        if op.outputs[0] in graph.outputs and op.inputs[0] not in graph.inputs + graph.outputs \
                and not x.is_static:
            graph.tensors.pop(op.outputs[0])
            graph.rename_tensor(op.inputs[0], op.outputs[0])
        else:
            graph.replace_uses(op.outputs[0], op.inputs[0])
            if op.outputs[0] in graph.outputs:      # an output that is now the input itself: keep an identity
                graph.add_op("Reshape", [op.inputs[0]], [op.outputs[0]], {"shape": list(y.shape)}, name=op.name)
        changed = True
    graph.topo_sort()
    return changed

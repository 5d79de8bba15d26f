"""ONNX GatherElements -> QNN GatherElements (``snpe_tools/ops/indexing.py``)."""
from __future__ import annotations

from ..context import OnnxContext, attrs, node_error, node_name
from ..registry import onnx_op


@onnx_op("GatherElements")
def gather_elements(ctx: OnnxContext, node) -> None:
    data, idx = list(ctx.shape(node.input[0])), list(ctx.shape(node.input[1]))
    rank = len(data)
    axis = int(attrs(node).get("axis", 0))
    if not -rank <= axis < rank:
        raise node_error(node, f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    if len(idx) != rank or any(i > d for k, (i, d) in enumerate(zip(idx, data)) if k != axis):
        raise node_error(node, f"indices shape {idx} does not fit data "
                               f"shape {data}")
    ctx.emit("GatherElements", [ctx.tensor(node.input[0]), ctx.tensor(node.input[1])], [node.output[0]],
             {"axis": axis}, name=node_name(node))

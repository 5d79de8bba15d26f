"""ONNX DepthToSpace / SpaceToDepth -> QNN DepthToSpace / SpaceToDepth (channel-last, rank 4)."""
from __future__ import annotations

from ..context import OnnxContext, attrs, node_error
from ..registry import onnx_op

_MODES = {"DCR": 0, "CRD": 1}


@onnx_op("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    if len(shape) != 4:
        raise node_error(node, f"rank-{len(shape)} input is not supported (4-D only)")
    b = int(a.get("blocksize", 0))
    if b < 1:
        raise node_error(node, "blocksize must be a positive integer")
    mode = a.get("mode", "DCR")
    if mode not in _MODES:
        raise node_error(node, f"mode '{mode}' is not supported")
    n, c, h, w = shape
    if node.op_type == "DepthToSpace" and c % (b * b):
        raise node_error(node, f"{c} channels are not a multiple of blocksize^2 = {b * b}")
    if node.op_type == "SpaceToDepth" and (h % b or w % b):
        raise node_error(node, f"spatial size {h}x{w} is not a multiple of "
                               f"blocksize {b}")
    ctx.emit_channel_last(node.op_type, node, [node.input[0]], {"block_size": [b, b], "mode": _MODES[mode]})

"""aten pixel_shuffle / pixel_unshuffle -> QNN DepthToSpace / SpaceToDepth (channel-last)."""
from __future__ import annotations

from ....errors import ConversionError
from ..context import TorchContext
from ..registry import aten_op


def _depth_space(ctx: TorchContext, node, x, r: int, qnn: str):
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise ConversionError(f"{node.kind()} on a rank-{len(shape)} tensor is not supported (rank 4 only)")
    r = int(r)
    if qnn == "DepthToSpace" and shape[1] % (r * r):
        raise ConversionError(f"pixel_shuffle: {shape[1]} channels are not a multiple of {r}x{r}")
    if qnn == "SpaceToDepth" and (shape[2] % r or shape[3] % r):
        raise ConversionError(f"pixel_unshuffle: spatial size {shape[2]}x{shape[3]} is not a multiple of {r}")
    if r == 1:
        return x
    return ctx.channel_last(qnn, x, node, {"block_size": [r, r], "mode": 1})   # CRD = PyTorch's order


aten_op("pixel_shuffle")(lambda ctx, node: _depth_space(ctx, node, node.args[0], node.args[1], "DepthToSpace"))
aten_op("pixel_unshuffle")(lambda ctx, node: _depth_space(ctx, node, node.args[0], node.args[1], "SpaceToDepth"))

"""aten max/avg pooling (1-D, 2-D, 3-D) and adaptive 2-D pooling -> QNN PoolMax2d / PoolAvg2d /
PoolMax3d / PoolAvg3d.

The PyTorch side of a pool: turn ``kernel_size``/``stride``/``padding``/``dilation`` into explicit
numbers and hand them to the channel-last lowering every channel-first frontend shares
(:mod:`snpe_tools.frontends.lowering.conv`).  The IR ops are defined in ``snpe_tools/ops/pool.py``
(3-D: ``snpe_tools/ops/volumetric.py``).
"""
from __future__ import annotations

from ....errors import ConversionError
from ...lowering import conv as lower
from ..context import Ref, TorchContext, pair
from ..registry import aten_op


def _pool(ctx: TorchContext, node, kind: str, x, kernel, stride, padding, ceil=False, count_pad=False,
          dilation=None, n_sp: int = 2) -> Ref:
    """``kind`` ``"max"``/``"avg"`` ``n_sp``-D pooling; an empty ``stride`` means the kernel size (PyTorch's
    default)."""
    rank = ctx.rank(x)
    if rank != n_sp + 2:
        raise ConversionError(f"rank-{rank} input to a {n_sp}-D pool is not supported (batched [N, C, ...] "
                              f"inputs of rank {n_sp + 2} only)")
    kernel = pair(kernel, n_sp)
    stride = pair(stride, n_sp) if stride not in (None, []) and len(list(stride) if isinstance(stride, (list, tuple))
                                                                        else [stride]) else kernel
    out = ctx.out_name(node)
    lower.pool(ctx, kind, ctx.tensor(x), out, kernel=kernel, stride=stride,
               pads=[(p, p) for p in pair(padding, n_sp)], ceil=bool(ceil), count_pad=bool(count_pad),
               dilation=None if dilation is None else pair(dilation, n_sp))
    return Ref(out)


def _spatial_dims(node) -> int:
    """1, 2 or 3: the digit in ``aten::max_pool1d`` / ``avg_pool3d`` ..."""
    return int(node.kind().rstrip("_")[-2])


@aten_op("max_pool1d", "max_pool2d", "max_pool3d")
def max_pool(ctx, node):
    x, kernel, stride, padding, dilation, ceil = node.args
    return _pool(ctx, node, "max", x, kernel, stride, padding, ceil, dilation=dilation, n_sp=_spatial_dims(node))


@aten_op("avg_pool1d", "avg_pool2d", "avg_pool3d")
def avg_pool(ctx, node):
    x, kernel, stride, padding, ceil, count_pad = node.args[:6]
    if len(node.args) > 6 and node.args[6] is not None:
        raise ConversionError(f"{node.kind()} with divisor_override is not supported")
    return _pool(ctx, node, "avg", x, kernel, stride, padding, ceil, count_pad, n_sp=_spatial_dims(node))


def _adaptive(ctx, node, kind, x, size):
    h, w = ctx.shape(x)[2:]
    oh, ow = [int(s) if s is not None else d for s, d in zip(pair(size), (h, w))]
    if h % oh or w % ow:
        raise ConversionError(f"adaptive pooling from {h}x{w} to {oh}x{ow} is not a plain pool "
                              "(input size must be a multiple of the output size)")
    k = [h // oh, w // ow]
    return _pool(ctx, node, kind, x, k, k, 0)


@aten_op("adaptive_avg_pool2d")
def adaptive_avg_pool2d(ctx, node):
    a = node.args
    return _adaptive(ctx, node, "avg", a[0], a[1])


@aten_op("adaptive_max_pool2d")
def adaptive_max_pool2d(ctx, node):
    a = node.args
    if len(list(node.outputs())) > 1 and list(node.outputs())[1].uses():
        raise ConversionError("the indices output of adaptive_max_pool2d is not supported")
    r = _adaptive(ctx, node, "max", a[0], a[1])
    return [r, None] if len(list(node.outputs())) > 1 else r

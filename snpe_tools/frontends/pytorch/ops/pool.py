"""aten max/avg/adaptive 2-D pooling -> QNN PoolMax2d / PoolAvg2d (channel-last)."""
from __future__ import annotations

from ....errors import ConversionError
from ..context import TorchContext, pair
from ..registry import aten_op


def _pool(ctx: TorchContext, node, kind: str, x, kernel, stride, padding, ceil, count_pad=None,
          divisor=None):
    rank = ctx.rank(x)
    if rank != 4:
        raise ConversionError(f"rank-{rank} pooling input is not supported")
    kernel = pair(kernel)
    stride = pair(stride) if stride not in (None, []) and len(list(stride) if isinstance(stride, (list, tuple))
                                                                  else [stride]) else kernel
    p = pair(padding)
    params = {"filter_size": kernel, "stride": stride, "pad_amount": [(p[0], p[0]), (p[1], p[1])],
              "rounding_mode": 1 if ceil else 0}
    if kind == "PoolAvg2d":
        if divisor is not None:
            raise ConversionError("avg_pool2d with divisor_override is not supported")
        params["count_pad_for_edges"] = bool(count_pad)
    return ctx.channel_last(kind, x, node, params)


@aten_op("max_pool2d")
def max_pool2d(ctx, node):
    a = node.args
    x, kernel, stride, padding, dilation, ceil = a
    if any(d != 1 for d in pair(dilation)):
        raise ConversionError("dilated max_pool2d is not supported")
    return _pool(ctx, node, "PoolMax2d", x, kernel, stride, padding, ceil)


@aten_op("avg_pool2d")
def avg_pool2d(ctx, node):
    a = node.args
    x, kernel, stride, padding, ceil, count_pad, divisor = a
    return _pool(ctx, node, "PoolAvg2d", x, kernel, stride, padding, ceil, count_pad, divisor)


def _adaptive(ctx, node, kind, x, size):
    h, w = ctx.shape(x)[2:]
    oh, ow = [int(s) if s is not None else d for s, d in zip(pair(size), (h, w))]
    if h % oh or w % ow:
        raise ConversionError(f"adaptive pooling from {h}x{w} to {oh}x{ow} is not a plain pool "
                              "(input size must be a multiple of the output size)")
    k = [h // oh, w // ow]
    params = {"filter_size": k, "stride": k, "pad_amount": [(0, 0), (0, 0)], "rounding_mode": 0}
    if kind == "PoolAvg2d":
        params["count_pad_for_edges"] = False
    return ctx.channel_last(kind, x, node, params)


@aten_op("adaptive_avg_pool2d")
def adaptive_avg_pool2d(ctx, node):
    a = node.args
    return _adaptive(ctx, node, "PoolAvg2d", a[0], a[1])


@aten_op("adaptive_max_pool2d")
def adaptive_max_pool2d(ctx, node):
    a = node.args
    if len(list(node.outputs())) > 1 and list(node.outputs())[1].uses():
        raise ConversionError("the indices output of adaptive_max_pool2d is not supported")
    r = _adaptive(ctx, node, "PoolMax2d", a[0], a[1])
    return [r, None] if len(list(node.outputs())) > 1 else r

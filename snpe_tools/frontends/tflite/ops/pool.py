"""AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D -> QNN PoolAvg2d / PoolMax2d (``snpe_tools/ops/pool.py``).

TFLite averages over the in-bounds taps only, so average pools never count the SAME padding.
"""
from __future__ import annotations

from ...lowering.padding import auto_pads, pad_amount
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def _pool_params(ctx: TfliteContext, op: TflOp, x: str) -> dict:
    o = op.options
    kh, kw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    pads = auto_pads(op.padding, ctx.graph.tensors[x].shape[1:3], (kh, kw), (sh, sw))
    return {"filter_size": [kh, kw], "stride": [sh, sw], "pad_amount": pad_amount(pads)}


@tflite_op("AVERAGE_POOL_2D")
def average_pool(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    ctx.emit_out(op, "PoolAvg2d", [x], dict(_pool_params(ctx, op, x), count_pad_for_edges=False))


@tflite_op("MAX_POOL_2D")
def max_pool(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    ctx.emit_out(op, "PoolMax2d", [x], _pool_params(ctx, op, x))


@tflite_op("L2_POOL_2D")
def l2_pool(ctx: TfliteContext, op: TflOp) -> None:
    """sqrt(mean of x^2 over the window); TFLite averages over the in-bounds taps only (SAME borders)."""
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name
    sq = ctx.emit("ElementWiseMultiply", [x, x], None, name=f"{base}.square")[0]
    mean = ctx.emit("PoolAvg2d", [sq], None, dict(_pool_params(ctx, op, x), count_pad_for_edges=False),
                    name=f"{base}.mean_square")[0]
    ctx.emit_out(op, "ElementWiseSquareRoot", [mean])

"""Ops whose result is known at convert time because every shape is static: FILL, ZEROS_LIKE, RANK,
RANGE, BROADCAST_ARGS.  They become constants (``ctx.consts``), which later ops read directly.

FILL with a run-time value is the one exception: Reshape the scalar, then Tile it to the dims.
"""
from __future__ import annotations

import math

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ....ir.limits import check_fold_shape
from ..context import TfliteContext, ints
from ..model import TflOp
from ..registry import tflite_op


def _out_dtype(ctx: TfliteContext, op: TflOp) -> np.dtype:
    return qd.narrow(ctx.t(op.outputs[0]).dtype)


def _what(ctx: TfliteContext, op: TflOp) -> str:
    return f"{op.name} op #{op.index} ({ctx.out_label(op)})"


def _shape_of(ctx: TfliteContext, idx: int) -> tuple[int, ...]:
    """Static shape of a TFLite tensor: a constant's, or the IR tensor's (free dims resolved by -d)."""
    return ctx.const(idx).shape if ctx.is_const(idx) else ctx.graph.tensors[ctx.tensor(idx)].shape


@tflite_op("FILL")
def fill(ctx: TfliteContext, op: TflOp) -> None:
    dims = ints(ctx.require_const(op, 0, "the dims"))
    if ctx.is_const(op.inputs[1]):
        value = np.asarray(ctx.const(op.inputs[1])).reshape(-1)[0]
        if any(d < 0 for d in dims):
            raise ConversionError(f"{_what(ctx, op)}: negative dims {dims}")
        check_fold_shape(dims, ctx.const(op.inputs[1]).dtype, _what(ctx, op))
        ctx.consts[op.outputs[0]] = np.full(dims, value, ctx.const(op.inputs[1]).dtype)
        return
    v = ctx.tensor(op.inputs[1])
    one = ctx.emit("Reshape", [v], None, {"shape": [1] * len(dims)}, name=f"{ctx.t(op.outputs[0]).name}.scalar")[0]
    ctx.like(one, op.inputs[1])
    ctx.emit_out(op, "Tile", [one], {"multiples": dims}, act=0)


@tflite_op("ZEROS_LIKE")
def zeros_like(ctx: TfliteContext, op: TflOp) -> None:
    check_fold_shape(_shape_of(ctx, op.inputs[0]), _out_dtype(ctx, op), _what(ctx, op))
    ctx.consts[op.outputs[0]] = np.zeros(_shape_of(ctx, op.inputs[0]), _out_dtype(ctx, op))


@tflite_op("RANK")
def rank(ctx: TfliteContext, op: TflOp) -> None:
    ctx.consts[op.outputs[0]] = np.asarray(len(_shape_of(ctx, op.inputs[0])), _out_dtype(ctx, op))


@tflite_op("RANGE")
def range_(ctx: TfliteContext, op: TflOp) -> None:
    """start + k * delta below limit (TF semantics of tf.range; an empty range is an error here)."""
    start, limit, delta = (np.asarray(ctx.require_const(op, k, what)).reshape(-1)[0]
                           for k, what in enumerate(("start", "limit", "delta")))
    if delta == 0 or not all(np.isfinite([start, limit, delta])):
        raise ConversionError(f"{_what(ctx, op)}: start, limit and delta must be finite and delta non-zero")
    check_fold_shape([max(math.ceil((float(limit) - float(start)) / float(delta)), 0)], _out_dtype(ctx, op),
                     _what(ctx, op))
    values = np.arange(start, limit, delta).astype(_out_dtype(ctx, op))
    if values.size == 0:
        raise ConversionError(f"RANGE op #{op.index} ({ctx.out_label(op)}): the range is empty; a DLC tensor "
                              "cannot have 0 elements")
    ctx.consts[op.outputs[0]] = values


@tflite_op("BROADCAST_ARGS")
def broadcast_args(ctx: TfliteContext, op: TflOp) -> None:
    a = ints(ctx.require_const(op, 0, "shape s0"))
    b = ints(ctx.require_const(op, 1, "shape s1"))
    try:
        out = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        raise ConversionError(f"BROADCAST_ARGS op #{op.index} ({ctx.out_label(op)}): shapes {a} and {b} do not "
                              "broadcast") from None
    ctx.consts[op.outputs[0]] = np.asarray(out, _out_dtype(ctx, op))

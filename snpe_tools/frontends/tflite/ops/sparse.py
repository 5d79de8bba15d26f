"""DENSIFY: the reader already expanded the sparse constant (model.py), so the op only forwards it."""
from __future__ import annotations

from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("DENSIFY")
def densify(ctx: TfliteContext, op: TflOp) -> None:
    ctx.consts[op.outputs[0]] = ctx.require_const(op, 0, "the sparse tensor")

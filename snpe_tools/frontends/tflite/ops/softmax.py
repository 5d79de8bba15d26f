"""SOFTMAX, LOG_SOFTMAX -> QNN Softmax / LogSoftmax (``snpe_tools/ops/softmax.py``) over the last axis."""
from __future__ import annotations

from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("SOFTMAX", "LOG_SOFTMAX")
def softmax(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    beta = float(op.options.get("beta", 1.0))
    ctx.emit_out(op, "Softmax" if op.name == "SOFTMAX" else "LogSoftmax", [x], {"axis": rank - 1, "beta": beta},
                 act=0)

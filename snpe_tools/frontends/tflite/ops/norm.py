"""L2_NORMALIZATION, LOCAL_RESPONSE_NORMALIZATION -> QNN ops (``snpe_tools/ops/norm.py``): Lrn, and the
L2 normalization QNN has no op for as an exact composition."""
from __future__ import annotations

import numpy as np

from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("L2_NORMALIZATION")
def l2_normalization(ctx: TfliteContext, op: TflOp) -> None:
    """x / sqrt(max(sum(x^2), 1e-12)) over the last axis (TFLite's kernel epsilon)."""
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name
    rank = ctx.graph.tensors[x].rank
    sq = ctx.emit("ElementWiseMultiply", [x, x], None, name=f"{base}.sq")[0]
    ss = ctx.emit("ReduceSum", [sq], None, {"axes": [rank - 1], "keep_dims": True}, name=f"{base}.sumsq")[0]
    ss = ctx.emit("ElementWiseMaximum", [ss, ctx.add_const(f"{base}.eps", np.asarray(1e-12, np.float32))],
                  None, name=f"{base}.clamped")[0]
    inv = ctx.emit("ElementWiseRsqrt", [ss], None, name=f"{base}.rsqrt")[0]
    ctx.emit_out(op, "ElementWiseMultiply", [x, inv])


@tflite_op("LOCAL_RESPONSE_NORMALIZATION")
def lrn(ctx: TfliteContext, op: TflOp) -> None:
    """x / (bias + alpha * sum(x^2 over channels c-radius..c+radius))^beta.

    TF's alpha multiplies the plain window sum (ONNX's is divided by the window size first), and
    QNN Lrn has TF's form, so alpha is passed through unchanged.
    """
    o = op.options
    ctx.emit_out(op, "Lrn", [ctx.tensor(op.inputs[0])],
                 {"radius": int(o.get("radius", 5)), "bias": float(o.get("bias", 1.0)),
                  "alpha": float(o.get("alpha", 1.0)), "beta": float(o.get("beta", 0.5))}, act=0)

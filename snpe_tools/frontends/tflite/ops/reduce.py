"""MEAN, SUM, REDUCE_MAX/MIN/PROD, REDUCE_ANY/ALL, ARG_MAX/ARG_MIN -> QNN Reduce* / Argmax / Argmin
(``snpe_tools/ops/reduce.py``)."""
from __future__ import annotations

import numpy as np

from ....ir import dtypes as qd
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


_REDUCE = {"MEAN": "ReduceMean", "SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax", "REDUCE_MIN": "ReduceMin",
           "REDUCE_PROD": "ReduceProd"}


@tflite_op(*_REDUCE)
def reduce(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axes = sorted({int(a) % rank for a in np.asarray(ctx.require_const(op, 1, "the reduction axes")).reshape(-1)})
    ctx.emit_out(op, _REDUCE[op.name], [x], {"axes": axes, "keep_dims": bool(op.options.get("keep_dims", False))},
                 act=0)


@tflite_op("REDUCE_ANY", "REDUCE_ALL")
def reduce_bool(ctx: TfliteContext, op: TflOp) -> None:
    """any / all of booleans = max / min of their 0/1 values (uint8 between two Casts)."""
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axes = sorted({int(a) % rank for a in np.asarray(ctx.require_const(op, 1, "the reduction axes")).reshape(-1)})
    base = ctx.t(op.outputs[0]).name
    u8 = ctx.emit("Cast", [x], None, {"to": qd.to_qnn(np.uint8)}, name=f"{base}.as_uint8")[0]
    red = ctx.emit("ReduceMax" if op.name == "REDUCE_ANY" else "ReduceMin", [u8], None,
                   {"axes": axes, "keep_dims": bool(op.options.get("keep_dims", False))}, name=f"{base}.reduced")[0]
    ctx.emit_out(op, "Cast", [red], {"to": qd.to_qnn(np.bool_)}, act=0)


@tflite_op("ARG_MAX", "ARG_MIN")
def argmax(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axis = int(np.asarray(ctx.require_const(op, 1, "the axis")).reshape(-1)[0]) % rank
    y = ctx.emit_out(op, "Argmax" if op.name == "ARG_MAX" else "Argmin", [x], {"axis": axis}, act=0)
    ctx.graph.tensors[y].dtype = np.dtype(np.int32)

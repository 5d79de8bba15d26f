"""ONNX ops whose value is known at convert time and that have no IR op: EyeLike (depends only on the
input's static shape) and Range (constant start/limit/delta). They become constants, never graph ops."""
from __future__ import annotations

import math

import numpy as np
import onnx

from ....ir.limits import check_fold_shape
from ..context import OnnxContext, attrs, node_error
from ..registry import onnx_op


@onnx_op("EyeLike")
def eye_like(ctx: OnnxContext, node) -> None:
    """Depends only on the input's static shape: a constant."""
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    if len(shape) != 2:
        raise node_error(node, "the input must be 2-D")
    if "dtype" in a:
        try:
            dt = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(a["dtype"])))
        except Exception:
            raise node_error(node, f"dtype {a['dtype']} is not supported") from None
    else:
        dt = np.asarray(ctx.const(node.input[0])).dtype if ctx.is_const(node.input[0]) else \
            ctx.graph.tensors[ctx.tensor(node.input[0])].dtype
    ctx.consts[node.output[0]] = np.eye(shape[0], shape[1], int(a.get("k", 0)), dtype=dt)


@onnx_op("Range")
def range_(ctx: OnnxContext, node) -> None:
    """Only constant ranges (the output size depends on the values)."""
    vals = [ctx.require_const(node, i, what) for i, what in enumerate(("start", "limit", "delta"))]
    start, limit, delta = (np.asarray(v).reshape(-1)[0] for v in vals)
    if delta == 0:
        raise node_error(node, "delta must not be 0")
    dt = np.asarray(vals[0]).dtype
    try:
        count = max(math.ceil((float(limit) - float(start)) / float(delta)), 0)
    except (OverflowError, ValueError):
        raise node_error(node, "start, limit and delta must be finite numbers") from None
    check_fold_shape([count], dt, f"Range node '{node.name or node.output[0]}'")
    ctx.consts[node.output[0]] = np.arange(start, limit, delta, dtype=dt)

"""FULLY_CONNECTED, BATCH_MATMUL -> QNN FullyConnected / MatMul (``snpe_tools/ops/linear.py``).

FULLY_CONNECTED keeps TFLite's ``[out, in]`` weights (QNN's layout); a non-constant weight becomes a
MatMul with the second operand transposed.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def _fc_core(ctx: TfliteContext, op: TflOp, flat: str, q: bool, base: str) -> tuple[str, list[str]]:
    """The [rows, k] x [n, k]^T product: FullyConnected for constant weights, else MatMul (+ Add bias)."""
    if ctx.is_const(op.inputs[1]):
        return "FullyConnected", [flat, ctx.weight(op.inputs[1], quantized=q)] + ctx.bias(op, 2, q)
    w = ctx.tensor(op.inputs[1])
    bias = ctx.bias(op, 2, q)
    if not bias:
        return "MatMul", [flat, w]
    mm = ctx.emit("MatMul", [flat, w], None, {"transpose_in1": True}, name=f"{base}.matmul")[0]
    ctx.like(mm, op.outputs[0])
    return "ElementWiseAdd", [mm, bias[0]]


@tflite_op("FULLY_CONNECTED")
def fully_connected(ctx: TfliteContext, op: TflOp) -> None:
    """TFLite flattens the input to rows of the weight depth; ``keep_num_dims`` keeps the leading dims.

    Shapes come from the IR input (not the flatbuffer's output shape, which holds 1 for free dims).
    """
    x = ctx.tensor(op.inputs[0])
    q = ctx.quantized_io(op)
    base = ctx.t(op.outputs[0]).name
    in_shape = list(ctx.graph.tensors[x].shape)
    n_out, k_in = ctx.t(op.inputs[1]).shape
    total = int(np.prod(in_shape))
    if total % k_in:
        raise ConversionError(f"FULLY_CONNECTED op #{op.index} ({ctx.out_label(op)}): input {in_shape} cannot be "
                              f"flattened to rows of {k_in}")
    rows = total // k_in
    keep = bool(op.options.get("keep_num_dims", False)) and in_shape[-1] == k_in
    out_shape = in_shape[:-1] + [n_out] if keep else [rows, n_out]
    flat = x
    if in_shape != [rows, k_in]:
        flat = ctx.emit("Reshape", [x], None, {"shape": [rows, k_in]}, name=f"{base}.rows")[0]
        ctx.like(flat, op.inputs[0])
    type_, inputs = _fc_core(ctx, op, flat, q, base)
    params = {"transpose_in1": True} if type_ == "MatMul" else None
    if out_shape == [rows, n_out]:
        ctx.emit_out(op, type_, inputs, params)
        return
    y = ctx.emit(type_, inputs, [ctx.graph.derived_name(base, "fc")], params, name=f"{base}.fc")[0]
    ctx.like(y, op.outputs[0])
    ctx.emit_out(op, "Reshape", [y], {"shape": out_shape})


@tflite_op("BATCH_MATMUL")
def batch_matmul(ctx: TfliteContext, op: TflOp) -> None:
    a, b = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    ctx.emit_out(op, "MatMul", [a, b], {"transpose_in0": bool(op.options.get("adj_x", False)),
                                         "transpose_in1": bool(op.options.get("adj_y", False))})

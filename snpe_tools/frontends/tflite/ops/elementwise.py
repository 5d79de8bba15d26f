"""Elementwise builtins -> QNN ElementWise* ops (``snpe_tools/ops/elementwise.py``): arithmetic (with fused
activations), comparisons, logic, unary math, SELECT, ADD_N, the StableHLO elementwise ops, and
ATAN2 / MATRIX_DIAG / MATRIX_SET_DIAG as exact compositions (selects against an identity mask)."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


_BINARY = {
    "ADD": "ElementWiseAdd", "SUB": "ElementWiseSubtract", "MUL": "ElementWiseMultiply",
    "DIV": "ElementWiseDivide", "MAXIMUM": "ElementWiseMaximum", "MINIMUM": "ElementWiseMinimum",
    "POW": "ElementWisePower", "SQUARED_DIFFERENCE": "ElementWiseSquaredDifference",
    "FLOOR_DIV": "ElementWiseFloorDiv", "FLOOR_MOD": "ElementWiseMod",
    "LESS": "ElementWiseLess", "LESS_EQUAL": "ElementWiseLessEqual", "GREATER": "ElementWiseGreater",
    "GREATER_EQUAL": "ElementWiseGreaterEqual", "EQUAL": "ElementWiseEqual", "NOT_EQUAL": "ElementWiseNotEqual",
    "LOGICAL_AND": "ElementWiseAnd", "LOGICAL_OR": "ElementWiseOr",
}


_UNARY = {
    "ABS": "ElementWiseAbs", "EXP": "ElementWiseExp", "LOG": "ElementWiseLog", "SQRT": "ElementWiseSquareRoot",
    "RSQRT": "ElementWiseRsqrt", "SIN": "ElementWiseSin", "COS": "ElementWiseCos", "NEG": "ElementWiseNeg",
    "FLOOR": "ElementWiseFloor", "CEIL": "ElementWiseCeil", "ROUND": "ElementWiseRound",
    "SIGN": "ElementWiseSign", "LOGICAL_NOT": "ElementWiseNot",
}


def _binary(ctx: TfliteContext, op: TflOp) -> None:
    a, b = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    ctx.emit_out(op, _BINARY[op.name], [a, b])


def _unary(ctx: TfliteContext, op: TflOp) -> None:
    ctx.emit_out(op, _UNARY[op.name], [ctx.tensor(op.inputs[0])], act=0)


for _name in _BINARY:
    tflite_op(_name)(_binary)
for _name in _UNARY:
    tflite_op(_name)(_unary)


@tflite_op("SQUARE")
def square(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    ctx.emit_out(op, "ElementWiseMultiply", [x, x], act=0)


@tflite_op("SELECT", "SELECT_V2")
def select(ctx: TfliteContext, op: TflOp) -> None:
    """SELECT_V2 broadcasts numpy-style.  SELECT (TF1 where) also takes a rank-1 condition that picks
    whole rows along the *first* axis, so that condition is reshaped to [N, 1, ...] first."""
    c, a, b = (ctx.tensor(i) for i in op.inputs[:3])
    crank, xshape = ctx.graph.tensors[c].rank, ctx.graph.tensors[a].shape
    if op.name == "SELECT" and crank == 1 and len(xshape) > 1:
        c = ctx.emit("Reshape", [c], None, {"shape": [xshape[0]] + [1] * (len(xshape) - 1)},
                     name=f"{ctx.t(op.outputs[0]).name}.rows")[0]
    ctx.emit_out(op, "ElementWiseSelect", [c, a, b], act=0)


@tflite_op("ADD_N")
def add_n(ctx: TfliteContext, op: TflOp) -> None:
    """Left-to-right chain of adds, the order TFLite's kernel sums in."""
    xs = [ctx.tensor(i) for i in op.inputs]
    if len(xs) == 1:
        ctx.emit_out(op, "Reshape", xs, {"shape": list(ctx.graph.tensors[xs[0]].shape)}, act=0)
        return
    acc = xs[0]
    for k, x in enumerate(xs[1:-1], start=1):
        acc = ctx.emit("ElementWiseAdd", [acc, x], None, name=f"{ctx.t(op.outputs[0]).name}.sum{k}")[0]
        ctx.like(acc, op.outputs[0])
    ctx.emit_out(op, "ElementWiseAdd", [acc, xs[-1]], act=0)


_STABLEHLO = {"STABLEHLO_ADD": "ElementWiseAdd", "STABLEHLO_MULTIPLY": "ElementWiseMultiply",
              "STABLEHLO_MAXIMUM": "ElementWiseMaximum", "STABLEHLO_MINIMUM": "ElementWiseMinimum"}


@tflite_op(*_STABLEHLO, "STABLEHLO_AND")
def stablehlo_binary(ctx: TfliteContext, op: TflOp) -> None:
    """StableHLO elementwise ops: equal shapes (no implicit broadcasting) and no fused activation.

    STABLEHLO_AND is logical on booleans (QNN ElementWiseAnd) but bitwise on integers, which QNN lacks.
    """
    a, b = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    if op.name == "STABLEHLO_AND" and ctx.graph.tensors[a].dtype != np.bool_:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): bitwise AND of integers has no QNN "
                              "op; only boolean operands are supported")
    sa, sb = ctx.graph.tensors[a].shape, ctx.graph.tensors[b].shape
    if sa != sb:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): operand shapes {list(sa)} and "
                              f"{list(sb)} differ; StableHLO ops do not broadcast, the model is malformed")
    ctx.emit_out(op, _STABLEHLO.get(op.name, "ElementWiseAnd"), [a, b], act=0)


@tflite_op("ATAN2")
def atan2(ctx: TfliteContext, op: TflOp) -> None:
    """atan(y / x), moved by +-pi into the left half plane (+pi when y >= 0), 0 at the origin.

    x = 0 makes y / x infinite, whose atan is the +-pi/2 atan2 gives; the origin (0/0) is selected
    away.  Mathematically exact; atan of the rounded quotient is within a few ulp of atan2.
    """
    y, x = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    base = ctx.t(op.outputs[0]).name

    def step(type_: str, ins: list[str], tag: str) -> str:
        return ctx.emit(type_, ins, None, name=f"{base}.{tag}")[0]

    def const(v: float, tag: str) -> str:
        return ctx.add_const(f"{base}.{tag}", np.asarray([v], np.float32))

    zero = const(0.0, "zero")
    t = step("ElementWiseAtan", [step("ElementWiseDivide", [y, x], "ratio")], "atan")
    shift = step("ElementWiseSelect", [step("ElementWiseGreaterEqual", [y, zero], "upper"),
                                       const(np.pi, "pi"), const(-np.pi, "minus_pi")], "half_turn")
    shift = step("ElementWiseSelect", [step("ElementWiseLess", [x, zero], "left"), shift, zero], "shift")
    angle = step("ElementWiseAdd", [t, shift], "angle")
    origin = step("ElementWiseAnd", [step("ElementWiseEqual", [x, zero], "x0"),
                                     step("ElementWiseEqual", [y, zero], "y0")], "origin")
    ctx.emit_out(op, "ElementWiseSelect", [origin, zero, angle], act=0)


def _eye(rows: int, cols: int) -> np.ndarray:
    return np.eye(rows, cols, dtype=np.bool_)


@tflite_op("MATRIX_DIAG")
def matrix_diag(ctx: TfliteContext, op: TflOp) -> None:
    """out[..., i, j] = d[..., j] if i == j else 0: Select(eye, d as a row, 0), broadcast."""
    d = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[d].shape)
    n = shape[-1]
    base = ctx.t(op.outputs[0]).name
    row = ctx.step(op, "Reshape", [d], {"shape": shape[:-1] + [1, n]}, "row", op.inputs[0])
    zero = ctx.add_const(f"{base}.zero", np.zeros(1, ctx.graph.tensors[d].dtype))
    enc = ctx.graph.tensors[d].encoding
    if enc is not None:                               # the quantized zero is the zero point
        ctx.graph.tensors[zero].data = np.full(1, -enc.offset, ctx.graph.tensors[d].dtype)
        ctx.graph.tensors[zero].encoding = enc
    mask = ctx.add_const(f"{base}.eye", _eye(n, n))
    ctx.emit_out(op, "ElementWiseSelect", [mask, row, zero], act=0)


@tflite_op("MATRIX_SET_DIAG")
def matrix_set_diag(ctx: TfliteContext, op: TflOp) -> None:
    """Select(eye[m, n], diagonal as a row (padded to n columns), x)."""
    x, d = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    shape = list(ctx.graph.tensors[x].shape)
    m, n = shape[-2:]
    dshape = list(ctx.graph.tensors[d].shape)
    k = dshape[-1]
    if k != min(m, n):
        raise ctx.fail(op, f"diagonal length {k} != min{(m, n)}")
    if ctx.is_quantized(op.inputs[0]) != ctx.is_quantized(op.inputs[1]):
        raise ctx.fail(op, "the matrix and the diagonal must both be float or both quantized")
    if k < n:
        pad = [[0, 0]] * (len(dshape) - 1) + [[0, n - k]]
        d = ctx.step(op, "Pad", [d], {"pad_amount": pad, "scheme": 0}, "padded", op.inputs[1])
    row = ctx.step(op, "Reshape", [d], {"shape": dshape[:-1] + [1, n]}, "row", op.inputs[1])
    if ctx.is_quantized(op.inputs[1]) and ctx.graph.tensors[row].encoding != ctx.graph.tensors[x].encoding:
        row = ctx.step(op, "Convert", [row], None, "requantized", op.inputs[0])
    mask = ctx.add_const(f"{ctx.t(op.outputs[0]).name}.eye", _eye(m, n))
    ctx.emit_out(op, "ElementWiseSelect", [mask, row, x], act=0)

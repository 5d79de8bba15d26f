"""Elementwise TFLite ops: arithmetic (with fused activations), comparisons, logic, unary math, activations."""
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
    "LOGISTIC": "Sigmoid", "TANH": "Tanh", "RELU": "Relu", "HARD_SWISH": "HardSwish", "ELU": "Elu",
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


@tflite_op("RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")
def relu_clip(ctx: TfliteContext, op: TflOp) -> None:
    lo, hi = {"RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}[op.name]
    ctx.emit_out(op, "ReluMinMax", [ctx.tensor(op.inputs[0])], {"min_value": lo, "max_value": hi}, act=0)


@tflite_op("LEAKY_RELU")
def leaky_relu(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    alpha = ctx.add_const(f"{ctx.t(op.outputs[0]).name}.alpha", np.asarray([op.options.get("alpha", 0.2)], np.float32))
    ctx.emit_out(op, "Prelu", [x, alpha], act=0)


@tflite_op("PRELU")
def prelu(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    alpha = ctx.weight(op.inputs[1], quantized=ctx.quantized_io(op)) if ctx.is_const(op.inputs[1]) \
        else ctx.tensor(op.inputs[1])
    ctx.emit_out(op, "Prelu", [x, alpha], act=0)


@tflite_op("GELU")
def gelu(ctx: TfliteContext, op: TflOp) -> None:
    if op.options.get("approximate", False):     # QNN Gelu is the erf form: decompose the tanh form
        _gelu_tanh(ctx, op)
        return
    ctx.emit_out(op, "Gelu", [ctx.tensor(op.inputs[0])], act=0)


def _gelu_tanh(ctx: TfliteContext, op: TflOp) -> None:
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) with elementwise QNN ops."""
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name
    c = lambda v, tag: ctx.add_const(f"{base}.{tag}", np.asarray(v, np.float32))  # noqa: E731
    x2 = ctx.emit("ElementWiseMultiply", [x, x], None, name=f"{base}.x2")[0]
    x3 = ctx.emit("ElementWiseMultiply", [x2, x], None, name=f"{base}.x3")[0]
    inner = ctx.emit("ElementWiseMultiply", [x3, c(0.044715, "k")], None, name=f"{base}.kx3")[0]
    inner = ctx.emit("ElementWiseAdd", [x, inner], None, name=f"{base}.inner")[0]
    inner = ctx.emit("ElementWiseMultiply", [inner, c(np.sqrt(2 / np.pi), "s")], None, name=f"{base}.scaled")[0]
    th = ctx.emit("Tanh", [inner], None, name=f"{base}.tanh")[0]
    th = ctx.emit("ElementWiseAdd", [th, c(1.0, "one")], None, name=f"{base}.onep")[0]
    hx = ctx.emit("ElementWiseMultiply", [x, c(0.5, "half")], None, name=f"{base}.halfx")[0]
    ctx.emit_out(op, "ElementWiseMultiply", [hx, th], act=0)


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


@tflite_op("FAKE_QUANT")
def fake_quant(ctx: TfliteContext, op: TflOp) -> None:
    """TFLite's FakeQuant on float data, step by step in float32 as its kernel computes it:
    clamp to the nudged range, then round((x - nudged_min) / scale) * scale + nudged_min, the
    rounding of a non-negative value being floor(v + 0.5)."""
    if op.options.get("narrow_range", False):
        raise ConversionError(f"FAKE_QUANT op #{op.index} ({ctx.out_label(op)}): narrow_range is meant for weights "
                              "and LiteRT refuses it on activations too; re-export without narrow_range")
    lo, hi, scale = _nudged_range(op)
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name

    def step(type_: str, ins: list[str], tag: str, params: dict | None = None) -> str:
        return ctx.emit(type_, ins, None, params, name=f"{base}.{tag}")[0]

    def const(v: np.float32, tag: str) -> str:
        return ctx.add_const(f"{base}.{tag}", np.asarray([v], np.float32))

    v = step("ReluMinMax", [x], "clamped", {"min_value": float(lo), "max_value": float(hi)})
    v = step("ElementWiseSubtract", [v, const(lo, "nudged_min")], "shifted")
    v = step("ElementWiseMultiply", [v, const(np.float32(1.0) / scale, "inv_scale")], "steps")
    v = step("ElementWiseFloor", [step("ElementWiseAdd", [v, const(np.float32(0.5), "half")], "half_up")], "rounded")
    v = step("ElementWiseMultiply", [v, const(scale, "scale")], "rescaled")
    ctx.emit_out(op, "ElementWiseAdd", [v, const(lo, "offset")], act=0)


def _nudged_range(op: TflOp) -> tuple[np.float32, np.float32, np.float32]:
    """(nudged_min, nudged_max, scale): [min, max] moved so that real 0 is exactly representable."""
    o = op.options
    f32 = np.float32
    mn, mx = f32(o.get("min", 0.0)), f32(o.get("max", 0.0))
    qmin = f32(0)
    qmax = f32((1 << int(o.get("num_bits", 8))) - 1)
    scale = f32((mx - mn) / (qmax - qmin))
    zp_from_min = f32(qmin - mn / scale)
    zp = qmin if zp_from_min < qmin else qmax if zp_from_min > qmax else f32(np.floor(zp_from_min + f32(0.5)))
    return f32((qmin - zp) * scale), f32((qmax - zp) * scale), scale

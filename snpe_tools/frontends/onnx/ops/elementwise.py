"""ONNX elementwise arithmetic, activations and softmax -> QNN."""
from __future__ import annotations

import math

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, attrs
from ..registry import onnx_op

_BINARY = {
    "Add": "ElementWiseAdd", "Sub": "ElementWiseSubtract", "Mul": "ElementWiseMultiply",
    "Div": "ElementWiseDivide", "Pow": "ElementWisePower", "Max": "ElementWiseMaximum",
    "Min": "ElementWiseMinimum", "Sum": "ElementWiseAdd", "Equal": "ElementWiseEqual",
    "Greater": "ElementWiseGreater", "GreaterOrEqual": "ElementWiseGreaterEqual",
    "Less": "ElementWiseLess", "LessOrEqual": "ElementWiseLessEqual", "And": "ElementWiseAnd",
    "Or": "ElementWiseOr", "Xor": "ElementWiseXor",
}


def _name(node) -> str:
    return node.name or node.output[0]


def _legacy_broadcast(ctx: OnnxContext, node, b: str) -> str:
    """Opset < 7 ``broadcast=1, axis=k``: reshape the second input so numpy broadcasting applies."""
    a = attrs(node)
    if ctx.opset >= 7 or not a.get("broadcast", 0):
        return b
    rank_a, shp_b = ctx.rank(node.input[0]), ctx.shape(b)
    axis = a.get("axis", rank_a - len(shp_b))
    axis = axis + rank_a if axis < 0 else axis
    new = [1] * axis + list(shp_b) + [1] * (rank_a - axis - len(shp_b))
    if ctx.is_const(b):
        return ctx.add_const(f"{b}.bcast", ctx.const(b).reshape(new))
    out = ctx.graph.unique_name(f"{b}.bcast")
    return ctx.emit("Reshape", [ctx.tensor(b)], [out], {"shape": new}, name=out)[0]


@onnx_op(*_BINARY)
def binary(ctx: OnnxContext, node) -> None:
    qnn = _BINARY[node.op_type]
    ins = [i for i in node.input if i]
    if len(ins) == 1:
        ctx.alias(node.output[0], ins[0])
        return
    if len(ins) > 2 and node.op_type not in ("Sum", "Max", "Min"):
        raise ConversionError(f"{node.op_type} node '{_name(node)}' has {len(ins)} inputs")
    acc = ctx.tensor(ins[0])
    second = _legacy_broadcast(ctx, node, ins[1]) if len(ins) == 2 else ins[1]
    for k, other in enumerate(ins[1:]):
        last = k == len(ins) - 2
        out = node.output[0] if last else ctx.graph.unique_name(f"{node.output[0]}.part{k}")
        rhs = ctx.tensor(second if k == 0 else other)
        acc = ctx.emit(qnn, [acc, rhs], [out], name=_name(node) if last else out)[0]


_UNARY = {
    "Abs": "ElementWiseAbs", "Ceil": "ElementWiseCeil", "Cos": "ElementWiseCos", "Exp": "ElementWiseExp",
    "Floor": "ElementWiseFloor", "Log": "ElementWiseLog", "Neg": "ElementWiseNeg", "Not": "ElementWiseNot",
    "Round": "ElementWiseRound", "Sign": "ElementWiseSign", "Sin": "ElementWiseSin",
    "Sqrt": "ElementWiseSquareRoot", "Asin": "ElementWiseAsin", "Atan": "ElementWiseAtan",
    "Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "HardSwish": "HardSwish", "Gelu": "Gelu",
}


@onnx_op(*_UNARY)
def unary(ctx: OnnxContext, node) -> None:
    if node.op_type == "Gelu" and attrs(node).get("approximate", "none") != "none":
        _gelu_tanh(ctx, node)
        return
    ctx.emit(_UNARY[node.op_type], [ctx.tensor(node.input[0])], [node.output[0]], name=_name(node))


def _gelu_tanh(ctx: OnnxContext, node) -> None:
    """Gelu approximate='tanh': 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    a = attrs(node).get("approximate")
    if a != "tanh":
        raise ConversionError(f"Gelu node '{_name(node)}': approximate='{a}' is not supported")
    x = ctx.tensor(node.input[0])
    dt = ctx.graph.tensors[x].dtype
    n = _name(node)

    def op(qnn, ins, tag, out=None):
        out = out or ctx.graph.unique_name(f"{node.output[0]}.{tag}")
        return ctx.emit(qnn, ins, [out], name=n if out == node.output[0] else out)[0]

    def c(tag, v):
        return ctx.add_const(f"{n}.{tag}", np.asarray(v, dt))

    x3 = op("ElementWiseMultiply", [op("ElementWiseMultiply", [x, x], "x2"), x], "x3")
    inner = op("ElementWiseAdd", [x, op("ElementWiseMultiply", [x3, c("k", 0.044715)], "kx3")], "inner")
    t = op("Tanh", [op("ElementWiseMultiply", [inner, c("s", math.sqrt(2.0 / math.pi))], "arg")], "tanh")
    half_x = op("ElementWiseMultiply", [x, c("half", 0.5)], "halfx")
    op("ElementWiseMultiply", [half_x, op("ElementWiseAdd", [t, c("one", 1.0)], "onept")], "", node.output[0])


@onnx_op("Clip")
def clip(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    lo, hi = float(a.get("min", -np.finfo(np.float32).max)), float(a.get("max", np.finfo(np.float32).max))
    if ctx.opset >= 11:
        bounds = [(k, node.input[k]) for k in (1, 2) if len(node.input) > k and node.input[k]]
        if any(not ctx.is_const(b) for _, b in bounds):   # run-time bounds: max(x, min) then min(., max)
            acc = ctx.tensor(node.input[0])
            for n_done, (k, b) in enumerate(bounds):
                last = n_done == len(bounds) - 1
                out = node.output[0] if last else ctx.graph.unique_name(f"{node.output[0]}.lo")
                acc = ctx.emit("ElementWiseMaximum" if k == 1 else "ElementWiseMinimum", [acc, ctx.tensor(b)], [out],
                               name=_name(node) if last else out)[0]
            return
        if len(node.input) > 1 and node.input[1]:
            lo = float(ctx.require_const(node, 1, "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(ctx.require_const(node, 2, "max"))
    if lo == 0.0 and hi == np.finfo(np.float32).max:
        ctx.emit("Relu", [ctx.tensor(node.input[0])], [node.output[0]], name=_name(node))
        return
    ctx.emit("ReluMinMax", [ctx.tensor(node.input[0])], [node.output[0]], {"min_value": lo, "max_value": hi},
             name=_name(node))


@onnx_op("LeakyRelu")
def leaky_relu(ctx: OnnxContext, node) -> None:
    alpha = float(attrs(node).get("alpha", 0.01))
    slope = ctx.add_const(f"{_name(node)}.alpha", np.array([alpha], np.float32))
    ctx.emit("Prelu", [ctx.tensor(node.input[0]), slope], [node.output[0]], name=_name(node))


@onnx_op("PRelu")
def prelu(ctx: OnnxContext, node) -> None:
    """Opset < 7 applies a 1-D slope per channel (axis 1); later opsets broadcast numpy-style."""
    slope = node.input[1]
    xs, ss = ctx.shape(node.input[0]), ctx.shape(slope)
    if ctx.opset < 7 and len(ss) == 1 and len(xs) > 2 and ss[0] == xs[1] and ss[0] != xs[-1]:
        new = [ss[0]] + [1] * (len(xs) - 2)
        if ctx.is_const(slope):
            slope = ctx.add_const(f"{slope}.c", ctx.const(slope).reshape(new))
        else:
            r = ctx.graph.unique_name(f"{slope}.c")
            slope = ctx.emit("Reshape", [ctx.tensor(slope)], [r], {"shape": new}, name=r)[0]
    ctx.emit("Prelu", [ctx.tensor(node.input[0]), ctx.tensor(slope)], [node.output[0]], name=_name(node))


@onnx_op("Elu")
def elu(ctx: OnnxContext, node) -> None:
    ctx.emit("Elu", [ctx.tensor(node.input[0])], [node.output[0]],
             {"alpha": float(attrs(node).get("alpha", 1.0))}, name=_name(node))


@onnx_op("HardSigmoid")
def hard_sigmoid(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    ctx.emit("ElementWiseNeuron", [ctx.tensor(node.input[0])], [node.output[0]],
             {"operation": 2, "alpha": float(a.get("alpha", 0.2)), "beta": float(a.get("beta", 0.5))},
             name=_name(node))


@onnx_op("Softplus")
def softplus(ctx: OnnxContext, node) -> None:
    ctx.emit("ElementWiseNeuron", [ctx.tensor(node.input[0])], [node.output[0]], {"operation": 7},
             name=_name(node))


@onnx_op("Reciprocal")
def reciprocal(ctx: OnnxContext, node) -> None:
    one = ctx.add_const(f"{_name(node)}.one", np.array(1.0, np.float32))
    ctx.emit("ElementWiseDivide", [one, ctx.tensor(node.input[0])], [node.output[0]], name=_name(node))


@onnx_op("Softmax", "LogSoftmax")
def softmax(ctx: OnnxContext, node) -> None:
    qnn = "Softmax" if node.op_type == "Softmax" else "LogSoftmax"
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    rank = len(shape)
    axis = int(a.get("axis", -1 if ctx.opset >= 13 else 1))
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    if ctx.opset >= 13 or axis == rank - 1 or all(d == 1 for d in shape[axis + 1:]):
        ctx.emit(qnn, [x], [node.output[0]], {"axis": axis}, name=_name(node))
        return
    # opset < 13: softmax over the flattened trailing block [axis:]
    flat = [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))]
    t1 = ctx.graph.unique_name(f"{node.output[0]}.2d")
    ctx.emit("Reshape", [x], [t1], {"shape": flat}, name=t1)
    t2 = ctx.graph.unique_name(f"{node.output[0]}.sm")
    ctx.emit(qnn, [t1], [t2], {"axis": 1}, name=_name(node))
    ctx.emit("Reshape", [t2], [node.output[0]], {"shape": list(shape)}, name=f"{_name(node)}.reshape")


@onnx_op("Identity", "Dropout")
def identity(ctx: OnnxContext, node) -> None:
    """Identity, and Dropout at inference (or in training mode with a constant ratio of 0): no op."""
    if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]:
        training = not ctx.is_const(node.input[2]) or bool(np.asarray(ctx.const(node.input[2])).reshape(-1)[0])
        ratio = (ctx.const(node.input[1]) if len(node.input) > 1 and node.input[1] and ctx.is_const(node.input[1])
                 else None if len(node.input) > 1 and node.input[1] else 0.5)
        if training and (ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0):
            raise ConversionError(f"Dropout node '{_name(node)}': training mode drops random elements; only "
                                  "inference graphs (training_mode False, or ratio 0) can be converted")
    ctx.alias(node.output[0], node.input[0])
    if len(node.output) > 1 and node.output[1]:
        ctx.consts[node.output[1]] = np.ones(ctx.shape(node.input[0]), dtype=np.bool_)


@onnx_op("IsNaN")
def is_nan(ctx: OnnxContext, node) -> None:
    ctx.emit("IsNan", [ctx.tensor(node.input[0])], [node.output[0]], name=_name(node))


@onnx_op("IsInf")
def is_inf(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    ctx.emit("IsInf", [ctx.tensor(node.input[0])], [node.output[0]],
             {"detect_negative": bool(a.get("detect_negative", 1)), "detect_positive": bool(a.get("detect_positive", 1))},
             name=_name(node))


class _Chain:
    """Builds a short chain of QNN elementwise ops for one ONNX node (intermediate names derive from its output)."""

    def __init__(self, ctx: OnnxContext, node) -> None:
        self.ctx, self.node, self.n = ctx, node, 0
        self.dtype = ctx.graph.tensors[ctx.tensor(node.input[0])].dtype

    def c(self, value: float) -> str:
        return self.ctx.add_const(f"{_name(self.node)}.c", np.asarray(value, self.dtype))

    def op(self, qnn: str, *ins: str, out: str | None = None) -> str:
        self.n += 1
        name = out or self.ctx.graph.unique_name(f"{self.node.output[0]}.t{self.n}")
        return self.ctx.emit(qnn, list(ins), [name], name=name)[0]


@onnx_op("Tan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Acos")
def trig(ctx: OnnxContext, node) -> None:
    """Trigonometric/hyperbolic functions QNN lacks, as exact identities over Sin/Cos/Exp/Log/Sqrt/Asin."""
    b = _Chain(ctx, node)
    x, out, t = ctx.tensor(node.input[0]), node.output[0], node.op_type
    if t == "Tan":
        b.op("ElementWiseDivide", b.op("ElementWiseSin", x), b.op("ElementWiseCos", x), out=out)
    elif t in ("Sinh", "Cosh"):
        e, en = b.op("ElementWiseExp", x), b.op("ElementWiseExp", b.op("ElementWiseNeg", x))
        s = b.op("ElementWiseSubtract" if t == "Sinh" else "ElementWiseAdd", e, en)
        b.op("ElementWiseMultiply", s, b.c(0.5), out=out)
    elif t in ("Asinh", "Acosh"):
        sq = b.op("ElementWiseMultiply", x, x)
        r = b.op("ElementWiseSquareRoot", b.op("ElementWiseAdd" if t == "Asinh" else "ElementWiseSubtract",
                                               sq, b.c(1.0)))
        b.op("ElementWiseLog", b.op("ElementWiseAdd", x, r), out=out)
    elif t == "Atanh":
        q = b.op("ElementWiseDivide", b.op("ElementWiseAdd", b.c(1.0), x), b.op("ElementWiseSubtract", b.c(1.0), x))
        b.op("ElementWiseMultiply", b.op("ElementWiseLog", q), b.c(0.5), out=out)
    else:  # Acos = pi/2 - asin(x)
        b.op("ElementWiseSubtract", b.c(np.pi / 2), b.op("ElementWiseAsin", x), out=out)

"""aten elementwise arithmetic, activations and softmax -> QNN."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext, axis
from ..registry import aten_op


def _operand(ctx: TorchContext, v, like):
    """Scalars join a tensor's dtype (PyTorch type promotion for tensor op scalar)."""
    if isinstance(v, Ref):
        return v
    dt = ctx.dtype(like) if isinstance(like, Ref) else np.asarray(v).dtype
    arr = np.asarray(v)
    if arr.ndim == 0 and np.issubdtype(dt, np.integer) and isinstance(v, float):
        dt = np.float32
    return Ref(ctx.tensor(arr.astype(dt if arr.ndim == 0 else arr.dtype)))


_BINARY = {"add": "ElementWiseAdd", "sub": "ElementWiseSubtract", "mul": "ElementWiseMultiply",
           "div": "ElementWiseDivide", "maximum": "ElementWiseMaximum", "minimum": "ElementWiseMinimum",
           "pow": "ElementWisePower", "eq": "ElementWiseEqual", "ne": "ElementWiseNotEqual",
           "gt": "ElementWiseGreater", "ge": "ElementWiseGreaterEqual", "lt": "ElementWiseLess",
           "le": "ElementWiseLessEqual", "logical_and": "ElementWiseAnd", "logical_or": "ElementWiseOr",
           "__and__": "ElementWiseAnd", "__or__": "ElementWiseOr", "floor_divide": "ElementWiseFloorDiv",
           "remainder": "ElementWiseMod", "fmod": "ElementWiseFmod"}


def _binary(ctx: TorchContext, node, a):
    kind = node.kind().split("::")[1].rstrip("_")
    x, y = a[0], a[1]
    like = x if isinstance(x, Ref) else y
    if kind in ("add", "sub") and len(a) > 2 and a[2] is not None and a[2] != 1:
        y = Ref(ctx.tensor(np.asarray(y) * a[2])) if not isinstance(y, Ref) else \
            ctx.op_tmp("ElementWiseMultiply", [y, _operand(ctx, a[2], y)], ctx.out_name(node) + ".alpha")
    if kind == "div" and len(a) > 2 and a[2] is not None:
        mode = a[2]
        q = ctx.op_tmp("ElementWiseDivide", [_operand(ctx, x, like), _operand(ctx, y, like)],
                       ctx.out_name(node) + ".q")
        if mode == "floor":
            return ctx.op("ElementWiseFloor", [q], node)
        if mode == "trunc":
            s = ctx.op_tmp("ElementWiseSign", [q], ctx.out_name(node) + ".s")
            f = ctx.op_tmp("ElementWiseFloor", [ctx.op_tmp("ElementWiseAbs", [q], ctx.out_name(node) + ".a")],
                           ctx.out_name(node) + ".f")
            return ctx.op("ElementWiseMultiply", [s, f], node)
    return ctx.op(_BINARY[kind], [_operand(ctx, x, like), _operand(ctx, y, like)], node)


for _k in _BINARY:
    aten_op(_k)(_binary)
@aten_op("rsub")
def rsub(ctx: TorchContext, node, a):
    """rsub(x, other, alpha) = other - alpha * x."""
    x, other = a[0], a[1]
    alpha = a[2] if len(a) > 2 and a[2] is not None else 1
    like = x if isinstance(x, Ref) else other
    if alpha != 1:
        x = (ctx.op_tmp("ElementWiseMultiply", [x, _operand(ctx, alpha, x)], ctx.out_name(node) + ".alpha")
             if isinstance(x, Ref) else np.asarray(x) * alpha)
    return ctx.op("ElementWiseSubtract", [_operand(ctx, other, like), _operand(ctx, x, like)], node)

_UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish", "abs": "ElementWiseAbs",
          "exp": "ElementWiseExp", "log": "ElementWiseLog", "sqrt": "ElementWiseSquareRoot",
          "rsqrt": "ElementWiseRsqrt", "neg": "ElementWiseNeg", "floor": "ElementWiseFloor",
          "ceil": "ElementWiseCeil", "sin": "ElementWiseSin", "cos": "ElementWiseCos", "sign": "ElementWiseSign",
          "round": "ElementWiseRound", "logical_not": "ElementWiseNot", "reciprocal": None}


@aten_op(*_UNARY)
def unary(ctx: TorchContext, node, a):
    kind = node.kind().split("::")[1].rstrip("_")
    if kind == "reciprocal":
        return ctx.op("ElementWiseDivide", [np.asarray(1.0, np.float32), a[0]], node)
    return ctx.op(_UNARY[kind], [a[0]], node)


@aten_op("relu6")
def relu6(ctx, node, a):
    return ctx.op("ReluMinMax", [a[0]], node, {"min_value": 0.0, "max_value": 6.0})


@aten_op("hardtanh", "clamp", "clip")
def clamp(ctx, node, a):
    lo, hi = a[1], a[2]
    if isinstance(lo, Ref) or isinstance(hi, Ref):
        raise ConversionError("clamp with tensor bounds is not supported")
    lo = -3.4e38 if lo is None else float(np.asarray(lo))
    hi = 3.4e38 if hi is None else float(np.asarray(hi))
    return ctx.op("ReluMinMax", [a[0]], node, {"min_value": lo, "max_value": hi})


@aten_op("hardsigmoid")
def hardsigmoid(ctx, node, a):
    return ctx.op("ElementWiseNeuron", [a[0]], node, {"operation": 2, "alpha": 1 / 6, "beta": 0.5})


@aten_op("silu")
def silu(ctx, node, a):
    s = ctx.op_tmp("Sigmoid", [a[0]], ctx.out_name(node) + ".sig")
    return ctx.op("ElementWiseMultiply", [a[0], s], node)


@aten_op("gelu")
def gelu(ctx, node, a):
    approx = a[1] if len(a) > 1 else "none"
    if approx != "none":
        x = a[0]
        base = ctx.out_name(node)
        x3 = ctx.op_tmp("ElementWisePower", [x, np.asarray(3.0, np.float32)], base + ".x3")
        inner = ctx.op_tmp("ElementWiseAdd", [x, ctx.op_tmp("ElementWiseMultiply",
                                                               [x3, np.asarray(0.044715, np.float32)], base + ".c")],
                           base + ".in")
        t = ctx.op_tmp("Tanh", [ctx.op_tmp("ElementWiseMultiply", [inner, np.asarray(np.sqrt(2 / np.pi), np.float32)],
                                           base + ".s")], base + ".t")
        half = ctx.op_tmp("ElementWiseMultiply", [x, np.asarray(0.5, np.float32)], base + ".h")
        return ctx.op("ElementWiseMultiply", [half, ctx.op_tmp("ElementWiseAdd", [t, np.asarray(1.0, np.float32)],
                                                               base + ".p")], node)
    return ctx.op("Gelu", [a[0]], node)


@aten_op("leaky_relu")
def leaky_relu(ctx, node, a):
    slope = float(a[1]) if len(a) > 1 else 0.01
    return ctx.op("Prelu", [a[0], np.asarray([slope], np.float32)], node)


@aten_op("prelu")
def prelu(ctx, node, a):
    x, w = a
    w = np.asarray(w, np.float32)
    rank = ctx.rank(x)
    if w.size > 1 and rank > 2:   # per-channel slope on axis 1 of an NC... tensor
        w = w.reshape((-1,) + (1,) * (rank - 2))
    return ctx.op("Prelu", [x, w], node)


@aten_op("elu")
def elu(ctx, node, a):
    alpha, scale, in_scale = (float(v) for v in a[1:4])
    if scale != 1 or in_scale != 1:
        raise ConversionError("elu with scale/input_scale != 1 is not supported")
    return ctx.op("Elu", [a[0]], node, {"alpha": alpha})


@aten_op("softplus")
def softplus(ctx, node, a):
    beta, threshold = float(a[1]), float(a[2])
    if beta != 1:
        raise ConversionError("softplus with beta != 1 is not supported")
    return ctx.op("ElementWiseNeuron", [a[0]], node, {"operation": 7, "threshold": threshold})


@aten_op("mish")
def mish(ctx, node, a):
    base = ctx.out_name(node)
    sp = ctx.op_tmp("ElementWiseNeuron", [a[0]], base + ".sp", {"operation": 7})
    return ctx.op("ElementWiseMultiply", [a[0], ctx.op_tmp("Tanh", [sp], base + ".t")], node)


def _softmax(ctx, node, a, qnn):
    x, dim = a[0], a[1]
    if len(a) > 2 and a[2] is not None and not isinstance(a[2], (int,)):
        pass
    return ctx.op(qnn, [x], node, {"axis": axis(int(dim), ctx.rank(x))})


aten_op("softmax")(lambda ctx, node, a: _softmax(ctx, node, a, "Softmax"))
aten_op("log_softmax")(lambda ctx, node, a: _softmax(ctx, node, a, "LogSoftmax"))

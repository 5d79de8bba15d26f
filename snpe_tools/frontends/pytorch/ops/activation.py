"""aten activations -> QNN Relu/ReluMinMax/Sigmoid/Tanh/Gelu/Prelu/Elu/ElementWiseNeuron."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext
from ..registry import aten_op


_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish"}


@aten_op(*_ACTIVATIONS)
def activation(ctx: TorchContext, node):
    a = node.args
    return ctx.op(_ACTIVATIONS[node.kind().split("::")[1].rstrip("_")], [a[0]], node)


@aten_op("relu6")
def relu6(ctx, node):
    a = node.args
    return ctx.op("ReluMinMax", [a[0]], node, {"min_value": 0.0, "max_value": 6.0})


@aten_op("hardtanh", "clamp", "clip")
def clamp(ctx, node):
    a = node.args
    lo, hi = a[1], a[2]
    if isinstance(lo, Ref) or isinstance(hi, Ref):
        raise ConversionError("clamp with tensor bounds is not supported")
    lo = -3.4e38 if lo is None else float(np.asarray(lo))
    hi = 3.4e38 if hi is None else float(np.asarray(hi))
    return ctx.op("ReluMinMax", [a[0]], node, {"min_value": lo, "max_value": hi})


@aten_op("hardsigmoid")
def hardsigmoid(ctx, node):
    a = node.args
    return ctx.op("ElementWiseNeuron", [a[0]], node, {"operation": 2, "alpha": 1 / 6, "beta": 0.5})


@aten_op("silu")
def silu(ctx, node):
    a = node.args
    s = ctx.op_tmp("Sigmoid", [a[0]], ctx.out_name(node) + ".sig")
    return ctx.op("ElementWiseMultiply", [a[0], s], node)


@aten_op("gelu")
def gelu(ctx, node):
    a = node.args
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
def leaky_relu(ctx, node):
    a = node.args
    slope = float(a[1]) if len(a) > 1 else 0.01
    return ctx.op("Prelu", [a[0], np.asarray([slope], np.float32)], node)


@aten_op("prelu")
def prelu(ctx, node):
    a = node.args
    x, w = a
    w = np.asarray(w, np.float32)
    rank = ctx.rank(x)
    if w.size > 1 and rank > 2:   # per-channel slope on axis 1 of an NC... tensor
        w = w.reshape((-1,) + (1,) * (rank - 2))
    return ctx.op("Prelu", [x, w], node)


@aten_op("elu")
def elu(ctx, node):
    a = node.args
    alpha, scale, in_scale = (float(v) for v in a[1:4])
    if scale != 1 or in_scale != 1:
        raise ConversionError("elu with scale/input_scale != 1 is not supported")
    return ctx.op("Elu", [a[0]], node, {"alpha": alpha})


@aten_op("softplus")
def softplus(ctx, node):
    a = node.args
    beta, threshold = float(a[1]), float(a[2])
    if beta != 1:
        raise ConversionError("softplus with beta != 1 is not supported")
    return ctx.op("ElementWiseNeuron", [a[0]], node, {"operation": 7, "threshold": threshold})


@aten_op("mish")
def mish(ctx, node):
    a = node.args
    base = ctx.out_name(node)
    sp = ctx.op_tmp("ElementWiseNeuron", [a[0]], base + ".sp", {"operation": 7})
    return ctx.op("ElementWiseMultiply", [a[0], ctx.op_tmp("Tanh", [sp], base + ".t")], node)

"""ONNX activation functions -> QNN Relu / ReluMinMax / Sigmoid / Tanh / Gelu / HardSwish / Prelu / Elu /
ElementWiseNeuron (the IR ops of ``snpe_tools/ops/activation.py``); the activations QNN has no op for
(Gelu approximate=tanh, Selu, ThresholdedRelu, Mish, Softsign, Swish, Celu, Shrink, SwiGLU) as exact
compositions of QNN ops.

Shrink is a Select composition; ``SwiGLU`` (opset 28) is ``A * Sigmoid(alpha * A) * B`` (its ONNX function
body, Swish then Mul)."""
from __future__ import annotations

import math

import numpy as np
import onnx

from ..context import (FLOATS, NodeBuilder, OnnxContext, attrs, node_error, node_name, require_float,
                      scalar_const, tmp_name)
from ..registry import onnx_op

# ONNX op -> QNN op of the same function
_ACTIVATIONS = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "HardSwish": "HardSwish", "Gelu": "Gelu"}


@onnx_op(*_ACTIVATIONS)
def activation(ctx: OnnxContext, node) -> None:
    if node.op_type == "Gelu" and attrs(node).get("approximate", "none") != "none":
        _gelu_tanh(ctx, node)
        return
    ctx.emit(_ACTIVATIONS[node.op_type], [ctx.tensor(node.input[0])], [node.output[0]], name=node_name(node))


def _gelu_tanh(ctx: OnnxContext, node) -> None:
    """Gelu approximate='tanh': 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    a = attrs(node).get("approximate")
    if a != "tanh":
        raise node_error(node, f"approximate='{a}' is not supported")
    x = ctx.tensor(node.input[0])
    dt = ctx.graph.tensors[x].dtype
    n = node_name(node)

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
                               name=node_name(node) if last else out)[0]
            return
        if len(node.input) > 1 and node.input[1]:
            lo = float(ctx.require_const(node, 1, "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(ctx.require_const(node, 2, "max"))
    if lo == 0.0 and hi == np.finfo(np.float32).max:
        ctx.emit("Relu", [ctx.tensor(node.input[0])], [node.output[0]], name=node_name(node))
        return
    ctx.emit("ReluMinMax", [ctx.tensor(node.input[0])], [node.output[0]], {"min_value": lo, "max_value": hi},
             name=node_name(node))


@onnx_op("LeakyRelu")
def leaky_relu(ctx: OnnxContext, node) -> None:
    alpha = float(attrs(node).get("alpha", 0.01))
    slope = ctx.add_const(f"{node_name(node)}.alpha", np.array([alpha], np.float32))
    ctx.emit("Prelu", [ctx.tensor(node.input[0]), slope], [node.output[0]], name=node_name(node))


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
    ctx.emit("Prelu", [ctx.tensor(node.input[0]), ctx.tensor(slope)], [node.output[0]], name=node_name(node))


@onnx_op("Elu")
def elu(ctx: OnnxContext, node) -> None:
    ctx.emit("Elu", [ctx.tensor(node.input[0])], [node.output[0]],
             {"alpha": float(attrs(node).get("alpha", 1.0))}, name=node_name(node))


@onnx_op("HardSigmoid")
def hard_sigmoid(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    ctx.emit("ElementWiseNeuron", [ctx.tensor(node.input[0])], [node.output[0]],
             {"operation": 2, "alpha": float(a.get("alpha", 0.2)), "beta": float(a.get("beta", 0.5))},
             name=node_name(node))


@onnx_op("Softplus")
def softplus(ctx: OnnxContext, node) -> None:
    ctx.emit("ElementWiseNeuron", [ctx.tensor(node.input[0])], [node.output[0]], {"operation": 7},
             name=node_name(node))


# ---- activations ---------------------------------------------------------------------------
@onnx_op("Selu")
def selu(ctx: OnnxContext, node) -> None:
    """gamma * Elu_alpha(x)."""
    a = attrs(node)
    dt = require_float(ctx, node)
    alpha = float(a.get("alpha", 1.67326319217681884765625))
    gamma = float(a.get("gamma", 1.05070102214813232421875))
    e = ctx.emit("Elu", [ctx.tensor(node.input[0])], [tmp_name(ctx, node, "elu")], {"alpha": alpha},
                 name=f"{node_name(node)}.elu")[0]
    ctx.emit("ElementWiseMultiply", [e, scalar_const(ctx, node, "gamma", gamma, dt)], [node.output[0]],
             name=node_name(node))


@onnx_op("ThresholdedRelu")
def thresholded_relu(ctx: OnnxContext, node) -> None:
    """x where x > alpha, else 0."""
    dt = require_float(ctx, node)
    alpha = float(attrs(node).get("alpha", 1.0))
    x = ctx.tensor(node.input[0])
    gt = ctx.emit("ElementWiseGreater", [x, scalar_const(ctx, node, "alpha", alpha, dt)], [tmp_name(ctx, node, "gt")],
                  name=f"{node_name(node)}.gt")[0]
    ctx.emit("ElementWiseSelect", [gt, x, scalar_const(ctx, node, "zero", 0, dt)], [node.output[0]],
             name=node_name(node))


@onnx_op("Mish")
def mish(ctx: OnnxContext, node) -> None:
    """x * tanh(softplus(x)) with softplus as ElementWiseNeuron SOFTPLUS."""
    require_float(ctx, node)
    x = ctx.tensor(node.input[0])
    sp = ctx.emit("ElementWiseNeuron", [x], [tmp_name(ctx, node, "softplus")], {"operation": 7},
                  name=f"{node_name(node)}.softplus")[0]
    th = ctx.emit("Tanh", [sp], [tmp_name(ctx, node, "tanh")], name=f"{node_name(node)}.tanh")[0]
    ctx.emit("ElementWiseMultiply", [x, th], [node.output[0]], name=node_name(node))


@onnx_op("Softsign")
def softsign(ctx: OnnxContext, node) -> None:
    """x / (1 + |x|)."""
    dt = require_float(ctx, node)
    x = ctx.tensor(node.input[0])
    ab = ctx.emit("ElementWiseAbs", [x], [tmp_name(ctx, node, "abs")], name=f"{node_name(node)}.abs")[0]
    den = ctx.emit("ElementWiseAdd", [ab, scalar_const(ctx, node, "one", 1, dt)], [tmp_name(ctx, node, "den")],
                   name=f"{node_name(node)}.den")[0]
    ctx.emit("ElementWiseDivide", [x, den], [node.output[0]], name=node_name(node))


@onnx_op("Swish")
def swish(ctx: OnnxContext, node) -> None:
    """x * sigmoid(alpha * x)."""
    dt = require_float(ctx, node)
    alpha = float(attrs(node).get("alpha", 1.0))
    x = ctx.tensor(node.input[0])
    z = x if alpha == 1.0 else ctx.emit("ElementWiseMultiply", [x, scalar_const(ctx, node, "alpha", alpha, dt)],
                                        [tmp_name(ctx, node, "ax")], name=f"{node_name(node)}.ax")[0]
    sg = ctx.emit("Sigmoid", [z], [tmp_name(ctx, node, "sigmoid")], name=f"{node_name(node)}.sigmoid")[0]
    ctx.emit("ElementWiseMultiply", [x, sg], [node.output[0]], name=node_name(node))


@onnx_op("Celu")
def celu(ctx: OnnxContext, node) -> None:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    dt = require_float(ctx, node)
    alpha = float(attrs(node).get("alpha", 1.0))
    n = node_name(node)
    x = ctx.tensor(node.input[0])

    def op(qnn, ins, tag):
        return ctx.emit(qnn, ins, [tmp_name(ctx, node, tag)], name=f"{n}.{tag}")[0]

    zero = scalar_const(ctx, node, "zero", 0, dt)
    scaled = op("ElementWiseDivide", [x, scalar_const(ctx, node, "alpha", alpha, dt)], "scaled")
    e = op("ElementWiseExp", [scaled], "exp")
    em1 = op("ElementWiseSubtract", [e, scalar_const(ctx, node, "one", 1, dt)], "expm1")
    scaled_em1 = op("ElementWiseMultiply", [em1, scalar_const(ctx, node, "alpha", alpha, dt)], "neg")
    neg = op("ElementWiseMinimum", [scaled_em1, zero], "negpart")
    ctx.emit("ElementWiseAdd", [op("ElementWiseMaximum", [x, zero], "pospart"), neg], [node.output[0]], name=n)


# ---- Shrink ------------------------------------------------------------------------------------
@onnx_op("Shrink")
def shrink(ctx: OnnxContext, node) -> None:
    """x + bias where x < -lambd, x - bias where x > lambd, 0 elsewhere."""
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    lambd, bias = float(a.get("lambd", 0.5)), float(a.get("bias", 0.0))
    x = ctx.tensor(node.input[0])
    dt = b.dtype(x)
    if np.issubdtype(dt, np.floating):
        lo, hi = -lambd, lambd
        lt, gt = "ElementWiseLess", "ElementWiseGreater"
    elif np.issubdtype(dt, np.integer):
        if bias != int(bias):
            raise node_error(node, f"a non-integer bias {bias} is not supported for {dt} input")
        lo, hi = int(np.floor(-lambd)), int(np.ceil(lambd))    # x < -lambd <=> x <= floor(-lambd) ...
        lt, gt = "ElementWiseLessEqual", "ElementWiseGreaterEqual"
        if lambd == int(lambd):
            lo, hi = lo - 1, hi + 1
        lo, hi = (int(np.clip(v, np.iinfo(dt).min, np.iinfo(dt).max)) for v in (lo, hi))
    else:
        raise node_error(node, f"input type {dt} is not supported")
    bias_c = b.const("bias", bias, dt)
    zero = b.const("zero", 0, dt)
    below = b.op(lt, [x, b.const("lo", lo, dt)], tag="below")
    above = b.op(gt, [x, b.const("hi", hi, dt)], tag="above")
    inner = b.op("ElementWiseSelect", [above, b.op("ElementWiseSubtract", [x, bias_c], tag="minus"), zero],
                 tag="upper")
    b.op("ElementWiseSelect", [below, b.op("ElementWiseAdd", [x, bias_c], tag="plus"), inner],
         out=node.output[0])


# ---- SwiGLU ------------------------------------------------------------------------------------
@onnx_op("SwiGLU")
def swiglu(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    gate, value = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    if e.shape(gate) != e.shape(value):
        raise node_error(node, f"A {e.shape(gate)} and B {e.shape(value)} must have the same shape (SwiGLU does "
                               "not broadcast)")
    dt = e.dtype(gate)
    if dt not in FLOATS or e.dtype(value) != dt:
        raise node_error(node, f"input types {dt} / {e.dtype(value)} are not supported (float32/float16 only)")
    alpha = float(attrs(node).get("alpha", 1.0))
    z = gate if alpha == 1.0 else e.op("ElementWiseMultiply", [gate, e.const("alpha", alpha, dt)], tag="scaled")
    swish = e.op("ElementWiseMultiply", [gate, e.op("Sigmoid", [z], tag="sigmoid")], tag="swish")
    e.op("ElementWiseMultiply", [swish, value], out=node.output[0])

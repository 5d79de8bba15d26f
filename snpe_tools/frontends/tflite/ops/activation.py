"""Activation builtins -> QNN Sigmoid / Tanh / Relu / HardSwish / Elu / ReluMinMax / Prelu / Gelu (the IR ops
of ``snpe_tools/ops/activation.py``); GELU's tanh form, which QNN has no op for, as elementwise ops."""
from __future__ import annotations

import numpy as np

from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


_ACTIVATIONS = {"LOGISTIC": "Sigmoid", "TANH": "Tanh", "RELU": "Relu", "HARD_SWISH": "HardSwish", "ELU": "Elu"}


@tflite_op(*_ACTIVATIONS)
def activation(ctx: TfliteContext, op: TflOp) -> None:
    ctx.emit_out(op, _ACTIVATIONS[op.name], [ctx.tensor(op.inputs[0])], act=0)


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

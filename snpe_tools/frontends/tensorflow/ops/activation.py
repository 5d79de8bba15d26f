"""TensorFlow activations -> QNN Relu / ReluMinMax / Sigmoid / Tanh / Elu / ElementWiseNeuron / Prelu
(``snpe_tools/ops/activation.py``).

* single-op translators: Relu, Relu6, Sigmoid, Tanh, Elu, Softplus, LeakyRelu;
* topology (PReLU): PReLU written out as arithmetic (there is no PReLU op in TensorFlow).
  Keras (tf_keras and Keras 3): ``relu(x) + (-alpha) * relu(-x)``; TFLearn:
  ``relu(x) + alpha * (x - abs(x)) * 0.5``.  Both equal ``x >= 0 ? x : slope * x``; the slope is
  read from the constant factors along the negative branch.
"""
from __future__ import annotations

import numpy as np

from ..layers import make_layer, node_of_layer
from ..patterns import candidates, producer, split_static
from ..registry import resolver, tf_op


_UNARY = {"Relu": ("Relu", {}), "Relu6": ("ReluMinMax", {"min_value": 0.0, "max_value": 6.0}),
          "Sigmoid": ("Sigmoid", {}), "Tanh": ("Tanh", {}), "Elu": ("Elu", {"alpha": 1.0}),
          "Softplus": ("ElementWiseNeuron", {"operation": 7})}


@tf_op(*_UNARY)
def activation(ctx, layer):
    node = node_of_layer(ctx, layer)
    type_, params = _UNARY[node.op]
    ctx.op(type_, [ctx.tensor(node.inputs[0])], params, out=f"{node.name}:0", name=layer.name)


@tf_op("LeakyRelu")
def leaky_relu(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    c = ctx.shape(x)[-1]
    slope = np.full(c, float(node.attr("alpha", 0.2)), np.float32)
    ctx.op("Prelu", [ctx.tensor(x), ctx.add_const(f"{layer.name}/alpha", slope)], out=f"{node.name}:0",
           name=layer.name)


def _negative_branch(model, claimed, tensor: str, x: str):
    """(slope, nodes) if ``tensor`` = const factors * relu(-x) or * (x - |x|), else (None, None)."""
    factor = np.float32(1.0)
    nodes: list[str] = []
    t = tensor
    while True:
        mul, via = producer(model, t, claimed, ("Mul",))
        if mul is None:
            break
        d, s = split_static(model, mul)
        if d is None:
            return None, None
        factor = factor * np.asarray(model.const(s), np.float32)
        nodes += [mul.name, *via]
        t = d
    relu, via = producer(model, t, claimed, ("Relu",))
    if relu is not None:
        neg, via2 = producer(model, relu.inputs[0], claimed, ("Neg",))
        if neg is not None and neg.inputs[0] == x:
            return -factor, nodes + [relu.name, neg.name, *via, *via2]
        return None, None
    sub, via = producer(model, t, claimed, ("Sub",))
    if sub is not None and sub.inputs[0] == x:
        ab, via2 = producer(model, sub.inputs[1], claimed, ("Abs",))
        if ab is not None and ab.inputs[0] == x:
            return 2.0 * factor, nodes + [sub.name, ab.name, *via, *via2]
    return None, None


@resolver("PReLU", 50)
def prelu(model, claimed):
    out = []
    for add in candidates(model, claimed, ("Add", "AddV2")):
        for i in (0, 1):
            relu, via = producer(model, add.inputs[i], claimed, ("Relu",))
            if relu is None:
                continue
            x = relu.inputs[0]
            slope, nodes = _negative_branch(model, claimed, add.inputs[1 - i], x)
            if slope is None:
                continue
            out.append(make_layer(model, "PReLU", [relu.name, *via, *nodes, add.name], [f"{add.name}:0"],
                                  _translate, x=x, slope=slope, out=f"{add.name}:0"))
            break
    return out


def _translate(ctx, layer):
    info = layer.info
    shape = ctx.shape(info["x"])
    slope = np.broadcast_to(info["slope"], shape[1:]) if np.ndim(info["slope"]) else np.full(shape[-1:], info["slope"])
    flat = slope.reshape(-1, shape[-1])
    if (flat == flat[0]).all():
        slope = flat[0]                         # one slope per channel
    ctx.op("Prelu", [ctx.tensor(info["x"]), ctx.add_const(f"{layer.name}/alpha", np.asarray(slope, np.float32))],
           out=info["out"], name=layer.name)

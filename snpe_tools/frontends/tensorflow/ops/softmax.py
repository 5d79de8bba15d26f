"""TensorFlow Softmax / LogSoftmax -> QNN Softmax / LogSoftmax (``snpe_tools/ops/softmax.py``), last axis."""
from __future__ import annotations

from ..layers import node_of_layer
from ..registry import tf_op


@tf_op("Softmax", "LogSoftmax")
def softmax(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    ctx.op(node.op, [ctx.tensor(x)], {"axis": ctx.rank(x) - 1}, out=f"{node.name}:0", name=layer.name)

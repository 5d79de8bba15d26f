"""TensorFlow reductions and ArgMax/ArgMin -> QNN Reduce* / Argmax / Argmin (``snpe_tools/ops/reduce.py``)."""
from __future__ import annotations

from ..layers import node_of_layer
from ..registry import tf_op


REDUCE = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin", "Prod": "ReduceProd"}


def _axes(ctx, layer, t: str, rank: int) -> list[int]:
    ax = ctx.require_const(layer, t, "the axes").reshape(-1).astype(int)
    return sorted({int(a) % rank for a in ax})


@tf_op(*REDUCE)
def reduce(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    axes = _axes(ctx, layer, node.inputs[1], ctx.rank(x))
    ctx.op(REDUCE[node.op], [ctx.tensor(x)], {"axes": axes, "keep_dims": bool(node.attr("keep_dims", False))},
           out=f"{node.name}:0", name=layer.name)


@tf_op("ArgMax", "ArgMin")
def argmax(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    axis = _axes(ctx, layer, node.inputs[1], ctx.rank(x))[0]
    ctx.op("Argmax" if node.op == "ArgMax" else "Argmin", [ctx.tensor(x)], {"axis": axis},
           out=f"{node.name}:0", name=layer.name)

"""TensorFlow MatMul / BatchMatMul -> QNN FullyConnected / MatMul (``snpe_tools/ops/linear.py``).

* single-op translator: MatMul / BatchMatMul(V2/V3); a constant 2-D right operand gives FullyConnected;
* topology (FullyConnected): [Reshape/Flatten ->] MatMul(x, constant W) -> BiasAdd/Add (per-output
  constant), one FullyConnected with the bias folded in.
"""
from __future__ import annotations

import numpy as np

from ..layers import make_layer, node_of_layer
from ..patterns import channel_vector, constant_adds, producer
from ..registry import resolver, tf_op


def emit_matmul(ctx, layer, node, bias: np.ndarray | None, out: str, x: str | None = None) -> str:
    """MatMul with a constant right operand -> FullyConnected (weights [n_out, k]); else MatMul."""
    a, b = node.inputs[:2]
    ta = bool(node.attr("transpose_a", False) or node.attr("adj_x", False))
    tb = bool(node.attr("transpose_b", False) or node.attr("adj_y", False))
    w = ctx.const(b)
    if w is not None and not ta and np.asarray(w).ndim == 2 and ctx.model.is_dynamic(a) and (
            node.op == "MatMul" or ctx.rank(a) == 2):
        w = np.asarray(w, np.float32)
        wq = w if tb else w.T
        bb = np.zeros(wq.shape[0], np.float32) if bias is None else np.asarray(bias, np.float32).reshape(-1)
        return ctx.op("FullyConnected", [ctx.tensor(x or a), ctx.derived_const(b, "fc", np.ascontiguousarray(wq)),
                                         ctx.add_const(f"{layer.name}/bias", bb)], out=out, name=layer.name)
    y = ctx.op("MatMul", [ctx.tensor(a), ctx.tensor(b)], {"transpose_in0": ta, "transpose_in1": tb},
               out=None if bias is not None else out, name=layer.name)
    if bias is not None:
        y = ctx.op("ElementWiseAdd", [y, ctx.add_const(f"{layer.name}/bias", bias)], out=out, name=layer.name)
    return y


@tf_op("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def matmul(ctx, layer):
    node = node_of_layer(ctx, layer)
    emit_matmul(ctx, layer, node, None, f"{node.name}:0")


@resolver("FullyConnected", 30)
def fully_connected(model, claimed):
    out = []
    for add, b, mm, via in constant_adds(model, claimed, ("BiasAdd", "Add", "AddV2"), ("MatMul",)):
        if mm.attr("transpose_a") or not model.is_dynamic(mm.inputs[0]):
            continue
        w = model.const(mm.inputs[1])
        if w is None or np.asarray(w).ndim != 2:
            continue
        n_out = w.shape[0] if mm.attr("transpose_b") else w.shape[1]
        bias = channel_vector(model.const(b), n_out)
        if bias is None:
            continue
        nodes = [mm.name, *via, add.name]
        src = mm.inputs[0]
        flat, via2 = producer(model, src, claimed, ("Reshape",))
        if flat is not None and len(model.consumers.get(f"{flat.name}:0", [])) == 1:
            shp = model.static_shape(f"{flat.name}:0")
            ishp = model.static_shape(flat.inputs[0])
            if shp and ishp and len(shp) == 2 and shp[0] == ishp[0]:
                nodes += [flat.name, *via2]        # FullyConnected flattens NHWC itself
                src = flat.inputs[0]
        out.append(make_layer(model, "FullyConnected", nodes, [f"{add.name}:0"], _translate, node=mm.name,
                              x=src, bias=bias, out=f"{add.name}:0"))
    return out


def _translate(ctx, layer):
    info = layer.info
    emit_matmul(ctx, layer, ctx.model.nodes[info["node"]], info["bias"], info["out"], x=info["x"])

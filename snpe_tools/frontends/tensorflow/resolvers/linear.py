"""Fully connected: [Reshape/Flatten ->] MatMul(x, constant W) -> BiasAdd/Add (per-output constant)."""
from __future__ import annotations

import numpy as np

from ..layers import make_layer
from ..ops.math import emit_matmul
from ..registry import resolver
from .common import candidates, channel_vector, producer, split_static


@resolver("FullyConnected", 30)
def fully_connected(model, claimed):
    out = []
    for add in candidates(model, claimed, ("BiasAdd", "Add", "AddV2")):
        x, b = split_static(model, add)
        if x is None:
            continue
        mm, via = producer(model, x, claimed, ("MatMul",))
        if mm is None or mm.attr("transpose_a") or not model.is_dynamic(mm.inputs[0]):
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

"""Squash a zero constant Pad on the spatial dims into the following Conv2d/DepthWiseConv2d."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from .registry import register_pass


@register_pass("squash_pad")
def squash_pad(graph: Graph, options) -> bool:
    changed = False
    consumers = graph.consumer_map()
    for pad in list(graph.ops):
        if pad.type != "Pad" or pad.params["scheme"] != 0 or pad.params["pad_constant_value"] != 0.0:
            continue
        y = pad.outputs[0]
        users = consumers.get(y, [])
        if len(users) != 1 or y in graph.outputs:
            continue
        conv = users[0]
        pa = np.asarray(pad.params["pad_amount"])
        if conv.type not in ("Conv2d", "DepthWiseConv2d") or conv.inputs[0] != y or pa.shape[0] != 4:
            continue
        if pa[0].any() or pa[3].any():
            continue   # padding batch or channels cannot move into the conv
        conv.params["pad_amount"] = (np.asarray(conv.params["pad_amount"]) + pa[1:3]).astype(np.uint32)
        conv.inputs[0] = pad.inputs[0]
        graph.remove_op(pad)
        consumers = graph.consumer_map()
        changed = True
    return changed

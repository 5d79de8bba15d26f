"""Squash a zero constant Pad into the op after it when that op can take it into its own padding
(``OpDef.absorb_zero_pad``: Conv2d / DepthWiseConv2d, spatial dims only)."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ops.registry import get_op_def
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
        if conv.inputs[0] != y or any(i == y for i in conv.inputs[1:]):
            continue
        if not get_op_def(conv.type).absorb_zero_pad(conv, np.asarray(pad.params["pad_amount"])):
            continue
        conv.inputs[0] = pad.inputs[0]
        graph.remove_op(pad)
        consumers = graph.consumer_map()
        changed = True
    return changed

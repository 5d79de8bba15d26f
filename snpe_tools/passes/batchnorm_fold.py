"""Fold a Batchnorm into the op before it when that op declares ``OpDef.folds_batchnorm`` (Conv2d,
DepthWiseConv2d, TransposeConv2d, FullyConnected: ``OpDef.scale_output_channels``).

Matches an op with static weights whose only consumer is a Batchnorm with static
weight/bias; weights are scaled per output channel and the bias becomes
``bias * scale + shift``.  The Batchnorm's output name is kept.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ops.registry import get_op_def
from .registry import register_pass


def _has_source_encoding(graph: Graph, name: str) -> bool:
    """The tensor (or the source tensor it was derived from) has an encoding from a quantized source:
    folding the BatchNorm would leave that grid on changed values."""
    return any(n in graph.source_encodings for n in [name, *graph.source_chain(name)])


@register_pass("fold_batchnorm")
def fold_batchnorm(graph: Graph, options) -> bool:
    changed = False
    consumers = graph.consumer_map()
    for bn in list(graph.ops):
        if bn.type != "Batchnorm" or len(bn.inputs) < 2:
            continue
        x = bn.inputs[0]
        prod = graph.producer(x)
        if prod is None or not get_op_def(prod.type).folds_batchnorm or x in graph.outputs:
            continue
        if len(consumers.get(x, [])) != 1 or not graph.is_static(prod.inputs[1]):
            continue
        if not all(graph.is_static(i) for i in bn.inputs[1:]):
            continue
        if _has_source_encoding(graph, x) or _has_source_encoding(graph, prod.inputs[1]):
            continue        # a quantized source (QDQ) quantizes the op's output / weights as they are
        s = graph.tensors[bn.inputs[1]].data.astype(np.float32).reshape(-1)
        t = (graph.tensors[bn.inputs[2]].data.astype(np.float32).reshape(-1) if len(bn.inputs) > 2
             else np.zeros_like(s))
        w = graph.tensors[prod.inputs[1]].data
        cout = graph.tensors[x].shape[-1]
        if s.size == 1:
            s = np.full(cout, s[0], np.float32)
        if t.size == 1:
            t = np.full(cout, t[0], np.float32)
        if s.size != cout:
            continue
        new_w = get_op_def(prod.type).scale_output_channels(prod, w.astype(np.float32), s)
        b = graph.tensors[prod.inputs[2]].data if len(prod.inputs) > 2 and prod.inputs[2] else np.zeros(cout)
        new_b = (b.astype(np.float32) * s + t).astype(np.float32)
        b_src = prod.inputs[2] if len(prod.inputs) > 2 and prod.inputs[2] else (
            bn.inputs[2] if len(bn.inputs) > 2 else f"{prod.name}_bias")
        prod.inputs = [prod.inputs[0], graph.derived_const(prod.inputs[1], "bn", new_w),
                       graph.derived_const(b_src, "bn", new_b)]
        out = bn.outputs[0]
        graph.remove_op(bn)
        fmt = graph.tensors[out].axis_format
        graph.tensors.pop(out)
        graph.rename_tensor(x, out)
        graph.tensors[out].axis_format = fmt
        consumers = graph.consumer_map()
        changed = True
    return changed

"""Constant folding: an op whose inputs are all static is evaluated once at convert time.

The size of every result is checked against the fold limit (``SNPE_TOOLS_FOLD_LIMIT_BYTES``, 1 GiB by
default) from the op's inferred output shapes *before* the op is evaluated, so a model cannot make
the converter allocate without bound.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.limits import check_fold_size, nbytes_of
from ..ops.fixed_point import run_op
from .registry import register_pass


@register_pass("fold_constants")
def fold_constants(graph: Graph, options) -> bool:
    changed = False
    for op in list(graph.ops):
        if not op.inputs or not all(graph.is_static(i) for i in op.inputs if i):
            continue
        if any(o in graph.outputs for o in op.outputs):
            continue
        for name in op.outputs:
            t = graph.tensors[name]
            check_fold_size(nbytes_of(t.shape, t.dtype), f"{op.type} op '{op.name}' (output '{name}')",
                            t.shape, t.dtype)
        values = run_op(graph, op, [graph.tensors[i].data if i else None for i in op.inputs])
        for name, v in zip(op.outputs, values):
            t = graph.tensors[name]
            t.data = v.astype(t.dtype, copy=False)
        graph.remove_op(op)
        changed = True
    return changed

"""Ops Qualcomm's 2.25 reader has no type string for, replaced by exact equivalents before writing.

Which ops and how is a trait of each op (``OpDef.lowers_for_dlc`` / ``lower_for_dlc``); this module
only applies them to a copy, so the caller's graph (and a later re-run of it) is untouched.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..ops.registry import get_op_def


def lower_for_dlc(graph: Graph) -> Graph:
    """``graph`` itself when every op has a DLC type string, else a lowered copy."""
    if not any(get_op_def(op.type).lowers_for_dlc for op in graph.ops):
        return graph
    g = graph.structure_copy()
    for op in [op for op in g.ops if get_op_def(op.type).lowers_for_dlc]:
        kept = {o: g.tensors[o] for o in op.outputs}      # keep axis format and encoding of the outputs
        get_op_def(op.type).lower_for_dlc(g, op)
        g.tensors.update(kept)
    return g

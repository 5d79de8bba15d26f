"""What ``--debug 1|2|3`` prints: SNPE's three converter stages, one custom log level each.

SNPE's converters define DEBUG_1 (source framework -> IR), DEBUG_2 (IR optimisation) and DEBUG_3
(IR -> DLC) and ``--debug N`` shows the stages up to N (``--debug`` alone or 0: everything, with
Python's DEBUG).  The levels are registered in :mod:`snpe_tools.tools.common`; the pass registry logs
each optimisation pass at DEBUG_2; this module writes the other two stages.
"""
from __future__ import annotations

from ..ir.graph import Graph
from .common import DEBUG_LEVELS, LOG

DEBUG_1, DEBUG_2, DEBUG_3 = DEBUG_LEVELS[1], DEBUG_LEVELS[2], DEBUG_LEVELS[3]


def _tensor(graph: Graph, name: str) -> str:
    t = graph.tensors.get(name) if name else None
    if t is None:
        return "<none>"
    kind = "static " if t.data is not None else ""
    return f"{name} {kind}{list(t.shape)} {t.dtype}"


def log_translated(graph: Graph) -> None:
    """every op the frontend put into the IR, with its input and output tensors."""
    if not LOG.isEnabledFor(DEBUG_1):
        return
    for name in graph.inputs:
        LOG.log(DEBUG_1, "IR input %s", _tensor(graph, name))
    for op in graph.ops:
        LOG.log(DEBUG_1, "IR op %s '%s': %s -> %s", op.type, op.name,
                ", ".join(_tensor(graph, i) for i in op.inputs), ", ".join(_tensor(graph, o) for o in op.outputs))


def log_serialised(graph: Graph, path: str) -> None:
    """the nodes and tensors written into the DLC."""
    if not LOG.isEnabledFor(DEBUG_3):
        return
    for op in graph.ops:
        params = ", ".join(f"{k}={v!r}" if not hasattr(v, "shape") else f"{k}={list(v.shape)}"
                           for k, v in op.params.items())
        LOG.log(DEBUG_3, "DLC node %s '%s' (%s)", op.type, op.name, params)
    statics = [t for t in graph.tensors.values() if t.data is not None]
    LOG.log(DEBUG_3, "%s: %d nodes, %d static tensors (%d bytes)", path, len(graph.ops), len(statics),
            sum(int(t.data.nbytes) for t in statics))

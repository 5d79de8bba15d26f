"""Identity removal and dead-node removal."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ops.registry import get_op_def
from .registry import register_pass


def bypass(graph: Graph, op, src: str) -> bool:
    """Remove single-output ``op`` whose output equals ``src``; False if the output name must survive."""
    out = op.outputs[0]
    if out in graph.outputs:
        if src in graph.inputs or src in graph.outputs or graph.is_static(src):
            return False
        graph.remove_op(op)
        graph.rename_tensor(src, out)
        return True
    graph.remove_op(op)
    graph.replace_uses(out, src)
    return True


@register_pass("remove_identities")
def remove_identities(graph: Graph, options) -> bool:
    """Drop ops that leave their input unchanged (``OpDef.is_identity``: same-shape Reshapes, identity
    Transposes, same-type Casts) and merge Reshape chains."""
    changed = True
    any_change = False
    while changed:
        changed = False
        producers = graph.producers()
        for op in list(graph.ops):
            x = op.inputs[0] if op.inputs else ""
            if not x:
                continue
            if op.type == "Reshape":
                prev = producers.get(x)
                if prev is not None and prev.type == "Reshape" and prev in graph.ops:
                    op.inputs[0] = prev.inputs[0]        # a Reshape of a Reshape reshapes the first input
                    changed = True
                    break
            ins = [graph.tensors[n] if n else None for n in op.inputs]
            outs = [graph.tensors[n] for n in op.outputs]
            if get_op_def(op.type).is_identity(op, ins, outs) and bypass(graph, op, x):
                changed = True
                break
        any_change |= changed
        if changed:
            _drop_unused(graph)
    return any_change


def _drop_unused(graph: Graph) -> None:
    """Remove ops none of whose outputs is consumed or a graph output (internal helper)."""
    while True:
        used = {i for op in graph.ops for i in op.inputs} | set(graph.outputs)
        dead = [op for op in graph.ops if not any(o in used for o in op.outputs)]
        if not dead:
            return
        for op in dead:
            graph.remove_op(op)


@register_pass("remove_dead_nodes")
def remove_dead_nodes(graph: Graph, options) -> bool:
    """Keep only ops that contribute to a graph output (SNPE: remove disconnected nodes)."""
    needed = set(graph.outputs)
    keep = []
    for op in reversed(graph.ops):
        if any(o in needed for o in op.outputs):
            keep.append(op)
            needed.update(i for i in op.inputs if i)
    changed = len(keep) != len(graph.ops)
    graph.ops = list(reversed(keep))
    return changed


@register_pass("restore_source_names")
def restore_source_names(graph: Graph, options) -> bool:
    """Give derived tensors back their source-framework name when nothing else holds it (SNPE keeps names).

    Which tensor was derived from which is recorded where it is made (``Graph.derived_name``), not read
    from the name; of a chain of derivations the most original free name wins."""
    changed = False
    graph.prune_tensors()
    for name in list(graph.tensors):
        if name in graph.inputs or name in graph.outputs:
            continue
        best = next((src for src in reversed(graph.source_chain(name)) if src not in graph.tensors), None)
        if best is not None:
            graph.rename_tensor(name, best)
            changed = True
    return changed

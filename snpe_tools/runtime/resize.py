"""Resizing a network at load time (snpe-net-run ``--input_name`` / ``--input_dimensions``).

SNPE's builder accepts new dimensions for a graph input and propagates them through the network before
the run: each layer recomputes its output shape from its new input shapes, layers whose parameters pin a
shape (a reshape to a fixed size, a fully connected layer on a flattened input) fail and the network cannot
be built.  Here the same is done on the IR: the input gets its new shape and every op re-runs its shape
rule (:meth:`OpDef.infer`) in graph order, after :meth:`OpDef.resize_params` let it carry a new batch
through.  Static data is never changed.
"""
from __future__ import annotations

from ..errors import RuntimeInputError
from ..ir.graph import Graph
from ..ops.registry import get_op_def


def parse_dims(text: str) -> tuple[int, ...]:
    """``1,224,224,3`` -> (1, 224, 224, 3); every dimension a positive integer."""
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise RuntimeInputError(f"--input_dimensions {text}: give comma-separated positive integers, "
                                "e.g. 1,224,224,3") from None
    if not dims or any(d <= 0 for d in dims):
        raise RuntimeInputError(f"--input_dimensions {text}: give comma-separated positive integers, "
                                "e.g. 1,224,224,3")
    return dims


def input_name(graph: Graph, text: str) -> str:
    """An input name, also in the 2.25 ``"<graph> <input>"`` form."""
    name = text
    if name not in graph.inputs and " " in text:
        graph_name, rest = text.split(" ", 1)
        if graph_name in (graph.name, "") or rest in graph.inputs:
            name = rest.strip()
    if name not in graph.inputs:
        raise RuntimeInputError(f"--input_name {text}: not an input of the network; inputs: "
                                f"{', '.join(graph.inputs)}")
    return name


def resize(graph: Graph, new_dims: dict[str, tuple[int, ...]]) -> list[str]:
    """Give the named inputs their new shapes and re-infer every op; returns the changed outputs.

    Raises :class:`RuntimeInputError` (one line naming the op) when the network cannot take the shape."""
    for name, dims in new_dims.items():
        t = graph.tensors[name]
        if len(dims) != len(t.shape):
            raise RuntimeInputError(f"--input_dimensions for '{name}': {len(dims)} dimensions given, the input "
                                    f"has {len(t.shape)} ({','.join(map(str, t.shape))})")
    old_shapes = {n: t.shape for n, t in graph.tensors.items()}
    for name, dims in new_dims.items():
        graph.tensors[name].shape = tuple(dims)
    for op in graph.ops:
        ins = [graph.tensors[i] if i else None for i in op.inputs]
        opdef = get_op_def(op.type)
        try:
            opdef.resize_params(op, [old_shapes.get(i) if i else None for i in op.inputs], ins)
            graph.reinfer(op)
        except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
            shapes = ", ".join("x".join(map(str, t.shape)) for t in ins if t is not None)
            raise RuntimeInputError(f"the network cannot be resized to {_describe(new_dims)}: {op.type} op "
                                    f"'{op.name}' cannot take inputs {shapes} ({exc})") from None
    return [n for n in graph.outputs if graph.tensors[n].shape != old_shapes.get(n)]


def _describe(new_dims: dict[str, tuple[int, ...]]) -> str:
    return "; ".join(f"{n} {','.join(map(str, d))}" for n, d in new_dims.items())

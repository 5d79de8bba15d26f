"""Graph-walking helpers of the pattern resolvers (the ``@resolver`` topologies in ``ops/<family>.py``):
unclaimed candidates, producers through Identity-like nodes, per-channel constants, the static operand."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .model import ALIAS_OPS, TFModel, node_of
from .nodes import TFNode


def candidates(model: TFModel, claimed: set, op_types) -> Iterator[TFNode]:
    """Unclaimed dynamic nodes of these types, in topological order."""
    for n in model.topo:
        node = model.nodes[n]
        if node.op in op_types and n in model.dynamic and n not in claimed and n not in model.inputs:
            yield node


def through_alias(model: TFModel, tensor: str) -> tuple[str, list[str]]:
    """Follow Identity-like nodes back to the real producer; returns (tensor, alias nodes passed)."""
    passed = []
    while True:
        n = node_of(tensor)
        node = model.nodes[n]
        if node.op in ALIAS_OPS and n not in model.inputs and n in model.dynamic:
            passed.append(n)
            tensor = node.inputs[0]
        else:
            return tensor, passed


def producer(model: TFModel, tensor: str, claimed: set, op_types) -> tuple[TFNode | None, list[str]]:
    """The unclaimed dynamic producer of ``tensor`` if its type is one of ``op_types``."""
    src, via = through_alias(model, tensor)
    node = model.nodes[node_of(src)]
    if node.op in op_types and node.name in model.dynamic and node.name not in claimed and \
            node.name not in model.inputs and src.endswith(":0"):
        return node, via
    return None, []


def channel_vector(value, channels: int) -> np.ndarray | None:
    """``value`` as a per-channel vector [C] if it only varies along the last axis, else None."""
    if value is None:
        return None
    v = np.asarray(value)
    if v.size not in (1, channels) or any(d != 1 for d in v.shape[:-1]):
        return None
    if v.size == 1 and channels != 1:
        return None
    return v.reshape(-1).astype(np.float32)


def split_static(model: TFModel, node: TFNode) -> tuple[str | None, str | None]:
    """(dynamic input, static input) of a binary node, or (None, None)."""
    a, b = node.inputs[:2]
    if model.is_dynamic(a) and not model.is_dynamic(b):
        return a, b
    if model.is_dynamic(b) and not model.is_dynamic(a) and node.op != "Sub":
        return b, a
    return None, None


def constant_adds(model: TFModel, claimed: set, add_types,
                  producer_types) -> Iterator[tuple[TFNode, str, TFNode, list[str]]]:
    """(add, its static operand, producer, alias nodes) for every unclaimed add of a constant onto the output
    of an unclaimed producer of ``producer_types``: the anchor of the bias/shift topologies.

    Anchored at the add, so one producer feeding two such adds yields two candidates claiming it (an error).
    """
    for add in candidates(model, claimed, add_types):
        x, b = split_static(model, add)
        if x is None:
            continue
        prod, via = producer(model, x, claimed, producer_types)
        if prod is not None:
            yield add, b, prod, via

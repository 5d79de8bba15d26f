"""Scope -> layer matching: group the dynamic nodes into layers, each translated as a unit.

SNPE's rule is that every node belongs to exactly one layer and that a layer's nodes share a
TensorFlow scope.  Resolvers run in priority order; each proposes candidate layers over the nodes
earlier resolvers left.  Two candidates of one resolver claiming the same node is an error naming
both (the graph breaks the one-layer-per-node rule); a candidate whose inner values are also used
outside it is dropped, and its nodes fall to later resolvers or single-op translators.  Layer names
come from the common scope of their nodes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ...errors import ConversionError
from .model import ALIAS_OPS, CONTROL_OPS, TFModel, node_of
from .registry import get_translator, resolvers

log = logging.getLogger("snpe_tools")


@dataclass(eq=False)
class Layer:
    name: str
    kind: str                               # topology or TF op type
    nodes: list[str]                        # TF node names this layer consumes
    outputs: list[str]                      # TF tensors it produces for the rest of the graph
    translate: Callable | None = None
    info: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)   # dynamic TF tensors it reads (filled by resolve)


def node_of_layer(ctx, layer: Layer) -> Any:
    """The TF node of a single-op layer (what every ``@tf_op`` translator is given)."""
    return ctx.model.nodes[layer.nodes[0]]


def scope_name(nodes: list[str]) -> str:
    """The common scope of ``nodes`` (the node itself for a single node)."""
    if len(nodes) == 1:
        return nodes[0]
    parts = [n.split("/")[:-1] for n in nodes]
    common = []
    for level in zip(*parts):
        if all(p == level[0] for p in level):
            common.append(level[0])
        else:
            break
    return "/".join(common) or nodes[-1]


def make_layer(model: TFModel, kind: str, nodes: list[str], outputs: list[str], translate: Callable,
               **info) -> Layer:
    ordered = sorted(set(nodes), key=lambda n: model.index[n])
    return Layer(scope_name(ordered), kind, ordered, outputs, translate, dict(info))


@dataclass
class Resolution:
    layers: list[Layer]
    aliases: dict[str, str]                 # TF tensor -> the TF tensor it passes through
    unconsumed: list[str]                   # dynamic nodes no resolver or translator handles


def _inner_values_escape(model: TFModel, layer: Layer) -> bool:
    inside = set(layer.nodes)
    outs = set(layer.outputs)
    for n in layer.nodes:
        for i in range(model.n_outputs(model.nodes[n])):
            t = f"{n}:{i}"
            if t in outs:
                continue
            # static consumers (Shape of a static shape) never read the value
            if t in model.outputs or any(c not in inside and c in model.dynamic for c in model.consumers.get(t, [])):
                return True
    return False


def resolve(model: TFModel) -> Resolution:
    claimed: dict[str, Layer] = {}
    layers: list[Layer] = []
    for res in resolvers():
        cands = res.find(model, set(claimed))
        owner: dict[str, Layer] = {}
        for c in cands:
            for n in c.nodes:
                if n in owner and owner[n] is not c:
                    o = owner[n]
                    raise ConversionError(
                        f"node '{n}' ({model.nodes[n].op}) belongs to two layers: '{o.name}' ({o.kind}) and "
                        f"'{c.name}' ({c.kind}); a node can only belong to a single layer - give each layer's "
                        "ops their own TensorFlow scope")
                owner[n] = c
        for c in cands:
            if any(n in claimed for n in c.nodes) or _inner_values_escape(model, c):
                continue
            for n in c.nodes:
                claimed[n] = c
            layers.append(c)
            log.debug("layer %s (%s): %s", c.name, c.kind, ", ".join(c.nodes))
    aliases: dict[str, str] = {}
    unconsumed: list[str] = []
    for n in model.topo:
        node = model.nodes[n]
        if n in claimed or n in model.inputs or n not in model.dynamic:
            continue
        if node.op in ALIAS_OPS:
            aliases[f"{n}:0"] = node.inputs[0]
            continue
        if node.op == "IdentityN":
            for i, src in enumerate(node.inputs):
                aliases[f"{n}:{i}"] = src
            continue
        if node.op in CONTROL_OPS:
            continue
        fn = get_translator(node.op)
        if fn is None:
            unconsumed.append(n)
            continue
        outs = [f"{n}:{i}" for i in range(model.n_outputs(node))]
        layer = Layer(n, node.op, [n], outs, fn)
        claimed[n] = layer
        layers.append(layer)
    for layer in layers:
        inside = set(layer.nodes)
        seen = []
        for n in layer.nodes:
            for t in model.nodes[n].inputs:
                if node_of(t) not in inside and model.is_dynamic(t) and t not in seen:
                    seen.append(t)
        layer.inputs = seen
    return Resolution(_topo_sort(model, layers, aliases, claimed), aliases, unconsumed)


def _topo_sort(model: TFModel, layers: list[Layer], aliases: dict[str, str],
               claimed: dict[str, Layer]) -> list[Layer]:
    def source(t: str) -> str:
        while t in aliases:
            t = aliases[t]
        return t

    deps = {id(lay): {id(claimed[node_of(source(t))]) for t in lay.inputs if node_of(source(t)) in claimed}
            - {id(lay)} for lay in layers}
    by_id = {id(lay): lay for lay in layers}
    key = {id(lay): max(model.index[n] for n in lay.nodes) for lay in layers}
    done: set[int] = set()
    order: list[Layer] = []
    pending = sorted(by_id, key=lambda i: key[i])
    while pending:
        rest = []
        progressed = False
        for i in pending:
            if deps[i] <= done:
                order.append(by_id[i])
                done.add(i)
                progressed = True
            else:
                rest.append(i)
        if not progressed:
            names = ", ".join(by_id[i].name for i in rest[:3])
            raise ConversionError(f"layers {names} depend on each other in a cycle; their nodes are not grouped "
                                  "into separable scopes")
        pending = rest
    return order

"""ONNX subgraphs that are one QNN op, found before translation (as Qualcomm's converter fuses them).

Exporters spell some activations as arithmetic.  Translating them node by node would give a long
chain of elementwise ops where QNN, and Qualcomm's own DLC, have one: ``x * 0.5 * (1 + erf(x / sqrt 2))``
is ``ElementWiseNeuron`` GELU in a real DLC.  Each fusion rewrites ``model.graph.node`` in place and
says nothing when a pattern does not match exactly (then the nodes are translated one by one, which
is also exact).
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

_TOL = 1e-6


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Scalar-sized constants (initializers held in the file, Constant nodes): the patterns need no more."""
    vals = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer
            if i.data_location != onnx.TensorProto.EXTERNAL and int(np.prod(i.dims)) <= 16}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output and n.attribute and n.attribute[0].name == "value":
            vals[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return vals


def node_maps(g: onnx.GraphProto) -> tuple[dict[str, list[onnx.NodeProto]], dict[str, onnx.NodeProto]]:
    """(tensor -> nodes reading it, tensor -> node writing it) of one graph."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    producer: dict[str, onnx.NodeProto] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
        for o in n.output:
            producer[o] = n
    return consumers, producer


def _scalar(vals: dict[str, np.ndarray], name: str, want: float) -> bool:
    v = vals.get(name)
    return v is not None and v.size == 1 and abs(float(v.reshape(-1)[0]) - want) <= _TOL * max(1.0, abs(want))


def _other(node: onnx.NodeProto, name: str) -> str | None:
    """The other input of a two-input node that reads ``name`` (None if it does not)."""
    ins = list(node.input)
    if len(ins) != 2 or name not in ins:
        return None
    return ins[1] if ins[0] == name else ins[0]


def fuse_erf_gelu(model: onnx.ModelProto) -> int:
    """Replace exact Erf-GELU chains by one ``Gelu`` node; returns how many were fused.

    Matched (c = sqrt 2, or 1/c with Mul; constants within 1e-6):
    ``Div(x, c) -> Erf -> Add(., 1) -> Mul(x, .) -> Mul(., 0.5)`` and the variant whose 0.5 is applied
    to x first (``Mul(Mul(x, 0.5), .)``) or to the sum (``Mul(x, Mul(., 0.5))``).
    """
    g = model.graph
    vals = _constants(model)
    graph_outputs = {o.name for o in g.output}
    consumers, producer = node_maps(g)

    def only_consumer(name: str) -> onnx.NodeProto | None:
        cs = consumers.get(name, [])
        return cs[0] if len(cs) == 1 and name not in graph_outputs else None

    fused, drop, place = 0, set(), {}
    for erf in [n for n in g.node if n.op_type == "Erf"]:
        scale = producer.get(erf.input[0])
        if scale is None or only_consumer(scale.output[0]) is not erf:
            continue
        if scale.op_type == "Div" and _scalar(vals, scale.input[1], math.sqrt(2.0)):
            x = scale.input[0]
        elif scale.op_type == "Mul":
            x = next((i for i in scale.input if _other(scale, i) is not None
                      and _scalar(vals, _other(scale, i), 1 / math.sqrt(2.0))), None)
            if x is None:
                continue
        else:
            continue
        if x in vals:
            continue                                  # constant x: left to constant folding
        add = only_consumer(erf.output[0])
        if add is None or add.op_type != "Add" or not _scalar(vals, _other(add, erf.output[0]) or "", 1.0):
            continue
        m1 = only_consumer(add.output[0])
        if m1 is None or m1.op_type != "Mul":
            continue
        partner = _other(m1, add.output[0])
        chain = [scale, erf, add, m1]
        if partner == x:                               # Mul(x, 1 + erf) -> Mul(., 0.5)
            m2 = only_consumer(m1.output[0])
            if m2 is None or m2.op_type != "Mul" or not _scalar(vals, _other(m2, m1.output[0]) or "", 0.5):
                continue
            chain.append(m2)
            last = m2
        elif _scalar(vals, partner or "", 0.5):        # Mul(1 + erf, 0.5) -> Mul(x, .)
            m2 = only_consumer(m1.output[0])
            if m2 is None or m2.op_type != "Mul" or _other(m2, m1.output[0]) != x:
                continue
            chain.append(m2)
            last = m2
        else:                                         # Mul(Mul(x, 0.5), 1 + erf)
            half = producer.get(partner or "")
            if half is None or half.op_type != "Mul" or only_consumer(half.output[0]) is not m1 \
                    or _other(half, x) is None or not _scalar(vals, _other(half, x), 0.5):
                continue
            chain.append(half)
            last = m1
        out = last.output[0]
        gelu = helper.make_node("Gelu", [x], [out], name=last.name or out)
        drop.update(id(n) for n in chain)
        place[id(last)] = gelu
        fused += 1
    if fused:
        nodes = [place.get(id(n), n) for n in g.node if id(n) not in drop or id(n) in place]
        del g.node[:]
        g.node.extend(nodes)
    return fused


"""Cross-layer equalization (CLE): ``--optimizations cle`` (snpe-dlc-quant) / ``--algorithms cle`` (qairt).

Why: per-tensor weight quantization spends one step size on all output channels of a convolution, so a
layer whose channels differ a lot in range loses the small ones.  For two convolutions in a row with
only a ReLU between them (Nagel et al., "Data-Free Quantization", 2019; AIMET's CLE), scaling output
channel ``i`` of the first by ``1/s_i`` and input channel ``i`` of the second by ``s_i`` leaves the float
function unchanged, because ``relu(x / s) = relu(x) / s`` for ``s > 0``.  Choosing
``s_i = sqrt(r1_i / r2_i)`` (``r1_i`` the range of output channel ``i`` of the first weights, ``r2_i``
that of input channel ``i`` of the second) gives both the same range ``sqrt(r1_i * r2_i)``.  Chains of
pairs are swept until the scales settle.

Pairs, as SNPE's pattern describes them (``snpe_reference.md`` §3.1): a Conv2d or DepthWiseConv2d whose
only consumer is a ReLU (or nothing) whose only consumer is a group-1 Conv2d or a depthwise convolution
(the ops declaring ``OpDef.equalization_input_axis``); batch norms are folded into the convolutions by
the converters.  ReLU6 is rewritten to ReLU as SNPE does, since a channel-wise rescaled ReLU6 would need
per-channel clip values: outputs that reached 6 are no longer clipped.  Weights shared with another op,
tensors with preset encodings and graph outputs inside a pair are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph, Op
from ..ops.registry import get_op_def
MAX_SWEEPS = 50
TOLERANCE = 1e-6                                   # largest |log s| of a sweep at which the scales settle


@dataclass
class ClePair:
    first: Op
    second: Op
    relu: Op | None
    axis: int                                       # input-channel axis of the second op's weights


@dataclass
class CleSummary:
    pairs: list[tuple[str, str]] = field(default_factory=list)      # (first op, second op) equalized
    relu6_rewritten: list[str] = field(default_factory=list)        # ReLU6 ops now ReLU
    relu6_clipped: dict[str, float] = field(default_factory=dict)   # of those: share of values >= 6 on the sample
    sweeps: int = 0


def _is_relu6(op: Op) -> bool:
    return (op.type == "ReluMinMax" and float(op.params.get("min_value", -1)) == 0.0
            and float(op.params.get("max_value", -1)) == 6.0)


def _static_float(graph: Graph, name: str) -> bool:
    t = graph.tensors.get(name) if name else None
    return t is not None and t.is_static and np.dtype(t.dtype).kind == "f"


def find_pairs(graph: Graph, frozen: set[str] = frozenset()) -> list[ClePair]:
    """Equalizable (first conv, optional ReLU/ReLU6, second conv) chains, in graph order."""
    consumers = graph.consumer_map()
    uses: dict[str, int] = {}
    for op in graph.ops:
        for n in op.inputs:
            uses[n] = uses.get(n, 0) + 1
    outputs = set(graph.outputs)

    def sole_consumer(tensor: str) -> Op | None:
        ops = consumers.get(tensor, [])
        return ops[0] if len(ops) == 1 and tensor not in outputs and tensor not in frozen else None

    def own_params(op: Op, idx: tuple[int, ...]) -> bool:
        names = [op.inputs[i] for i in idx if i < len(op.inputs) and op.inputs[i]]
        return all(_static_float(graph, n) and uses.get(n) == 1 and n not in frozen for n in names)

    def equalizable(op: Op | None) -> bool:
        """Ops taking part in CLE (``OpDef.equalization_input_axis``; Conv2d and DepthWiseConv2d: 4-D HWIO
        weights in input 1, output channels last, bias in input 2)."""
        return op is not None and get_op_def(op.type).equalization_input_axis is not None

    pairs = []
    for a in graph.ops:
        if not equalizable(a) or len(a.inputs) < 2 or not own_params(a, (1, 2)):
            continue
        nxt = sole_consumer(a.outputs[0])
        relu = None
        if nxt is not None and (nxt.type == "Relu" or _is_relu6(nxt)):
            relu, nxt = nxt, sole_consumer(nxt.outputs[0])
        if (not equalizable(nxt) or int(nxt.params.get("group", 1)) != 1
                or nxt.inputs[0] != (relu or a).outputs[0] or not own_params(nxt, (1,))):
            continue
        w1, w2 = graph.tensors[a.inputs[1]], graph.tensors[nxt.inputs[1]]
        axis = get_op_def(nxt.type).equalization_input_axis
        if w1.data.ndim != 4 or w2.data.ndim != 4 or w1.data.shape[-1] != w2.data.shape[axis]:
            continue
        pairs.append(ClePair(a, nxt, relu, axis))
    return pairs


def _equalize_pair(graph: Graph, p: ClePair) -> float:
    """Rescale one pair; returns the largest |log s| applied."""
    w1 = np.asarray(graph.tensors[p.first.inputs[1]].data, np.float64)
    w2 = np.asarray(graph.tensors[p.second.inputs[1]].data, np.float64)
    r1 = np.abs(w1).max(axis=(0, 1, 2))
    r2 = np.abs(w2).max(axis=tuple(i for i in range(4) if i != p.axis))
    ok = (r1 > 0) & (r2 > 0)
    s = np.ones_like(r1)
    s[ok] = np.sqrt(r1[ok] / r2[ok])
    _set(graph, p.first.inputs[1], w1 / s)
    bias = p.first.inputs[2] if len(p.first.inputs) > 2 else ""
    if bias:
        _set(graph, bias, np.asarray(graph.tensors[bias].data, np.float64) / s)
    shape = [1, 1, 1, 1]
    shape[p.axis] = s.size
    _set(graph, p.second.inputs[1], w2 * s.reshape(shape))
    return float(np.abs(np.log(s)).max()) if s.size else 0.0


def _set(graph: Graph, name: str, data: np.ndarray) -> None:
    t = graph.tensors[name]
    t.data = data.astype(t.dtype)


def equalize(graph: Graph, frozen: set[str] = frozenset(),
             sample: dict[str, np.ndarray] | None = None) -> CleSummary:
    """Cross-layer equalization of ``graph`` in place (see the module docstring).  ``frozen`` names
    tensors that must not change (e.g. ones with preset encodings).  With a ``sample`` feed, the ReLU6
    ops about to become ReLU are measured first: the share of their outputs that reached 6 is what
    the rewrite changes (reported, so a user can see why outputs moved)."""
    summary = CleSummary()
    pairs = find_pairs(graph, set(frozen))
    relu6 = [p.relu for p in pairs if p.relu is not None and _is_relu6(p.relu)]
    if sample is not None and relu6:
        from ..runtime import execute

        got = execute(graph, sample, outputs=[r.outputs[0] for r in relu6])
        summary.relu6_clipped = {r.name: float(np.mean(got[r.outputs[0]] >= 6.0)) for r in relu6
                                 if np.any(got[r.outputs[0]] >= 6.0)}
    for p in pairs:
        if p.relu is not None and _is_relu6(p.relu):
            p.relu.type, p.relu.params = "Relu", {}
            summary.relu6_rewritten.append(p.relu.name)
        summary.pairs.append((p.first.name, p.second.name))
    for sweep in range(1, MAX_SWEEPS + 1):
        summary.sweeps = sweep
        if not pairs or max(_equalize_pair(graph, p) for p in pairs) < TOLERANCE:
            break
    return summary

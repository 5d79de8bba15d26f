"""Per-layer accuracy report of a quantization: the SQNR of every op output, float vs fixed point.

Why: a quantized model that loses accuracy usually loses it in a few layers (an outlier-heavy
activation, a weight with one huge channel).  Running the float graph and the quantized graph side by
side on the calibration inputs and comparing every op output shows where: the signal-to-quantization-
noise ratio ``10 log10(sum(float^2) / sum((float - dequantized)^2))`` over all inputs, worst first.  The
quantized graph runs end to end (each layer sees the quantized output of the layer before, as on a
device), so a layer's figure includes the noise it inherits; the first bad layer in graph order is the
one to look at.

SNPE and qairt have no option that writes such a table (``snpe_reference.md`` §1.7-1.8), so the tools
print it at INFO level with ``--verbose`` (qairt-quantizer: ``--debug``) and write no file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..ir.graph import Graph
from ..ops.registry import get_op_def
from ..ops.fixed_point import dequantize, is_quantized, quantize, run_op
from .calibration import aligned_static, batches_of, input_array, batch_size, batched_graph
from .quantizer import fusable_activations


@dataclass
class LayerSQNR:
    tensor: str
    op: str
    op_type: str
    signal: float = 0.0         # sum of float values squared over every input
    noise: float = 0.0          # sum of squared float - dequantized differences

    @property
    def sqnr_db(self) -> float:
        if self.noise == 0.0:
            return math.inf
        if self.signal == 0.0:
            return -math.inf
        return 10.0 * math.log10(self.signal / self.noise)


def _real(graph: Graph, name: str, y: np.ndarray) -> np.ndarray:
    t = graph.tensors[name]
    return dequantize(t, y) if is_quantized(t) else np.asarray(y, np.float64)


def layer_sqnr(float_graph: Graph, quant_graph: Graph, feeds: Iterable[dict[str, np.ndarray]], total: int,
               batch: int | None = None) -> list[LayerSQNR]:
    """SQNR of every float op output of ``float_graph`` against the same tensor of ``quant_graph`` (the
    quantizer's rewrite of it: same ops in the same order, same activation names) over ``feeds`` (float
    inputs in the DLC layout).  Sorted worst first."""
    ops_f, ops_q = float_graph.ops, quant_graph.ops
    if [op.name for op in ops_f] != [op.name for op in ops_q]:
        raise ValueError("the quantized graph does not have the float graph's ops")
    # an op quantized as one group with the activation after it (Conv -> Relu) no longer holds what the
    # activation discards: its float reference is passed through the activation before comparing
    reader = {op.inputs[0]: op for op in ops_f if op.inputs}
    grouped = {x: reader[x] for x, y in fusable_activations(quant_graph)
               if quant_graph.tensors[x].encoding is not None and x in reader
               and quant_graph.tensors[x].encoding == quant_graph.tensors[y].encoding}
    rows = {o: LayerSQNR(o, op.name, op.type) for op in ops_f for o in op.outputs
            if o in quant_graph.tensors and np.dtype(float_graph.tensors[o].dtype).kind == "f"}
    size = batch if batch is not None else batch_size(float_graph, ops_f, total)
    graphs: dict[int, tuple[Graph, Graph] | None] = {1: (float_graph, quant_graph)}

    def pair(n: int) -> tuple[Graph, Graph] | None:
        if n not in graphs:
            bf, bq = batched_graph(float_graph, ops_f, n), batched_graph(quant_graph, ops_q, n)
            graphs[n] = None if bf is None or bq is None else (bf, bq)
        return graphs[n]

    if size > 1 and pair(size) is None:
        size = 1
    statics_f = {n: aligned_static(t.data) for n, t in float_graph.tensors.items() if t.is_static}
    statics_q = {n: aligned_static(t.data) for n, t in quant_graph.tensors.items() if t.is_static}
    last_use: dict[str, int] = {}
    for i, op in enumerate(ops_f):
        for n in op.inputs:
            last_use[n] = i
    for chunk in batches_of(feeds, size):
        groups = [chunk] if len(chunk) == 1 or pair(len(chunk)) is not None else [[f] for f in chunk]
        for group in groups:
            gf, gq = pair(len(group))
            env_f = {n: np.concatenate([input_array(float_graph, n, f) for f in group]) for n in gf.inputs}
            env_q = {}
            for n in gq.inputs:
                t = gq.tensors[n]
                env_q[n] = quantize(t, env_f[n]) if is_quantized(t) else env_f[n].astype(t.dtype, copy=False)
            for i, (of, oq) in enumerate(zip(gf.ops, gq.ops)):
                yf = run_op(gf, of, [None if not n else env_f[n] if n in env_f else statics_f[n] for n in of.inputs])
                yq = run_op(gq, oq, [None if not n else env_q[n] if n in env_q else statics_q[n] for n in oq.inputs])
                for name, a, b in zip(of.outputs, yf, yq):
                    env_f[name], env_q[name] = a, b
                    row = rows.get(name)
                    if row is not None:
                        ref = np.asarray(a, np.float64)
                        if name in grouped:
                            act = grouped[name]
                            ref = np.asarray(get_op_def(act.type).compute(act, [ref])[0], np.float64)
                        row.signal += float(np.sum(ref * ref))
                        row.noise += float(np.sum((ref - _real(gq, name, b)) ** 2))
                for n in of.inputs:
                    if n and last_use.get(n) == i and n not in gf.inputs:
                        env_f.pop(n, None)
                        env_q.pop(n, None)
    return sorted(rows.values(), key=lambda r: (r.sqnr_db, r.tensor))


def format_table(rows: list[LayerSQNR]) -> list[str]:
    """The report as text lines: a header, then one line per tensor, worst SQNR first."""
    width = max([len(r.tensor) for r in rows] + [len("Tensor")])
    owidth = max([len(r.op) for r in rows] + [len("Op")])
    lines = [f"{'SQNR (dB)':>10}  {'Tensor':<{width}}  {'Op':<{owidth}}  Type"]
    for r in rows:
        db = r.sqnr_db
        shown = "inf" if db == math.inf else "-inf" if db == -math.inf else f"{db:.2f}"
        lines.append(f"{shown:>10}  {r.tensor:<{width}}  {r.op:<{owidth}}  {r.op_type}")
    return lines

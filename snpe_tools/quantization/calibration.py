"""Calibration: run the float graph on the calibration inputs and keep streaming statistics per tensor.

Only a running minimum and maximum per tensor are kept (what the ``tf`` min/max quantizer needs), so
memory does not grow with the number of inputs: one inference's live tensors at a time, as in
:func:`snpe_tools.runtime.execute`, whose op-by-op loop and tensor lifetimes this follows.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..errors import RuntimeInputError
from ..ir.graph import Graph
from ..runtime.fixed_point import run_op


@dataclass
class RangeStats:
    """Running min/max of one tensor over every calibration input (non-finite values left out)."""

    min: float = math.inf
    max: float = -math.inf
    count: int = 0              # inferences seen
    nonfinite: int = 0          # inferences in which the tensor held NaN or +-inf

    def update(self, x: np.ndarray) -> None:
        a = np.asarray(x)
        self.count += 1
        if a.size == 0:
            return
        mn, mx = a.min(), a.max()
        if not (np.isfinite(mn) and np.isfinite(mx)):
            self.nonfinite += 1
            a = a[np.isfinite(a)]
            if a.size == 0:
                return
            mn, mx = a.min(), a.max()
        self.min = min(self.min, float(mn))
        self.max = max(self.max, float(mx))

    @property
    def seen(self) -> bool:
        return self.min <= self.max


def activation_tensors(graph: Graph) -> list[str]:
    """Float tensors computed at run time (graph inputs and op outputs): the ones calibration measures."""
    names = [n for n in graph.inputs]
    names += [o for op in graph.ops for o in op.outputs]
    out, seen = [], set()
    for n in names:
        t = graph.tensors.get(n)
        if n in seen or t is None or t.is_static or np.dtype(t.dtype).kind != "f":
            continue
        seen.add(n)
        out.append(n)
    return out


def _progress(total: int, enabled: bool):
    """A tqdm bar on a terminal (stderr), nothing otherwise."""
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:         # tqdm is a dependency; a stripped environment still calibrates
        return None
    return tqdm(total=total, desc="Calibrating", unit="input", file=sys.stderr, leave=False)


def calibrate(graph: Graph, feeds: Iterable[dict[str, np.ndarray]], total: int,
              progress: bool = True, on_input: Callable[[int], None] | None = None) -> dict[str, RangeStats]:
    """Run ``graph`` on every feed dict (graph-input name -> array in the DLC layout) and return the
    min/max statistics of every float activation tensor."""
    names = activation_tensors(graph)
    stats = {n: RangeStats() for n in names}
    last_use: dict[str, int] = {}
    for i, op in enumerate(graph.ops):
        for n in op.inputs:
            last_use[n] = i
    bar = _progress(total, progress)
    try:
        for k, feed in enumerate(feeds):
            env: dict[str, np.ndarray] = {}
            for name in graph.inputs:
                t = graph.tensors[name]
                arr = np.asarray(feed[name])
                if tuple(arr.shape) != tuple(t.shape):
                    arr = arr.reshape(t.shape)
                env[name] = arr.astype(t.dtype, copy=False)
                if name in stats:
                    stats[name].update(env[name])
            for i, op in enumerate(graph.ops):
                xs = [None if not n else env[n] if n in env else graph.tensors[n].data for n in op.inputs]
                ys = run_op(graph, op, xs)
                for name, y in zip(op.outputs, ys):
                    if tuple(np.shape(y)) != tuple(graph.tensors[name].shape):
                        raise RuntimeInputError(f"{op.type} op '{op.name}' produced shape {list(np.shape(y))} "
                                                f"for '{name}', the model declares "
                                                f"{list(graph.tensors[name].shape)}")
                    env[name] = y
                    if name in stats:
                        stats[name].update(y)
                for n in op.inputs:
                    if n and last_use.get(n) == i and n not in graph.inputs:
                        env.pop(n, None)
            if bar is not None:
                bar.update(1)
            if on_input is not None:
                on_input(k)
    finally:
        if bar is not None:
            bar.close()
    return stats

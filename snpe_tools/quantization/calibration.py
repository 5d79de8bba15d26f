"""Calibration: run the float graph on the calibration inputs and keep streaming statistics per tensor.

Memory does not grow with the number of inputs: the feeds are consumed from an iterator, a batch at a
time, and only the statistics objects outlive a batch (a running min/max per tensor for the ``tf``
quantizer; see :mod:`.statistics` for histograms).

Batched execution: a graph whose batch dimension is 1 runs several inputs at once, stacked on axis 0,
when that is known to give each input's own results (:func:`batch_plan`): the op-per-op Python
overhead is paid once per batch and the convolutions' matrix products get taller, which is where a
numpy runtime loses most of its time on small feature maps.  The statistics are the same as one
input at a time: statistics objects receive ``update(x)`` with the whole batch of a tensor, and the
ones here (min/max, histograms on a fixed grid) do not depend on how the values are grouped.  The
batch size is chosen from the graph's live tensor bytes so that a batch stays under
:data:`BATCH_BYTES`.
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from ..errors import RuntimeInputError
from ..ir.graph import Graph, Op
from ..ops.fixed_point import run_op

BATCH_BYTES = 256 << 20         # live activations (and convolution work buffers) of one batch
MAX_BATCH = 16                  # beyond this the matrix products are as tall as they usefully get


class Stats(Protocol):
    """What calibration feeds: ``update(x)`` with a tensor's values, one or more inferences stacked on
    axis 0 (the result must not depend on how inferences are grouped)."""

    def update(self, x: np.ndarray) -> None: ...


@dataclass
class RangeStats:
    """Running min/max of one tensor over every calibration input (non-finite values left out)."""

    min: float = math.inf
    max: float = -math.inf
    count: int = 0              # inferences seen (calibrate() sets it; one per update() otherwise)
    nonfinite: int = 0          # updates in which the tensor held NaN or +-inf

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


def needed_ops(graph: Graph, outputs: Iterable[str] | None) -> list[Op]:
    """The ops that ``outputs`` depend on, in graph order (every op when ``outputs`` is None)."""
    if outputs is None:
        return list(graph.ops)
    producer = {o: op for op in graph.ops for o in op.outputs}
    need: set[int] = set()
    stack = [n for n in outputs]
    while stack:
        op = producer.get(stack.pop())
        if op is None or id(op) in need:
            continue
        need.add(id(op))
        stack.extend(n for n in op.inputs if n)
    return [op for op in graph.ops if id(op) in need]


def _progress(total: int, enabled: bool):
    """A tqdm bar on a terminal (stderr), nothing otherwise."""
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:         # tqdm is a dependency; a stripped environment still calibrates
        return None
    return tqdm(total=total, desc="Calibrating", unit="input", file=sys.stderr, leave=False)


# ---- batching ---------------------------------------------------------------------------------------
def _runtime_tensors(graph: Graph, ops: list[Op]) -> list[str]:
    names = list(graph.inputs) + [o for op in ops for o in op.outputs]
    return [n for n in dict.fromkeys(names) if not graph.tensors[n].is_static]


def _mixes_batch(op: Op) -> bool:
    """An op whose ``axis``/``axes`` param names axis 0 would combine the inputs of a batch (a softmax or
    a normalisation over the batch axis keeps the shape, so the shape check cannot see it)."""
    for key in ("axis", "axes"):
        v = op.params.get(key)
        if v is not None and 0 in np.atleast_1d(np.asarray(v)).astype(np.int64).tolist():
            return True
    return False


def batched_graph(graph: Graph, ops: list[Op], batch: int) -> Graph | None:
    """A copy of ``graph`` (sharing static data) resized to ``batch`` inputs stacked on axis 0, or None
    when the graph cannot batch: some run-time tensor has no batch axis of size 1, an op's params refer
    to axis 0, or resizing (each op's own shape rule, as snpe-net-run --input_dimensions resizes) does
    not give every run-time tensor the shape ``(batch,) + its own shape[1:]``."""
    from ..runtime.resize import resize

    names = _runtime_tensors(graph, ops)
    if any(not graph.tensors[n].shape or graph.tensors[n].shape[0] != 1 for n in names):
        return None
    if any(_mixes_batch(op) for op in ops):
        return None
    g = Graph(graph.name)
    g.tensors = {n: replace(t) for n, t in graph.tensors.items()}
    g.ops = [Op(op.name, op.type, list(op.inputs), list(op.outputs), dict(op.params)) for op in ops]
    g.inputs, g.outputs, g.input_info = list(graph.inputs), list(graph.outputs), graph.input_info
    try:
        resize(g, {n: (batch,) + tuple(graph.tensors[n].shape[1:]) for n in graph.inputs})
    except (RuntimeInputError, ValueError, KeyError, IndexError, TypeError):
        return None
    for n in names:
        if tuple(g.tensors[n].shape) != (batch,) + tuple(graph.tensors[n].shape[1:]):
            return None
    return g


def _nbytes(graph: Graph, name: str) -> int:
    t = graph.tensors[name]
    return int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.dtype).itemsize


def inference_bytes(graph: Graph, ops: list[Op]) -> int:
    """Peak bytes one inference keeps alive: the live run-time tensors at each op (freed after their last
    use), plus the op's work buffer when it multiplies a static 4-D weight (im2col: one row of
    ``kh*kw*cin`` values per output pixel)."""
    last_use: dict[str, int] = {}
    for i, op in enumerate(ops):
        for n in op.inputs:
            last_use[n] = i
    live = {n: _nbytes(graph, n) for n in graph.inputs}
    peak = sum(live.values())
    for i, op in enumerate(ops):
        work = 0
        for n in op.inputs:
            t = graph.tensors.get(n) if n else None
            if t is not None and t.is_static and len(t.shape) == 4 and op.outputs:
                out = graph.tensors[op.outputs[0]]
                work = int(np.prod(out.shape[:-1], dtype=np.int64)) * int(np.prod(t.shape[:-1])) * 4
        for n in op.outputs:
            live[n] = _nbytes(graph, n)
        peak = max(peak, sum(live.values()) + work)
        for n in op.inputs:
            if n and last_use.get(n) == i and n not in graph.inputs:
                live.pop(n, None)
    return peak


def batch_size(graph: Graph, ops: list[Op], total: int, budget: int = BATCH_BYTES) -> int:
    """How many inputs to run at once: as many as fit ``budget`` bytes, at most :data:`MAX_BATCH` and
    ``total``; 1 when the graph cannot batch."""
    per = max(1, inference_bytes(graph, ops))
    b = int(max(1, min(MAX_BATCH, total, budget // per)))
    return b


# ---- the run ----------------------------------------------------------------------------------------
def aligned_static(a: np.ndarray | None) -> np.ndarray | None:
    """Static data as an aligned, contiguous array: a DLC's parameters are read from a byte buffer at
    arbitrary offsets, and numpy's matrix product falls back from BLAS to a loop several times slower
    for unaligned operands."""
    if a is None or (a.flags.aligned and a.flags.c_contiguous):
        return a
    return np.array(a, order="C")


class _Runner:
    """Runs the needed ops of one graph (batched or not) on one feed dict, handing each float activation
    to its statistics object as soon as it is computed and dropping it after its last use."""

    def __init__(self, graph: Graph, ops: list[Op], statics: dict[str, np.ndarray], keep: set[str]) -> None:
        self.graph, self.ops, self.statics = graph, ops, statics
        self.last_use: dict[str, int] = {}
        for i, op in enumerate(ops):
            for n in op.inputs:
                self.last_use[n] = i
        self.keep = keep

    def run(self, env: dict[str, np.ndarray], stats: dict[str, Stats]) -> dict[str, np.ndarray]:
        graph = self.graph
        for name in graph.inputs:
            if name in stats:
                stats[name].update(env[name])
        for i, op in enumerate(self.ops):
            xs = [None if not n else env[n] if n in env else self.statics[n] for n in op.inputs]
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
                if n and self.last_use.get(n) == i and n not in graph.inputs and n not in self.keep:
                    env.pop(n, None)
        return env


def batches_of(feeds: Iterable[dict[str, np.ndarray]], size: int) -> Iterator[list[dict[str, np.ndarray]]]:
    """Lists of ``size`` feeds (the last one shorter), read lazily so that memory stays bounded
    (calibration and the per-layer report)."""
    chunk: list[dict[str, np.ndarray]] = []
    for feed in feeds:
        chunk.append(feed)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def input_array(graph: Graph, name: str, feed: dict[str, np.ndarray]) -> np.ndarray:
    """Graph input ``name`` of one feed in the shape and dtype the graph declares."""
    t = graph.tensors[name]
    arr = np.asarray(feed[name])
    if tuple(arr.shape) != tuple(t.shape):
        arr = arr.reshape(t.shape)
    return arr.astype(t.dtype, copy=False)


# ---- parallel batches ----------------------------------------------------------------------------
MAX_WORKERS = 4                 # batches in flight at most (each holds up to the batch byte budget)


def default_workers() -> int:
    """How many batches to run at once: one per CPU this process may use (at most :data:`MAX_WORKERS`),
    each on single-threaded BLAS.  Measured on a 2-core machine, two 16-image ResNet-18 batches side by
    side beat one batch on two-threaded OpenBLAS: a skinny convolution product (64-512 output channels)
    scales poorly across BLAS threads, and the im2col copies, padding and statistics, which run on one
    core, overlap with the other batch's products.  One worker when BLAS threads cannot be limited
    (``threadpoolctl`` missing: two workers on multi-threaded BLAS would oversubscribe the CPUs)."""
    if importlib.util.find_spec("threadpoolctl") is None:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_WORKERS, cpus))


class _Locked:
    """A statistics object shared by the workers: one update at a time (the statistics here are
    order-independent, so the interleaving of batches does not change the result)."""

    def __init__(self, stats: Stats) -> None:
        self.stats, self.lock = stats, threading.Lock()

    def update(self, x: np.ndarray) -> None:
        with self.lock:
            self.stats.update(x)


def _run_chunks(chunks: Iterator[list], run: Callable[[list], None], finished: Callable[[list], None],
                workers: int) -> None:
    """``run`` every chunk, ``workers`` at a time, and call ``finished`` for each in input order.

    At most ``workers`` chunks are in flight (the next one is read only when the oldest is done), so
    memory stays independent of the number of inputs; the first error stops the run and is raised."""
    if workers <= 1:
        for chunk in chunks:
            run(chunk)
            finished(chunk)
        return
    from threadpoolctl import threadpool_limits
    pending: deque = deque()
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        try:
            for chunk in chunks:
                pending.append((chunk, pool.submit(run, chunk)))
                if len(pending) >= workers:
                    done_chunk, fut = pending.popleft()
                    fut.result()
                    finished(done_chunk)
            while pending:
                done_chunk, fut = pending.popleft()
                fut.result()
                finished(done_chunk)
        except BaseException:
            for _, fut in pending:
                fut.cancel()
            raise


def calibrate(graph: Graph, feeds: Iterable[dict[str, np.ndarray]], total: int,
              progress: bool = True, on_input: Callable[[int], None] | None = None,
              make_stats: Callable[[str], Stats] | None = None, outputs: Iterable[str] | None = None,
              batch: int | None = None, batch_bytes: int = BATCH_BYTES,
              on_batch: Callable[[dict[str, np.ndarray], int], None] | None = None,
              workers: int | None = None) -> dict[str, Stats]:
    """Run ``graph`` on every feed dict (graph-input name -> array in the DLC layout) and return the
    statistics of every float activation tensor it computes.

    ``make_stats`` makes the statistics object of a tensor (default :class:`RangeStats`); ``outputs``
    restricts the run to the ops those tensors depend on (an input list's ``#``/``%`` lines: tensors
    outside get no statistics); ``batch`` forces a batch size (1: one input at a time), otherwise it
    is chosen from ``batch_bytes`` when the graph can batch; ``on_batch(env, n)`` sees the tensors of
    each batch of ``n`` inputs (the selected outputs and graph outputs) before they are dropped;
    ``workers`` is how many batches run at once (default :func:`default_workers`; 1 with ``on_batch``).
    """
    ops = needed_ops(graph, list(outputs) if outputs is not None else None)
    computed = set(graph.inputs) | {o for op in ops for o in op.outputs}
    names = [n for n in activation_tensors(graph) if n in computed]
    factory = make_stats or (lambda _name: RangeStats())
    stats = {n: factory(n) for n in names}
    statics = {n: aligned_static(graph.tensors[n].data) for op in ops for n in op.inputs
               if n and graph.tensors[n].is_static}
    keep = set(outputs or ()) | set(graph.outputs) if on_batch is not None else set()
    size = batch if batch is not None else batch_size(graph, ops, total, batch_bytes)
    runners: dict[int, _Runner | None] = {1: _Runner(graph, ops, statics, keep)}
    made = threading.Lock()

    def runner(n: int) -> _Runner | None:
        with made:                      # two workers may ask for the same batch size at once
            if n not in runners:
                bg = batched_graph(graph, ops, n)
                runners[n] = None if bg is None else _Runner(bg, bg.ops, statics, keep)
            return runners[n]

    if size > 1 and runner(size) is None:
        size = 1
    # on_batch accumulates in input order, so its batches run one at a time; never more workers than batches
    n_workers = 1 if on_batch is not None else workers if workers is not None else default_workers()
    n_workers = min(n_workers, max(1, -(-total // size)))
    shared = {n: _Locked(st) for n, st in stats.items()} if n_workers > 1 else stats

    def run_chunk(chunk: list[dict[str, np.ndarray]]) -> None:
        r = runner(len(chunk)) if len(chunk) > 1 else runners[1]
        groups = [chunk] if r is not None else [[f] for f in chunk]
        for group in groups:
            rr = r if len(group) > 1 else runners[1]
            if len(group) == 1:
                env = {n: input_array(graph, n, group[0]) for n in graph.inputs}
            else:
                env = {n: np.concatenate([input_array(graph, n, f) for f in group]) for n in graph.inputs}
            env = rr.run(env, shared)
            if on_batch is not None:
                on_batch(env, len(group))
            del env

    bar = _progress(total, progress)
    done = 0

    def finished(chunk: list) -> None:
        nonlocal done
        for _ in chunk:
            if on_input is not None:
                on_input(done)
            done += 1
        if bar is not None:
            bar.update(len(chunk))

    try:
        _run_chunks(batches_of(feeds, size), run_chunk, finished, n_workers)
    finally:
        if bar is not None:
            bar.close()
    for st in stats.values():
        if isinstance(st, RangeStats):
            st.count = done
    return stats

"""Numpy reference executor: runs an IR graph op by op with the registry's kernels."""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np

from ..errors import RuntimeInputError
from ..ir.graph import Graph
from ..ops.fixed_point import fake_quantize, is_fake_quantized, run_op

_F16 = np.dtype(np.float16)


def execute(graph: Graph, feeds: dict[str, np.ndarray], outputs: Iterable[str] | None = None,
            keep_intermediates: bool = False,
            op_times: list[float] | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` on ``feeds`` (graph-input name -> array in the graph's input layout).

    Returns the requested tensors (default: graph outputs); with ``keep_intermediates``
    every op output is returned too (snpe-net-run --debug).  ``op_times`` receives the wall time
    in seconds of every op, in graph order (snpe-net-run --profiling_level).
    """
    wanted = list(outputs) if outputs is not None else list(graph.outputs)
    for name in wanted:
        if name not in graph.tensors:
            raise RuntimeInputError(f"requested output tensor '{name}' is not in the model; "
                                    f"available outputs: {', '.join(graph.outputs)}")
    env: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        if name not in feeds:
            raise RuntimeInputError(f"no data for model input '{name}'")
        t = graph.tensors[name]
        arr = np.asarray(feeds[name])
        if tuple(arr.shape) != tuple(t.shape):
            if arr.size != int(np.prod(t.shape)):
                raise RuntimeInputError(f"input '{name}' has {arr.size} elements, the model expects "
                                        f"{int(np.prod(t.shape))} (shape {list(t.shape)})")
            arr = arr.reshape(t.shape)
        env[name] = arr.astype(t.dtype, copy=False)
        if is_fake_quantized(t):
            # a float input that carries an encoding (QDQ / FakeQuant import): a fixed-point runtime reads
            # it on that grid, as every other such tensor
            env[name] = fake_quantize(t, env[name])
    # last use of every tensor, so intermediates can be dropped early
    last_use: dict[str, int] = {}
    for i, op in enumerate(graph.ops):
        for n in op.inputs:
            last_use[n] = i
    keep = set(wanted) | set(graph.outputs)
    for i, op in enumerate(graph.ops):
        start = time.perf_counter()
        xs = []
        for n in op.inputs:
            if not n:
                xs.append(None)
            elif n in env:
                xs.append(env[n])
            else:
                xs.append(graph.tensors[n].data)
        half_out = [np.dtype(graph.tensors[n].dtype) == _F16 for n in op.outputs]
        if any(half_out) or any(x is not None and np.asarray(x).dtype == _F16 for x in xs):
            # float16 DLC (--float_bitwidth 16): each op computes in float32 on float16 operands and its
            # float16 outputs are rounded to float16, as a half-precision backend stores them
            xs = [x.astype(np.float32) if x is not None and np.asarray(x).dtype == _F16 else x for x in xs]
            ys = [np.asarray(y).astype(_F16) if h else y for y, h in zip(run_op(graph, op, xs), half_out)]
        else:
            ys = run_op(graph, op, xs)
        for name, y in zip(op.outputs, ys):
            if tuple(np.shape(y)) != tuple(graph.tensors[name].shape):
                raise RuntimeError(f"{op.type} op '{op.name}' produced shape {list(np.shape(y))} for "
                                   f"'{name}', the model declares {list(graph.tensors[name].shape)}")
            env[name] = y
        if op_times is not None:
            op_times.append(time.perf_counter() - start)
        if not keep_intermediates:
            for n in op.inputs:
                if n and last_use.get(n) == i and n not in keep and n not in graph.inputs:
                    env.pop(n, None)
    if keep_intermediates:
        return {op_out: env[op_out] for op in graph.ops for op_out in op.outputs if op_out in env}
    return {n: env[n] if n in env else graph.tensors[n].data for n in wanted}

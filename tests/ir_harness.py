"""Shared harness for the per-family op tests (tests/ops) and the per-pass tests (tests/passes).

Why one module: every op test needs the same three moves (build a one-op graph so that ``infer`` runs
exactly as ``Graph.add_op`` runs it, run the registry's kernel, compare with an independent reference),
and every pass test the same four (build a small graph, check a pre-condition, run the pass by its
registered name, check the post-condition and that the graph computes the same numbers).  Keeping them
here means a test file holds only its table of cases.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from onnx import helper
from onnx.reference import ReferenceEvaluator

import snpe_tools.ops  # noqa: F401  (binds the op registry to the IR)
from snpe_tools.frontends.emit import EmitMixin
from snpe_tools.ir.graph import Graph, Op
from snpe_tools.ops.registry import all_op_types, get_op_def
from snpe_tools.passes.registry import get_pass
from snpe_tools.runtime.executor import execute

RNG = np.random.default_rng(16)
ONNX_OPSET = 21      # every reference op used (Gelu needs 20) at one opset


# ---- inputs ----------------------------------------------------------------------------------------
def rand(*shape: int, lo: float = -2.0, hi: float = 2.0, dtype=np.float32) -> np.ndarray:
    """Uniform random values in [lo, hi)."""
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


def positive(*shape: int) -> np.ndarray:
    return rand(*shape, lo=0.25, hi=3.0)


def ints(*shape: int, lo: int = 0, hi: int = 5, dtype=np.int32) -> np.ndarray:
    return RNG.integers(lo, hi, size=shape).astype(dtype)


def nchw(x: np.ndarray) -> np.ndarray:
    """NHWC (IR activations) -> NCHW (ONNX); rank 5 NDHWC -> NCDHW too."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def nhwc(x: np.ndarray) -> np.ndarray:
    """NCHW (ONNX) -> NHWC (IR); rank 5 NCDHW -> NDHWC too."""
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def oihw(w: np.ndarray) -> np.ndarray:
    """HWIO (IR weights) -> OIHW (ONNX); DHWIO -> OIDHW for rank 5."""
    return np.ascontiguousarray(np.moveaxis(np.moveaxis(w, -1, 0), -1, 1))


# ---- one op ----------------------------------------------------------------------------------------
def one_op_graph(type_: str, inputs: Sequence[np.ndarray | None], params: dict[str, Any] | None = None,
                 static: Iterable[int] = ()) -> tuple[Graph, Op]:
    """A graph holding one ``type_`` op: inputs listed in ``static`` are constants, the others graph
    inputs (None: an absent optional input).  Output shapes/dtypes come from ``infer`` via ``add_op``."""
    g = Graph("one_op")
    static = set(static)
    names: list[str] = []
    for i, x in enumerate(inputs):
        if x is None:
            names.append("")
        elif i in static:
            names.append(g.add_const(f"c{i}", np.asarray(x), unique=False))
        else:
            g.add_input(f"x{i}", np.shape(x), np.asarray(x).dtype)
            names.append(f"x{i}")
    op = g.add_op(type_, names, params=params, name="op")
    g.outputs = list(op.outputs)
    return g, op


def run_op(type_: str, inputs: Sequence[np.ndarray | None], params: dict[str, Any] | None = None,
           static: Iterable[int] = ()) -> list[np.ndarray]:
    """Run one op through the registry (``infer`` then ``compute``) and check that the shape and dtype
    the kernel produces are the ones ``infer`` declared."""
    g, op = one_op_graph(type_, inputs, params, static)
    ys = get_op_def(type_).compute(op, [None if x is None else np.asarray(x) for x in inputs])
    assert len(ys) == len(op.outputs), f"{type_}: {len(ys)} outputs computed, {len(op.outputs)} inferred"
    for name, y in zip(op.outputs, ys):
        t = g.tensors[name]
        y = np.asarray(y)
        assert tuple(y.shape) == tuple(t.shape), f"{type_} {name}: kernel {y.shape}, infer {t.shape}"
        assert y.dtype == t.dtype, f"{type_} {name}: kernel {y.dtype}, infer {t.dtype}"
    return [np.asarray(y) for y in ys]


# ---- ONNX reference ----------------------------------------------------------------------------------
def onnx_ref(op_type: str, inputs: Sequence[np.ndarray | None], n_out: int = 1, domain: str = "",
             **attrs: Any) -> list[np.ndarray]:
    """Outputs of one ONNX node under ``onnx.reference.ReferenceEvaluator`` (an independent kernel)."""
    in_names = ["" if x is None else f"i{k}" for k, x in enumerate(inputs)]
    out_names = [f"o{k}" for k in range(n_out)]
    node = helper.make_node(op_type, in_names, out_names, domain=domain or None, **attrs)
    feeds = {f"i{k}": np.asarray(x) for k, x in enumerate(inputs) if x is not None}
    # a typed model rather than the bare node: function ops (Gelu, HardSwish ...) need the input types
    graph = helper.make_graph(
        [node], "ref",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for n, v in feeds.items()],
        [helper.make_empty_tensor_value_info(n) for n in out_names])
    opsets = [helper.make_opsetid("", ONNX_OPSET)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    return [np.asarray(y) for y in ReferenceEvaluator(model).run(None, feeds)]


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != reference {expected.shape}"
    if actual.dtype == np.bool_ or np.issubdtype(actual.dtype, np.integer):
        np.testing.assert_array_equal(actual, expected.astype(actual.dtype))
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def family_ops(module: str) -> set[str]:
    """The op types registered by ``snpe_tools/ops/<module>.py``."""
    return {t for t in all_op_types() if type(get_op_def(t)).__module__ == f"snpe_tools.ops.{module}"}


# ---- passes ------------------------------------------------------------------------------------------
def op_types(graph: Graph) -> list[str]:
    return [op.type for op in graph.ops]


def run_graph(graph: Graph, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    out = execute(graph, feeds)
    return [out[n] for n in graph.outputs]


def check_pass(name: str, graph: Graph, feeds: dict[str, np.ndarray],
               pre: Callable[[Graph], bool], post: Callable[[Graph], bool],
               options: dict[str, Any] | None = None, expect_change: bool = True,
               feeds_after: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
               outputs_after: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
               expect: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
               rtol: float = 1e-5, atol: float = 1e-5) -> Graph:
    """Run the pass registered as ``name`` on ``graph``: ``pre`` must hold before, ``post`` after, the
    pass must report whether it changed the graph, and the graph must compute the same outputs (the
    feeds may be re-laid out for the rewritten graph by ``feeds_after``, its outputs mapped back to the
    original layout by ``outputs_after``; ``expect`` turns the outputs before into the ones expected after,
    for passes that change the numbers on purpose, e.g. attach quantization grids)."""
    assert pre(graph), f"{name}: pre-condition does not hold on the test graph"
    before = run_graph(graph, feeds)
    changed = get_pass(name)(graph, dict(options or {}))
    assert bool(changed) == expect_change, f"{name} reported changed={changed}"
    assert post(graph), f"{name}: post-condition fails; ops now {op_types(graph)}"
    after = run_graph(graph, feeds_after(feeds) if feeds_after else feeds)
    if outputs_after:
        after = outputs_after(after)
    if expect:
        before = expect(before)
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert_close(a, b, rtol=rtol, atol=atol)
    return graph


def onnx_pads(pad_amount: Sequence[Sequence[int]]) -> list[int]:
    """IR ``pad_amount`` [[begin, end] per spatial axis] -> ONNX ``pads`` (all begins, then all ends)."""
    return [int(p[0]) for p in pad_amount] + [int(p[1]) for p in pad_amount]


def check_pool_against_onnx(ir_type: str, onnx_type: str, x: np.ndarray, params: dict[str, Any],
                            **onnx_attrs: Any) -> None:
    """A 2-D/3-D IR pool (channel-last) against the ONNX pool on the channel-first input."""
    k = len(params["filter_size"])
    (y,) = run_op(ir_type, [x], params)
    ref = onnx_ref(onnx_type, [nchw(x)], kernel_shape=params["filter_size"], strides=params.get("stride", [1] * k),
                   pads=onnx_pads(params.get("pad_amount", [[0, 0]] * k)),
                   ceil_mode=params.get("rounding_mode", 0), **onnx_attrs)[0]
    assert_close(y, nhwc(ref))


def op_macs(type_: str, inputs: Sequence[np.ndarray | None], params: dict[str, Any] | None = None,
            static: Iterable[int] = ()) -> int:
    """The multiply-accumulate count ``snpe-dlc-info`` reports for one op."""
    g, op = one_op_graph(type_, inputs, params, static)
    return get_op_def(type_).macs(op, [g.tensors[n] if n else None for n in op.inputs],
                                  [g.tensors[n] for n in op.outputs])


# ---- frontend lowerings (snpe_tools/frontends/lowering) ---------------------------------------------
class EmitContext(EmitMixin):
    """The smallest frontend context: a Graph and the emitter API every frontend shares."""

    def __init__(self) -> None:
        self.graph = Graph()


def run_lowering(build: Callable[..., str], feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, Counter[str]]:
    """Graph with ``feeds`` as inputs and the body ``build(ctx, *input_names) -> output name``; runs it and
    returns the output and how many ops of each type the lowering emitted."""
    ctx = EmitContext()
    for name, x in feeds.items():
        ctx.graph.add_input(name, x.shape, x.dtype)
    out = build(ctx, *feeds)
    ctx.graph.outputs = [out]
    return execute(ctx.graph, feeds)[out], Counter(op_types(ctx.graph))

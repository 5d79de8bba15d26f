"""Translation state of the TorchScript frontend.

Every TorchScript value is either a :class:`Ref` (a run-time tensor, i.e. an IR tensor name)
or a plain value known at convert time (int, float, bool, None, str, list/tuple, numpy array
for constant tensors).  Shape arithmetic (``aten::size``, list building, ``prim::If`` on static
conditions) is therefore evaluated while converting, never emitted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...ir import dtypes as qd
from ...ir.graph import Graph
from ..emit import EmitMixin


@dataclass(frozen=True)
class Ref:
    """A run-time tensor: the name of an IR tensor."""

    name: str


@dataclass(frozen=True, eq=False)
class TorchNode:
    """What a translator receives: a TorchScript node together with its resolved inputs.

    ``args`` are the node's inputs, already resolved by the walker: :class:`Ref` for run-time tensors,
    plain Python/numpy values for everything known at convert time.  Everything else (``kind()``,
    ``outputs()``, ``outputsAt()``, ``schema()``, ``sourceRange()`` ...) is the torch node's own, so
    translators keep the one ``fn(ctx, node)`` signature of every frontend.
    """

    node: Any
    args: list

    def __getattr__(self, name: str) -> Any:
        if name in ("node", "args"):          # not yet set (copy/pickle): no recursion into the torch node
            raise AttributeError(name)
        return getattr(self.node, name)


def source_line(node) -> str:
    """``file:line`` of the Python code that made ``node`` (TorchScript keeps source ranges)."""
    try:
        text = node.sourceRange()
    except Exception:  # noqa: BLE001 - some nodes have none
        return ""
    for line in text.splitlines():
        m = re.search(r"([^\s(]+)\((\d+)\)", line) or re.search(r'File "([^"]+)", line (\d+)', line)
        if m:
            return f"{m.group(1)}:{m.group(2)}"
    return ""


def describe(node) -> str:
    where = source_line(node)
    return f"{node.kind()} ({where})" if where else node.kind()


class TorchContext(EmitMixin):
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.values: dict[str, Any] = {}
        self._out_names: dict[tuple[str, int], str] = {}

    # ---- values -------------------------------------------------------------------
    def out_name(self, node, idx: int = 0) -> str:
        """IR name for node output ``idx`` (its TorchScript debug name, made unique once)."""
        key = (node.outputsAt(idx).debugName(), idx)
        if key not in self._out_names:
            self._out_names[key] = self.graph.unique_name(key[0])
        return self._out_names[key]

    def tensor(self, v: Any, dtype=None) -> str:
        """IR tensor name for a value: a Ref, or static data materialised as a constant."""
        if isinstance(v, Ref):
            return v.name
        if v is None:
            raise ConversionError("a tensor operand is None")
        arr = np.asarray(v)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        return self.graph.add_const("const", qd.narrow_array(arr))

    def shape(self, v: Any) -> tuple[int, ...]:
        if isinstance(v, Ref):
            return self.graph.tensors[v.name].shape
        return tuple(np.shape(v))

    def rank(self, v: Any) -> int:
        return len(self.shape(v))

    def dtype(self, v: Any) -> np.dtype:
        if isinstance(v, Ref):
            return self.graph.tensors[v.name].dtype
        return np.asarray(v).dtype

    def op(self, type_: str, inputs: list[Any], node, params: dict | None = None, idx: int = 0,
           out: str | None = None) -> Ref:
        """Emit one QNN op whose output is node output ``idx``; returns its Ref."""
        name = out or self.out_name(node, idx)
        self.emit(type_, [self.tensor(i) if i is not None else "" for i in inputs], [name], params,
                  name=name)
        return Ref(name)

    def op_tmp(self, type_: str, inputs: list[Any], base: str, params: dict | None = None) -> Ref:
        name = self.graph.unique_name(base)
        self.emit(type_, [self.tensor(i) for i in inputs], [name], params, name=name)
        return Ref(name)

    def channel_last(self, type_: str, x: Any, node, params: dict, extra: list[Any] | None = None,
                     idx: int = 0) -> Ref:
        """Layout-sensitive op on a channel-first tensor (wrapped in Transposes the layout pass removes)."""
        out = self.out_name(node, idx)
        xcl = self.ir_to_channel_last(self.tensor(x))
        self.wrap_channel_last(type_, xcl, out, params, [self.tensor(e) for e in extra or []], name=out)
        return Ref(out)

    def tmp_name(self, node, suffix: str) -> str:
        """A fresh tensor name for an intermediate of ``node`` (its output name + ``.suffix``)."""
        return self.graph.unique_name(f"{self.out_name(node)}.{suffix}")

    def emit_to(self, type_: str, inputs: list[Any], out: str, params: dict | None = None,
                fmt: str | None = None) -> Ref:
        """One op writing tensor ``out`` (a fresh name or the node's output name)."""
        self.emit(type_, [self.tensor(i) for i in inputs], [out], params, name=out, fmt=fmt)
        return Ref(out)

    def reshape_to(self, x: Any, shape, out: str, fmt: str | None = None) -> Ref:
        return self.emit_to("Reshape", [x], out, {"shape": [int(s) for s in shape]}, fmt)

    def as_ref(self, v: Any, dtype=None) -> Ref:
        if isinstance(v, Ref):
            return v
        return Ref(self.tensor(np.asarray(v), dtype))

    def cast_to(self, x: Any, dt, out: str) -> Ref | np.ndarray:
        """``x`` as IR dtype ``dt``: a Cast op for a run-time tensor, numpy for a convert-time value."""
        dt = qd.narrow(dt)
        if not isinstance(x, Ref):
            return np.asarray(x).astype(dt)
        if np.dtype(self.dtype(x)) == dt:
            return x
        return self.emit_to("Cast", [x], out, {"to": qd.to_qnn(dt)})


def axis(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim


def pair(v, n: int = 2) -> list[int]:
    """A TorchScript int-or-list argument (kernel, stride, padding ...) as ``n`` ints."""
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return [int(x) for x in (v * n if len(v) == 1 else v)]


def resolve_shape(shape, numel: int) -> list[int]:
    """A view/reshape size list with its ``-1`` worked out from the element count."""
    shape = [int(s) for s in shape]
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape[shape.index(-1)] = numel // max(known, 1)
    return shape

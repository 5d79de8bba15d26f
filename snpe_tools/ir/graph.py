"""The one IR: tensors, ops and the graph that holds them.

Ops carry QNN type names and QNN parameter names (see :mod:`snpe_tools.ops`);
tensors carry shape, dtype, axis format and optional quantization encoding.
Every frontend builds this graph, every pass rewrites it, the DLC writer
serialises it and the reference runtime executes it.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from . import axis_format as af


class OpSchema(Protocol):
    """What the IR needs from an op definition (:class:`snpe_tools.ops.OpDef`) to add an op."""

    def complete_params(self, params: dict[str, Any]) -> dict[str, Any]: ...

    def num_outputs(self, params: dict[str, Any], n_inputs: int) -> int: ...

    def infer(self, op: "Op", inputs: list["Tensor | None"]) -> Sequence[tuple[Sequence[int], Any]]: ...


_op_schemas: Callable[[str], OpSchema] | None = None


def bind_op_schemas(lookup: Callable[[str], OpSchema]) -> None:
    """Give the IR the op registry's lookup (QNN type -> definition).

    The IR sits below the op definitions (docs/architecture.rst, layering enforced by import-linter):
    ``snpe_tools.ops`` binds its registry here when it is imported, and ``import snpe_tools`` imports
    it, so ``Graph.add_op`` infers shapes through the registry without the IR importing it.
    """
    global _op_schemas
    _op_schemas = lookup


def _op_schema(type_: str) -> OpSchema:
    if _op_schemas is None:
        raise RuntimeError("no op definitions are bound to the IR: import snpe_tools.ops first")
    return _op_schemas(type_)


@dataclass
class Encoding:
    """Quantization encoding of a tensor (QNN scale/offset convention: real = (q + offset) * scale)."""

    bitwidth: int
    scale: float
    offset: int
    min: float
    max: float
    axis: int | None = None                      # per-channel axis, None for per-tensor
    channels: list[tuple[float, int, float, float]] | None = None  # (scale, offset, min, max)
    packed: bool = False        # 4-bit values stored two per byte (SFIXED/UFIXED_POINT_4), see ir/packing.py


@dataclass
class Tensor:
    """A named value: graph input, static data, or an op output."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))
    axis_format: str = af.ANY
    data: np.ndarray | None = None
    encoding: Encoding | None = None

    @property
    def is_static(self) -> bool:
        return self.data is not None

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass(eq=False)
class Op:
    """One QNN op: ``type`` is the QNN op type name, ``params`` use QNN parameter names."""

    name: str
    type: str
    inputs: list[str]
    outputs: list[str]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class InputInfo:
    """What SNPE records about a graph input besides its tensor (``--input_type`` etc.)."""

    input_type: str = "default"
    encoding_in: str = "bgr"
    encoding_out: str = "bgr"
    # --input_dtype when it differs from the model's own type: the DLC input takes this type and a Cast
    # (passes/input_cast.py) gives the model the type it was built for; None = the model's type
    dtype: str | None = None


class Graph:
    """A DAG of :class:`Op` over :class:`Tensor`, kept in topological order."""

    def __init__(self, name: str = "model") -> None:
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.input_info: dict[str, InputInfo] = {}
        self._names: set[str] = set()
        # True once the legacy spatial-first rewrite ran on a channel-first source (ONNX, PyTorch):
        # the DLC then records NCHW as the source format of NHWC tensors (Tensor slot 12)
        self.source_channel_first = False
        # encodings read from a quantized source model (QDQ, FakeQuant) by source tensor name, attached
        # after the IR passes (snpe_tools.quantization.source.apply_source_encodings)
        self.source_encodings: dict[str, Any] = {}
        # name of a derived tensor (weights re-laid out, a channel-last twin, a lifted 1-D tensor ...)
        # -> name of the tensor it was made from, recorded by derived_name where the tensor is made;
        # restore_source_names gives the source name back once it is free.  Records are about names and
        # outlive the tensors, so that a chain of derivations resolves to the original source.
        self.source_names: dict[str, str] = {}

    # ---- naming -------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        """A tensor/op name not used yet, derived from ``base``."""
        taken = self._names
        if base not in taken and base not in self.tensors:
            taken.add(base)
            return base
        for i in itertools.count(1):
            cand = f"{base}_{i}"
            if cand not in taken and cand not in self.tensors:
                taken.add(cand)
                return cand
        raise AssertionError("unreachable")

    def derived_name(self, base: str, role: str) -> str:
        """A fresh name ``<base>.<role>`` (made unique) for a tensor derived from tensor ``base``, which is
        recorded as its source name (:meth:`source_chain`)."""
        name = self.unique_name(f"{base}.{role}")
        self.source_names[name] = base
        return name

    def derived_const(self, base: str, role: str, data: np.ndarray, axis_format: str = af.ANY) -> str:
        """Static data derived from tensor ``base`` (e.g. weights re-laid out), named by :meth:`derived_name`."""
        return self.add_const(self.derived_name(base, role), data, axis_format, unique=False)

    def source_chain(self, name: str) -> list[str]:
        """The names ``name`` was derived from, nearest first, ending at the original source name
        (empty for a tensor that was not derived)."""
        chain: list[str] = []
        while name in self.source_names and len(chain) <= len(self.source_names):
            name = self.source_names[name]
            chain.append(name)
        return chain

    def reserve_names(self, names: Iterable[str]) -> None:
        """Mark ``names`` as taken, so that :meth:`unique_name` never hands them out (a graph built
        without ``add_*``, e.g. read from a DLC, reserves its tensor and op names)."""
        self._names.update(names)

    def release_name(self, name: str) -> None:
        """Make ``name`` available to :meth:`unique_name` again (its tensor was removed); a derivation
        recorded for it no longer applies."""
        self._names.discard(name)
        self.source_names.pop(name, None)

    def structure_copy(self) -> "Graph":
        """A copy with its own op list, tensor dict, I/O lists and name set; tensors and weights are
        shared (for rewrites that must leave the original graph as it was)."""
        g = copy.copy(self)
        g.ops = [copy.copy(op) for op in self.ops]
        g.tensors = dict(self.tensors)
        g.inputs, g.outputs = list(self.inputs), list(self.outputs)
        g.input_info = dict(self.input_info)
        g._names = set(self._names)
        g.source_names = dict(self.source_names)
        return g

    # ---- building -----------------------------------------------------------------
    def add_input(self, name: str, shape: Iterable[int], dtype=np.float32,
                  axis_format: str = af.ANY, info: InputInfo | None = None) -> Tensor:
        t = Tensor(name, tuple(int(d) for d in shape), np.dtype(dtype), axis_format)
        self.tensors[name] = t
        self._names.add(name)
        self.inputs.append(name)
        self.input_info[name] = info or InputInfo()
        return t

    def add_const(self, name: str, data: np.ndarray, axis_format: str = af.ANY,
                  unique: bool = True) -> str:
        """Add static data; float64 is narrowed to float32.  Integers are stored as given: the frontends
        narrow int64 to int32 for QNN targets (``ir.dtypes.narrow_array`` through their emitter), while
        passes may hold int64 index data until the DLC writer narrows it."""
        arr = np.asarray(data)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        if unique:
            name = self.unique_name(name)
        else:
            self._names.add(name)
        self.tensors[name] = Tensor(name, tuple(arr.shape), arr.dtype, axis_format, data=arr)
        return name

    def add_op(self, type_: str, inputs: list[str], outputs: list[str] | None = None,
               params: dict[str, Any] | None = None, name: str | None = None,
               axis_formats: list[str] | None = None, index: int | None = None) -> Op:
        """Append (or insert at ``index``) an op; output shapes/dtypes come from the op registry."""
        opdef = _op_schema(type_)
        params = opdef.complete_params(dict(params or {}))
        n_out = opdef.num_outputs(params, len(inputs))
        if outputs is None:
            base = name or type_.lower()
            outputs = [self.unique_name(base if n_out == 1 else f"{base}_{i}") for i in range(n_out)]
        op = Op(self.unique_name(name or outputs[0]), type_, list(inputs), list(outputs), params)
        ins = [self.tensors[i] if i else None for i in inputs]
        try:
            specs = opdef.infer(op, ins)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            from ..errors import ConversionError

            raise ConversionError(f"{type_} op '{op.name}': invalid inputs or parameters "
                                  f"({exc}); inputs {[list(t.shape) if t else None for t in ins]}") from None
        for i, (out, (shape, dtype)) in enumerate(zip(outputs, specs)):
            fmt = axis_formats[i] if axis_formats else af.ANY
            self.tensors[out] = Tensor(out, tuple(int(d) for d in shape), np.dtype(dtype), fmt)
            self._names.add(out)
        if index is None:
            self.ops.append(op)
        else:
            self.ops.insert(index, op)
        return op

    def reinfer(self, op: Op) -> None:
        """Recompute the output shapes of ``op`` after its inputs or params changed."""
        specs = _op_schema(op.type).infer(op, [self.tensors[i] if i else None for i in op.inputs])
        for out, (shape, dtype) in zip(op.outputs, specs):
            t = self.tensors[out]
            t.shape = tuple(int(d) for d in shape)
            t.dtype = np.dtype(dtype)

    # ---- queries ------------------------------------------------------------------
    def producer(self, tensor: str) -> Op | None:
        for op in self.ops:
            if tensor in op.outputs:
                return op
        return None

    def producers(self) -> dict[str, Op]:
        return {o: op for op in self.ops for o in op.outputs}

    def consumers(self, tensor: str) -> list[Op]:
        return [op for op in self.ops if tensor in op.inputs]

    def consumer_map(self) -> dict[str, list[Op]]:
        m: dict[str, list[Op]] = {}
        for op in self.ops:
            for i in op.inputs:
                m.setdefault(i, [])
                if not m[i] or m[i][-1] is not op:
                    m[i].append(op)
        return m

    def is_static(self, tensor: str) -> bool:
        return bool(tensor) and self.tensors[tensor].is_static

    # ---- editing ------------------------------------------------------------------
    def remove_op(self, op: Op) -> None:
        self.ops.remove(op)

    def replace_uses(self, old: str, new: str, ops: Iterable[Op] | None = None) -> None:
        """Make consumers (all, or ``ops``) read ``new`` instead of ``old``."""
        for op in (self.ops if ops is None else ops):
            op.inputs = [new if i == old else i for i in op.inputs]

    def add_input_op(self, name: str, type_: str, inner: str, params: dict[str, Any] | None = None,
                     op_name: str | None = None) -> Tensor:
        """An op right behind graph input ``name`` (a Cast, a Quantize): it reads ``name`` and writes ``inner``,
        which every former reader of ``name`` now reads.  Returns ``inner``'s tensor."""
        self.replace_uses(name, inner)
        self.add_op(type_, [name], [inner], params, name=op_name or inner, index=0)
        out = self.tensors[inner]
        out.axis_format = self.tensors[name].axis_format
        return out

    def add_output_op(self, name: str, type_: str, inner: str, params: dict[str, Any] | None = None,
                      op_name: str | None = None) -> Tensor:
        """An op right in front of graph output ``name`` (a Cast, a Dequantize): the producer now writes
        ``inner`` and the op turns it into ``name``, which keeps its place among the outputs.  Returns the
        new ``name`` tensor."""
        self.rename_tensor(name, inner)
        self.outputs[self.outputs.index(inner)] = name
        prod = self.producer(inner)
        self.add_op(type_, [inner], [name], params, name=op_name,
                    index=self.ops.index(prod) + 1 if prod is not None else 0)
        out = self.tensors[name]
        out.axis_format = self.tensors[inner].axis_format
        return out

    def rename_tensor(self, old: str, new: str) -> None:
        """Rename a tensor everywhere (``new`` must be free); keeps graph I/O names in sync.

        Derivation records (:attr:`source_names`) are about names and stay as they are: the tensor now
        called ``new`` takes over whatever ``new`` was derived from (a rewrite that gives a tensor an
        existing name replaces the tensor that held it), and ``old`` still links a chain through it."""
        t = self.tensors.pop(old)
        t.name = new
        self.tensors[new] = t
        self._names.add(new)
        for op in self.ops:
            op.inputs = [new if i == old else i for i in op.inputs]
            op.outputs = [new if o == old else o for o in op.outputs]
        self.inputs = [new if i == old else i for i in self.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]
        if old in self.input_info:
            self.input_info[new] = self.input_info.pop(old)

    def topo_sort(self) -> None:
        """Re-order ops topologically (stable: keeps the current order where it is valid)."""
        ready = set(self.inputs) | {n for n, t in self.tensors.items() if t.is_static}
        pending = list(self.ops)
        ordered: list[Op] = []
        while pending:
            progressed = False
            rest = []
            for op in pending:
                if all((not i) or i in ready for i in op.inputs):
                    ordered.append(op)
                    ready.update(op.outputs)
                    progressed = True
                else:
                    rest.append(op)
            if not progressed:
                raise ValueError("graph has a cycle or an input that nothing produces: "
                                 + ", ".join(sorted({i for op in rest for i in op.inputs if i not in ready})[:5]))
            pending = rest
        self.ops = ordered

    def prune_tensors(self) -> None:
        """Drop tensors that no op, input or output references."""
        used = set(self.inputs) | set(self.outputs)
        for op in self.ops:
            used.update(i for i in op.inputs if i)
            used.update(op.outputs)
        for name in list(self.tensors):
            if name not in used:
                del self.tensors[name]

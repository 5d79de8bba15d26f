"""From an IR graph to the records of a real DLC: nodes, tensors and attributes as 2.25 writes them.

Qualcomm's reader and QNN loader depend on conventions a plain serialisation of our IR would
miss (docs/dlc-format.rst, "Must-haves"): graph I/O only as tensor types (no Input/Output
nodes), attribute tensors named ``<node>_<attr>`` and unique in the graph, attributes sorted by
name, a flag per attribute (QNN parameter or IR-internal), ``packageName`` on every node, NULL
tensors for omitted optional inputs, one id space shared by graph and attribute tensors, and
Qualcomm's op type strings (``Pool`` + ``pool_type``, ``Eltwise_Binary`` + ``operation`` ...).
This module decides all of that once; :mod:`.writer` only turns the records into bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import axis_format as af
from ..ir import dtypes as qd
from ..ir import packing
from ..ir.graph import Encoding, Graph, Tensor
from ..ops.registry import get_op_def
from . import format as F

# IR dtypes the DLC has no room for: Qualcomm's converter stores ONNX int64 data as INT_32.
_NARROW = {qd.INT_64: qd.INT_32, qd.UINT_64: qd.UINT_32}


@dataclass
class TensorRec:
    """One entry of ``Graph.tensors`` (or of an attribute) in the file."""

    id: int
    name: str
    type: int
    dims: tuple[int, ...]
    dtype: int
    axis: int
    src_axis: int
    quantizable: bool = False
    encoding: Encoding | None = None
    data: np.ndarray | None = None          # STATIC only: the bytes' values, already in ``dtype``


@dataclass
class AttrRec:
    """One node attribute: a scalar (``kind``/``value``) or a tensor (``tensor``)."""

    name: str
    flag: int
    kind: int = qd.UNDEFINED                # QNN data type of a scalar; strings are UNDEFINED as 2.25 writes
    value: Any = None
    tensor: TensorRec | None = None


@dataclass
class NodeRec:
    name: str
    type: str
    inputs: list[str]
    outputs: list[str]
    attrs: list[AttrRec] = field(default_factory=list)


@dataclass
class Plan:
    """Everything the writer needs, in file order."""

    name: str
    nodes: list[NodeRec]
    tensors: list[TensorRec]                # graph tensors, in id order

    @property
    def static_tensors(self) -> list[TensorRec]:
        """GraphParameters order: static graph tensors sorted by name (byte order), as 2.25 writes."""
        return sorted((t for t in self.tensors if t.type == F.STATIC), key=lambda t: t.name.encode())


def _code(fmt: str) -> int:
    return af.CODES.get(fmt, af.CODES[af.ANY])


_SOURCE_OF = {af.NSC: af.NCS, af.NDHWC: af.NCDHW, af.NFC: af.NCF, af.NTF: af.TNF}


def _src_format(fmt: str, channel_first_source: bool) -> str:
    """The tensor's format in the source framework (slot 12): what the legacy layout rewrite started from."""
    return _SOURCE_OF.get(fmt, fmt) if channel_first_source else fmt


def _narrow(code: int, arr: np.ndarray | None) -> tuple[int, np.ndarray | None]:
    if code not in _NARROW:
        return code, arr
    code = _NARROW[code]
    if arr is not None:
        info = np.iinfo(qd.to_numpy(code))
        arr = np.clip(arr, info.min, info.max).astype(qd.to_numpy(code))
    return code, arr


def static_data(t: Tensor, code: int) -> np.ndarray:
    """Row-major data of a static tensor in the numpy type of its file dtype (a view when possible)."""
    arr = np.asarray(t.data)
    want = qd.to_numpy(code)
    if arr.dtype != want:
        arr = arr.astype(want)
    return arr


def _packed(t: Tensor, data: np.ndarray) -> np.ndarray:
    """The file bytes of a 4-bit weight marked ``packed`` (--pack_4_bit_weights): two values a byte.  A
    graph built by hand can carry an encoding that does not fit the tensor; that is refused here."""
    problem = packing.layout_problem(tuple(t.shape), t.encoding)
    if problem is not None:
        raise ValueError(f"tensor '{t.name}' cannot be stored as packed 4-bit: {problem}")
    return packing.pack(data, t.encoding)


def _scalar_kind(p_dtype: int) -> int:
    return qd.UNDEFINED if p_dtype == qd.STRING else p_dtype


def make_plan(graph: Graph) -> Plan:
    """Lay ``graph`` out as a real DLC would hold it (see the module docstring)."""
    channel_first = bool(getattr(graph, "source_channel_first", False))
    inputs, outputs = set(graph.inputs), set(graph.outputs)
    tensors: list[TensorRec] = []
    by_name: dict[str, TensorRec] = {}
    taken = set(graph.tensors)
    next_id = [1]

    def new_id() -> int:
        next_id[0] += 1
        return next_id[0] - 1

    def unique(base: str) -> str:
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        return name

    weight_fmt: dict[str, tuple[str, str]] = {}
    for op in graph.ops:
        for idx, (fmt, src) in get_op_def(op.type).weight_axis_formats.items():
            if idx < len(op.inputs) and op.inputs[idx] and graph.tensors[op.inputs[idx]].is_static:
                weight_fmt.setdefault(op.inputs[idx], (fmt, src if channel_first else fmt))

    def add(name: str) -> None:
        if name in by_name:
            return
        t = graph.tensors[name]
        code = qd.tensor_code(t.dtype, t.encoding)
        code, data = _narrow(code, static_data(t, code) if t.is_static else None)
        if data is not None and qd.is_packed_4(code):
            data = _packed(t, data)
        if t.is_static:
            ttype = F.STATIC
            fmt, src = weight_fmt.get(name, (af.ANY, af.ANY))
        else:
            ttype = F.APP_WRITE if name in inputs else F.APP_READ if name in outputs else F.NATIVE
            fmt, src = t.axis_format, _src_format(t.axis_format, channel_first)
        quantizable = t.encoding is not None or code in (qd.FLOAT_32, qd.FLOAT_16)
        dims = tuple(int(d) for d in t.shape)
        rec = TensorRec(new_id(), name, ttype, dims, code, _code(fmt), _code(src),
                        quantizable, t.encoding, data)
        by_name[name] = rec
        tensors.append(rec)

    for name in graph.inputs:
        add(name)
    nodes: list[NodeRec] = []
    for op in graph.ops:
        opdef = get_op_def(op.type)
        for name in op.inputs:
            if name and graph.tensors[name].is_static:
                add(name)
        attrs = [AttrRec(s.name, s.flag, _scalar_kind(s.dtype), s.value) for s in opdef.dlc_selector]
        op_inputs = list(op.inputs)
        if opdef.dlc_bias_input is not None:
            op_inputs, bias_name = _bias(graph, op, opdef.dlc_bias_input, new_id, unique, tensors, by_name)
            attrs.append(AttrRec("bias_op_name", F.FLAG_IR, qd.UNDEFINED, bias_name))
        attrs.append(AttrRec("packageName", F.FLAG_IR, qd.UNDEFINED, F.PACKAGE_NAME))
        tensor_attrs = []
        for pname, p in opdef.params.items():
            if p.dlc_flag is None or pname not in op.params:
                continue
            if not p.write_default and p.default is not None and _equal(op.params[pname], p.default):
                continue
            if p.tensor:
                tensor_attrs.append((pname, p))
            else:
                attrs.append(AttrRec(pname, p.dlc_flag, _scalar_kind(p.dtype), op.params[pname]))
        for pname, p in sorted(tensor_attrs, key=lambda kv: kv[0].encode()):
            arr = np.ascontiguousarray(np.asarray(op.params[pname], dtype=qd.to_numpy(p.dtype)))
            # attribute tensors: ANY (NF when 2-D), no source format, as 2.25 writes them
            rec = TensorRec(new_id(), unique(f"{op.name}_{pname}"), F.STATIC, tuple(arr.shape), p.dtype,
                            _code(af.NF if arr.ndim == 2 else af.ANY), af.CODES[af.NOT_YET_DEFINED],
                            False, None, arr)
            attrs.append(AttrRec(pname, p.dlc_flag, p.dtype, tensor=rec))
        attrs.sort(key=lambda a: a.name.encode())
        node_inputs = []
        for idx, name in enumerate(op_inputs):
            if not name:
                null = TensorRec(new_id(), unique(f"{op.name}_unprovided_input_{idx}"), F.NULL, (0,), qd.FLOAT_32,
                                 _code(af.ANY), af.CODES[af.NOT_YET_DEFINED])
                tensors.append(null)
                by_name[null.name] = null
                name = null.name
            node_inputs.append(name)
        for name in op.outputs:
            add(name)
        nodes.append(NodeRec(op.name, opdef.dlc_type or op.type, node_inputs, list(op.outputs), attrs))
    for name in graph.inputs + graph.outputs:   # a graph input read by no op, an output that is an input
        add(name)
    # Readers take the graph outputs in the order of the APP_READ tensors in the table (ids stay as
    # assigned; real files are not id-sorted either): keep them in our output order, at the end.
    rank = {name: i for i, name in enumerate(graph.outputs)}
    tensors.sort(key=lambda r: (r.type == F.APP_READ, rank.get(r.name, -1) if r.type == F.APP_READ else 0))
    return Plan(graph.name, nodes, tensors)


def _bias(graph: Graph, op, index: int, new_id, unique, tensors: list[TensorRec],
          by_name: dict[str, TensorRec]) -> tuple[list[str], str]:
    """The op's inputs with a bias at ``index`` (a zero one for a float op without), and the name
    ``bias_op_name`` records: the source bias, or "" for the zero bias, as 2.25 writes."""
    inputs = list(op.inputs)
    if len(inputs) > index and inputs[index]:
        return inputs, inputs[index]
    out = graph.tensors[op.outputs[0]]
    if np.dtype(out.dtype).kind != "f" or out.encoding is not None or not out.shape:
        return inputs, ""
    code = qd.to_qnn(out.dtype)
    zeros = np.zeros((int(out.shape[-1]),), qd.to_numpy(code))
    rec = TensorRec(new_id(), unique(f"{op.name}_bias"), F.STATIC, zeros.shape, code, _code(af.ANY), _code(af.ANY),
                    True, None, zeros)
    tensors.append(rec)
    by_name[rec.name] = rec
    inputs = inputs[:index] + [""] * (index - len(inputs)) + [rec.name] + inputs[index + 1:]
    return inputs, ""


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except (TypeError, ValueError):
        return False

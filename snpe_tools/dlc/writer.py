"""Serialise an IR :class:`~snpe_tools.ir.Graph` into a DLC v4 file.

The file is written to a temporary name in the target directory and renamed into
place, so an interrupted or failed conversion never leaves a partial DLC.  Output is
deterministic (fixed ZIP timestamps, stable ordering): the same graph and metadata
give byte-identical files.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from typing import Any

import flatbuffers
import numpy as np

from ..ir import axis_format as af
from ..ir import dtypes as qd
from ..ir.graph import Encoding, Graph, Tensor
from ..ops.registry import get_op_def
from . import format as F
from .format import Slot as S
from .metadata import Metadata


def _strings(b: flatbuffers.Builder, items: list[str]) -> int:
    offs = [b.CreateString(s) for s in items]
    return _offsets(b, offs)


def _offsets(b: flatbuffers.Builder, offs: list[int]) -> int:
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _scale_offset(b, bw, mn, mx, scale, offset, flag=None) -> int:
    b.StartObject(6)
    b.PrependInt32Slot(S.SO_BW, bw, 0)
    b.PrependFloat32Slot(S.SO_MIN, mn, 0.0)
    b.PrependFloat32Slot(S.SO_MAX, mx, 0.0)
    b.PrependFloat32Slot(S.SO_SCALE, scale, 0.0)
    b.PrependInt32Slot(S.SO_OFFSET, offset, 0)
    return b.EndObject()


def _quant(b, enc: Encoding) -> int:
    per_axis = 0
    if enc.axis is not None and enc.channels:
        chans = [_scale_offset(b, enc.bitwidth, mn, mx, sc, off) for sc, off, mn, mx in enc.channels]
        vec = _offsets(b, chans)
        b.StartObject(2)
        b.PrependInt32Slot(S.QA_AXIS, enc.axis, 0)
        b.PrependUOffsetTRelativeSlot(S.QA_CHANNELS, vec, 0)
        per_axis = b.EndObject()
    per_tensor = _scale_offset(b, enc.bitwidth, enc.min, enc.max, enc.scale, enc.offset)
    b.StartObject(4)
    b.PrependInt32Slot(S.Q_ENC, 1 if per_axis else 0, 0)
    b.PrependUOffsetTRelativeSlot(S.Q_TENSOR, per_tensor, 0)
    if per_axis:
        b.PrependUOffsetTRelativeSlot(S.Q_AXIS, per_axis, 0)
    return b.EndObject()


def _tensor(b, tid: int, name: str, ttype: int, shape, dtype_code: int, fmt: str,
            enc: Encoding | None) -> int:
    name_off = b.CreateString(name)
    shape_off = b.CreateNumpyVector(np.asarray(shape, dtype=np.int32).reshape(-1))
    quant_off = _quant(b, enc) if enc is not None else 0
    b.StartObject(9)
    b.PrependUint32Slot(S.T_ID, tid, 0)
    b.PrependUOffsetTRelativeSlot(S.T_NAME, name_off, 0)
    b.PrependInt32Slot(S.T_TYPE, ttype, 0)
    b.PrependUOffsetTRelativeSlot(S.T_SHAPE, shape_off, 0)
    b.PrependInt32Slot(S.T_AXIS, af.CODES.get(fmt, af.CODES[af.ANY]), 0)
    if quant_off:
        b.PrependUOffsetTRelativeSlot(S.T_QUANT, quant_off, 0)
    b.PrependInt32Slot(S.T_DTYPE, dtype_code, 0)
    b.PrependInt32Slot(S.T_OUT_DTYPE, dtype_code, 0)
    return b.EndObject()


def _value(b, dtype_code: int, v: Any) -> int:
    s_off = b.CreateString(v) if dtype_code == qd.STRING else 0
    b.StartObject(4)
    b.PrependInt32Slot(S.VAL_KIND, dtype_code, 0)
    if dtype_code == qd.FLOAT_32:
        b.PrependFloat32Slot(S.VAL_FLOAT, float(v), 0.0)
    elif dtype_code == qd.STRING:
        b.PrependUOffsetTRelativeSlot(S.VAL_STRING, s_off, 0)
    else:
        b.PrependInt32Slot(S.VAL_INT, int(np.int64(v).astype(np.int32)) if dtype_code != qd.UINT_32
                           else int(np.uint32(v).view(np.int32)), 0)
    return b.EndObject()


def _attribute(b, name: str, dtype_code: int, value: Any, is_tensor: bool) -> int:
    name_off = b.CreateString(name)
    if is_tensor:
        arr = np.asarray(value)
        child = _tensor(b, 0, name, F.STATIC, arr.shape, dtype_code, af.ANY, None)
    else:
        child = _value(b, dtype_code, value)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(S.ATTR_NAME, name_off, 0)
    b.PrependInt32Slot(S.ATTR_KIND, 1 if is_tensor else 0, 0)
    b.PrependUOffsetTRelativeSlot(S.ATTR_TENSOR if is_tensor else S.ATTR_VALUE, child, 0)
    return b.EndObject()


def _node(b, name: str, type_: str, inputs: list[str], outputs: list[str], attrs: list[int]) -> int:
    n = b.CreateString(name)
    t = b.CreateString(type_)
    i = _strings(b, inputs)
    o = _strings(b, outputs)
    a = _offsets(b, attrs)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(S.NODE_NAME, n, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_TYPE, t, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_INPUTS, i, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_OUTPUTS, o, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_ATTRS, a, 0)
    return b.EndObject()


def _tensor_type(graph: Graph, t: Tensor) -> int:
    if t.is_static:
        return F.STATIC
    if t.name in graph.inputs:
        return F.APP_WRITE
    if t.name in graph.outputs:
        return F.APP_READ
    return F.NATIVE


def ordered_tensors(graph: Graph) -> list[Tensor]:
    """Tensor table order: inputs, static data (by name), then op outputs in op order."""
    seen: set[str] = set()
    out: list[Tensor] = []

    def add(name: str) -> None:
        if name and name not in seen:
            seen.add(name)
            out.append(graph.tensors[name])

    for n in graph.inputs:
        add(n)
    for n in sorted(n for op in graph.ops for n in op.inputs if n and graph.tensors[n].is_static):
        add(n)
    for op in graph.ops:
        for n in op.outputs:
            add(n)
    return out


def _io_attrs(b, graph: Graph, name: str, is_input: bool) -> list[int]:
    t = graph.tensors[name]
    attrs = [_attribute(b, "axis_format", qd.STRING, t.axis_format, False)]
    if is_input:
        info = graph.input_info[name]
        attrs += [_attribute(b, "input_type", qd.STRING, info.input_type, False),
                  _attribute(b, "input_encoding_in", qd.STRING, info.encoding_in, False),
                  _attribute(b, "input_encoding_out", qd.STRING, info.encoding_out, False)]
    return attrs


def serialize_model(graph: Graph, minor: int = F.MINOR) -> bytes:
    b = flatbuffers.Builder(1 << 16)
    nodes = []
    for name in graph.inputs:
        nodes.append(_node(b, name, F.INPUT_NODE, [name], [], _io_attrs(b, graph, name, True)))
    for op in graph.ops:
        opdef = get_op_def(op.type)
        attrs = []
        for pname, p in opdef.params.items():
            if p.internal or pname not in op.params:
                continue
            attrs.append(_attribute(b, pname, p.dtype, op.params[pname], p.tensor))
        nodes.append(_node(b, op.name, op.type, op.inputs, op.outputs, attrs))
    for name in graph.outputs:
        nodes.append(_node(b, name, F.OUTPUT_NODE, [name], [], _io_attrs(b, graph, name, False)))
    tensors = [_tensor(b, i, t.name, _tensor_type(graph, t), t.shape,
                       qd.tensor_code(t.dtype, t.encoding is not None), t.axis_format,
                       t.encoding)
               for i, t in enumerate(ordered_tensors(graph))]
    g_name = b.CreateString(graph.name)
    g_nodes = _offsets(b, nodes)
    g_tensors = _offsets(b, tensors)
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_NAME, g_name, 0)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_NODES, g_nodes, 0)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_TENSORS, g_tensors, 0)
    g = b.EndObject()
    graphs = _offsets(b, [g])
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(S.MODEL_GRAPHS, graphs, 0)
    b.Finish(b.EndObject(), file_identifier=F.MODEL_ID)
    return F.header(minor) + bytes(b.Output())


def _tensor_bytes(b, name: str, arr: np.ndarray | None, bin_pos: tuple[int, int] | None = None) -> int:
    """One TensorBytes: inline bytes, or (large form) the offset/size of its bytes in model.params.bin."""
    n = b.CreateString(name)
    data = b.CreateNumpyVector(np.ascontiguousarray(arr).reshape(-1).view(np.uint8)) if bin_pos is None else 0
    b.StartObject(4)
    b.PrependUOffsetTRelativeSlot(S.TB_NAME, n, 0)
    if bin_pos is None:
        b.PrependUOffsetTRelativeSlot(S.TB_BYTES, data, 0)
    else:
        b.PrependUint64Slot(S.TB_BIN_OFFSET, bin_pos[0], 0)
        b.PrependUint64Slot(S.TB_BIN_SIZE, bin_pos[1], 0)
    return b.EndObject()


def _static_bytes(t: Tensor) -> np.ndarray:
    """Row-major little-endian bytes of a static tensor (a view when the data already is contiguous)."""
    arr = np.asarray(t.data)
    want = qd.to_numpy(qd.to_qnn(t.dtype))
    if arr.dtype != want:
        arr = arr.astype(want)
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def plan_params_bin(graph: Graph) -> dict[str, tuple[int, int]]:
    """Large form only: name -> (offset, size) in model.params.bin for every tensor >= BIN_TENSOR_BYTES."""
    statics = [t for t in ordered_tensors(graph) if t.is_static]
    if sum(t.data.nbytes for t in statics) <= F.LARGE_MODEL_BYTES:
        return {}
    plan, pos = {}, 0
    for t in statics:
        if t.data.nbytes >= F.BIN_TENSOR_BYTES:
            plan[t.name] = (pos, int(t.data.nbytes))
            pos += -(-int(t.data.nbytes) // F.BIN_ALIGN) * F.BIN_ALIGN
    return plan


def params_bin_chunks(graph: Graph, plan: dict[str, tuple[int, int]]) -> list:
    chunks, pos = [], 0
    for t in ordered_tensors(graph):
        if t.name in plan:
            off, size = plan[t.name]
            if off > pos:
                chunks.append(bytes(off - pos))
            chunks.append(memoryview(_static_bytes(t)))
            pos = off + size
    return chunks


def _node_params(b, entries: list[int]) -> int:
    vec = _offsets(b, entries)
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(S.NP_TENSORS, vec, 0)
    return b.EndObject()


def serialize_params(graph: Graph) -> list:
    """``model.params`` as chunks (header, flatbuffer view): the weights are not copied again for writing.

    In the large form (see :func:`plan_params_bin`) big tensors are only referenced by offset and size
    and the NETP flatbuffer is wrapped in an NR64 root.
    """
    plan = plan_params_bin(graph)
    statics = [t for t in ordered_tensors(graph) if t.is_static]
    size = sum(t.data.nbytes for t in statics if t.name not in plan)
    b = flatbuffers.Builder(size + (1 << 16))
    tensor_offs = [_tensor_bytes(b, t.name, None if t.name in plan else _static_bytes(t), plan.get(t.name))
                   for t in statics]
    node_offs = [_node_params(b, []) for _ in graph.inputs]
    for op in graph.ops:
        opdef = get_op_def(op.type)
        entries = [_tensor_bytes(b, pname, np.asarray(op.params[pname], dtype=qd.to_numpy(p.dtype)))
                   for pname, p in opdef.params.items()
                   if p.tensor and not p.internal and pname in op.params]
        node_offs.append(_node_params(b, entries))
    node_offs += [_node_params(b, []) for _ in graph.outputs]
    name = b.CreateString(graph.name)
    tvec = _offsets(b, tensor_offs)
    nvec = _offsets(b, node_offs)
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(S.GP_NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(S.GP_TENSORS, tvec, 0)
    b.PrependUOffsetTRelativeSlot(S.GP_NODES, nvec, 0)
    gp = b.EndObject()
    graphs = _offsets(b, [gp])
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(S.MP_GRAPHS, graphs, 0)
    b.Finish(b.EndObject(), file_identifier=F.PARAMS_ID)
    netp = memoryview(b.Bytes)[b.Head():]
    if not plan:
        return [F.header(), netp]
    w64 = flatbuffers.Builder(len(netp) + 1024)
    nested = w64.CreateNumpyVector(np.frombuffer(netp, dtype=np.uint8))
    bufs = _offsets(w64, [])
    w64.StartObject(2)
    w64.PrependUOffsetTRelativeSlot(S.P64_BUFFERS, bufs, 0)
    w64.PrependUOffsetTRelativeSlot(S.P64_PARAMS, nested, 0)
    w64.Finish(w64.EndObject(), file_identifier=F.PARAMS64_ID)
    return [F.header(F.MINOR_LARGE), memoryview(w64.Bytes)[w64.Head():]]


def _zip_member(zf: zipfile.ZipFile, name: str, data) -> None:
    """Write one stored member from bytes or a list of byte chunks (streamed, no joined copy)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    chunks = data if isinstance(data, list) else [data]
    size = sum(len(c) for c in chunks)
    with zf.open(info, "w", force_zip64=size > 0x7FFF0000) as fh:
        for c in chunks:
            fh.write(c)


def write_dlc(graph: Graph, path: str, metadata: Metadata) -> None:
    """Write ``graph`` to ``path`` atomically (temp file in the same directory, then rename)."""
    plan = plan_params_bin(graph)
    minor = F.MINOR_LARGE if plan else F.MINOR
    model = serialize_model(graph, minor)
    params = serialize_params(graph)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".snpe-tools-", suffix=".dlc.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            _zip_member(zf, F.MEMBER_METADATA, metadata.to_text().encode("utf-8"))
            _zip_member(zf, F.MEMBER_MODEL, model)
            _zip_member(zf, F.MEMBER_PARAMS, params)
            if plan:
                _zip_member(zf, F.MEMBER_PARAMS_BIN, params_bin_chunks(graph, plan))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

"""Read a DLC v4 file back into an IR :class:`~snpe_tools.ir.Graph`.

Every way a file can be wrong (missing, not a ZIP, truncated, CRC mismatch, wrong
header, wrong flatbuffer identifier, dangling references, unknown op type) becomes a
:class:`~snpe_tools.errors.DLCError` with a one-line message.
"""
from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from ..errors import DLCError
from ..ir import axis_format as af
from ..ir import dtypes as qd
from ..ir.graph import Encoding, Graph, InputInfo, Op, Tensor
from ..ops.registry import get_op_def
from . import format as F
from .format import Slot as S
from .metadata import Metadata


class _CorruptString(ValueError):
    pass


def _checked(text: str) -> str:
    """Names in a sound DLC never hold control characters; a damaged length prefix produces them."""
    if any(ord(c) < 0x20 and c not in "\t\n\r" for c in text) or len(text) > 1 << 20:
        raise _CorruptString("a string field holds binary data")
    return text


class _T:
    """Thin accessor over a flatbuffers table (slot index -> field)."""

    def __init__(self, buf: bytes | memoryview, pos: int) -> None:
        self.t = Table(buf, pos)

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def int(self, slot: int, flags=N.Int32Flags, default: int = 0) -> int:
        o = self._off(slot)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def float(self, slot: int) -> float:
        o = self._off(slot)
        return self.t.Get(N.Float32Flags, o + self.t.Pos) if o else 0.0

    def str(self, slot: int) -> str:
        o = self._off(slot)
        return _checked(self.t.String(o + self.t.Pos).decode("utf-8")) if o else ""

    def table(self, slot: int) -> "_T | None":
        o = self._off(slot)
        return _T(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def tables(self, slot: int) -> list["_T"]:
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_T(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(n)]

    def strings(self, slot: int) -> list[str]:
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_checked(self.t.String(start + 4 * i).decode("utf-8")) for i in range(n)]

    def array(self, slot: int, flags) -> np.ndarray:
        o = self._off(slot)
        if not o:
            return np.zeros(0, dtype=flags.N_TYPE)
        return self.t.GetVectorAsNumpy(flags, o)


def _root(data: bytes, member: str, ident: bytes | tuple[bytes, ...], path: str) -> _T:
    if len(data) < 16 or data[:2] != F.MAGIC:
        raise DLCError(f"{path}: member '{member}' has no DLC header; the file is corrupt or not a DLC")
    major = int.from_bytes(data[2:4], "little")
    if major != F.MAJOR:
        raise DLCError(f"{path}: DLC version {major} is not supported (only v{F.MAJOR}); "
                       "re-convert the model with snpe-tools")
    body = memoryview(data)[8:]
    idents = ident if isinstance(ident, tuple) else (ident,)
    if bytes(body[4:8]) not in idents:
        raise DLCError(f"{path}: member '{member}' is not a {'/'.join(i.decode() for i in idents)} flatbuffer; "
                       "the file is corrupt")
    (root,) = struct.unpack_from("<I", body, 0)
    if root >= len(body):
        raise DLCError(f"{path}: member '{member}' is truncated")
    return _T(body, root)


@dataclass
class DLC:
    """A loaded DLC: the graph, its metadata and the raw sizes (for snpe-dlc-info)."""

    graph: Graph
    metadata: Metadata
    path: str
    model_version: tuple[int, int] = (F.MAJOR, F.MINOR)


def _encoding(q: _T | None, dtype_code: int) -> Encoding | None:
    if q is None:
        return None
    pt = q.table(S.Q_TENSOR)
    bw, mn, mx, sc, off = ((pt.int(S.SO_BW), pt.float(S.SO_MIN), pt.float(S.SO_MAX), pt.float(S.SO_SCALE),
                            pt.int(S.SO_OFFSET)) if pt else (0, 0.0, 0.0, 0.0, 0))
    enc = Encoding(bw, sc, off, mn, mx)
    pa = q.table(S.Q_AXIS)
    if pa is not None:
        enc.axis = pa.int(S.QA_AXIS)
        enc.channels = [(c.float(S.SO_SCALE), c.int(S.SO_OFFSET), c.float(S.SO_MIN), c.float(S.SO_MAX))
                        for c in pa.tables(S.QA_CHANNELS)]
    return enc


def _scalar(v: _T) -> object:
    kind = v.int(S.VAL_KIND)
    if kind == qd.FLOAT_32:
        return v.float(S.VAL_FLOAT)
    if kind in (qd.STRING, qd.UNDEFINED):
        return v.str(S.VAL_STRING)
    if kind == qd.BOOL_8:
        return v.int(S.VAL_INT) != 0
    if kind == qd.UINT_32:
        return v.int(S.VAL_INT, N.Uint32Flags)
    return v.int(S.VAL_INT)


def _unwrap_nr64(p_root: _T, params: bytes, path: str) -> _T:
    """NR64 (large form): the NETP flatbuffer is nested in ``ModelParameters64.params``."""
    nested = p_root.array(S.P64_PARAMS, N.Uint8Flags)
    if nested.size < 8:
        raise DLCError(f"{path}: model.params (NR64) holds no parameter table; the file is corrupt")
    body = memoryview(nested.tobytes())
    (root,) = struct.unpack_from("<I", body, 0)
    if bytes(body[4:8]) != F.PARAMS_ID or root >= len(body):
        raise DLCError(f"{path}: model.params (NR64) nests no NETP table; the file is corrupt")
    return _T(body, root)


def _parse(path: str, model: bytes, params: bytes, bin_offset: int | None = None) -> Graph:
    root = _root(model, F.MEMBER_MODEL, F.MODEL_ID, path)
    graphs = root.tables(S.MODEL_GRAPHS)
    if not graphs:
        raise DLCError(f"{path}: the DLC holds no graph")
    g = graphs[0]
    graph = Graph(g.str(S.GRAPH_NAME) or "model")

    p_root = _root(params, F.MEMBER_PARAMS, (F.PARAMS_ID, F.PARAMS64_ID), path)
    if bytes(params[12:16]) == F.PARAMS64_ID:
        p_root = _unwrap_nr64(p_root, params, path)
    gparams = {gp.str(S.GP_NAME): gp for gp in p_root.tables(S.MP_GRAPHS)}
    if graph.name not in gparams:
        raise DLCError(f"{path}: model.params has no entry for graph '{graph.name}'; the file is corrupt")
    gp = gparams[graph.name]
    static_bytes = {tb.str(S.TB_NAME): tb for tb in gp.tables(S.GP_TENSORS)}

    for t in g.tables(S.GRAPH_TENSORS):
        name = t.str(S.T_NAME)
        code = t.int(S.T_DTYPE)
        dtype = qd.to_numpy(code)
        shape = tuple(int(d) for d in t.array(S.T_SHAPE, N.Int32Flags))
        fmt = af.FROM_CODE.get(t.int(S.T_AXIS), af.ANY)
        data = None
        if t.int(S.T_TYPE) == F.STATIC:
            if name not in static_bytes:
                raise DLCError(f"{path}: weights of tensor '{name}' are missing from model.params")
            tb = static_bytes[name]
            count = int(np.prod(shape)) if shape else 1
            bin_size = tb.int(S.TB_BIN_SIZE, N.Uint64Flags)
            if bin_size:
                if bin_offset is None:
                    raise DLCError(f"{path}: tensor '{name}' lives in model.params.bin, which is missing")
                if bin_size != count * dtype.itemsize:
                    raise DLCError(f"{path}: tensor '{name}' has {bin_size} bytes in model.params.bin, expected "
                                   f"{count * dtype.itemsize}; the file is corrupt")
                off = bin_offset + tb.int(S.TB_BIN_OFFSET, N.Uint64Flags)
                if off + bin_size > os.path.getsize(path):
                    raise DLCError(f"{path}: tensor '{name}' runs past the end of the file; the file is truncated")
                data = np.memmap(path, dtype=dtype, mode="r", offset=off, shape=shape)   # no copy of big weights
            else:
                raw = tb.array(S.TB_BYTES, N.Uint8Flags)
                if raw.size != count * dtype.itemsize:
                    raise DLCError(f"{path}: tensor '{name}' has {raw.size} bytes of data, expected "
                                   f"{count * dtype.itemsize}; the file is corrupt")
                data = raw.view(dtype).reshape(shape).copy()
        graph.tensors[name] = Tensor(name, shape, dtype, fmt, data, _encoding(t.table(S.T_QUANT), code))

    node_params = gp.tables(S.GP_NODES)
    nodes = g.tables(S.GRAPH_NODES)
    if len(node_params) != len(nodes):
        raise DLCError(f"{path}: model.params lists {len(node_params)} nodes but the model has "
                       f"{len(nodes)}; the file is corrupt")
    for idx, n in enumerate(nodes):
        ntype, name = n.str(S.NODE_TYPE), n.str(S.NODE_NAME)
        inputs, outputs = n.strings(S.NODE_INPUTS), n.strings(S.NODE_OUTPUTS)
        for tname in inputs + outputs:
            if tname and tname not in graph.tensors:
                raise DLCError(f"{path}: node '{name}' refers to unknown tensor '{tname}'; the file is corrupt")
        attrs = {a.str(S.ATTR_NAME): a for a in n.tables(S.NODE_ATTRS)}
        if ntype in (F.INPUT_NODE, F.OUTPUT_NODE):
            vals = {k: _scalar(a.table(S.ATTR_VALUE)) for k, a in attrs.items() if a.table(S.ATTR_VALUE)}
            tname = inputs[0]
            if ntype == F.INPUT_NODE:
                graph.inputs.append(tname)
                graph.input_info[tname] = InputInfo(str(vals.get("input_type", "default")),
                                                    str(vals.get("input_encoding_in", "bgr")),
                                                    str(vals.get("input_encoding_out", "bgr")))
            else:
                graph.outputs.append(tname)
            continue
        try:
            opdef = get_op_def(ntype)
        except KeyError:
            raise DLCError(f"{path}: node '{name}' has op type '{ntype}', which this version of snpe-tools "
                           "does not know; upgrade snpe-tools") from None
        pbytes = {tb.str(S.TB_NAME): tb for tb in node_params[idx].tables(S.NP_TENSORS)}
        params = {}
        for pname, a in attrs.items():
            spec = opdef.params.get(pname)
            if spec is None:
                raise DLCError(f"{path}: node '{name}' ({ntype}) has unknown parameter '{pname}'")
            if a.int(S.ATTR_KIND) == 1:
                tt = a.table(S.ATTR_TENSOR)
                if pname not in pbytes:
                    raise DLCError(f"{path}: parameter '{pname}' of node '{name}' is missing from model.params")
                shape = tuple(int(d) for d in tt.array(S.T_SHAPE, N.Int32Flags))
                dt = qd.to_numpy(tt.int(S.T_DTYPE))
                raw = pbytes[pname].array(S.TB_BYTES, N.Uint8Flags)
                if raw.size != (int(np.prod(shape)) if shape else 1) * dt.itemsize:
                    raise DLCError(f"{path}: parameter '{pname}' of node '{name}' has the wrong size")
                params[pname] = raw.view(dt).reshape(shape).copy()
            else:
                params[pname] = _scalar(a.table(S.ATTR_VALUE))
        op = Op(name, ntype, inputs, outputs, {})
        opdef.restore_params(op, [graph.tensors[i] if i else None for i in inputs],
                             [graph.tensors[o] for o in outputs])
        params.update({k: v for k, v in op.params.items()})
        op.params = opdef.complete_params(params)
        graph.ops.append(op)
        graph._names.update(outputs)
    graph._names.update(graph.tensors)
    return graph


def _member_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """File offset of a stored member's bytes (model.params.bin is memory-mapped, never read whole)."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise DLCError(f"{path}: model.params.bin is compressed; it must be stored")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        head = fh.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise DLCError(f"{path}: damaged ZIP entry for model.params.bin")
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    return info.header_offset + 30 + name_len + extra_len


def read_dlc(path: str) -> DLC:
    """Load ``path``; raise :class:`DLCError` with a one-line reason if it is not a valid DLC."""
    if not os.path.exists(path):
        raise DLCError(f"DLC file not found: {path}")
    if os.path.isdir(path):
        raise DLCError(f"{path} is a directory, not a DLC file")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for member in (F.MEMBER_MODEL, F.MEMBER_PARAMS):
                if member not in names:
                    raise DLCError(f"{path}: not a DLC v4 file (ZIP member '{member}' is missing)")
            model = zf.read(F.MEMBER_MODEL)
            params = zf.read(F.MEMBER_PARAMS)
            meta = zf.read(F.MEMBER_METADATA).decode("utf-8", "replace") if F.MEMBER_METADATA in names else ""
            bin_offset = _member_data_offset(path, zf.getinfo(F.MEMBER_PARAMS_BIN)) \
                if F.MEMBER_PARAMS_BIN in names else None
    except DLCError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise DLCError(f"{path}: not a valid DLC file (damaged or not a ZIP container: {exc})") from None
    try:
        graph = _parse(path, model, params, bin_offset)
    except DLCError:
        raise
    except Exception as exc:  # any decoding failure of a damaged flatbuffer
        raise DLCError(f"{path}: the DLC is corrupt ({type(exc).__name__}: {exc})") from None
    return DLC(graph, Metadata.from_text(meta), path)

"""Read a DLC v4 file (Qualcomm's 4.0 and 4.1, and snpe-tools' own earlier files) into an IR graph.

What is read (docs/dlc-format.rst):

* 4.0 as SNPE 2.x writes it: ``model.params`` in the ``NR64`` form (a Buffer per tensor, reached
  through a 64-bit offset) or the ``NETP`` form with inline bytes;
* 4.1 (QAIRT >= 2.42): ``TensorData`` positions into ``model.params.bin`` and JSON metadata
  (``dlc.metadata2.1.0``).  The published 4.1 file has CRC 0 on every ZIP entry; such entries are
  read without a CRC check, while a wrong non-zero CRC is still an error;
* Qualcomm's op type strings (``Pool`` + ``pool_type``, ``Eltwise_Binary`` + ``operation`` ...) are
  mapped onto our registry by inverting each op's DLC form (``OpDef.dlc_type``/``dlc_selector``);
  IR-internal attributes (flag 2) our ops do not use are ignored, unknown QNN parameters are errors;
* graph inputs/outputs are the APP_WRITE/APP_READ tensors; NULL tensors are omitted inputs.

Every way a file can be wrong becomes a :class:`~snpe_tools.errors.DLCError` with a one-line message.
Weights are not copied: arrays are views of a read-only memory map of the file.
"""
from __future__ import annotations

import json
import mmap
import os
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from ..errors import DLCError
from ..ir import axis_format as af
from ..ir import dtypes as qd
from ..ir import packing
from ..ir.graph import Encoding, Graph, InputInfo, Op, Tensor
from ..ops.registry import OpDef, all_op_types, get_op_def
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

    def __init__(self, buf, pos: int) -> None:
        self.t = Table(buf, pos)

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)      # 0 when the slot is absent or beyond the vtable

    def has(self, slot: int) -> bool:
        return bool(self._off(slot))

    def int(self, slot: int, flags=N.Int32Flags, default: int = 0) -> int:
        o = self._off(slot)
        return int(self.t.Get(flags, o + self.t.Pos)) if o else default

    def float(self, slot: int, flags=N.Float32Flags) -> float:
        o = self._off(slot)
        return float(self.t.Get(flags, o + self.t.Pos)) if o else 0.0

    def str(self, slot: int) -> str:
        o = self._off(slot)
        return _checked(bytes(self.t.String(o + self.t.Pos)).decode("utf-8")) if o else ""

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
        return [_checked(bytes(self.t.String(start + 4 * i)).decode("utf-8")) for i in range(n)]

    def array(self, slot: int, dtype) -> np.ndarray:
        """A vector of scalars as a numpy view (no copy)."""
        o = self._off(slot)
        if not o:
            return np.zeros(0, dtype=dtype)
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return np.frombuffer(self.t.Bytes, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=start)

    def vector64(self, slot: int) -> np.ndarray:
        """A ubyte vector reached through a 64-bit offset with a 64-bit length (NR64 buffers)."""
        o = self._off(slot)
        if not o:
            return np.zeros(0, np.uint8)
        field_pos = self.t.Pos + o
        (rel,) = struct.unpack_from("<Q", self.t.Bytes, field_pos)
        vec = field_pos + rel
        (n,) = struct.unpack_from("<Q", self.t.Bytes, vec)
        if vec + 8 + n > len(self.t.Bytes):
            raise DLCError("a weight buffer runs past the end of model.params")
        return np.frombuffer(self.t.Bytes, np.uint8, count=n, offset=vec + 8)


# ---- the container ----------------------------------------------------------------------------
@dataclass
class DLC:
    """A loaded DLC: the graph, its metadata and the container version (for snpe-dlc-info)."""

    graph: Graph
    metadata: Metadata
    path: str
    model_version: tuple[int, int] = (F.MAJOR, F.MINOR)
    extra: dict[str, Any] = field(default_factory=dict)


class Container:
    """The ZIP members of a DLC as memory views of one read-only map of the file.

    Before anything is read, every member's declared sizes are checked against the file (a stored
    member must fit inside it) and against caps for compressed members, so a small hostile file cannot
    make the reader inflate gigabytes: DLC writers (SNPE, QAIRT, snpe-tools) store members uncompressed,
    and a compressed member is accepted up to :attr:`COMPRESSED_LIMIT` bytes (:attr:`METADATA_LIMIT` for
    the metadata), :attr:`COMPRESSED_TOTAL` for all of them together.  The path must be a regular file
    (checked with ``os.stat`` before opening: a FIFO would block, ``/dev/zero`` never ends)."""

    METADATA_LIMIT = 64 << 20
    COMPRESSED_LIMIT = 256 << 20
    COMPRESSED_TOTAL = 256 << 20
    MAX_MEMBERS = 10_000
    METADATA_MEMBERS = (F.MEMBER_METADATA, F.MEMBER_METADATA_41)

    def __init__(self, path: str) -> None:
        import stat

        from ..errors import file_kind

        self.path = path
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DLCError(f"{path} is {file_kind(st.st_mode)}, not a regular file; give the path of a DLC file")
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            try:
                zf = zipfile.ZipFile(fh)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
                raise
            except Exception as exc:         # struct.error, ... from a damaged central directory
                raise DLCError(f"{path}: not a valid DLC file (damaged or not a ZIP container: "
                               f"{type(exc).__name__}: {exc})") from None
            with zf:
                self.infos = {i.filename: i for i in zf.infolist()}
                self.check_sizes(path, list(self.infos.values()), size)
                crc_checked = {}
                for name, info in self.infos.items():
                    if info.compress_type != zipfile.ZIP_STORED:
                        crc_checked[name] = self._inflate(zf, info)   # read (and CRC-check) normally
            self.map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.view = memoryview(self.map)
        self.data: dict[str, memoryview | bytes] = dict(crc_checked)
        for name, info in self.infos.items():
            if name not in self.data:
                self.data[name] = self._stored(info)

    @classmethod
    def check_sizes(cls, path: str, infos: list[zipfile.ZipInfo], file_size: int) -> None:
        """Refuse members whose declared sizes cannot be those of a DLC (one-line :class:`DLCError`)."""
        if len(infos) > cls.MAX_MEMBERS:
            raise DLCError(f"{path}: the ZIP container has {len(infos)} members; a DLC has a handful: "
                           "the file is corrupt or not a DLC")
        total = 0
        for info in infos:
            name = info.filename
            if info.header_offset < 0 or info.header_offset + 30 > file_size or info.compress_size > file_size:
                raise DLCError(f"{path}: ZIP member '{name}' runs past the end of the file; the file is "
                               "truncated or corrupt")
            if name in cls.METADATA_MEMBERS and info.file_size > cls.METADATA_LIMIT:
                raise DLCError(f"{path}: ZIP member '{name}' declares {info.file_size} bytes of metadata, more than "
                               f"the {cls.METADATA_LIMIT >> 20} MiB accepted; the file is corrupt or hostile")
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise DLCError(f"{path}: ZIP member '{name}' is stored with two different sizes "
                                   f"({info.file_size} and {info.compress_size}); the file is corrupt")
                continue
            limit = cls.METADATA_LIMIT if name in cls.METADATA_MEMBERS else cls.COMPRESSED_LIMIT
            total += info.file_size
            if info.file_size > limit or total > cls.COMPRESSED_TOTAL:
                raise DLCError(f"{path}: compressed ZIP member '{name}' inflates to {info.file_size} bytes, more "
                               f"than the {min(limit, cls.COMPRESSED_TOTAL) >> 20} MiB accepted for compressed "
                               "members (DLC writers store members uncompressed); the file is corrupt or hostile")

    def _inflate(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        """A compressed member, read at most up to its (checked) declared size and CRC-checked."""
        try:
            buf = bytearray()
            with zf.open(info) as fh:
                while len(buf) <= info.file_size:
                    chunk = fh.read(1 << 20)
                    if not chunk:
                        break
                    buf += chunk
            data = bytes(buf)
            del buf
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise DLCError(f"{self.path}: ZIP member '{info.filename}' is damaged ({exc}); the file is corrupt") \
                from None
        except Exception as exc:       # zlib.error, unsupported method or encryption (NotImplementedError ...)
            raise DLCError(f"{self.path}: ZIP member '{info.filename}' cannot be read ({type(exc).__name__}: "
                           f"{exc}); the file is corrupt or not a DLC") from None
        if len(data) != info.file_size:
            raise DLCError(f"{self.path}: ZIP member '{info.filename}' does not have its declared size; "
                           "the file is corrupt")
        return data

    def _stored(self, info: zipfile.ZipInfo) -> memoryview:
        start = info.header_offset
        head = bytes(self.view[start:start + 30])
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise DLCError(f"{self.path}: damaged ZIP entry for '{info.filename}'")
        name_len, extra_len = struct.unpack_from("<HH", head, 26)
        begin = start + 30 + name_len + extra_len
        end = begin + info.compress_size
        if end > len(self.view):
            raise DLCError(f"{self.path}: ZIP member '{info.filename}' runs past the end of the file; "
                           "the file is truncated")
        data = self.view[begin:end]
        if info.CRC != 0 or info.file_size == 0:       # CRC 0: written so by QAIRT 2.42; nothing to check
            if zipfile.crc32(data) != info.CRC:
                raise DLCError(f"{self.path}: ZIP member '{info.filename}' fails its CRC check; the file is corrupt")
        return data

    def get(self, name: str):
        return self.data.get(name)


def _header(data, member: str, path: str) -> tuple[int, int]:
    if data is None or len(data) < 16 or bytes(data[:2]) != F.MAGIC:
        raise DLCError(f"{path}: member '{member}' has no DLC header; the file is corrupt or not a DLC")
    major, minor = struct.unpack_from("<HH", data, 2)
    if major == F.MAJOR_V3:
        raise DLCError(f"{path} is an SNPE 1.x DLC (version 3): snpe-dlc-info can show it; re-convert the "
                       "source model with snpe-tools to run or quantize it")
    if major != F.MAJOR:
        raise DLCError(f"{path}: DLC version {major} is not supported (only v{F.MAJOR}); "
                       "re-convert the model with snpe-tools")
    if minor not in (F.MINOR, F.MINOR_41):
        raise DLCError(f"{path}: DLC version {major}.{minor} is not supported (4.0 and 4.1 are)")
    return major, minor


def _root(data, member: str, idents: tuple[bytes, ...], path: str) -> tuple[_T, bytes]:
    body = data[8:]
    ident = bytes(body[4:8])
    if ident not in idents:
        raise DLCError(f"{path}: member '{member}' is not a {'/'.join(i.decode() for i in idents)} flatbuffer; "
                       "the file is corrupt")
    (root,) = struct.unpack_from("<I", body, 0)
    if root >= len(body):
        raise DLCError(f"{path}: member '{member}' is truncated")
    return _T(body, root), ident


# ---- op forms -----------------------------------------------------------------------------------
def _forms() -> dict[str, list[OpDef]]:
    """File type string -> candidate op definitions (those with selectors first)."""
    out: dict[str, list[OpDef]] = {}
    for t in all_op_types():
        d = get_op_def(t)
        out.setdefault(d.dlc_type or d.type, []).append(d)
        if d.dlc_type and d.dlc_type != d.type:
            out.setdefault(d.type, []).append(d)         # our own older files used the QNN names
    for cands in out.values():
        cands.sort(key=lambda d: -len(d.dlc_selector))
    return out


def _pick(ntype: str, values: dict[str, Any], forms: dict[str, list[OpDef]]) -> OpDef | None:
    """The op a node stands for: a DLC form whose selector attributes match (``Pool`` + pool_type ...),
    else the op whose QNN name the node carries (QNN names, as 2.25 also accepts and older files hold)."""
    cands = forms.get(ntype, [])
    for d in cands:
        if d.dlc_type == ntype and all(values.get(s.name) == s.value for s in d.dlc_selector):
            return d
    return next((d for d in cands if d.type == ntype), None)


# ---- decoding -------------------------------------------------------------------------------------
def _encoding(q: _T | None) -> Encoding | None:
    if q is None:
        return None
    qtype = q.int(S.Q_TYPE, N.Uint32Flags)
    if qtype == F.ENC_UNDEFINED:
        return None

    def fxp(t: _T) -> tuple[int, float, float, float, int]:
        return (t.int(S.FXP_BW), t.float(S.FXP_MIN), t.float(S.FXP_MAX), t.float(S.FXP_SCALE),
                t.int(S.FXP_OFFSET))

    axis = q.table(S.Q_AXIS)
    if axis is not None and qtype == F.ENC_AXIS_SCALE_OFFSET or (axis is not None and not q.has(S.Q_FXP)):
        chans = [fxp(c) for c in axis.tables(S.QA_CHANNELS)]
        if not chans:
            return None
        bw = chans[0][0]
        enc = Encoding(bw, chans[0][3], chans[0][4], min(c[1] for c in chans), max(c[2] for c in chans))
        enc.axis = axis.int(S.QA_AXIS)
        enc.channels = [(c[3], c[4], c[1], c[2]) for c in chans]
        return enc
    pt = q.table(S.Q_FXP)
    if pt is None:
        return None
    bw, mn, mx, sc, off = fxp(pt)
    return Encoding(bw, sc, off, mn, mx)


def _scalar(v: _T | None, legacy: bool) -> Any:
    """A ScalarData value: 64-bit slots in real files, 32-bit ones in snpe-tools' pre-2.x files."""
    if v is None:
        return 0
    kind = v.int(S.SC_KIND, N.Uint32Flags)
    if v.has(S.SC_STRING) or kind in (qd.STRING, qd.UNDEFINED):
        return v.str(S.SC_STRING)
    if kind in (qd.FLOAT_32, qd.FLOAT_16):
        return v.float(S.SC_DOUBLE, N.Float32Flags if legacy else N.Float64Flags)
    if kind == qd.BOOL_8:
        return v.int(S.SC_INT, N.Int32Flags if legacy else N.Int64Flags) != 0
    if legacy and kind == qd.UINT_32:
        return v.int(S.SC_INT, N.Uint32Flags)
    return v.int(S.SC_INT, N.Int32Flags if legacy else N.Int64Flags)


class _Params:
    """model.params: the bytes of every static tensor (by name) and attribute tensor (node, name)."""

    def __init__(self, path: str, data, bin_data, graph_name: str) -> None:
        self.path = path
        self.bin = bin_data
        root, ident = _root(data, F.MEMBER_PARAMS, (F.PARAMS_ID, F.PARAMS64_ID), path)
        self.buffers: list[_T] = []
        if ident == F.PARAMS64_ID:
            self.buffers = root.tables(S.R64_BUFFERS)
            nested = root.array(S.R64_NESTED, np.uint8)
            if nested.size < 8 or bytes(nested[4:8]) != F.PARAMS_ID:
                raise DLCError(f"{path}: model.params (NR64) nests no NETP table; the file is corrupt")
            (r,) = struct.unpack_from("<I", nested, 0)
            if r >= nested.size:
                raise DLCError(f"{path}: model.params (NR64) is truncated")
            root = _T(nested, r)
        graphs = {gp.str(S.GP_NAME): gp for gp in root.tables(S.MP_GRAPHS)}
        if graph_name in graphs:
            gp = graphs[graph_name]
        elif len(graphs) == 1:
            gp = next(iter(graphs.values()))
        else:
            raise DLCError(f"{path}: model.params has no entry for graph '{graph_name}'; the file is corrupt")
        self.graph = {td.str(S.TD_NAME): td for td in gp.tables(S.GP_TENSORS)}
        self.nodes = [{td.str(S.TD_NAME): td for td in np_.tables(S.NP_TENSORS)} for np_ in gp.tables(S.GP_NODES)]

    def raw(self, td: _T, what: str) -> np.ndarray:
        if td.has(S.TD_POSITION):
            pos = td.table(S.TD_POSITION)
            off, size = pos.int(S.POS_OFFSET, N.Int64Flags), pos.int(S.POS_SIZE, N.Int64Flags)
            if self.bin is None:
                raise DLCError(f"{self.path}: {what} lives in model.params.bin, which is missing")
            if off < 0 or off + size > len(self.bin):
                raise DLCError(f"{self.path}: {what} runs past the end of model.params.bin; the file is truncated")
            return np.frombuffer(self.bin, np.uint8, count=size, offset=off)
        if td.has(S.TD_BYTES):
            return td.array(S.TD_BYTES, np.uint8)
        if td.has(S.TD_INDEX) and self.buffers:
            idx = td.int(S.TD_INDEX, N.Int64Flags)
            if not 0 <= idx < len(self.buffers):
                raise DLCError(f"{self.path}: {what} refers to weight buffer {idx} of {len(self.buffers)}")
            return self.buffers[idx].vector64(S.BUF_DATA)
        raise DLCError(f"{self.path}: {what} has no data in model.params; the file is corrupt")


def _array(raw: np.ndarray, dtype: np.dtype, shape: tuple[int, ...], what: str, path: str) -> np.ndarray:
    count = int(np.prod(shape)) if shape else 1
    if raw.size != count * dtype.itemsize:
        raise DLCError(f"{path}: {what} has {raw.size} bytes of data, expected {count * dtype.itemsize}; "
                       "the file is corrupt")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<"), count=count).reshape(shape).astype(dtype, copy=False)


def _unpacked(raw: np.ndarray, code: int, shape: tuple[int, ...], enc: Encoding | None, name: str,
              path: str) -> np.ndarray:
    """Values of a packed 4-bit tensor (ir/packing.py); its encoding is marked ``packed`` so that a
    rewrite of the file packs it again."""
    if enc is None or enc.bitwidth != 4:
        raise DLCError(f"{path}: tensor '{name}' has the 4-bit type {qd.name(code)} but "
                       f"{'no encoding' if enc is None else f'a {enc.bitwidth}-bit encoding'}; the file is corrupt")
    problem = packing.layout_problem(shape, enc)
    if problem is not None:
        raise DLCError(f"{path}: tensor '{name}' is packed 4-bit, but {problem}; this version of snpe-tools "
                       "cannot read it")
    want = packing.packed_size(shape, enc)
    if raw.size != want:
        raise DLCError(f"{path}: tensor '{name}' has {raw.size} bytes of packed 4-bit data, expected {want}; "
                       "the file is corrupt")
    enc.packed = True
    return packing.unpack(raw, shape, code == qd.SFIXED_4, enc)


def _parse(path: str, model, params, bin_data) -> Graph:
    root, _ = _root(model, F.MEMBER_MODEL, (F.MODEL_ID,), path)
    graphs = root.tables(S.MODEL_GRAPHS)
    if not graphs:
        raise DLCError(f"{path}: the DLC holds no graph")
    g = graphs[0]
    graph = Graph(g.str(S.GRAPH_NAME) or "model")
    nodes = g.tables(S.GRAPH_NODES)
    legacy = any(n.str(S.NODE_TYPE) in ("Input", "Output") for n in nodes)   # snpe-tools before 2.x format
    store = _Params(path, params, bin_data, graph.name)

    null: set[str] = set()
    for t in g.tables(S.GRAPH_TENSORS):
        name = t.str(S.T_NAME)
        ttype = t.int(S.T_TYPE, N.Uint32Flags)
        if ttype == F.NULL:
            null.add(name)
            continue
        code = t.int(S.T_DTYPE, N.Uint32Flags)
        try:
            dtype = qd.to_numpy(code)
        except ValueError:
            raise DLCError(f"{path}: tensor '{name}' has unknown data type 0x{code:x}") from None
        shape = tuple(int(d) for d in t.array(S.T_DIMS, np.uint32))
        fmt = af.FROM_CODE.get(t.int(S.T_AXIS, N.Uint32Flags), af.ANY)
        data, enc = None, _encoding(t.table(S.T_QUANT))
        if ttype == F.STATIC:
            if name not in store.graph:
                raise DLCError(f"{path}: weights of tensor '{name}' are missing from model.params")
            raw = store.raw(store.graph[name], f"tensor '{name}'")
            if qd.is_packed_4(code):
                data = _unpacked(raw, code, shape, enc, name, path)
            else:
                data = _array(raw, dtype, shape, f"tensor '{name}'", path)
        graph.tensors[name] = Tensor(name, shape, dtype, fmt, data, enc)
        src = af.FROM_CODE.get(t.int(S.T_SRC_AXIS, N.Uint32Flags), af.ANY)
        if ttype != F.STATIC and (fmt, src) in ((af.NSC, af.NCS), (af.NFC, af.NCF), (af.NDHWC, af.NCDHW)):
            graph.source_channel_first = True      # converted from a channel-first source (slot 12)
        if not legacy and ttype == F.APP_WRITE:
            graph.inputs.append(name)
            graph.input_info[name] = InputInfo()
        elif not legacy and ttype == F.APP_READ:
            graph.outputs.append(name)

    if len(store.nodes) != len(nodes):
        raise DLCError(f"{path}: model.params lists {len(store.nodes)} nodes but the model has "
                       f"{len(nodes)}; the file is corrupt")
    forms = _forms()
    for idx, n in enumerate(nodes):
        ntype, name = n.str(S.NODE_TYPE), n.str(S.NODE_NAME)
        inputs = ["" if i in null else i for i in n.strings(S.NODE_INPUTS)]
        outputs = n.strings(S.NODE_OUTPUTS)
        for tname in inputs + outputs:
            if tname and tname not in graph.tensors:
                raise DLCError(f"{path}: node '{name}' refers to unknown tensor '{tname}'; the file is corrupt")
        attrs = n.tables(S.NODE_ATTRS)
        if ntype in ("Input", "Output") and legacy:
            vals = {a.str(S.ATTR_NAME): _scalar(a.table(S.ATTR_SCALAR), True) for a in attrs}
            if ntype == "Input":
                graph.inputs.append(inputs[0])
                graph.input_info[inputs[0]] = InputInfo(str(vals.get("input_type", "default")),
                                                        str(vals.get("input_encoding_in", "bgr")),
                                                        str(vals.get("input_encoding_out", "bgr")))
            else:
                graph.outputs.append(inputs[0])
            continue
        scalars, tensors, flags = {}, {}, {}
        for a in attrs:
            aname = a.str(S.ATTR_NAME)
            flags[aname] = a.int(S.ATTR_FLAG, N.Uint8Flags)
            if a.int(S.ATTR_KIND) == 1:
                tensors[aname] = a.table(S.ATTR_TENSOR)
            else:
                scalars[aname] = _scalar(a.table(S.ATTR_SCALAR), legacy)
        opdef = _pick(ntype, scalars, forms)
        if opdef is None:
            sel = {k: v for k, v in scalars.items() if k.endswith("_type") or k == "operation"}
            raise DLCError(f"{path}: node '{name}' has op type '{ntype}'{f' {sel}' if sel else ''}, which this "
                           "version of snpe-tools does not know; upgrade snpe-tools")
        selector = {s.name for s in opdef.dlc_selector}
        params: dict[str, Any] = {}
        for aname in list(scalars) + list(tensors):
            if aname in selector or aname == "packageName":
                continue
            if aname not in opdef.params:
                if legacy or flags[aname] == F.FLAG_QNN_PARAM:   # would change what the op computes
                    raise DLCError(f"{path}: node '{name}' ({ntype}) has parameter '{aname}', which this "
                                   "version of snpe-tools does not know; upgrade snpe-tools")
                continue                                          # an IR-internal attribute we do not use
            if aname in tensors:
                tt = tensors[aname]
                pshape = tuple(int(d) for d in tt.array(S.T_DIMS, np.uint32))
                pdtype = qd.to_numpy(tt.int(S.T_DTYPE, N.Uint32Flags))
                what = f"parameter '{aname}' of node '{name}'"
                per_node = store.nodes[idx]
                key = tt.str(S.T_NAME) if tt.str(S.T_NAME) in per_node else aname
                if key not in per_node:
                    raise DLCError(f"{path}: {what} is missing from model.params")
                params[aname] = _array(store.raw(per_node[key], what), pdtype, pshape, what, path).copy()
            else:
                params[aname] = scalars[aname]
        op = Op(name, opdef.type, inputs, outputs, {})
        opdef.restore_params(op, [graph.tensors[i] if i else None for i in inputs],
                             [graph.tensors[o] for o in outputs])
        params.update(op.params)          # rebuilt from the tensors (e.g. Reshape's shape): they are authoritative
        try:
            op.params = opdef.complete_params(params)
        except (ValueError, TypeError) as exc:
            raise DLCError(f"{path}: node '{name}' ({ntype}): {exc}") from None
        graph.ops.append(op)
        graph.reserve_names(outputs)
    graph.reserve_names(graph.tensors)
    graph.reserve_names(op.name for op in graph.ops)
    return graph


def _metadata(c: Container) -> Metadata:
    """The converter metadata: ``dlc.metadata`` key=value text, or 4.1's JSON (sizes capped by Container)."""
    text = c.get(F.MEMBER_METADATA)
    if text is not None:
        try:
            return Metadata.from_text(bytes(text).decode("utf-8", "replace"))
        except Exception as exc:
            raise DLCError(f"{c.path}: {F.MEMBER_METADATA} cannot be read ({type(exc).__name__}: {exc}); "
                           "the file is corrupt") from None
    doc = c.get(F.MEMBER_METADATA_41)
    if doc is None:
        return Metadata({})
    try:
        meta = json.loads(bytes(doc).decode("utf-8", "replace"))
        info = (meta.get("dlcGenerationInfo") or [{}])[0].get("converterCommand", {})
        args = " ".join(f"--{k} {v}" for k, v in (info.get("args") or {}).items())
        return Metadata({"converter-command": f"{info.get('tool', '')} {args}".strip(),
                         "converter-version": str(info.get("converterVersion", "N/A"))})
    except (ValueError, AttributeError, IndexError, TypeError, KeyError, RecursionError):
        raise DLCError(f"{c.path}: {F.MEMBER_METADATA_41} is not valid JSON; the file is corrupt") from None


def require_file(path: str) -> None:
    """One-line errors for a DLC path that is missing or a directory (shared with the v3 reader)."""
    if not os.path.exists(path):
        raise DLCError(f"DLC file not found: {path}")
    if os.path.isdir(path):
        raise DLCError(f"{path} is a directory, not a DLC file")


def read_dlc(path: str) -> DLC:
    """Load ``path``; raise :class:`DLCError` with a one-line reason if it is not a valid DLC."""
    require_file(path)
    try:
        c = Container(path)
    except DLCError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise DLCError(f"{path}: not a valid DLC file (damaged or not a ZIP container: {exc})") from None
    for member in (F.MEMBER_MODEL, F.MEMBER_PARAMS):
        if c.get(member) is None:
            raise DLCError(f"{path}: not a DLC v4 file (ZIP member '{member}' is missing)")
    version = _header(c.get(F.MEMBER_MODEL), F.MEMBER_MODEL, path)
    _header(c.get(F.MEMBER_PARAMS), F.MEMBER_PARAMS, path)
    try:
        graph = _parse(path, c.get(F.MEMBER_MODEL), c.get(F.MEMBER_PARAMS), c.get(F.MEMBER_PARAMS_BIN))
    except DLCError:
        raise
    except Exception as exc:  # any decoding failure of a damaged flatbuffer
        raise DLCError(f"{path}: the DLC is corrupt ({type(exc).__name__}: {exc})") from None
    return DLC(graph, _metadata(c), path, version)

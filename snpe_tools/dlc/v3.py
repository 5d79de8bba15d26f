"""Read-only support for SNPE 1.x DLC files (container version 3).

SNPE 1.x converters (``snpe-*-to-dlc`` 1.x, ``snpe-dlc-quantize``) wrote "DLC v3". Qualcomm
never published the format; what follows was checked byte by byte on the four real v3 files
in ``shared/reference/dlc-real/third_party/snpe1_v3`` (SNPE 1.51 / 1.56), using the public
field list of Netron's DLC reader as a map.  This module is written from those notes with
plain :mod:`struct` and does not depend on any generated flatbuffer code.

Container
    A ZIP archive (the real files use ZIP64 local headers, stored, with valid CRCs) holding

    * ``model``        -- graph definition: 8-byte header + flatbuffer with identifier ``NETD``;
    * ``model.params`` -- weights: 8-byte header + flatbuffer with identifier ``NETP``;
    * ``dlc.metadata`` -- text, ``key=value`` per line (``converter-command``,
      ``converter-version``, ``model-copyright``, ``model-version``, ``quantizer-command``).

    Header: ``D5 0A`` then major (u16 LE) = 3, minor (u16 LE) = 0, then ``00 00``.  The
    flatbuffer starts at byte 8 (root offset, then the 4-byte identifier).  A bare ``model``
    stream (no ZIP) is accepted too, as is a bare NETD flatbuffer without the header.

``model`` tables (slot = vtable field index; a missing field takes its default)
    Model:  0 int (unknown, absent = 0 in all samples) | 1 [Layer] | 2 [int] (unknown, empty)
            | 3 [int] (unknown, empty) | 4 [Attribute] model attributes (``BufferInfos``)
    Layer:  0 index (int) | 1 name | 2 type (SNPE 1.x layer name, e.g. ``Input``,
            ``ElementwiseUnaryOp``, ``Concat``, ``Slice``) | 3 inputs [string]
            | 4 outputs [string] | 5 [Attribute]
    Attribute: 0 name | 1 type (ubyte) | 2 bool | 3 int32 | 4 uint32 | 5 float32 | 6 string
            | 7 [byte] (unknown) | 8 byte list | 9 int32 list | 10 float32 list
            | 11 [byte] (unknown) | 12 nested [Attribute]
        type code -> slot read: 1 bool/2, 2 int32/3, 3 uint32/4, 4 float32/5, 5 string/6,
        7 byte list/8, 8 int32 list/9, 9 float32 list/10, 11 nested/12.  A nested attribute whose
        children are named "0", "1", ... is a list; otherwise it is a dict.
    Layer attributes seen: ``OutputDims`` (list of int32 lists, one per output), ``DataEncoding``
    (quantized files; see :func:`_encodings`), ``input_type``, ``input_color_space``,
    ``output_color_space`` (Input), ``op`` (ElementwiseUnaryOp; 8 on the abs layers), ``axis``
    (Concat, uint32; Slice, int32), ``slice_points`` (Slice, byte list).
    Model attribute ``BufferInfos``: dict buffer name -> {``axis_order`` (byte list),
    ``data_size`` (uint32; 32 on every float buffer seen, so probably bits per element),
    ``dims`` (int32 list)}.

``model.params`` tables
    ModelParameters: 0 [LayerParameters]
    LayerParameters: 0 layer name | 1 [Tensor]
    Tensor: 0 name | 1 shape [int] | 2 TensorData | 3 [Attribute]
    TensorData: 0 dtype (ubyte; 6 = uint8 in ``bytes``, 9 = float32 in ``floats``)
            | 1 bytes [ubyte] | 2 floats [float]
    All four sample files carry an empty ModelParameters (no layer has weights), so the weight
    tables follow the public field list and are not confirmed by a real file.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import DLCError
from .reader import require_file

MAGIC = b"\xd5\x0a"
MAJOR = 3
MODEL_ID = b"NETD"
PARAMS_ID = b"NETP"

# Attribute type codes -> (vtable slot holding the value, kind)
_ATTR_SLOTS = {
    1: (2, "bool"),
    2: (3, "int32"),
    3: (4, "uint32"),
    4: (5, "float32"),
    5: (6, "string"),
    6: (7, "raw"),       # never seen; slot 7 is an unnamed byte vector
    7: (8, "bytes"),
    8: (9, "int32s"),
    9: (10, "float32s"),
    10: (11, "raw"),     # never seen; slot 11 is an unnamed byte vector
    11: (12, "nested"),
}
_MAX_DEPTH = 32


@dataclass
class V3Layer:
    name: str
    type: str
    inputs: list[str]
    outputs: list[str]
    output_dims: list[list[int]]
    params: dict[str, object]
    #: quantization encodings by output buffer name (quantized DLCs only), each
    #: ``{"axis", "bitwidth", "min", "max", "scale", "offset", "precision"}`` for a per-tensor
    #: encoding, or ``{"axis", "channels": [...]}`` when there are several elements.
    encodings: dict[str, dict] = field(default_factory=dict)
    index: int = 0


@dataclass
class V3Model:
    path: str
    version: tuple[int, int]
    layers: list[V3Layer]
    metadata: dict[str, str]
    weights: dict[str, np.ndarray]
    #: ``BufferInfos``: buffer name -> {"dims", "axis_order", "data_size"}
    buffers: dict[str, dict] = field(default_factory=dict)
    #: model-level attributes other than ``BufferInfos``
    attributes: dict[str, object] = field(default_factory=dict)
    #: attributes stored next to a weight tensor, keyed like ``weights``
    weight_params: dict[str, dict] = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        """Graph input buffers: the outputs of the ``Input`` layers."""
        return [o for layer in self.layers if layer.type == "Input" for o in layer.outputs]

    def layer(self, name: str) -> V3Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)


# --------------------------------------------------------------------------- flatbuffer access

class _Corrupt(Exception):
    """Internal: a bounds or consistency check failed."""


class _Buf:
    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what

    def need(self, pos: int, size: int) -> None:
        if pos < 0 or size < 0 or pos + size > len(self.data):
            raise _Corrupt(f"{self.what}: reference past the end of the data (offset {pos}); "
                           "the member is truncated or corrupt")

    def unpack(self, fmt: str, pos: int):
        self.need(pos, struct.calcsize(fmt))
        return struct.unpack_from(fmt, self.data, pos)[0]

    def root(self) -> "_Table":
        return _Table(self, self.unpack("<I", 0), 0)


class _Table:
    def __init__(self, buf: _Buf, pos: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _Corrupt(f"{buf.what}: tables nested deeper than {_MAX_DEPTH}; the member is corrupt")
        self.buf, self.pos, self.depth = buf, pos, depth
        vt = pos - buf.unpack("<i", pos)
        self.vlen = buf.unpack("<H", vt)
        self.tlen = buf.unpack("<H", vt + 2)
        if self.vlen < 4 or self.vlen % 2 or self.tlen < 4:
            raise _Corrupt(f"{buf.what}: bad table header at offset {pos}; the member is corrupt")
        buf.need(vt, self.vlen)
        buf.need(pos, self.tlen)
        self.vt = vt

    def _field(self, slot: int) -> int | None:
        entry = 4 + 2 * slot
        if entry + 2 > self.vlen:
            return None
        off = self.buf.unpack("<H", self.vt + entry)
        if off == 0:
            return None
        if off >= self.tlen:
            raise _Corrupt(f"{self.buf.what}: field outside its table at offset {self.pos}; "
                           "the member is corrupt")
        return self.pos + off

    def scalar(self, slot: int, fmt: str, default=0):
        p = self._field(slot)
        return default if p is None else self.buf.unpack(fmt, p)

    def _ref(self, slot: int) -> int | None:
        p = self._field(slot)
        if p is None:
            return None
        target = p + self.buf.unpack("<I", p)
        self.buf.need(target, 4)
        return target

    def _vector(self, slot: int, elem: int) -> tuple[int, int]:
        p = self._ref(slot)
        if p is None:
            return 0, 0
        n = self.buf.unpack("<I", p)
        self.buf.need(p + 4, n * elem)
        return p + 4, n

    def _string_at(self, p: int) -> str:
        n = self.buf.unpack("<I", p)
        self.buf.need(p + 4, n)
        raw = self.buf.data[p + 4:p + 4 + n]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Corrupt(f"{self.buf.what}: a name is not valid UTF-8; the member is corrupt") from None
        if any(ord(c) < 0x20 and c not in "\t\n\r" for c in text):
            raise _Corrupt(f"{self.buf.what}: a name holds binary data; the member is corrupt")
        return text

    def string(self, slot: int, default: str = "") -> str:
        p = self._ref(slot)
        return default if p is None else self._string_at(p)

    def table(self, slot: int) -> "_Table | None":
        p = self._ref(slot)
        return None if p is None else _Table(self.buf, p, self.depth + 1)

    def tables(self, slot: int) -> list["_Table"]:
        start, n = self._vector(slot, 4)
        out = []
        for i in range(n):
            q = start + 4 * i
            out.append(_Table(self.buf, q + self.buf.unpack("<I", q), self.depth + 1))
        return out

    def strings(self, slot: int) -> list[str]:
        start, n = self._vector(slot, 4)
        return [self._string_at(start + 4 * i + self.buf.unpack("<I", start + 4 * i)) for i in range(n)]

    def array(self, slot: int, code: str) -> np.ndarray:
        size = struct.calcsize(code)
        start, n = self._vector(slot, size)
        return np.frombuffer(self.buf.data, dtype=np.dtype("<" + code), count=n, offset=start).copy()


# --------------------------------------------------------------------------- decoding

def _f32(value: float) -> float:
    """Shortest decimal that round-trips the float32 (0.18431373, not 0.18431372940540314)."""
    return float(str(np.float32(value)))


def _attr_value(attr: _Table):
    kind_code = attr.scalar(1, "<B")
    slot, kind = _ATTR_SLOTS.get(kind_code, (None, None))
    if kind is None:
        return f"<unsupported attribute type {kind_code}>"
    if kind == "bool":
        return bool(attr.scalar(slot, "<B"))
    if kind == "int32":
        return attr.scalar(slot, "<i")
    if kind == "uint32":
        return attr.scalar(slot, "<I")
    if kind == "float32":
        return _f32(attr.scalar(slot, "<f", 0.0))
    if kind == "string":
        return attr.string(slot)
    if kind in ("bytes", "raw"):
        return [int(v) for v in attr.array(slot, "B")]
    if kind == "int32s":
        return [int(v) for v in attr.array(slot, "i")]
    if kind == "float32s":
        return [_f32(v) for v in attr.array(slot, "f")]
    children = attr.tables(slot)
    return _attrs_value(children)


def _attrs_value(tables: list[_Table]):
    """A nested attribute list: a list when the names are "0", "1", ..., else a dict."""
    items = [(t.string(0), _attr_value(t)) for t in tables]
    if all(name == str(i) for i, (name, _) in enumerate(items)):
        return [value for _, value in items]
    return dict(items)


def _number(value: float):
    return int(value) if float(value).is_integer() else value


def _one_encoding(elem: dict, where: str) -> dict:
    for key in ("precision", "min", "max", "delta", "offset"):
        if not isinstance(elem.get(key, 0), (int, float)) or isinstance(elem.get(key, 0), bool):
            raise _Corrupt(f"{where}: encoding field '{key}' is not a number")
    precision = int(elem.get("precision", 0))
    return {
        # 520 = 0x208 on every sample encoding; its low byte matches the 8-bit range
        # (max - min == 255 * delta), the high byte is of unknown meaning.
        "bitwidth": precision & 0xFF,
        "min": elem.get("min", 0.0),
        "max": elem.get("max", 0.0),
        "scale": elem.get("delta", 0.0),
        "offset": _number(elem.get("offset", 0.0)),
        "precision": precision,
    }


def _encodings(raw, outputs: list[str], where: str) -> dict[str, dict]:
    """``DataEncoding``: one entry per output {``DataEncodingElement``: [element], ``axis``}.

    Each element holds ``delta`` (scale), ``min``, ``max``, ``offset`` (float, e.g. -125.0,
    so that min = offset * delta) and ``precision`` (uint32).  ``axis`` = -1 on the
    per-tensor encodings seen; several elements would be per-channel along ``axis``.
    """
    if not isinstance(raw, list):
        raise _Corrupt(f"{where}: DataEncoding is not a list")
    out: dict[str, dict] = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise _Corrupt(f"{where}: DataEncoding entry {i} is not a table")
        elements = entry.get("DataEncodingElement", [])
        if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
            raise _Corrupt(f"{where}: DataEncodingElement of entry {i} is malformed")
        axis = entry.get("axis", -1)
        key = outputs[i] if i < len(outputs) else f"#{i}"
        if len(elements) == 1:
            out[key] = {"axis": axis, **_one_encoding(elements[0], where)}
        else:
            out[key] = {"axis": axis, "channels": [_one_encoding(e, where) for e in elements]}
    return out


def _layer(t: _Table, buffers: dict[str, dict]) -> V3Layer:
    name = t.string(1)
    inputs, outputs = t.strings(3), t.strings(4)
    params: dict[str, object] = {}
    output_dims: list[list[int]] | None = None
    encodings: dict[str, dict] = {}
    for a in t.tables(5):
        aname, value = a.string(0), _attr_value(a)
        if aname == "OutputDims":
            if not isinstance(value, list) or not all(isinstance(d, list) for d in value):
                raise _Corrupt(f"layer '{name}': OutputDims is malformed")
            output_dims = value
        elif aname == "DataEncoding":
            encodings = _encodings(value, outputs, f"layer '{name}'")
        else:
            params[aname] = value
    if output_dims is None:
        output_dims = [list(buffers.get(o, {}).get("dims", [])) for o in outputs]
    return V3Layer(name=name, type=t.string(2), inputs=inputs, outputs=outputs,
                   output_dims=output_dims, params=params, encodings=encodings,
                   index=t.scalar(0, "<i"))


def _check_version(head: bytes, member: str) -> None:
    if head[:2] == MAGIC and len(head) >= 6:
        major, minor = struct.unpack_from("<HH", head, 2)
        if major != MAJOR:
            raise _Corrupt(f"member '{member}' has DLC header version {major}.{minor}; "
                           "this reader handles SNPE 1.x v3 files only")


def _flatbuffer(data: bytes, ident: bytes, member: str) -> tuple[_Buf, tuple[int, int]]:
    """Strip and check the 8-byte header, check the identifier."""
    if data[:2] == MAGIC:
        _check_version(data, member)
        if len(data) < 16:
            raise _Corrupt(f"member '{member}' is truncated")
        major, minor = struct.unpack_from("<HH", data, 2)
        body = data[8:]
    elif data[4:8] == ident:     # bare flatbuffer, as older v3 writers may have produced
        major, minor, body = MAJOR, 0, data
    else:
        raise _Corrupt(f"member '{member}' has no DLC header")
    if body[4:8] != ident:
        raise _Corrupt(f"member '{member}' is not a {ident.decode()} flatbuffer")
    return _Buf(body, f"member '{member}'"), (major, minor)


def _weights(data: bytes, model: V3Model) -> None:
    buf, _ = _flatbuffer(data, PARAMS_ID, "model.params")
    for lp in buf.root().tables(0):
        lname = lp.string(0)
        for tensor in lp.tables(1):
            key = f"{lname}/{tensor.string(0)}"
            shape = [int(d) for d in tensor.array(1, "i")]
            td = tensor.table(2)
            if td is None:
                arr = np.zeros(0, np.float32)
            else:
                dtype = td.scalar(0, "<B")
                floats, raw = td.array(2, "f"), td.array(1, "B")
                arr = raw if dtype == 6 or (dtype != 9 and floats.size == 0) else floats
            if shape and all(d >= 0 for d in shape) and int(np.prod(shape)) == arr.size:
                arr = arr.reshape(shape)
            model.weights[key] = arr
            attrs = tensor.tables(3)
            if attrs:
                value = _attrs_value(attrs)
                model.weight_params[key] = value if isinstance(value, dict) else {"attributes": value}


def _parse_metadata(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value
    return out


def _peek(zf: zipfile.ZipFile, fp, member: str, size: int = 16) -> bytes:
    """First bytes of a member without the CRC check (v4.1 writers store zero CRCs).

    ``fp`` is the seekable file object the ZipFile was opened on."""
    info = zf.getinfo(member)
    if info.compress_type == zipfile.ZIP_STORED:
        fp.seek(info.header_offset)
        local = fp.read(30)
        if len(local) == 30 and local[:4] == b"PK\x03\x04":
            nlen, xlen = struct.unpack_from("<HH", local, 26)
            fp.seek(info.header_offset + 30 + nlen + xlen)
            return fp.read(min(size, info.file_size))
    with zf.open(member) as fh:
        return fh.read(size)


MAX_MEMBER_BYTES = 1 << 30        # SNPE 1.x DLCs are small; this bounds what a damaged file can make us read


def _read_members(path: str) -> dict[str, bytes]:
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head[:2] != b"PK":
            return {"model": fh.read()}
        blob = io.BytesIO(fh.read())
    with zipfile.ZipFile(blob) as zf:
        names = set(zf.namelist())
        if "model" not in names:
            raise _Corrupt("ZIP member 'model' is missing; not a DLC")
        _check_version(_peek(zf, blob, "model"), "model")   # before the CRC check of the full read
        for m in ("model", "model.params", "dlc.metadata"):
            if m in names:
                info = zf.getinfo(m)
                if info.file_size > MAX_MEMBER_BYTES:        # refuse a "ZIP bomb" before inflating it
                    raise _Corrupt(f"ZIP member '{m}' declares {info.file_size} bytes, more than a DLC v3 "
                                   f"member may hold ({MAX_MEMBER_BYTES} bytes)")
        return {m: zf.read(m) for m in ("model", "model.params", "dlc.metadata") if m in names}


# --------------------------------------------------------------------------- public API

def is_v3(path: str) -> bool:
    """True when ``path`` looks like a DLC v3 (only the header of ``model`` is read)."""
    try:
        with open(path, "rb") as fh:
            if zipfile.is_zipfile(fh):
                with zipfile.ZipFile(fh) as zf:
                    head = _peek(zf, fh, "model")
            else:
                fh.seek(0)
                head = fh.read(16)
    except Exception:
        return False
    if len(head) < 8:
        return False
    if head[:2] == MAGIC:
        return struct.unpack_from("<H", head, 2)[0] == MAJOR and head[12:16] == MODEL_ID
    return head[4:8] == MODEL_ID


def read_v3(path: str) -> V3Model:
    """Parse a DLC v3 file; any defect becomes a one-line :class:`DLCError`."""
    path = os.fspath(path)
    require_file(path)
    try:
        members = _read_members(path)
        mbuf, version = _flatbuffer(members["model"], MODEL_ID, "model")
        root = mbuf.root()
        attributes: dict[str, object] = {}
        for a in root.tables(4):
            attributes[a.string(0)] = _attr_value(a)
        buffers_raw = attributes.pop("BufferInfos", None) or {}
        if not isinstance(buffers_raw, dict):
            raise _Corrupt("BufferInfos is malformed")
        buffers = {name: (info if isinstance(info, dict) else {"value": info})
                   for name, info in buffers_raw.items()}
        layers = [_layer(t, buffers) for t in root.tables(1)]
        model = V3Model(path=path, version=version, layers=layers,
                        metadata=_parse_metadata(members.get("dlc.metadata", b"")),
                        weights={}, buffers=buffers, attributes=attributes)
        if "model.params" in members:
            _weights(members["model.params"], model)
        return model
    except DLCError:
        raise
    except _Corrupt as exc:
        msg = str(exc)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        msg = f"not a valid DLC file (damaged or not a ZIP container: {exc})"
    except OSError as exc:
        msg = f"cannot read the file ({exc.strerror or exc})"
    except Exception as exc:  # anything else a hostile file can provoke
        msg = f"the DLC is corrupt ({type(exc).__name__}: {exc})"
    raise DLCError(" ".join(f"{path}: {msg}".split())) from None

"""Schema-independent decoder of DLC v4 files, used by tests as an oracle.

Why this exists: the writer and the reader in ``snpe_tools`` share one schema (``dlc.fbs``) and one
code base, so a test that round-trips through them cannot notice a field that both get wrong.  This
module decodes the raw bytes itself with :mod:`struct` (ZIP local headers, vtables, uoffsets, vectors),
from a small declarative layout (:data:`LAYOUT`) written from the measured facts in
``shared/reference/dlc_compat.md`` and the real Qualcomm files in ``shared/reference/dlc-real``.
It imports nothing from ``snpe_tools`` and no flatbuffers code on purpose.

Besides the values it records *how* every table was written: which vtable slots are present and the
byte width each scalar field occupies, so tests can assert wire-level facts (e.g. "ScalarData ints are
int64"), which a schema-based reader silently papers over.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------------
# Layout: table name -> {vtable slot: (field name, kind)}.
#
# Kinds:  scalar  "u8" "bool" "u16" "i32" "u32" "i64" "f32" "f64"  (declared width; the measured one is
#                 reported separately)
#         "str"            uoffset to a string
#         "[str]"          vector of strings
#         "[u8]" "[u32]"…  vector of scalars ("[u8]" decodes to bytes)
#         "T"              uoffset to a table named T (a key of LAYOUT)
#         "[T]"            vector of tables T
#         "nested:T"       ubyte vector that holds a whole flatbuffer with root table T
#         "vec64"          64-bit offset to a vector with a 64-bit length prefix (NR64 Buffer payload)
# Slots missing from a table's layout are still reported in "slots"; they are just not decoded.
# --------------------------------------------------------------------------------------------------
LAYOUT: dict[str, dict[int, tuple[str, str]]] = {
    # ---- model (NETD) ----
    "Model": {0: ("graphs", "[Graph]"), 1: ("extra", "[u8]")},
    "Graph": {0: ("name", "str"), 1: ("nodes", "[Node]"), 2: ("tensors", "[Tensor]"),
              4: ("name_copy", "str")},
    "Node": {0: ("name", "str"), 1: ("type", "str"), 2: ("inputs", "[str]"), 3: ("outputs", "[str]"),
             4: ("attributes", "[Attribute]")},
    # measured in 2.25 and 2.42 files: kind is a 4-byte field, flag a 1-byte one
    "Attribute": {0: ("name", "str"), 1: ("kind", "u32"), 2: ("flag", "u8"), 3: ("scalar", "ScalarData"),
                  4: ("tensor", "Tensor")},
    # int and double are 8 bytes, 8-aligned, in every real file (the 2.25 reader fails on 4-byte ones)
    "ScalarData": {0: ("kind", "u32"), 1: ("int", "i64"), 2: ("double", "f64"), 3: ("string", "str")},
    # every scalar here is 4 bytes except quantizable (1 byte); slot 14 only in 2.42 (empty ubyte vector)
    "Tensor": {0: ("id", "u32"), 1: ("name", "str"), 2: ("type", "u32"), 3: ("dims", "[u32]"),
               4: ("axis_format", "u32"), 5: ("quant", "QuantizationData"), 6: ("dtype", "u32"),
               7: ("output_dtype", "u32"), 8: ("quantizable", "u8"), 12: ("src_axis_format", "u32"),
               14: ("slot14", "[u8]")},
    "QuantizationData": {0: ("type", "u32"), 1: ("is_overridden", "u8"), 2: ("fxp", "FxpData"),
                         3: ("axis_fxp", "AxisFxpData")},
    "AxisFxpData": {0: ("axis", "i32"), 1: ("channels", "[FxpData]")},
    "FxpData": {0: ("bw", "u32"), 1: ("min", "f32"), 2: ("max", "f32"), 3: ("scale", "f32"),
                4: ("offset", "i32"), 5: ("is_symmetric", "u8")},
    # ---- params (NR64 root, or NETP directly) ----
    "ParamsNR64": {0: ("buffers", "[Buffer]"), 1: ("netp", "nested:ModelParameters")},
    "Buffer": {0: ("bytes", "vec64")},  # 8-aligned u64 offset -> 8-aligned u64 length -> payload
    "ModelParameters": {0: ("graphs", "[GraphParameters]")},
    "GraphParameters": {0: ("name", "str"), 1: ("tensors", "[TensorData]"), 2: ("nodes", "[NodeParameters]")},
    "NodeParameters": {0: ("tensors", "[TensorData]")},
    "TensorData": {0: ("name", "str"), 1: ("bytes", "[u8]"), 2: ("data_index", "i64"),
                   3: ("position", "DataPosition")},
    "DataPosition": {0: ("offset", "i64"), 1: ("size", "i64")},
}
# snpe-tools' own pre-NR64 "large form" (a 4.0 NETP whose TensorData slots 2/3 are ulong bin_offset/bin_size
# into model.params.bin), so older outputs of our writer can still be decoded and compared.
LAYOUT_NETP40 = {**LAYOUT, "TensorData": {0: ("name", "str"), 1: ("bytes", "[u8]"), 2: ("bin_offset", "u64"),
                                          3: ("bin_size", "u64")}}

_SCALAR = {"u8": "<B", "bool": "<B", "u16": "<H", "i32": "<i", "u32": "<I", "i64": "<q", "u64": "<Q",
           "f32": "<f", "f64": "<d"}
_INT_BY_WIDTH = {1: "<b", 2: "<h", 4: "<i", 8: "<q"}
_UINT_BY_WIDTH = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}

# QNN Qnn_DataType_t code -> numpy dtype.  Fixed-point codes map to their storage integer type.
QNN_DTYPES: dict[int, np.dtype] = {
    0x0008: np.dtype("<i1"), 0x0016: np.dtype("<i2"), 0x0032: np.dtype("<i4"), 0x0064: np.dtype("<i8"),
    0x0108: np.dtype("<u1"), 0x0116: np.dtype("<u2"), 0x0132: np.dtype("<u4"), 0x0164: np.dtype("<u8"),
    0x0216: np.dtype("<f2"), 0x0232: np.dtype("<f4"), 0x0264: np.dtype("<f8"),
    0x0308: np.dtype("<i1"), 0x0316: np.dtype("<i2"), 0x0332: np.dtype("<i4"),
    0x0408: np.dtype("<u1"), 0x0416: np.dtype("<u2"), 0x0432: np.dtype("<u4"),
    0x0508: np.dtype("<u1"),
}

# Qnn_DataType_t code -> name as the QNN headers spell it (the IR reader prints tensors as "Float_32").
QNN_DTYPE_NAMES: dict[int, str] = {
    0x0008: "INT_8", 0x0016: "INT_16", 0x0032: "INT_32", 0x0064: "INT_64",
    0x0108: "UINT_8", 0x0116: "UINT_16", 0x0132: "UINT_32", 0x0164: "UINT_64",
    0x0216: "FLOAT_16", 0x0232: "FLOAT_32", 0x0264: "FLOAT_64",
    0x0308: "SFIXED_POINT_8", 0x0316: "SFIXED_POINT_16", 0x0332: "SFIXED_POINT_32",
    0x0408: "UFIXED_POINT_8", 0x0416: "UFIXED_POINT_16", 0x0432: "UFIXED_POINT_32",
    0x0508: "BOOL_8", 0x0608: "STRING", 0x7FFFFFFF: "UNDEFINED",
}
# Tensor slot 2 (Qnn_TensorType_t); absent = 0.
TENSOR_TYPES: dict[int, str] = {0: "APP_WRITE", 1: "APP_READ", 2: "APP_READWRITE", 3: "NATIVE", 4: "STATIC",
                                5: "NULL"}
# Tensor slots 4 and 12 (dlc_compat.md §4.7).
AXIS_FORMATS: dict[int, str] = dict(enumerate(
    "NCDHW NDHWC NCHW NHWC NCF NFC TNF NTF NF NC ANY NONTRIVIAL "
    "DHWIO DHWOI IODHW OIDHW HWIO HWOI IOHW OIHW FIO FOI IOF OIF".split()))
AXIS_FORMATS[0xFFFFFFFF] = "NOT_YET_DEFINED"
# QuantizationData slot 0 (Qnn_QuantizationEncoding_t); absent = 0 = SCALE_OFFSET.
QUANT_ENCODINGS: dict[int, str] = {0: "SCALE_OFFSET", 1: "AXIS_SCALE_OFFSET", 2: "BW_SCALE_OFFSET",
                                   3: "BW_AXIS_SCALE_OFFSET", 0x7FFFFFFF: "UNDEFINED"}
QUANT_UNDEFINED = 0x7FFFFFFF

DLC_MAGIC = b"\xd5\x0a"
STATIC_TENSOR = 4
NULL_TENSOR = 5


# --------------------------------------------------------------------------------------------------
# ZIP
# --------------------------------------------------------------------------------------------------
@dataclass
class ZipEntry:
    """One ZIP member as the central directory describes it."""

    name: str
    crc: int            # stored CRC-32 (4.1 files store 0)
    local_offset: int   # offset of its local header: gives the order the members were written in
    data: bytes


def zip_entries(raw: bytes) -> list[ZipEntry]:
    """The members of a DLC in central-directory order.

    Parsed by hand because 4.1 files carry CRC 0 on every entry, which :mod:`zipfile` rejects, and
    because DLC entries are always stored (method 0).  CRCs are reported, not checked.
    """
    eocd = raw.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise ValueError("not a ZIP file (no end-of-central-directory record)")
    n_entries, _cd_size, cd_off = struct.unpack_from("<HII", raw, eocd + 10)
    if cd_off == 0xFFFFFFFF or n_entries == 0xFFFF:  # ZIP64 end of central directory
        loc = raw.rfind(b"PK\x06\x07", 0, eocd)
        (z64,) = struct.unpack_from("<Q", raw, loc + 8)
        n_entries, _cd_size, cd_off = struct.unpack_from("<QQQ", raw, z64 + 32)
    entries: list[ZipEntry] = []
    p = cd_off
    for _ in range(n_entries):
        if raw[p:p + 4] != b"PK\x01\x02":
            raise ValueError(f"bad central directory entry at {p}")
        (method,) = struct.unpack_from("<H", raw, p + 10)
        crc, csize, usize = struct.unpack_from("<III", raw, p + 16)
        nlen, elen, clen = struct.unpack_from("<HHH", raw, p + 28)
        (local,) = struct.unpack_from("<I", raw, p + 42)
        name = raw[p + 46:p + 46 + nlen].decode("utf-8")
        extra = raw[p + 46 + nlen:p + 46 + nlen + elen]
        usize, csize, local = _zip64_fields(extra, usize, csize, local)
        if method != 0:
            raise ValueError(f"{name}: compressed entries are not DLC (method {method})")
        lnlen, lelen = struct.unpack_from("<HH", raw, local + 26)
        start = local + 30 + lnlen + lelen
        entries.append(ZipEntry(name, crc, local, raw[start:start + csize]))
        p += 46 + nlen + elen + clen
    return entries


def _zip64_fields(extra: bytes, usize: int, csize: int, local: int) -> tuple[int, int, int]:
    """Replace 0xFFFFFFFF central-directory fields by their ZIP64 extra-field values."""
    q = 0
    while q + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, q)
        if hid == 0x0001:
            r = q + 4
            if usize == 0xFFFFFFFF:
                (usize,) = struct.unpack_from("<Q", extra, r)
                r += 8
            if csize == 0xFFFFFFFF:
                (csize,) = struct.unpack_from("<Q", extra, r)
                r += 8
            if local == 0xFFFFFFFF:
                (local,) = struct.unpack_from("<Q", extra, r)
        q += 4 + size
    return usize, csize, local


def zip_crcs(raw: bytes) -> dict[str, tuple[int, int]]:
    """name -> (stored CRC-32, actual CRC-32), since a wrong CRC makes the 2.25 reader reject the file."""
    return {e.name: (e.crc, zlib.crc32(e.data) & 0xFFFFFFFF) for e in zip_entries(raw)}


# --------------------------------------------------------------------------------------------------
# Flatbuffer primitives
# --------------------------------------------------------------------------------------------------
@dataclass
class Table:
    """One decoded table: its values plus how it sat in the buffer."""

    name: str
    values: dict[str, Any]
    slots: list[int]             # present vtable slots, ascending
    widths: dict[int, int]       # slot -> bytes from the field to the next field (or the table end)
    align: dict[int, int]        # slot -> absolute field offset % 8 (relative to the flatbuffer start)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class FlatBuffer:
    """A flatbuffer in ``buf`` starting at ``base`` (offsets inside are relative to ``base``)."""

    def __init__(self, buf: bytes, base: int = 0, layout: dict[str, dict[int, tuple[str, str]]] = LAYOUT):
        self.buf = buf
        self.base = base
        self.layout = layout

    def u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.buf, pos)[0]

    @property
    def identifier(self) -> str:
        return self.buf[self.base + 4:self.base + 8].decode("latin-1")

    def root(self, table: str) -> Table:
        return self.table(self.base + self.u32(self.base), table)

    def table(self, pos: int, name: str) -> Table:
        vt = pos - struct.unpack_from("<i", self.buf, pos)[0]
        vlen, tlen = struct.unpack_from("<HH", self.buf, vt)
        offs = struct.unpack_from(f"<{(vlen - 4) // 2}H", self.buf, vt + 4)
        present = sorted((o, s) for s, o in enumerate(offs) if o)
        widths, align = {}, {}
        for k, (o, s) in enumerate(present):
            widths[s] = (present[k + 1][0] if k + 1 < len(present) else tlen) - o
            align[s] = (pos + o - self.base) % 8
        layout = self.layout[name]
        values: dict[str, Any] = {}
        for o, s in present:
            if s in layout:
                field, kind = layout[s]
                values[field] = self.field(pos + o, kind, widths[s])
        return Table(name, values, sorted(s for _, s in present), widths, align)

    def field(self, pos: int, kind: str, width: int) -> Any:
        if kind in _SCALAR:
            return self.scalar(pos, kind, width)
        if kind == "vec64":
            return self.vec64(pos)
        target = pos + self.u32(pos)
        if kind == "str":
            return self.string(target)
        if kind.startswith("nested:"):
            n = self.u32(target)
            inner = FlatBuffer(self.buf, target + 4, self.layout)
            return {"identifier": inner.identifier, "root": inner.root(kind[7:]), "pos": target + 4 - self.base,
                    "len": n}
        if kind.startswith("["):
            return self.vector(target, kind[1:-1])
        return self.table(target, kind)

    def scalar(self, pos: int, kind: str, width: int) -> Any:
        """Read a scalar of the declared kind, or of the measured width when that is smaller.

        A writer that puts an int32 where Qualcomm writes an int64 must still decode to the right
        value here (the test on "widths" is what flags it), not to the neighbour's bytes.
        """
        fmt = _SCALAR[kind]
        size = struct.calcsize(fmt)
        if width < size and width in (1, 2, 4):
            if kind.startswith("f"):
                fmt = "<f" if width == 4 else "<e"
            elif kind.startswith("u") or kind == "bool":
                fmt = _UINT_BY_WIDTH[width]
            else:
                fmt = _INT_BY_WIDTH[width]
        return struct.unpack_from(fmt, self.buf, pos)[0]

    def vec64(self, pos: int) -> dict[str, Any]:
        """NR64 Buffer payload: 64-bit offset -> 64-bit length -> payload (what 2.25 writes).

        Falls back to a plain 32-bit offset / 32-bit length vector when the 64-bit reading points outside
        the buffer, and reports which widths it found, so a writer that emits an ordinary ``[ubyte]``
        decodes to its real bytes and a test can still see that it is not the 2.25 form.
        """
        size = len(self.buf)
        (off,) = struct.unpack_from("<Q", self.buf, pos)
        off_width = 8 if pos + off + 8 <= size else 4
        if off_width == 4:
            off = self.u32(pos)
        target = pos + off
        (n,) = struct.unpack_from("<Q", self.buf, target) if target + 8 <= size else (size,)
        len_width = 8 if target + 8 + n <= size else 4
        if len_width == 4:
            n = self.u32(target)
        start = target + len_width
        return {"len": n, "offset_width": off_width, "len_width": len_width, "len_pos": target - self.base,
                "payload_pos": start - self.base, "bytes": bytes(self.buf[start:start + n])}

    def string(self, pos: int) -> str:
        n = self.u32(pos)
        return bytes(self.buf[pos + 4:pos + 4 + n]).decode("utf-8")

    def vector(self, pos: int, elem: str) -> Any:
        n = self.u32(pos)
        start = pos + 4
        if elem == "u8":
            return bytes(self.buf[start:start + n])
        if elem in _SCALAR:
            return list(struct.unpack_from(f"<{n}{_SCALAR[elem][1]}", self.buf, start))
        out = []
        for i in range(n):
            p = start + 4 * i
            target = p + self.u32(p)
            out.append(self.string(target) if elem == "str" else self.table(target, elem))
        return out


# --------------------------------------------------------------------------------------------------
# DLC
# --------------------------------------------------------------------------------------------------
def _header(blob: bytes, member: str) -> tuple[int, int]:
    """Check the 8-byte DLC member header ``d5 0a <major u16> <minor u16> 00 00``."""
    if blob[:2] != DLC_MAGIC:
        raise ValueError(f"{member}: bad magic {blob[:2].hex()}")
    major, minor, _pad = struct.unpack_from("<HHH", blob, 2)
    return major, minor


def _metadata(names: list[str], data: dict[str, bytes]) -> dict[str, Any]:
    if "dlc.metadata" in data:
        out = {}
        for line in data["dlc.metadata"].decode("utf-8").splitlines():
            key, _, value = line.partition("=")
            out[key] = value
        return out
    for name in names:
        if name.startswith("dlc.metadata"):
            return json.loads(data[name].decode("utf-8"))
    return {}


def _fxp(t: Table | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"bw": t.get("bw", 0), "min": t.get("min", 0.0), "max": t.get("max", 0.0),
            "scale": t.get("scale", 0.0), "offset": t.get("offset", 0),
            "is_symmetric": bool(t.get("is_symmetric", 0)), "slots": t.slots, "widths": t.widths}


def _quant(t: Table | None) -> dict[str, Any] | None:
    if t is None:
        return None
    axis_t: Table | None = t.get("axis_fxp")
    return {"type": t.get("type", 0), "is_overridden": bool(t.get("is_overridden", 0)),
            "per_tensor": _fxp(t.get("fxp")),
            "axis": None if axis_t is None else axis_t.get("axis", 0),
            "channels": None if axis_t is None else [_fxp(c) for c in axis_t.get("channels", [])],
            "slots": t.slots, "axis_slots": None if axis_t is None else axis_t.slots}


def _tensor(t: Table) -> dict[str, Any]:
    return {"id": t.get("id", 0), "name": t.get("name", ""), "type": t.get("type", 0),
            "dims": list(t.get("dims", [])), "axis_format": t.get("axis_format", 0),
            "src_axis_format": t.get("src_axis_format", 0), "dtype": t.get("dtype", 0),
            "output_dtype": t.get("output_dtype", 0), "quantizable": t.get("quantizable", 0),
            "quant": _quant(t.get("quant")), "slot14": None if t.get("slot14") is None else list(t.get("slot14")),
            "slots": t.slots, "widths": t.widths, "align": t.align, "data": None}


def _array(raw: bytes | None, tensor: dict[str, Any]) -> np.ndarray | None:
    """Raw little-endian bytes -> array of the tensor's QNN dtype and dims (None when unknown/no data)."""
    if raw is None:
        return None
    dt = QNN_DTYPES.get(tensor["dtype"])
    if dt is None:
        return np.frombuffer(raw, dtype=np.uint8).copy()
    if len(raw) % dt.itemsize:
        return np.frombuffer(raw, dtype=np.uint8).copy()
    arr = np.frombuffer(raw, dtype=dt).copy()
    if arr.size == int(np.prod(tensor["dims"], dtype=np.int64)):
        arr = arr.reshape(tensor["dims"])
    return arr


class _Params:
    """model.params (+ model.params.bin): the parameter tables and a way to resolve their bytes."""

    def __init__(self, blob: bytes, minor: int, bin_blob: bytes | None):
        self.identifier = FlatBuffer(blob, 8).identifier
        self.bin = bin_blob
        self.buffers: list[dict[str, Any]] = []
        self.buffer_tables: list[Table] = []
        self.nested_align: int | None = None
        if self.identifier == "NR64":
            root = FlatBuffer(blob, 8).root("ParamsNR64")
            self.buffer_tables = root.get("buffers", [])
            self.buffers = [b.get("bytes") for b in self.buffer_tables]
            nested = root.get("netp")
            mp = nested["root"] if nested else None
            self.nested_align = nested["pos"] % 8 if nested else None
        elif self.identifier == "NETP":
            mp = FlatBuffer(blob, 8, LAYOUT if minor >= 1 else LAYOUT_NETP40).root("ModelParameters")
            root = mp
        else:
            raise ValueError(f"model.params: file identifier {self.identifier!r}, expected NR64 or NETP")
        self.root_slots = root.slots
        self.graphs: list[Table] = mp.get("graphs", []) if mp else []

    def graph(self, name: str, index: int) -> Table | None:
        for g in self.graphs:
            if g.get("name") == name:
                return g
        return self.graphs[index] if index < len(self.graphs) else None

    def data(self, td: Table) -> bytes | None:
        """Resolve one TensorData: inline bytes, NR64 buffer index, 4.1 DataPosition, or our large form."""
        v = td.values
        if "bytes" in v:
            return v["bytes"]
        if "position" in v and self.bin is not None:
            off, size = v["position"].get("offset", 0), v["position"].get("size", 0)
            return self.bin[off:off + size]
        if "bin_size" in v and self.bin is not None:
            off = v.get("bin_offset", 0)
            return self.bin[off:off + v["bin_size"]]
        if self.identifier == "NR64":
            idx = v.get("data_index", 0)
            if 0 <= idx < len(self.buffers) and self.buffers[idx] is not None:
                return self.buffers[idx]["bytes"]
        return None


def _attr(a: Table, node_data: dict[str, bytes | None]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": a.get("name", ""), "kind": a.get("kind", 0), "flag": a.get("flag", 0),
                           "flag_width": a.widths.get(2), "slots": a.slots, "widths": a.widths, "align": a.align}
    sc: Table | None = a.get("scalar")
    if sc is not None:
        out["scalar"] = {"kind": sc.get("kind", 0), "int": sc.get("int", 0), "double": sc.get("double", 0.0),
                         "string": sc.get("string"), "slots": sc.slots, "widths": sc.widths,
                         "align": sc.align}
    tt: Table | None = a.get("tensor")
    if tt is not None:
        tensor = _tensor(tt)
        out["tensor"] = tensor
        out["data"] = _array(node_data.get(tensor["name"]), tensor)
    return out


def _graph(g: Table, gp: Table | None, params: _Params) -> dict[str, Any]:
    """One Graph with its GraphParameters (matched by name, else by index) resolved into arrays."""
    gp_tensors: list[Table] = gp.get("tensors", []) if gp else []
    gp_nodes: list[Table] = gp.get("nodes", []) if gp else []
    static = {td.get("name", ""): params.data(td) for td in gp_tensors}
    tensors = []
    for t in g.get("tensors", []):
        tensor = _tensor(t)
        if tensor["type"] == STATIC_TENSOR:
            tensor["data"] = _array(static.get(tensor["name"]), tensor)
        tensors.append(tensor)
    nodes = []
    for ni, n in enumerate(g.get("nodes", [])):
        node_tds: list[Table] = gp_nodes[ni].get("tensors", []) if ni < len(gp_nodes) else []
        node_data = {td.get("name", ""): params.data(td) for td in node_tds}
        nodes.append({"name": n.get("name", ""), "type": n.get("type", ""),
                      "inputs": list(n.get("inputs", [])), "outputs": list(n.get("outputs", [])),
                      "attrs": [_attr(a, node_data) for a in n.get("attributes", [])], "slots": n.slots})
    node_tds_all = [td for np_ in gp_nodes for td in np_.get("tensors", [])]
    graph: dict[str, Any] = {
        "name": g.get("name", ""), "name_copy": g.get("name_copy"), "slots": g.slots,
        "nodes": nodes, "tensors": tensors,
        "node_params": [[td.get("name", "") for td in np_.get("tensors", [])] for np_ in gp_nodes],
        "graph_param_names": [td.get("name", "") for td in gp_tensors],
        "graph_param_slots": [td.slots for td in gp_tensors],
        "node_param_slots": [[td.slots for td in np_.get("tensors", [])] for np_ in gp_nodes],
    }
    if params.identifier == "NR64":
        graph["data_index"] = {td.get("name", ""): td.get("data_index", 0) for td in gp_tensors + node_tds_all}
        graph["buffer_layout"] = [_buffer_layout(b, bt) for b, bt in zip(params.buffers, params.buffer_tables)]
    return graph


def _buffer_layout(b: dict[str, Any] | None, bt: Table) -> dict[str, Any]:
    if b is None:
        return {"len": None, "slots": bt.slots}
    return {"len": b["len"], "len_width": b["len_width"], "offset_width": b["offset_width"],
            "len_align": b["len_pos"] % 8, "payload_align": b["payload_pos"] % 8,
            "field_align": bt.align.get(0), "slots": bt.slots}


def load(path: str) -> dict[str, Any]:
    """Decode a DLC v4 file into plain Python values (numpy arrays for tensor data).

    Returns ``{"version", "params_version", "params_id", "members", "local_order", "metadata",
    "model_slots", "params_root_slots", "netp_align", "graphs": [...]}``; each graph holds ``nodes``
    (with ``attrs``), ``tensors``, ``node_params``, ``graph_param_names`` and, for NR64 params,
    ``data_index`` and ``buffer_layout`` (file-wide list of the NR64 buffers).  Every decoded table
    carries ``slots`` (present vtable slots) and ``widths``/``align`` (per slot: bytes up to the next
    field or the table end, and the field's offset mod 8 from the flatbuffer start).  Absent scalar slots
    read as the flatbuffers default 0.
    """
    with open(path, "rb") as f:
        raw = f.read()
    entries = zip_entries(raw)
    names = [e.name for e in entries]
    data = {e.name: e.data for e in entries}
    model_blob, params_blob = data["model"], data["model.params"]
    version = _header(model_blob, "model")
    params_version = _header(params_blob, "model.params")
    model_fb = FlatBuffer(model_blob, 8)
    if model_fb.identifier != "NETD":
        raise ValueError(f"model: file identifier {model_fb.identifier!r}, expected 'NETD'")
    model = model_fb.root("Model")
    params = _Params(params_blob, params_version[1], data.get("model.params.bin"))
    graphs = [_graph(g, params.graph(g.get("name", ""), i), params) for i, g in enumerate(model.get("graphs", []))]
    return {"version": version, "params_version": params_version, "params_id": params.identifier,
            "members": names, "local_order": [e.name for e in sorted(entries, key=lambda e: e.local_offset)],
            "metadata": _metadata(names, data), "model_slots": model.slots,
            "params_root_slots": params.root_slots, "netp_align": params.nested_align, "graphs": graphs}

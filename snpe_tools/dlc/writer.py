"""Serialise an IR :class:`~snpe_tools.ir.Graph` into a DLC 4.0 file as Qualcomm's SNPE 2.x writes it.

The records come from :mod:`.plan`; this module turns them into the three ZIP members:
``dlc.metadata`` (key=value lines), ``model`` (``NETD`` flatbuffer) and ``model.params`` in the
``NR64`` form 2.25 writes for every model size (docs/dlc-format.rst): a root with one ``Buffer``
per static tensor, each reached through a 64-bit offset and holding a 64-bit-length vector, plus
the ``NETP`` parameter tables nested as a byte vector.  The Python flatbuffers builder has no
64-bit offsets, so that member is laid out here directly; the weights are streamed into the ZIP
from the graph's arrays without another copy, which also keeps > 4 GiB models possible.

The file is written to a temporary name in the target directory and renamed into place, so an
interrupted or failed conversion never leaves a partial DLC.  Output is deterministic (fixed ZIP
timestamps, stable ordering): the same graph and metadata give byte-identical files.
"""
from __future__ import annotations

import contextlib
import io
import os
import struct
import tempfile
import zipfile
from typing import Any, Iterator

import flatbuffers
import numpy as np

from ..ir import dtypes as qd
from ..ir.graph import Encoding, Graph
from . import format as F
from .format import Slot as S
from .lowering import lower_for_dlc
from .metadata import Metadata
from .plan import AttrRec, NodeRec, Plan, TensorRec, make_plan
from ..progress import progress_bar


# ---- model (NETD) ---------------------------------------------------------------------------
def _offsets(b: flatbuffers.Builder, offs: list[int]) -> int:
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _strings(b: flatbuffers.Builder, items: list[str]) -> int:
    return _offsets(b, [b.CreateString(s) for s in items])


def _fxp(b, bw: int, mn: float, mx: float, scale: float, offset: int, symmetric: bool) -> int:
    b.StartObject(6)
    b.PrependInt32Slot(S.FXP_BW, bw, 0)
    b.PrependFloat32Slot(S.FXP_MIN, mn, 0.0)
    b.PrependFloat32Slot(S.FXP_MAX, mx, 0.0)
    b.PrependFloat32Slot(S.FXP_SCALE, scale, 0.0)
    b.PrependInt32Slot(S.FXP_OFFSET, offset, 0)
    b.PrependBoolSlot(S.FXP_SYMMETRIC, symmetric, False)
    return b.EndObject()


def _symmetric(offset: int, mn: float) -> bool:
    """Symmetric encodings have a zero offset around a negative minimum (weights, biases)."""
    return offset == 0 and mn < 0


def _quant(b, enc: Encoding | None) -> int:
    """QuantizationData: UNDEFINED for a float tensor, else a scale/offset (or per-axis) encoding
    marked overridden, which is what lets 2.25 accept quantized tensors (error 305 otherwise)."""
    if enc is None:
        b.StartObject(4)
        b.PrependUint32Slot(S.Q_TYPE, F.ENC_UNDEFINED, 0)
        return b.EndObject()
    if enc.axis is not None and enc.channels:
        chans = [_fxp(b, enc.bitwidth, mn, mx, sc, off, _symmetric(off, mn)) for sc, off, mn, mx in enc.channels]
        vec = _offsets(b, chans)
        b.StartObject(2)
        b.PrependInt32Slot(S.QA_AXIS, enc.axis, 0)
        b.PrependUOffsetTRelativeSlot(S.QA_CHANNELS, vec, 0)
        axis = b.EndObject()
        b.StartObject(4)
        b.PrependUint32Slot(S.Q_TYPE, F.ENC_AXIS_SCALE_OFFSET, 0)
        b.PrependBoolSlot(S.Q_OVERRIDDEN, True, False)
        b.PrependUOffsetTRelativeSlot(S.Q_AXIS, axis, 0)
        return b.EndObject()
    fxp = _fxp(b, enc.bitwidth, enc.min, enc.max, enc.scale, enc.offset, _symmetric(enc.offset, enc.min))
    b.StartObject(4)
    b.PrependUint32Slot(S.Q_TYPE, F.ENC_SCALE_OFFSET, 0)
    b.PrependBoolSlot(S.Q_OVERRIDDEN, True, False)
    b.PrependUOffsetTRelativeSlot(S.Q_FXP, fxp, 0)
    return b.EndObject()


def _tensor(b, t: TensorRec) -> int:
    name = b.CreateString(t.name)
    dims = b.CreateNumpyVector(np.asarray(t.dims, dtype=np.uint32).reshape(-1))
    quant = _quant(b, t.encoding)
    b.StartObject(S.T_SRC_AXIS + 1)
    b.PrependUint32Slot(S.T_ID, t.id, 0)
    b.PrependUOffsetTRelativeSlot(S.T_NAME, name, 0)
    b.PrependUint32Slot(S.T_TYPE, t.type, 0)
    b.PrependUOffsetTRelativeSlot(S.T_DIMS, dims, 0)
    b.PrependUint32Slot(S.T_AXIS, t.axis, 0)
    b.PrependUOffsetTRelativeSlot(S.T_QUANT, quant, 0)
    b.PrependUint32Slot(S.T_DTYPE, t.dtype, 0)
    b.PrependUint32Slot(S.T_OUT_DTYPE, t.dtype, 0)
    b.PrependBoolSlot(S.T_QUANTIZABLE, t.quantizable, False)
    b.PrependUint32Slot(S.T_SRC_AXIS, t.src_axis, 0)
    return b.EndObject()


def _scalar(b, kind: int, value: Any) -> int:
    """ScalarData: the QNN kind, the value in the 64-bit int or the double slot, strings in slot 3.
    Values equal to 0 are left out, as 2.25 does (the reader then reads the default, 0)."""
    is_string = isinstance(value, str)
    s_off = b.CreateString(value) if is_string else 0
    b.StartObject(4)
    b.PrependUint32Slot(S.SC_KIND, kind, 0)
    if is_string:
        b.PrependUOffsetTRelativeSlot(S.SC_STRING, s_off, 0)
    elif kind in (qd.FLOAT_32, qd.FLOAT_16):
        b.PrependFloat64Slot(S.SC_DOUBLE, float(value), 0.0)
    else:
        b.PrependInt64Slot(S.SC_INT, int(value), 0)
    return b.EndObject()


def _attribute(b, a: AttrRec) -> int:
    name = b.CreateString(a.name)
    child = _tensor(b, a.tensor) if a.tensor is not None else _scalar(b, a.kind, a.value)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(S.ATTR_NAME, name, 0)
    b.PrependInt32Slot(S.ATTR_KIND, 1 if a.tensor is not None else 0, 0)
    b.PrependUint8Slot(S.ATTR_FLAG, a.flag, 0)
    b.PrependUOffsetTRelativeSlot(S.ATTR_TENSOR if a.tensor is not None else S.ATTR_SCALAR, child, 0)
    return b.EndObject()


def _node(b, n: NodeRec) -> int:
    name, type_ = b.CreateString(n.name), b.CreateString(n.type)
    ins, outs = _strings(b, n.inputs), _strings(b, n.outputs)
    attrs = _offsets(b, [_attribute(b, a) for a in n.attrs])
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(S.NODE_NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_TYPE, type_, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_INPUTS, ins, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_OUTPUTS, outs, 0)
    b.PrependUOffsetTRelativeSlot(S.NODE_ATTRS, attrs, 0)
    return b.EndObject()


def serialize_model(plan: Plan) -> bytes:
    """``model``: header + NETD flatbuffer (Model -> one Graph -> nodes, tensors)."""
    b = flatbuffers.Builder(1 << 16)
    nodes = [_node(b, n) for n in plan.nodes]
    tensors = [_tensor(b, t) for t in plan.tensors]
    name, name_copy = b.CreateString(plan.name), b.CreateString(plan.name)
    g_nodes, g_tensors = _offsets(b, nodes), _offsets(b, tensors)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_NODES, g_nodes, 0)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_TENSORS, g_tensors, 0)
    b.PrependUOffsetTRelativeSlot(S.GRAPH_NAME_COPY, name_copy, 0)
    graph = b.EndObject()
    graphs, extra = _offsets(b, [graph]), _offsets(b, [])
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(S.MODEL_GRAPHS, graphs, 0)
    b.PrependUOffsetTRelativeSlot(S.MODEL_EXTRA, extra, 0)
    b.Finish(b.EndObject(), file_identifier=F.MODEL_ID)
    return F.header() + bytes(b.Output())


# ---- model.params (NR64 around a nested NETP) ---------------------------------------------------
def param_order(plan: Plan) -> list[tuple[TensorRec, int | None]]:
    """Buffers in ``data_index`` order: the static graph tensors sorted by name, then each node's
    attribute tensors in node order and name order.  Each pair is (tensor, node index or None)."""
    out: list[tuple[TensorRec, int | None]] = [(t, None) for t in plan.static_tensors]
    for idx, n in enumerate(plan.nodes):
        # sorted by tensor name (byte order): the reader binary-searches NodeParameters by that name
        tensors = sorted((a.tensor for a in n.attrs if a.tensor is not None), key=lambda t: t.name.encode())
        out += [(t, idx) for t in tensors]
    return out


def _tensor_data(b, name: str, index: int) -> int:
    n = b.CreateString(name)
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(S.TD_NAME, n, 0)
    b.PrependInt64(index)                  # 2.25 writes data_index even when it is 0
    b.Slot(S.TD_INDEX)
    return b.EndObject()


def serialize_netp(plan: Plan, order: list[tuple[TensorRec, int | None]]) -> bytes:
    """The NETP ModelParameters with ``data_index`` references (nested inside NR64)."""
    b = flatbuffers.Builder(1 << 14)
    graph_entries, node_entries = [], [[] for _ in plan.nodes]
    for i, (t, node) in enumerate(order):
        (graph_entries if node is None else node_entries[node]).append(_tensor_data(b, t.name, i))
    nodes = []
    for entries in node_entries:
        vec = _offsets(b, entries)
        b.StartObject(1)
        b.PrependUOffsetTRelativeSlot(S.NP_TENSORS, vec, 0)
        nodes.append(b.EndObject())
    name, tvec, nvec = b.CreateString(plan.name), _offsets(b, graph_entries), _offsets(b, nodes)
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(S.GP_NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(S.GP_TENSORS, tvec, 0)
    b.PrependUOffsetTRelativeSlot(S.GP_NODES, nvec, 0)
    gp = b.EndObject()
    graphs = _offsets(b, [gp])
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(S.MP_GRAPHS, graphs, 0)
    b.Finish(b.EndObject(), file_identifier=F.PARAMS_ID)
    return bytes(b.Output())


def _pad(n: int, align: int) -> int:
    return -n % align


def serialize_params(plan: Plan) -> list:
    """``model.params`` as a list of byte chunks (header, NR64 tables, then each payload as a view).

    Layout, front to back (offsets relative to the flatbuffer start, after the 8-byte header):
    root offset + "NR64" | root vtable + table {0: buffers, 1: nested NETP} | the nested NETP vector |
    the buffers vector | one shared Buffer vtable | the Buffer tables {0: uoffset64} | the payloads,
    each a u64 length at an 8-aligned position followed by its bytes (8-aligned too).
    """
    order = param_order(plan)
    netp = serialize_netp(plan, order)
    n = len(order)
    head = bytearray()
    head += struct.pack("<I", 0) + F.PARAMS64_ID                   # root offset, patched below
    vt_root = len(head)
    head += struct.pack("<HHHH", 8, 12, 4, 8)                       # vtable: 2 fields
    head += bytes(_pad(len(head), 4))
    root = len(head)
    head += struct.pack("<iII", root - vt_root, 0, 0)               # soffset, buffers, nested (patched)
    struct.pack_into("<I", head, 0, root)
    head += bytes(_pad(len(head), 4))
    nested = len(head)
    head += struct.pack("<I", len(netp)) + netp
    struct.pack_into("<I", head, root + 8, nested - (root + 8))
    head += bytes(_pad(len(head), 4))
    buffers = len(head)
    head += struct.pack("<I", n) + bytes(4 * n)
    struct.pack_into("<I", head, root + 4, buffers - (root + 4))
    head += bytes(_pad(len(head), 2))
    vt_buf = len(head)
    head += struct.pack("<HHH", 6, 12, 4)
    tables = []
    for i in range(n):
        head += bytes(_pad(len(head) + 4, 8))                      # table + 4 (the u64 field) 8-aligned
        tables.append(len(head))
        struct.pack_into("<I", head, buffers + 4 + 4 * i, len(head) - (buffers + 4 + 4 * i))
        head += struct.pack("<iQ", len(head) - vt_buf, 0)
    chunks: list = [F.header(), head]
    pos = len(head)
    for i, (t, _) in enumerate(order):
        payload = memoryview(np.ascontiguousarray(t.data).reshape(-1).view(np.uint8))
        pad = _pad(pos, 8)
        chunks.append(bytes(pad) + struct.pack("<Q", len(payload)))
        vec = pos + pad
        struct.pack_into("<Q", head, tables[i] + 4, vec - (tables[i] + 4))
        chunks.append(payload)
        pos = vec + 8 + len(payload)
    return chunks


# ---- container -------------------------------------------------------------------------------
def _zip_member(zf: zipfile.ZipFile, name: str, data, progress: str | None = None) -> None:
    """Write one stored member (ZIP64 extra field, as 2.25 writes) from bytes or byte chunks; with
    ``progress``, a bar in MiB on a terminal once the write has taken 2 s (gigabytes of weights)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    chunks = data if isinstance(data, list) else [data]
    sizes = [memoryview(c).nbytes / 2**20 for c in chunks]
    bar = progress_bar(round(sum(sizes), 1), progress, "MiB", delay=2.0) if progress else None
    try:
        with zf.open(info, "w", force_zip64=True) as fh:
            for c, size in zip(chunks, sizes):
                fh.write(c)
                if bar is not None:
                    bar.update(size)
    finally:
        if bar is not None:
            bar.close()


TEMP_PREFIX = ".snpe-tools-"     # every temporary file or folder the tools create starts so and ends with .tmp
STALE_SECONDS = 3600             # such entries older than this were left by a killed run: the next write removes them


def remove_stale_temps(directory: str, max_age: float = STALE_SECONDS) -> None:
    """Remove ``.snpe-tools-*.tmp`` files and folders older than ``max_age`` seconds from ``directory``.

    A run killed with SIGKILL (or a crash of the machine) cannot clean up after itself; the next write
    into the same folder does.  Entries younger than ``max_age`` may belong to a run still going and are
    left alone; symbolic links and other non-regular entries are never touched."""
    import shutil
    import stat
    import time

    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(".tmp")):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if now - st.st_mtime < max_age:
                continue
            if stat.S_ISREG(st.st_mode):
                os.unlink(entry.path)
            elif stat.S_ISDIR(st.st_mode):
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def output_target(path: str, what: str = "output", example: str = "model.dlc") -> str:
    """Check that ``path`` can be (re)placed by a regular file; return the path to write.

    Refused with a one-line :class:`OutputError`: an existing directory, device, FIFO or socket
    (an output is never written into or through one), a symbolic link to nothing, and a folder that
    does not exist (the tools never create folders for a file output, as SNPE's do not).  A symbolic
    link to a regular file is written through: the file it points to is replaced."""
    import stat

    from ..errors import OutputError, file_kind, os_error_reason

    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
        if os.path.islink(path):
            raise OutputError(f"{what} {path} is a symbolic link to a missing file; remove the link or give "
                              "another path") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write {what} {path}: {os_error_reason(exc)}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{what} {path} is a directory; give a file name, e.g. "
                              f"{os.path.join(path, example)}")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{what} {path} is {file_kind(st.st_mode)}, not a regular file; it is left untouched: "
                              "give the path of a regular file")
        path = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(path))
    try:
        dst = os.stat(directory)
    except FileNotFoundError:
        raise OutputError(f"cannot write {what} {path}: the folder {directory} does not exist; create it first "
                          "(folders are not created for you)") from None
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: {os_error_reason(exc)}") from None
    if not stat.S_ISDIR(dst.st_mode):
        raise OutputError(f"cannot write {what} {path}: {directory} is not a folder; fix the path")
    if not os.access(directory, os.W_OK | os.X_OK):
        ro = hasattr(os, "statvfs") and bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
        raise OutputError(f"cannot write {what} {path}: the folder {directory} is "
                          + ("on a read-only file system" if ro else "not writable (permission denied)")
                          + "; write to another folder")
    return path


@contextlib.contextmanager
def atomic_output(target: str, suffix: str, failure: str) -> Iterator[io.BufferedWriter]:
    """A binary file for ``target`` that appears only once it is complete.

    The data goes to ``.snpe-tools-XXXX<suffix>`` in the target's folder (stale ones of killed runs are
    removed first) and is renamed over ``target`` when the block ends; on any failure the temp file is
    removed and an earlier ``target`` stays intact.  An ``OSError`` becomes a one-line ``OutputError``:
    ``failure`` with ``{reason}`` replaced by what went wrong (disk full, read-only, ...).
    """
    from ..errors import OutputError, os_error_reason

    directory = os.path.dirname(os.path.abspath(target)) or "."
    remove_stale_temps(directory)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=directory)
        with os.fdopen(fd, "wb") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise OutputError(failure.format(reason=os_error_reason(exc))) from None
        raise


def write_dlc(graph: Graph, path: str, metadata: Metadata) -> None:
    """Write ``graph`` to ``path`` atomically (temp file in the same directory, then rename).

    The target is checked first (:func:`output_target`: no directories, devices, FIFOs, missing folders);
    the DLC goes to ``.snpe-tools-XXXX.dlc.tmp`` beside it and is renamed over ``path`` only once complete,
    so a failure (disk full, a signal, an exception) leaves any previous file intact and no temp file.
    Failed writes raise a one-line :class:`~snpe_tools.errors.OutputError` naming the reason."""
    target = output_target(path, "DLC")
    plan = make_plan(lower_for_dlc(graph))
    model = serialize_model(plan)
    params = serialize_params(plan)
    with atomic_output(target, ".dlc.tmp", f"cannot write DLC {path}: {{reason}}; nothing was written") as fh, \
            zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        _zip_member(zf, F.MEMBER_METADATA, metadata.to_text().encode("utf-8"))
        _zip_member(zf, F.MEMBER_MODEL, model)
        _zip_member(zf, F.MEMBER_PARAMS, params, "Writing DLC")

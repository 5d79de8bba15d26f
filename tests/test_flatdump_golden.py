"""Self-test of the ``flatdump`` oracle on real Qualcomm DLCs.

Why: ``flatdump`` is the yardstick our DLC writer is measured against, so it must itself agree with
Qualcomm's own reader on Qualcomm's own files.  Each ``*.qairt225.dlc`` in the golden set comes with
``*.qairt225.ir.json``, the 2.25 IR reader's view of it; every field of that JSON is checked here, plus
the wire-level facts of ``dlc_compat.md`` that a schema-based reader cannot see (field widths, sorting).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flatdump
from flatdump import AXIS_FORMATS, QNN_DTYPE_NAMES, QUANT_UNDEFINED, TENSOR_TYPES


def _golden_dir() -> Path | None:
    env = os.environ.get("SNPE_TOOLS_DLC_REAL")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared/reference/dlc-real")
    for c in candidates:
        if c.is_dir() and any(c.glob("*.qairt225.dlc")):
            return c
    return None


GOLDEN = _golden_dir()
if GOLDEN is None:
    pytest.skip("golden DLC set (shared/reference/dlc-real) not available", allow_module_level=True)

MODELS = sorted(p.name[: -len(".qairt225.dlc")] for p in GOLDEN.glob("*.qairt225.dlc"))
V41 = GOLDEN / "third_party" / "ort_qnn_ep_qairt242_v4_1.dlc"

# File type string -> the 2.25 IR reader's type name, where they differ (dlc_compat.md §4.3).
IR_TYPE = {"ResizeBilinear": "Resize", "ResizeNearestNeighbor": "Resize", "ArgbToRgb": "ColorTransform"}
# Attributes the IR reader synthesises (by IR type) that are not stored in the file: measured on the golden
# set, e.g. ColorTransform input_encoding_in/out (dlc_compat.md §7), Resize's interpolation/transformation mode.
IR_ONLY_ATTRS = {"ColorTransform": {"input_encoding_in", "input_encoding_out"},
                 "Resize": {"interpolation_mode", "transformation_mode"},
                 "Lstm": {"sequence_continuation_name", "x_static_name"}}
QNN_STRING_KIND = 0x7FFFFFFF
QNN_BOOL_8 = 0x0508
QNN_FLOAT_16 = 0x0216
FLOAT_KINDS = {0x0216, 0x0232, 0x0264}
FIXED_POINT = {0x0308, 0x0316, 0x0332, 0x0408, 0x0416, 0x0432}
METADATA_KEYS = ["converter-command", "converter-version", "model-copyright", "model-version", "quantizer-command"]


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    dlc = flatdump.load(str(GOLDEN / f"{name}.qairt225.dlc"))
    ir = json.loads((GOLDEN / f"{name}.qairt225.ir.json").read_text())
    return dlc, ir


def _byte_sorted(names: list[str]) -> bool:
    return names == sorted(names, key=lambda s: s.encode("utf-8"))


def _num(v: Any) -> float:
    """JSON numbers, with the oracle's "nan"/"inf" strings."""
    return float(v) if isinstance(v, str) else v


def _f32_eq(a: float, b: Any) -> bool:
    """Values the file stores as float32 (or double) and the JSON prints as double."""
    a32, b32 = np.float32(a), np.float32(_num(b))
    return bool(a32 == b32 or (np.isnan(a32) and np.isnan(b32)))


def _check_summary(arr: np.ndarray, summary: dict[str, Any], what: str) -> None:
    """Compare an array with the oracle's data summary (dtype, shape, nbytes, sha256, sum, min, max, values)."""
    assert list(arr.shape) == summary["shape"], what
    assert arr.dtype.name == summary["dtype"], what
    assert arr.nbytes == summary["nbytes"], what
    raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    assert hashlib.sha256(raw).hexdigest()[:16] == summary["sha256"], what
    f = arr.astype(np.float64)
    assert math.isclose(float(f.sum()), _num(summary["sum"]), rel_tol=1e-6, abs_tol=1e-9), what
    assert math.isclose(float(np.abs(f).sum()), _num(summary["abs_sum"]), rel_tol=1e-6, abs_tol=1e-9), what
    if arr.size:
        assert float(f.min()) == _num(summary["min"]) and float(f.max()) == _num(summary["max"]), what
    listed = summary.get("values", summary.get("first"))
    if listed is not None:
        assert [float(x) for x in f.ravel()[: len(listed)]] == [float(_num(x)) for x in listed], what


def _check_encoding(t: dict[str, Any], enc: dict[str, Any]) -> None:
    q = t["quant"]
    what = t["name"]
    if enc["type"] == "UNDEFINED":
        assert q is None or q["type"] == QUANT_UNDEFINED, what
        return

    def fxp(f: dict[str, Any], e: dict[str, Any]) -> None:
        assert f["bw"] == e["bw"] and f["offset"] == e["offset"], what
        assert f["is_symmetric"] == e["is_symmetric"], what
        for k in ("min", "max", "scale"):
            assert _f32_eq(f[k], e[k]), (what, k)

    if enc["type"] == "SCALE_OFFSET":
        assert q["type"] == 0 and q["per_tensor"] is not None, what
        fxp(q["per_tensor"], enc)
    else:
        assert enc["type"] == "AXIS_SCALE_OFFSET" and q["type"] == 1, what
        assert q["axis"] == enc["axis"], what
        assert len(q["channels"]) == len(enc["channels"]), what
        for f, e in zip(q["channels"], enc["channels"]):
            fxp(f, e)


def _check_scalar(attr: dict[str, Any], ir_attr: dict[str, Any], where: str) -> None:
    sc = attr["scalar"]
    kind = sc["kind"]
    assert ir_attr["dtype"] == QNN_DTYPE_NAMES[kind], where
    if kind == QNN_STRING_KIND:
        assert sc["string"] == ir_attr["value"], where
    elif kind == QNN_BOOL_8:
        assert bool(sc["int"]) == ir_attr["value"], where
    elif kind in FLOAT_KINDS:
        assert _f32_eq(sc["double"], ir_attr["value"]), where
    else:
        assert sc["int"] == ir_attr["value"], where


# ------------------------------------------------------------------------------------------------
# Agreement with the 2.25 IR reader
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_matches_ir_reader(name: str) -> None:
    dlc, ir = _load(name)
    assert ir["ok"]
    meta, irm = dlc["metadata"], ir["metadata"]
    assert meta["converter-command"] == irm["converter_command"]
    assert meta["converter-version"] == irm["converter_version"]
    assert meta["model-copyright"] == irm["copyright"]
    assert meta["model-version"] == irm["custom_model_version"]
    assert meta["quantizer-command"] == irm["quantizer_command"]

    assert len(dlc["graphs"]) == len(ir["graphs"])
    for g, ig in zip(dlc["graphs"], ir["graphs"]):
        assert g["name"] == ig["name"]
        assert [t["name"] for t in g["tensors"] if t["type"] == 0] == ig["inputs"]
        assert [t["name"] for t in g["tensors"] if t["type"] == 1] == ig["outputs"]

        # ops
        assert len(g["nodes"]) == len(ig["ops"])
        for n, op in zip(g["nodes"], ig["ops"]):
            where = f"{name}:{n['name']}"
            assert n["name"] == op["name"], where
            assert IR_TYPE.get(n["type"], n["type"]) == op["type"], where
            assert n["inputs"] == op["inputs"] and n["outputs"] == op["outputs"], where
            ir_attrs = [a for a in op["attrs"] if a["name"] not in IR_ONLY_ATTRS.get(op["type"], ())]
            assert [a["name"] for a in n["attrs"]] == [a["name"] for a in ir_attrs], where
            for a, ia in zip(n["attrs"], ir_attrs):
                w = f"{where}.{a['name']}"
                assert a["kind"] == (1 if ia["kind"] == "tensor" else 0), w
                if ia["kind"] == "scalar":
                    _check_scalar(a, ia, w)
                else:
                    assert a["tensor"]["name"] == ia["tensor_name"], w
                    assert QNN_DTYPE_NAMES[a["tensor"]["dtype"]].lower() == ia["dtype"].lower(), w
                    _check_summary(a["data"], ia["data"], w)

        # tensors: the IR lists them sorted by id, the file does not always (5 of 26 files)
        assert len(g["tensors"]) == len(ig["tensors"])
        ids = [t["id"] for t in g["tensors"]]
        assert len(set(ids)) == len(ids)
        for t, it in zip(sorted(g["tensors"], key=lambda t: t["id"]), ig["tensors"]):
            where = f"{name}:{t['name']}"
            assert t["name"] == it["name"] and t["id"] == it["id"], where
            assert t["dims"] == it["dims"], where
            assert QNN_DTYPE_NAMES[t["dtype"]].lower() == it["dtype"].lower(), where
            assert TENSOR_TYPES[t["type"]] == it["tensor_type"], where
            assert AXIS_FORMATS[t["axis_format"]] == it["axis_format"], where
            assert AXIS_FORMATS[t["src_axis_format"]] == it["src_axis_format"], where
            assert (t["dtype"] in FIXED_POINT) == it["quantized"], where
            _check_encoding(t, it["encoding"])
            if "data" not in it:
                assert t["data"] is None, where
            elif t["dtype"] == QNN_FLOAT_16:
                # The IR dump prints FLOAT_16 data as a garbled float32 array; only its shape is meaningful.
                assert list(t["data"].shape) == it["data"]["shape"], where
            else:
                _check_summary(t["data"], it["data"], where)


# ------------------------------------------------------------------------------------------------
# Wire-level facts of dlc_compat.md on Qualcomm's files
# ------------------------------------------------------------------------------------------------
def _wide(entry: dict[str, Any], slot: int, size: int) -> bool:
    """A field is `size` bytes wide: that much room before the next field and aligned to it."""
    return entry["widths"][slot] >= size and entry["align"][slot] % size == 0


@pytest.mark.parametrize("name", MODELS)
def test_structural_facts(name: str) -> None:
    dlc, _ = _load(name)
    assert dlc["version"] == (4, 0) and dlc["params_version"] == (4, 0)
    assert dlc["params_id"] == "NR64"
    assert dlc["members"] == ["dlc.metadata", "model", "model.params"] == dlc["local_order"]
    assert list(dlc["metadata"]) == METADATA_KEYS
    assert dlc["model_slots"] == [0, 1] and dlc["params_root_slots"] == [0, 1]
    for g in dlc["graphs"]:
        assert g["slots"] == [0, 1, 2, 4] and g["name_copy"] == g["name"]
        assert len(g["node_params"]) == len(g["nodes"])          # one NodeParameters per node
        assert _byte_sorted(g["graph_param_names"])
        assert {t["name"] for t in g["tensors"] if t["type"] == flatdump.STATIC_TENSOR} == set(g["graph_param_names"])
        for n, params in zip(g["nodes"], g["node_params"]):
            assert n["slots"] == [0, 1, 2, 3, 4]
            assert _byte_sorted(params), n["name"]              # the reader binary-searches them
            assert _byte_sorted([a["name"] for a in n["attrs"]]), n["name"]
            assert sorted(params) == sorted(a["tensor"]["name"] for a in n["attrs"] if "tensor" in a)
            for a in n["attrs"]:
                assert a["flag"] in (1, 2) and a["flag_width"] == 1, a["name"]
                if "scalar" in a:
                    assert a["slots"] == [0, 2, 3], a["name"]
                    sc = a["scalar"]
                    assert 0 in sc["slots"]
                    if 1 in sc["slots"]:
                        assert _wide(sc, 1, 8), (n["name"], a["name"])   # int64
                    if 2 in sc["slots"]:
                        assert _wide(sc, 2, 8), (n["name"], a["name"])   # double
                else:
                    assert a["slots"] == [0, 1, 2, 4] and a["kind"] == 1 and a["widths"][1] == 4, a["name"]
                    t = a["tensor"]
                    assert t["name"] == f"{n['name']}_{a['name']}"
                    assert t["type"] == flatdump.STATIC_TENSOR and t["quantizable"] == 0
                    # measured: ANY (10) for 1-D, NF (8) for 2-D; source NOT_YET_DEFINED (not ANY as §4.5 says)
                    assert t["axis_format"] == (10 if len(t["dims"]) == 1 else 8), t["name"]
                    assert t["src_axis_format"] == 0xFFFFFFFF, t["name"]
                    assert a["data"] is not None and a["data"].size == int(np.prod(t["dims"]))
        for t in g["tensors"]:
            assert {0, 1, 3, 4, 5, 6, 7, 12} <= set(t["slots"]) and 14 not in t["slots"], t["name"]
            assert (2 in t["slots"]) == (t["type"] != 0) and (8 in t["slots"]) == (t["quantizable"] == 1)
            assert t["output_dtype"] == t["dtype"]
            if 8 in t["slots"]:
                assert t["widths"][8] == 1
            if t["type"] == flatdump.STATIC_TENSOR:
                assert t["data"] is not None and t["data"].size == int(np.prod(t["dims"]))
        # NR64 buffers: 64-bit length at an 8-aligned offset, payload 8-aligned, each used once,
        # numbered graph tensors first (sorted), then node attribute tensors node by node.
        order = g["graph_param_names"] + [nm for params in g["node_params"] for nm in params]
        assert [g["data_index"][nm] for nm in order] == list(range(len(g["buffer_layout"])))
        for b in g["buffer_layout"]:
            assert b["slots"] == [0] and b["offset_width"] == 8 and b["field_align"] == 0
            assert b["len_width"] == 8 and b["len_align"] == 0 and b["payload_align"] == 0
        # NR64 TensorData: name + data_index only, data_index written even when 0
        assert all(s == [0, 2] for s in g["graph_param_slots"] + sum(g["node_param_slots"], []))


def test_zip_crcs() -> None:
    """2.25 rejects wrong CRCs (error 311); Qualcomm's 2.25 files have real ones, the 4.1 file zeros."""
    for name in MODELS:
        crcs = flatdump.zip_crcs((GOLDEN / f"{name}.qairt225.dlc").read_bytes())
        assert all(stored == actual for stored, actual in crcs.values()), name
    if V41.exists():
        assert all(stored == 0 for stored, _ in flatdump.zip_crcs(V41.read_bytes()).values())


def test_v41_third_party() -> None:
    if not V41.exists():
        pytest.skip("4.1 third-party file not available")
    dlc = flatdump.load(str(V41))
    assert dlc["version"] == (4, 1) and dlc["params_id"] == "NETP"
    assert "model.params.bin" in dlc["members"] and "dlc.metadata2.1.0" in dlc["members"]
    assert dlc["metadata"]["header"]["artifact_type"] == "DLC_METADATA"
    g = dlc["graphs"][0]
    assert len(g["nodes"]) > 0 and len(g["node_params"]) == len(g["nodes"])
    arrays = [t["data"] for t in g["tensors"] if t["type"] == flatdump.STATIC_TENSOR]
    dims = [t["dims"] for t in g["tensors"] if t["type"] == flatdump.STATIC_TENSOR]
    for n in g["nodes"]:
        for a in n["attrs"]:
            if "tensor" in a:
                arrays.append(a["data"])
                dims.append(a["tensor"]["dims"])
    assert arrays
    for arr, d in zip(arrays, dims):
        assert arr is not None and list(arr.shape) == d
        assert arr.nbytes == int(np.prod(d)) * arr.itemsize
    assert all(14 in t["slots"] and t["slot14"] == [] for t in g["tensors"])


def test_narrow_scalar_is_measured() -> None:
    """An int32 where Qualcomm writes an int64 must show as 4 bytes wide and still decode to its value."""
    buf = struct.pack("<I", 12)                       # root uoffset -> table at 12
    buf += struct.pack("<HHHH", 8, 12, 4, 8)          # vtable: 2 slots, table 12 bytes, fields at 4 and 8
    buf += struct.pack("<iIi", 8, 0x0032, -5)         # table: soffset to vtable, kind, int32 value
    t = flatdump.FlatBuffer(buf).root("ScalarData")
    assert t.slots == [0, 1] and t.widths == {0: 4, 1: 4} and t.values["int"] == -5

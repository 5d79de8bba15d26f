"""Wire-level rules every DLC we write must follow to load in Qualcomm's 2.25 reader and QNN loader.

Decoded with :mod:`flatdump` (schema-independent, shares no code with the writer).  Each rule names
what breaks in Qualcomm's tools when it is violated (docs/dlc-format.rst, "Must-haves").  The flags and
kinds of attributes are checked against a table measured on the real files in ``dlc-real``.
"""
from __future__ import annotations

import glob
import json
import os
from functools import lru_cache
from pathlib import Path

import flatdump

REAL_DIR = Path(os.environ.get("SNPE_TOOLS_DLC_REAL")
                or Path(__file__).resolve().parents[2] / "shared" / "reference" / "dlc-real")

# Type strings Qualcomm's 2.25 reader rejects with error 304 (measured, dlc_compat.md section 4.3)
REJECTED_TYPES = {"ElementWiseAsin", "ElementWiseFmod", "ElementWiseMod", "ElementWiseSign", "ElementWiseXor",
                  "IsInf", "IsNan", "ReduceSumSquare", "ElementWiseBinary", "ElementWiseUnary", "Input", "Output"}
METADATA_KEYS = ["converter-command", "converter-version", "model-copyright", "model-version", "quantizer-command"]
UNDEFINED, NULL, STATIC, APP_WRITE, APP_READ = 0x7FFFFFFF, 5, 4, 0, 1
FLOAT_KINDS = {0x0232}          # (2.25 leaves a few FLOAT_16 tensors unmarked)


@lru_cache(maxsize=None)
def real_attribute_table() -> dict[tuple[str, str], tuple[int, int, int | None]]:
    """(file op type, attribute) -> (flag, kind, scalar dtype) as Qualcomm's 2.25 converter writes them."""
    table: dict[tuple[str, str], tuple[int, int, int | None]] = {}
    for path in sorted(glob.glob(str(REAL_DIR / "*.qairt225.dlc"))):
        for node in flatdump.load(path)["graphs"][0]["nodes"]:
            for a in node["attrs"]:
                kind = (a.get("scalar") or {}).get("kind")
                table[(node["type"], a["name"])] = (a["flag"], a["kind"], kind)
    return table


def _wide(table: dict, slot: int) -> bool:
    return table["widths"].get(slot, 0) >= 8 and table["align"].get(slot, 1) % 8 == 0


def violations(path: str) -> list[str]:
    """Every rule the DLC at ``path`` breaks, one line each (empty: conformant)."""
    d = flatdump.load(path)
    out: list[str] = []
    raw = Path(path).read_bytes()
    for name, (stored, actual) in flatdump.zip_crcs(raw).items():
        if stored != actual:
            out.append(f"ZIP member {name}: CRC {stored:#x} != {actual:#x} (2.25: error 311)")
    if d["members"] != ["dlc.metadata", "model", "model.params"]:
        out.append(f"members {d['members']}")
    if tuple(d["version"]) != (4, 0) or tuple(d["params_version"]) != (4, 0):
        out.append(f"version {d['version']} / {d['params_version']} (2.x reads 4.0)")
    if d["params_id"] != "NR64":
        out.append(f"model.params is {d['params_id']}, Qualcomm writes NR64")
    if list(d["metadata"]) != METADATA_KEYS:
        out.append(f"metadata keys {list(d['metadata'])}")
    real_attrs = real_attribute_table()
    for g in d["graphs"]:
        tensors = {t["name"]: t for t in g["tensors"]}
        attr_tensor_names: list[str] = []
        ids = [t["id"] for t in g["tensors"]]
        for n in g["nodes"]:
            where = f"node {n['name']} ({n['type']})"
            if n["type"] in REJECTED_TYPES:
                out.append(f"{where}: type string rejected by 2.25 (error 304)")
            if "" in n["inputs"] or "" in n["outputs"]:
                out.append(f"{where}: empty tensor name (2.25: error 305)")
            for t in n["inputs"] + n["outputs"]:
                if t and t not in tensors:
                    out.append(f"{where}: unknown tensor {t}")
            names = [a["name"] for a in n["attrs"]]
            if [x.encode() for x in names] != sorted(x.encode() for x in names):
                out.append(f"{where}: attributes not sorted by name")
            pkg = [a for a in n["attrs"] if a["name"] == "packageName"]
            if not pkg or pkg[0]["flag"] != 2 or pkg[0]["scalar"]["string"] != "qti.aisw":
                out.append(f"{where}: no packageName 'qti.aisw' with flag 2")
            for a in n["attrs"]:
                aw = f"{where}.{a['name']}"
                if a["flag"] not in (1, 2):
                    out.append(f"{aw}: flag {a['flag']} (QNN loader passes only flag 1)")
                ref = real_attrs.get((n["type"], a["name"]))
                if ref is not None:
                    kind = (a.get("scalar") or {}).get("kind")
                    if (a["flag"], a["kind"]) != ref[:2] or (a["kind"] == 0 and kind != ref[2]):
                        out.append(f"{aw}: flag/kind/dtype {(a['flag'], a['kind'], kind)}, real files {ref}")
                s = a.get("scalar")
                if s is not None:
                    if 1 in s["slots"] and not _wide(s, 1):
                        out.append(f"{aw}: integer not int64 (2.25: error 300)")
                    if 2 in s["slots"] and not _wide(s, 2):
                        out.append(f"{aw}: float not double (2.25: error 300)")
                    if s["kind"] == 0x0608:
                        out.append(f"{aw}: string kind STRING, 2.25 drops it (write UNDEFINED)")
                if a["kind"] == 1:
                    t = a["tensor"]
                    attr_tensor_names.append(t["name"])
                    ids.append(t["id"])
                    if t["name"] != f"{n['name']}_{a['name']}" and not t["name"].startswith(f"{n['name']}_{a['name']}_"):
                        out.append(f"{aw}: tensor named {t['name']}, Qualcomm writes <node>_<attr>")
                    if t["type"] != STATIC or a["data"] is None:
                        out.append(f"{aw}: tensor without static data")
            for i, name in enumerate(n["inputs"]):
                t = tensors.get(name)
                if t is not None and t["type"] == NULL and name != f"{n['name']}_unprovided_input_{i}":
                    out.append(f"{where}: NULL tensor {name} misnamed")
        if len(set(attr_tensor_names)) != len(attr_tensor_names) or set(attr_tensor_names) & set(tensors):
            out.append("attribute tensor names are not unique in the graph (QNN loader reuses the first)")
        if len(set(ids)) != len(ids):
            out.append("tensor ids are not unique across graph and attribute tensors")
        if len(g["node_params"]) != len(g["nodes"]):
            out.append(f"{len(g['node_params'])} NodeParameters for {len(g['nodes'])} nodes")
        for i, names in enumerate(g["node_params"]):
            if [x.encode() for x in names] != sorted(x.encode() for x in names):
                out.append(f"NodeParameters of node {i} not sorted (2.25 binary-searches them)")
        if g["graph_param_names"] != sorted(g["graph_param_names"], key=str.encode):
            out.append("GraphParameters not sorted by name")
        for b in g.get("buffer_layout", []):
            if b.get("len_width") != 8 or b.get("offset_width") != 8 or b.get("payload_align") != 0:
                out.append(f"NR64 buffer layout {b}")
                break
        for t in g["tensors"]:
            tw = f"tensor {t['name']}"
            q = t["quant"]
            if q is None:
                out.append(f"{tw}: no QuantizationData")
            elif q["type"] != UNDEFINED:
                if not (q["is_overridden"] or t["quantizable"]):
                    out.append(f"{tw}: quantized, neither overridden nor quantizable (2.25: error 305)")
            if t["type"] == STATIC and t["data"] is None:
                out.append(f"{tw}: static tensor without data")
            if t["type"] not in (NULL, STATIC) and t["dtype"] in FLOAT_KINDS and not t["quantizable"]:
                out.append(f"{tw}: float activation not marked quantizable")
        if not any(t["type"] == APP_WRITE for t in g["tensors"]) or not any(t["type"] == APP_READ for t in g["tensors"]):
            out.append("graph has no APP_WRITE input or no APP_READ output tensor")
    return out


def real_models() -> list[dict]:
    """The golden models of ``dlc-real/manifest.json`` (empty when the folder is absent)."""
    manifest = REAL_DIR / "manifest.json"
    if not manifest.is_file():
        return []
    return json.loads(manifest.read_text())["models"]


__all__ = ["REAL_DIR", "violations", "real_models", "real_attribute_table"]

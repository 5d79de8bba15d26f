"""``--quantization_overrides FILE``: AIMET encodings JSON -> encodings on the named DLC tensors.

Both formats of ``snpe_reference.md`` are read:

* the legacy ("AIMET 0.x") dict format: ``{"activation_encodings": {name: [entry, ...]},
  "param_encodings": {name: [entry, ...]}}`` (both sections required, may be empty); an entry has
  ``bitwidth`` (required), ``min``/``max`` and/or ``scale``/``offset``, ``is_symmetric`` ("True"/"False"
  strings or booleans) and ``dtype`` ("int"/"float"); several entries = one per output channel;
* the 1.0.0 list format: ``{"version": "1.0.0", "activation_encodings": [{"name", "bw", "dtype",
  "enc_type", "is_sym", "scale": [...], "offset": [...]}], "param_encodings": [...]}``.

SNPE's conventions (section 3.1): offsets are normalised to ``-abs(offset)``; with only scale/offset,
``min = offset * scale`` and ``max = (2^bw - 1 + offset) * scale``; a symmetric entry's offset must be 0
or ``-2^(bw-1)`` and is stored as QNN's signed symmetric encoding (offset 0); every entry of a tensor
shares bitwidth and symmetry.  Per-channel entries land on the weight's output-channel axis in the DLC
layout.  The encodings are attached to *float* tensors (the DLC stays float, as SNPE's converter
leaves it) and are applied by ``snpe-dlc-quant --override_params`` / ``qairt-quantizer``.

Refused with a one-line error: unknown tensor names, a name given twice or in both sections, a
parameter entry on a computed tensor (or the reverse), entries on integer tensors, bitwidths other than
8/16 (4/8/16/32 for parameters), float entries of other widths, ``dtype: float`` 32-bit entries in a
converter (a float DLC cannot mark a float32 tensor as "keep float": give them to ``qairt-quantizer
--quantization_overrides``), and the 1.0.0 block/vector encodings (PER_BLOCK, LPBQ, VECTOR).

Float mixed precision: a ``dtype: float`` 16-bit entry makes the tensor float16 (with the weights and
bias of the op that computes it, SNPE's rule), which the DLC records as the tensor's type; the quantizer
keeps float16 tensors float16.  A 32-bit entry keeps the tensor float32 in ``qairt-quantizer``.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from ..errors import ConversionError, SnpeToolsError
from ..ir.graph import Encoding, Graph
from .source import SourceEncoding, apply_source_encodings, from_min_max

_ACT_BITS = (8, 16)
_PARAM_BITS = (4, 8, 16, 32)      # 4-bit weights: int8 containers, as the quantizer stores them
_MAX_BYTES = 256 << 20


class OverrideError(ConversionError):
    """A quantization-overrides file that cannot be applied (one line, names the entry and the fix)."""


def load_overrides(path_or_dict: str | os.PathLike | dict, error: type[SnpeToolsError] = OverrideError) -> dict:
    """The overrides JSON as a dict (a path is read with a size limit and a one-line error)."""
    if isinstance(path_or_dict, dict):
        return path_or_dict
    path = os.fspath(path_or_dict)
    if not os.path.isfile(path):
        raise error(f"--quantization_overrides {path}: file not found (give the AIMET encodings JSON file)")
    if os.path.getsize(path) > _MAX_BYTES:
        raise error(f"--quantization_overrides {path}: larger than {_MAX_BYTES >> 20} MiB; not an encodings file")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise error(f"--quantization_overrides {path}: not valid JSON ({str(exc).splitlines()[0]}); give an "
                    "AIMET encodings file") from None
    if not isinstance(data, dict):
        raise error(f"--quantization_overrides {path}: the JSON must be an object with activation_encodings and "
                    "param_encodings")
    return data


def _truth(v: Any, what: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    raise OverrideError(f"{what}: expected True or False, got {v!r}")


def _num(entry: dict, key: str, what: str) -> float | None:
    v = entry.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise OverrideError(f"{what}: '{key}' must be a finite number, got {v!r}")
    return float(v)


def _channel(scale: float | None, offset: float | None, mn: float | None, mx: float | None, bw: int, sym: bool,
             what: str) -> Encoding:
    """One grid from an entry's fields, in QNN's convention (symmetric: signed, offset 0)."""
    half = 1 << (bw - 1)
    if scale is not None:
        if scale <= 0:
            raise OverrideError(f"{what}: scale {scale} must be positive")
        off = -abs(int(round(offset))) if offset is not None else (0 if sym else None)
        if off is None:
            if mn is None:
                raise OverrideError(f"{what}: an asymmetric encoding needs offset (or min) with its scale")
            off = int(min(0, max(-(2 * half - 1), round(mn / scale))))
        if sym:
            if off not in (0, -half):
                raise OverrideError(f"{what}: a symmetric {bw}-bit encoding needs offset 0 or {-half}, got {off}")
            return Encoding(bw, scale, 0, -half * scale, (half - 1) * scale)
        return Encoding(bw, scale, off, off * scale, (2 * half - 1 + off) * scale)
    if offset is not None:
        raise OverrideError(f"{what}: offset given without scale")
    if mn is None or mx is None:
        raise OverrideError(f"{what}: give scale/offset or min/max")
    try:
        return from_min_max(mn, mx, bw, symmetric=sym)
    except ValueError as exc:
        raise OverrideError(f"{what}: {exc}") from None


def _combine(chans: list[Encoding]) -> Encoding:
    if len(chans) == 1:
        return chans[0]
    c = [(e.scale, e.offset, e.min, e.max) for e in chans]
    # axis None with channels: "per output channel, axis to be placed in the DLC layout"
    return Encoding(chans[0].bitwidth, chans[0].scale, chans[0].offset, min(x[2] for x in c), max(x[3] for x in c),
                    axis=None, channels=c)


def _check_bits(bw: Any, section: str, what: str) -> int:
    allowed = _PARAM_BITS if section == "param" else _ACT_BITS
    if isinstance(bw, bool) or not isinstance(bw, int) or bw not in allowed:
        raise OverrideError(f"{what}: bitwidth {bw!r} is not supported ({'/'.join(map(str, allowed))} for "
                            f"{section} encodings)")
    return bw


class _FloatEntry(Exception):
    """A ``dtype: float`` entry (16 or 32 bits): the tensor stays float (raised to the section loop)."""

    def __init__(self, bits: int) -> None:
        super().__init__(bits)
        self.bits = bits


def _bits_of(entry: dict, key: str, is_float: bool, section: str, what: str, floats_ok: bool = False) -> int:
    """The entry's integer bit width.  Float entries (mixed precision, 16 or 32 bits) are raised as
    :class:`_FloatEntry` where the caller collects them (``floats_ok``), refused otherwise."""
    if is_float:
        if entry.get(key) not in (16, 32):
            raise OverrideError(f"{what}: dtype float needs bitwidth 16 or 32, got {entry.get(key)!r}")
        if floats_ok:
            raise _FloatEntry(entry[key])
        raise OverrideError(f"{what}: dtype float entries (mixed precision) are not supported here")
    if key not in entry:
        raise OverrideError(f"{what}: '{key}' is required")
    return _check_bits(entry[key], section, what)


def _legacy_entries(name: str, entries: Any, section: str, floats_ok: bool = False) -> Encoding:
    what = f"{section}_encodings['{name}']"
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise OverrideError(f"{what}: expected a list of encoding objects")
    chans, shape = [], None
    for k, e in enumerate(entries):
        w = f"{what}[{k}]"
        bw = _bits_of(e, "bitwidth", str(e.get("dtype", "int")).lower() == "float", section, w, floats_ok)
        sym = _truth(e.get("is_symmetric", False), f"{w} is_symmetric")
        if shape is not None and shape != (bw, sym):
            raise OverrideError(f"{what}: entries disagree on bitwidth/is_symmetric; all channels of a tensor share them")
        shape = (bw, sym)
        chans.append(_channel(_num(e, "scale", w), _num(e, "offset", w), _num(e, "min", w), _num(e, "max", w),
                              bw, sym, w))
    if len(chans) > 1 and section == "activation":
        raise OverrideError(f"{what}: per-channel activation encodings are not supported (give one entry)")
    return _combine(chans)


def _v1_entry(e: Any, section: str, floats_ok: bool = False) -> tuple[str, Encoding]:
    if not isinstance(e, dict) or not isinstance(e.get("name"), str):
        raise OverrideError(f"{section}_encodings: every entry needs a string 'name'")
    name = e["name"]
    what = f"{section}_encodings '{name}'"
    bw = _bits_of(e, "bw", str(e.get("dtype", "INT")).upper() == "FLOAT", section, what, floats_ok)
    kind = str(e.get("enc_type", "PER_TENSOR")).upper()
    if kind not in ("PER_TENSOR", "PER_CHANNEL"):
        raise OverrideError(f"{what}: enc_type {kind} is not supported (PER_TENSOR and PER_CHANNEL only)")
    sym = _truth(e.get("is_sym", False), f"{what} is_sym")
    scales, offsets = e.get("scale"), e.get("offset")
    scales = [scales] if isinstance(scales, (int, float)) else scales
    offsets = [offsets] if isinstance(offsets, (int, float)) else offsets
    if scales is None:
        raise OverrideError(f"{what}: 'scale' is required in the 1.0.0 format" if offsets is None else
                            f"{what}: offset given without scale")
    if not isinstance(scales, list) or not scales or (offsets is not None and (
            not isinstance(offsets, list) or len(offsets) != len(scales))):
        raise OverrideError(f"{what}: scale and offset must be lists of the same length")
    if not sym and offsets is None:
        raise OverrideError(f"{what}: an asymmetric encoding needs both scale and offset")
    if kind == "PER_CHANNEL" and not sym:
        raise OverrideError(f"{what}: PER_CHANNEL encodings must be symmetric")
    if kind == "PER_TENSOR" and len(scales) != 1:
        raise OverrideError(f"{what}: PER_TENSOR takes one scale, got {len(scales)}")
    if kind == "PER_CHANNEL" and section == "activation":
        raise OverrideError(f"{what}: per-channel activation encodings are not supported")
    chans = []
    for k, s in enumerate(scales):
        entry = {"scale": s, "offset": offsets[k] if offsets is not None else None}
        chans.append(_channel(_num(entry, "scale", what), _num(entry, "offset", what), None, None, bw, sym, what))
    return name, _combine(chans)


def parse_overrides(data: dict, floats: dict[str, int] | None = None) -> tuple[dict[str, Encoding],
                                                                              dict[str, Encoding]]:
    """(activation encodings, param encodings) by tensor name, validated (one-line OverrideError).
    With a ``floats`` dict, tensors given ``dtype: float`` are collected there with their bit width."""
    unknown = sorted(set(data) - {"activation_encodings", "param_encodings", "version", "excluded_layers",
                                  "producer", "quantizer_args"})
    if unknown:
        raise OverrideError(f"quantization overrides: unknown top-level key '{unknown[0]}' (expected "
                            "activation_encodings, param_encodings, version)")
    for key in ("activation_encodings", "param_encodings"):
        if key not in data:
            raise OverrideError(f"quantization overrides: '{key}' is required (it may be empty)")
    out: tuple[dict[str, Encoding], dict[str, Encoding]] = ({}, {})
    for section, store in (("activation", out[0]), ("param", out[1])):
        block = data[f"{section}_encodings"]
        if isinstance(block, dict):
            for name, entries in block.items():
                try:
                    store[name] = _legacy_entries(name, entries, section, floats is not None)
                except _FloatEntry as f:
                    floats[name] = f.bits
        elif isinstance(block, list):
            for e in block:
                try:
                    name, enc = _v1_entry(e, section, floats is not None)
                except _FloatEntry as f:
                    floats[e["name"]] = f.bits
                    continue
                if name in store:
                    raise OverrideError(f"{section}_encodings: '{name}' is given twice")
                store[name] = enc
        else:
            raise OverrideError(f"{section}_encodings must be an object (legacy format) or a list (1.0.0 format)")
    both = sorted((set(out[0]) & set(out[1])) | ((set(out[0]) | set(out[1])) & set(floats or ())))
    if both:
        raise OverrideError(f"quantization overrides: '{both[0]}' is in both activation_encodings and "
                            "param_encodings; a tensor takes one encoding")
    return out


def apply_overrides(graph: Graph, path_or_dict: str | os.PathLike | dict,
                    floats: dict[str, int] | None = None) -> dict[str, Encoding]:
    """Put the encodings of an overrides file on the named tensors of ``graph`` (after conversion: the
    names are the source model's, as the converted DLC keeps them).  Returns name -> encoding applied.

    Raises a one-line :class:`OverrideError` for any entry that cannot be applied; the graph is only
    changed when every entry is valid.  ``floats``: receives the tensors a ``dtype: float`` entry keeps
    float (name -> 16 or 32); they lose any encoding they had, and float16 ones become float16 with
    the weights and bias of their op (:func:`float16_tensors`)."""
    acts, params = parse_overrides(load_overrides(path_or_dict), floats)
    for name in floats or ():
        if name not in graph.tensors:
            raise OverrideError(f"quantization overrides: '{name}' is not a tensor of the model; use the source "
                                "model's tensor names")
    pending: dict[str, SourceEncoding] = {}
    for section, store in (("activation", acts), ("param", params)):
        for name, enc in store.items():
            t = graph.tensors.get(name)
            if t is None:
                raise OverrideError(f"{section}_encodings: '{name}' is not a tensor of the converted model; use the "
                                    "source model's tensor names")
            if np.dtype(t.dtype).kind != "f":
                raise OverrideError(f"{section}_encodings: '{name}' is a {np.dtype(t.dtype).name} tensor; only float "
                                    "tensors take encodings")
            if section == "param" and not t.is_static:
                raise OverrideError(f"param_encodings: '{name}' is computed at run time; move it to "
                                    "activation_encodings")
            if section == "activation" and t.is_static:
                raise OverrideError(f"activation_encodings: '{name}' is a parameter (static data); move it to "
                                    "param_encodings")
            if enc.channels and len(enc.channels) > 1 and not any(d == len(enc.channels) for d in t.shape):
                raise OverrideError(f"param_encodings: '{name}' has {len(enc.channels)} channel encodings but its "
                                    f"shape {list(t.shape)} has no axis of that size")
            pending[name] = SourceEncoding(enc)
    missed = apply_source_encodings(graph, pending)
    if missed:
        raise OverrideError(f"param_encodings: the per-channel encodings of '{missed[0]}' fit no single axis of "
                            f"its shape {list(graph.tensors[missed[0]].shape)}")
    for name in floats or ():
        graph.tensors[name].encoding = None
    to_float16(graph, [n for n, bits in (floats or {}).items() if bits == 16])
    return {n: graph.tensors[n].encoding for n in pending}


def to_float16(graph: Graph, names: list[str]) -> None:
    """Float16 mixed precision: ``names`` and the static inputs of the ops computing them become float16."""
    if not names:
        return
    wanted = set(names)
    for op in graph.ops:
        if wanted & set(op.outputs):
            wanted.update(i for i in op.inputs if i and graph.tensors[i].is_static
                          and np.dtype(graph.tensors[i].dtype).kind == "f")
    for name in wanted:
        t = graph.tensors[name]
        t.dtype, t.encoding = np.dtype(np.float16), None
        if t.is_static:
            t.data = np.asarray(t.data).astype(np.float16)


def refuse_float32(floats: dict[str, int]) -> None:
    """Converters: a float DLC cannot mark a float32 tensor as "stay float" (float16 is its type)."""
    wide = sorted(n for n, bits in floats.items() if bits == 32)
    if wide:
        raise OverrideError(f"quantization overrides: '{wide[0]}' has a dtype float 32-bit entry; a converted DLC "
                            "cannot mark a float32 tensor to stay float - give this file to qairt-quantizer "
                            "--quantization_overrides instead (float16 entries work here)")

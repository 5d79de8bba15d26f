"""Encodings that come from a quantized *source* model (ONNX QDQ, TF FakeQuant, AIMET overrides).

A source framework states a quantization grid as (scale, zero point, storage type) or as a clamping
range (min, max, bits).  SNPE keeps such grids as QNN encodings on the (still float) tensors of the
converted DLC, in its own convention (``snpe_reference.md`` section 3.1; Qualcomm's DLC of a QDQ model
in ``shared/reference/dlc-real/qdq_cnn``):

* ``real = (q + offset) * scale`` with ``offset = -zero_point``;
* a signed grid with zero point 0 is *symmetric*: offset 0, ``min = -2^(bw-1) * scale``,
  ``max = (2^(bw-1) - 1) * scale`` (int8 weights, int32 biases);
* any other grid is stored in the unsigned view SNPE's runtimes use for activations: an int8 grid
  with zero point z is the uint8 grid with zero point ``z + 128`` (same real values), so the offset is
  always in ``[-(2^bw - 1), 0]``.

The same functions serve every frontend, so a QDQ pair, a FakeQuant node and an override entry that
describe the same grid give the same encoding.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConversionError
from ..ir.encodings import dequantize_array, quantize_array
from ..ir.graph import Encoding, Graph
from ..ops.registry import get_op_def

log = logging.getLogger("snpe_tools")


@dataclass
class SourceEncoding:
    """An encoding a frontend found in the source model, waiting for the converted graph.

    Frontends record them by source tensor name (``Graph.source_encodings``) and the converter backend
    attaches them after the IR passes, when tensors carry their final names and layouts.  A per-axis
    encoding's ``axis`` is in the *source* layout of the constant whose shape is ``src_shape``."""

    encoding: Encoding
    src_shape: tuple[int, ...] | None = None
    # static data that was computed from this grid (a constant DequantizeLinear): if a translator changed
    # the values since (a BatchNorm's gamma turned into gamma / sqrt(var + eps)), the grid no longer
    # describes them and is dropped
    on_grid: bool = False


def _one(scale: float, zero_point: int, bitwidth: int, signed: bool) -> tuple[float, int, float, float]:
    """(scale, offset, min, max) of one grid in SNPE's convention."""
    lo = -(1 << (bitwidth - 1)) if signed else 0
    hi = lo + (1 << bitwidth) - 1
    if signed and zero_point == 0:
        return float(scale), 0, lo * float(scale), hi * float(scale)
    offset = -(int(zero_point) - lo)                 # unsigned view
    return float(scale), offset, (lo - int(zero_point)) * float(scale), (hi - int(zero_point)) * float(scale)


def from_zero_point(scale, zero_point, bitwidth: int, signed: bool, axis: int | None = None) -> Encoding:
    """Encoding of a source grid ``real = scale * (q - zero_point)`` stored in ``bitwidth``-bit integers
    (signed or not); ``scale``/``zero_point`` with more than one element give a per-axis encoding along
    ``axis`` (the axis in the tensor's *current* layout; frontends remap it when they permute data)."""
    scales = np.asarray(scale, np.float64).reshape(-1)
    zps = np.asarray(zero_point if zero_point is not None else 0, np.int64).reshape(-1)
    if zps.size == 1 and scales.size > 1:
        zps = np.repeat(zps, scales.size)
    if scales.size != zps.size:
        raise ValueError(f"{scales.size} scales but {zps.size} zero points")
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("scales must be positive and finite")
    chans = [_one(s, int(z), bitwidth, signed) for s, z in zip(scales, zps)]
    if len(chans) == 1 and axis is None:
        s, o, mn, mx = chans[0]
        return Encoding(bitwidth, s, o, mn, mx)
    s, o = chans[0][0], chans[0][1]
    return Encoding(bitwidth, s, o, min(c[2] for c in chans), max(c[3] for c in chans), axis=axis,
                    channels=chans)


def from_min_max(mn: float, mx: float, bitwidth: int, symmetric: bool = False) -> Encoding:
    """Encoding of an override given only by its range (AIMET ``min``/``max`` without scale/offset):
    scale spans the range over ``2^bw - 1`` steps, offset ``round(min / scale)`` clamped to the grid."""
    mn, mx = float(mn), float(mx)
    if not (math.isfinite(mn) and math.isfinite(mx)) or mx < mn:
        raise ValueError(f"min {mn} / max {mx} are not a range")
    levels = (1 << bitwidth) - 1
    if symmetric:
        absmax = max(abs(mn), abs(mx))
        half = 1 << (bitwidth - 1)
        scale = absmax / (half - 1) if absmax > 0 else 1e-8
        return Encoding(bitwidth, scale, 0, -half * scale, (half - 1) * scale)
    scale = (mx - mn) / levels if mx > mn else 1e-8
    offset = int(min(0, max(-levels, round(mn / scale))))
    return Encoding(bitwidth, scale, offset, offset * scale, (offset + levels) * scale)


def fake_quant_encoding(mn: float, mx: float, num_bits: int = 8, narrow_range: bool = False) -> Encoding:
    """Encoding of a TF ``FakeQuantWithMinMax*`` node, with the range nudged as TensorFlow nudges it.

    TF's kernel moves [min, max] so that 0 is on the grid: ``quant_min = 1 if narrow_range else 0``,
    ``quant_max = 2^bits - 1``, ``scale = (max - min) / (quant_max - quant_min)``,
    ``zero_point = round(quant_min - min / scale)`` clamped to [quant_min, quant_max], nudged
    ``min = (quant_min - zero_point) * scale``.  The DLC encoding is that grid (offset ``-zero_point``);
    a narrow range keeps the full ``2^bits``-level storage (its lowest level is simply unused).
    """
    mn, mx = float(mn), float(mx)
    if not 2 <= num_bits <= 16:
        raise ConversionError(f"FakeQuant num_bits {num_bits} is not supported (2..16)")
    if not (math.isfinite(mn) and math.isfinite(mx)) or mx < mn:
        raise ConversionError(f"FakeQuant range [{mn}, {mx}] is not a range (min must be <= max)")
    qmin = 1 if narrow_range else 0
    qmax = (1 << num_bits) - 1
    if mx == mn:
        mx = mn + 1e-6
    # TF nudges in float32: for [-1, 1] the float32 quotient 1 / (2/255) is 127.49999, so the zero point is
    # 127, not the 128 that exact arithmetic gives (and the grid reaches +1.0039 instead of -1.0039)
    f32 = np.float32
    scale = f32(f32(mx) - f32(mn)) / f32(qmax - qmin)
    zp_from_min = f32(qmin) - f32(mn) / scale
    if zp_from_min < qmin:
        zp = qmin
    elif zp_from_min > qmax:
        zp = qmax
    else:
        zp = int(math.floor(float(zp_from_min) + 0.5))   # TF: std::round (half away from zero; here >= 0)
    scale = float(scale)
    return Encoding(num_bits, scale, -zp, -zp * scale, (qmax - zp) * scale)


def dlc_axis(graph: Graph, name: str, src: SourceEncoding) -> int | None:
    """Axis of a per-axis encoding in the DLC layout of tensor ``name`` (None: cannot tell).

    Per-channel weights are quantized along their *output* channels, wherever the converter moved them:
    the consuming op decides (the axis letter of its declared weight layouts - ONNX OIHW axis 0 is
    HWIO axis 3 -, else ``OpDef.weight_output_axis``: FullyConnected's [out, in] axis 0, MatMul's last
    axis); otherwise the source axis when the tensor kept its shape, or the one dimension whose size is the number of channels.  The
    op comes first because a square weight may have been transposed without changing its shape."""
    enc, t = src.encoding, graph.tensors[name]
    n = len(enc.channels or [])

    def fits(axis: int) -> bool:
        return 0 <= axis < t.rank and t.shape[axis] == n

    for op in graph.ops:
        for idx, inp in enumerate(op.inputs):
            if inp != name:
                continue
            d = get_op_def(op.type)
            fmts = d.weight_axis_formats.get(idx)
            if fmts and len(fmts[0]) == t.rank:
                # the source axis' letter (QDQ), or the output channel when the source gives no axis
                letter = fmts[1][enc.axis] if enc.axis is not None and src.src_shape is not None and \
                    len(fmts[1]) == len(src.src_shape) else "O"
                if letter in fmts[0] and fits(fmts[0].index(letter)):
                    return fmts[0].index(letter)
            elif idx == d.weight_input and not fmts:
                axis = d.weight_output_axis(op, t.rank)       # FullyConnected rows, MatMul columns ...
                if axis is not None and fits(axis):
                    return axis
    if enc.axis is not None and (src.src_shape is None or tuple(t.shape) == tuple(src.src_shape)) and fits(enc.axis):
        return enc.axis
    hits = [i for i, d in enumerate(t.shape) if d == n]
    return hits[0] if len(hits) == 1 else None


def _on_grid(enc: Encoding, data: np.ndarray) -> bool:
    """``data`` holds grid values of ``enc`` (dequantized integers, up to float32 rounding)."""
    back = dequantize_array(enc, quantize_array(enc, data))
    scale = float(np.max(np.abs([c[0] for c in enc.channels]))) if enc.channels else float(enc.scale)
    return bool(np.all(np.abs(back - data) <= 1e-3 * scale + 1e-6 * np.abs(data)))


def apply_source_encodings(graph: Graph, found: dict[str, SourceEncoding]) -> list[str]:
    """Attach recorded source encodings to the float tensors of the converted graph (they stay float:
    SNPE's float DLC with cached encodings).  Returns the names that found no float tensor (folded
    away by a pass, or integer-typed) - those are left without an encoding, as SNPE leaves them."""
    missed = []
    for name, src in found.items():
        t = graph.tensors.get(name)
        if t is None or np.dtype(t.dtype).kind != "f":
            missed.append(name)
            continue
        enc = src.encoding
        if enc.axis is not None or (enc.channels and len(enc.channels) > 1):
            axis = dlc_axis(graph, name, src)
            if axis is None:
                log.warning("WARNING_ENCODING_AXIS: the per-axis encoding of '%s' does not fit its DLC shape %s; "
                            "the tensor is left without an encoding", name, list(t.shape))
                missed.append(name)
                continue
            enc = Encoding(enc.bitwidth, enc.scale, enc.offset, enc.min, enc.max, axis=axis,
                           channels=list(enc.channels))
        if src.on_grid and t.is_static and not _on_grid(enc, np.asarray(t.data, np.float64)):
            log.debug("'%s' was changed after dequantization; its source grid is left out", name)
            missed.append(name)
            continue
        t.encoding = enc
    if missed:
        log.debug("source encodings without a float DLC tensor: %s", ", ".join(missed[:10]))
    return missed

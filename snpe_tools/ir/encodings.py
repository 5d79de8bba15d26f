"""SNPE's quantization arithmetic: range rules, encodings, and quantized static data.

The meaning of an :class:`~snpe_tools.ir.graph.Encoding`, so it lives with the IR: the runtime (quantized
feeds), the quantizer and the frontends reading quantized sources all use it (docs/architecture.rst).

Conventions (``shared/reference/snpe_reference.md`` section 3.1; ``docs/dlc-format.rst``):

* an encoding is (bit width, scale, offset, min, max) with ``real = (q + offset) * scale``;
* asymmetric (``tf``) encodings are unsigned with a non-positive offset, ``offset = round(min / scale)``
  in ``[-(2^bw - 1), 0]``;
* symmetric encodings are stored signed with offset 0 (SNPE's unsigned view: offset ``-2^(bw-1)``), scale
  ``max|x| / (2^(bw-1) - 1)``, min ``-2^(bw-1) * scale``, max ``(2^(bw-1) - 1) * scale`` (what Qualcomm's
  2.25 converter writes for symmetric weights and 32-bit biases).

Range rules of the ``tf`` min/max quantizer: the range always contains 0 (all-positive data gets min 0,
all-negative data max 0), it is at least ``min_range`` wide (SNPE's documentation: 0.01, QNN's: 0.0001),
and it is shifted so that 0 is exactly representable: scale from the (widened) range, offset rounded half
away from zero, then ``min = offset * scale`` and ``max = min + scale * (2^bw - 1)``.  This reproduces the
documentation's worked examples: [-5.1, 5.1] -> [-5.12, 5.08]; [-1.8, 0.5] -> [-1.803922, 0.496078] with
q([-1.8, -1, 0, 0.5]) = [0, 89, 200, 255].
"""
from __future__ import annotations

import numpy as np

from .graph import Encoding

SNPE_MIN_RANGE = 0.01       # SNPE documentation: max := max(true_max, true_min + 0.01)
QNN_MIN_RANGE = 0.0001      # QNN documentation (qairt-quantizer)


def round_half_away(x):
    """Round half away from zero (C's ``round``), elementwise."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def tf_grid(mn, mx, bitwidth: int, min_range: float = SNPE_MIN_RANGE):
    """SNPE's range rules applied elementwise to arrays of candidate ranges (the range searches of
    :mod:`.algorithms` try thousands): ``(scale, offset, min, max)`` arrays."""
    mn = np.minimum(np.asarray(mn, np.float64), 0.0)
    mx = np.maximum(np.maximum(np.asarray(mx, np.float64), 0.0), mn + min_range)
    levels = (1 << bitwidth) - 1
    scale = (mx - mn) / levels
    offset = np.clip(round_half_away(mn / scale), -levels, 0.0)
    new_min = offset * scale
    return scale, offset, new_min, new_min + levels * scale


def tf_encoding(mn: float, mx: float, bitwidth: int, min_range: float = SNPE_MIN_RANGE) -> Encoding:
    """Asymmetric (unsigned) encoding of the observed range ``[mn, mx]`` under SNPE's range rules."""
    scale, offset, new_min, new_max = tf_grid(float(mn), float(mx), bitwidth, min_range)
    return Encoding(bitwidth, float(scale), int(offset), float(new_min), float(new_max))


def symmetric_scale(absmax: np.ndarray, bitwidth: int, min_range: float) -> np.ndarray:
    absmax = np.maximum(np.asarray(absmax, np.float64), min_range / 2)
    return absmax / ((1 << (bitwidth - 1)) - 1)


def symmetric_encoding(absmax: float, bitwidth: int, min_range: float = SNPE_MIN_RANGE) -> Encoding:
    """Signed symmetric encoding (offset 0) covering ``[-absmax, absmax]``."""
    scale = float(symmetric_scale(absmax, bitwidth, min_range))
    half = 1 << (bitwidth - 1)
    return Encoding(bitwidth, scale, 0, -half * scale, (half - 1) * scale)


def _per_axis(scales: np.ndarray, offsets: np.ndarray, bitwidth: int, axis: int, signed: bool) -> Encoding:
    if signed:
        half = 1 << (bitwidth - 1)
        lo, hi = -half, half - 1
    else:
        lo, hi = 0, (1 << bitwidth) - 1
    chans = [(float(s), int(o), (lo + int(o)) * float(s), (hi + int(o)) * float(s)) for s, o in zip(scales, offsets)]
    return Encoding(bitwidth, chans[0][0], chans[0][1], min(c[2] for c in chans), max(c[3] for c in chans),
                    axis=axis, channels=chans)


def symmetric_per_channel(data: np.ndarray, axis: int, bitwidth: int, min_range: float = SNPE_MIN_RANGE) -> Encoding:
    """Per-channel signed symmetric encoding of ``data`` along ``axis`` (SNPE's per-channel weights)."""
    other = tuple(i for i in range(data.ndim) if i != axis)
    mag = np.abs(np.asarray(data, np.float64))
    mag[~np.isfinite(mag)] = 0.0                    # NaN/inf weights saturate; they do not set the range
    absmax = np.max(mag, axis=other) if data.size else np.zeros(data.shape[axis])
    return symmetric_per_axis(absmax, axis, bitwidth, min_range)


def symmetric_per_axis(absmax: np.ndarray, axis: int, bitwidth: int, min_range: float = SNPE_MIN_RANGE) -> Encoding:
    """Per-channel signed symmetric encoding covering ``[-absmax[c], absmax[c]]`` for every channel ``c``."""
    scales = symmetric_scale(absmax, bitwidth, min_range)
    return _per_axis(scales, np.zeros(len(scales), np.int64), bitwidth, axis, signed=True)


def restrict_steps(enc: Encoding, lo: int, hi: int) -> Encoding:
    """A signed symmetric encoding moved onto the integer steps ``[lo, hi]`` (``--restrict_quantization_steps``,
    e.g. ``-0x7F,0x7F`` for 8-bit weights that never use -128): the range it covers (``max|x|``, at
    ``2^(bw-1) - 1`` steps) now spans ``min(-lo, hi)`` steps, and min/max become ``lo``/``hi`` steps.  The
    default steps of the bit width (``-0x80,0x7F`` for 8 bits) leave the encoding as it is."""
    k = ((1 << (enc.bitwidth - 1)) - 1) / min(-lo, hi)
    if enc.axis is not None and enc.channels:
        chans = [(s * k, 0, lo * s * k, hi * s * k) for s, _, _, _ in enc.channels]
        return Encoding(enc.bitwidth, chans[0][0], 0, min(c[2] for c in chans), max(c[3] for c in chans),
                        axis=enc.axis, channels=chans)
    s = enc.scale * k
    return Encoding(enc.bitwidth, s, 0, lo * s, hi * s)


def bias_encoding(scales: np.ndarray | float, bitwidth: int = 32, per_channel: bool = False) -> Encoding:
    """Symmetric signed bias encoding whose scale is input scale x weight scale (per channel or not)."""
    scales = np.atleast_1d(np.asarray(scales, np.float64))
    if per_channel:
        return _per_axis(scales, np.zeros(len(scales), np.int64), bitwidth, 0, signed=True)
    half = 1 << (bitwidth - 1)
    s = float(scales[0])
    return Encoding(bitwidth, s, 0, -half * s, (half - 1) * s)


def unsigned_view(enc: Encoding) -> Encoding:
    """A signed symmetric per-tensor encoding as SNPE's quantizer keeps symmetric activations: the same
    grid on unsigned storage, offset ``-2^(bw-1)`` (``snpe_reference.md`` §3.1: a symmetric offset 0 is
    rewritten to ``-2^(bw-1)``), so activations stay uFxp like every other activation."""
    if enc.axis is not None or not is_signed(enc):
        return enc
    half = 1 << (enc.bitwidth - 1)
    return Encoding(enc.bitwidth, enc.scale, -half, -half * enc.scale, (half - 1) * enc.scale)


def storage_dtype(bitwidth: int, signed: bool) -> np.dtype:
    """The smallest integer type that holds ``bitwidth``-bit values."""
    for bits, s_t, u_t in ((8, np.int8, np.uint8), (16, np.int16, np.uint16), (32, np.int32, np.uint32)):
        if bitwidth <= bits:
            return np.dtype(s_t if signed else u_t)
    raise ValueError(f"no storage type for {bitwidth}-bit values")


def is_signed(enc: Encoding) -> bool:
    """Symmetric encodings (offset 0 around a negative minimum) are stored signed."""
    if enc.axis is not None and enc.channels:
        return all(c[1] == 0 for c in enc.channels) and enc.min < 0
    return enc.offset == 0 and enc.min < 0


def scale_offset(enc: Encoding, ndim: int) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Scale and offset broadcastable against a rank-``ndim`` array (per channel along ``enc.axis``)."""
    if enc.axis is not None and enc.channels:
        shape = [1] * ndim
        shape[enc.axis] = len(enc.channels)
        scale = np.asarray([c[0] for c in enc.channels], np.float64).reshape(shape)
        offset = np.asarray([c[1] for c in enc.channels], np.float64).reshape(shape)
        return scale, offset
    return float(enc.scale), float(enc.offset)


def quantize_array(enc: Encoding, x: np.ndarray) -> np.ndarray:
    """Stored integers for real values ``x`` (round half away from zero, saturate to the bit width)."""
    x = np.asarray(x, np.float64)
    scale, offset = scale_offset(enc, x.ndim)
    signed = is_signed(enc)
    dtype = storage_dtype(enc.bitwidth, signed)
    if signed:
        lo, hi = -(1 << (enc.bitwidth - 1)), (1 << (enc.bitwidth - 1)) - 1
    else:
        lo, hi = 0, (1 << enc.bitwidth) - 1
    q = round_half_away(x / scale) - offset
    return np.clip(q, lo, hi).astype(dtype)


def dequantize_array(enc: Encoding, q: np.ndarray) -> np.ndarray:
    """Real values of stored integers ``q`` (float64)."""
    q = np.asarray(q, np.float64)
    scale, offset = scale_offset(enc, q.ndim)
    return (q + offset) * scale


def scale_channels(enc: Encoding, factors: np.ndarray) -> Encoding:
    """A symmetric (offset 0) per-axis encoding with channel ``c``'s scale, min and max multiplied by
    ``factors[c]``: the same integer steps over a wider range (``--adjust_bias_encoding``)."""
    chans = [(s * float(k), o, mn * float(k), mx * float(k)) for (s, o, mn, mx), k in zip(enc.channels, factors)]
    return Encoding(enc.bitwidth, chans[0][0], chans[0][1], min(c[2] for c in chans), max(c[3] for c in chans),
                    axis=enc.axis, channels=chans)


def channel_scales(enc: Encoding) -> np.ndarray:
    """The scale of every channel (one element for a per-tensor encoding)."""
    if enc.axis is not None and enc.channels:
        return np.asarray([c[0] for c in enc.channels], np.float64)
    return np.asarray([enc.scale], np.float64)


def integer_grid(mn: float, mx: float, bitwidth: int) -> Encoding | None:
    """Scale-1 encoding holding every integer of ``[mn, mx]`` exactly (class ids, counts), or None when
    the range needs more than ``2^bitwidth`` levels.  A tf grid over [0, 6] has steps of 6/255, on which
    3 is stored as 3.0118; here it is stored as 3."""
    levels = (1 << bitwidth) - 1
    lo = min(float(np.floor(mn)), 0.0)
    if max(float(np.ceil(mx)), 0.0) - lo > levels:
        return None
    return Encoding(bitwidth, 1.0, int(lo), lo, lo + levels)

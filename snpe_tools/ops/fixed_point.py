"""Fixed-point semantics of the ops: how a quantized tensor turns into real numbers and back, and how an op
runs on quantized tensors.  It lives with the op definitions because the runtime, the quantizer and the
passes that fold or strip quantized constants all need the same semantics.

A tensor is *quantized* when it has an integer dtype and a QNN encoding (``real = (q + offset) * scale``,
per tensor or per channel along ``Encoding.axis``).  Every op runs its float kernel (in float64) on the
real values of its quantized inputs, and its quantized outputs are re-quantized with saturation to the
storage range.  That keeps each op's numerics in one place (the op's float kernel) instead of a second
integer kernel per op.  What an integer backend does differently is only *rounding*, and that is
modelled here: accumulating ops (``OpDef.integer_accumulator``: convolutions, FullyConnected, MatMul)
recover their exact integer accumulator and requantize it with a float32 multiplier and round-half-to-even; ops averaging stored
integers round ties away from the stored zero; everything else rounds half away from real zero.
Measured: InceptionV3 and MobileNetV2 int8 models run bit-exact against the LiteRT interpreter.
"""
from __future__ import annotations

import numpy as np

from ..ir.encodings import scale_offset
from ..ir.graph import Graph, Op, Tensor
from .registry import get_op_def

_REAL = np.float64
_SNAP = float(1 << 20)


def is_quantized(t: Tensor) -> bool:
    return t.encoding is not None and np.issubdtype(np.dtype(t.dtype), np.integer)


def dequantize(t: Tensor, q: np.ndarray) -> np.ndarray:
    """Real values (float32) of the stored integers ``q`` of tensor ``t``."""
    scale, offset = scale_offset(t.encoding, np.ndim(q))
    return ((np.asarray(q, np.float64) + offset) * scale).astype(_REAL)


def storage_range(t: Tensor) -> tuple[int, int]:
    """Saturation bounds: the container type, narrowed to the encoding's bit width when it is smaller."""
    info = np.iinfo(np.dtype(t.dtype))
    lo, hi = int(info.min), int(info.max)
    bw = t.encoding.bitwidth if t.encoding is not None else 0
    if 0 < bw < info.bits:
        lo, hi = (-(1 << (bw - 1)), (1 << (bw - 1)) - 1) if info.min < 0 else (0, (1 << bw) - 1)
    return lo, hi


def quantize(t: Tensor, x: np.ndarray, round_stored: bool = False) -> np.ndarray:
    """Stored integers of tensor ``t`` for real values ``x`` (round half away from zero, saturate).

    Ties are broken away from real zero (a requantized accumulator, as fixed-point multipliers do) or,
    with ``round_stored``, away from stored zero (ops that average stored integers, e.g. average pooling).
    """
    scale, offset = scale_offset(t.encoding, np.ndim(x))
    v = np.asarray(x, np.float64) / scale
    v = np.round(v * _SNAP) / _SNAP        # exact ties must stay ties despite float64 rounding on the way
    if round_stored:
        v = v - offset
        q = np.sign(v) * np.floor(np.abs(v) + 0.5)
    else:
        q = np.sign(v) * np.floor(np.abs(v) + 0.5) - offset
    lo, hi = storage_range(t)
    return np.clip(q, lo, hi).astype(t.dtype)


def is_fake_quantized(t: Tensor) -> bool:
    """A float tensor with a per-tensor encoding, as Qualcomm's converter leaves QDQ-imported tensors."""
    return (t.encoding is not None and t.encoding.axis is None and t.encoding.scale > 0
            and np.issubdtype(np.dtype(t.dtype), np.floating))


def fake_quantize(t: Tensor, x: np.ndarray) -> np.ndarray:
    """Round ``x`` to the grid of ``t``'s encoding and saturate, keeping the float type.

    This is what a fixed-point runtime computes for a float tensor that carries an encoding: a Relu
    that the converter absorbed into an encoding with min 0 (QDQ import) clamps here.  Symmetric
    encodings (offset 0 around a negative minimum) use the signed range, others the unsigned one.
    """
    enc = t.encoding
    bw = enc.bitwidth or 8
    signed = enc.offset == 0 and enc.min < 0
    lo, hi = (-(1 << (bw - 1)), (1 << (bw - 1)) - 1) if signed else (0, (1 << bw) - 1)
    q = np.clip(np.floor(np.asarray(x, np.float64) / enc.scale + 0.5) - enc.offset, lo, hi)
    return ((q + enc.offset) * enc.scale).astype(x.dtype)


def _channel_scales(t: Tensor) -> np.ndarray:
    enc = t.encoding
    if enc.axis is not None and enc.channels:
        return np.asarray([c[0] for c in enc.channels], np.float64)
    return np.asarray([enc.scale], np.float64)


def _fixed_multiplier(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``m = q * 2**(e - 31)`` with a 31-bit mantissa ``q`` (how 16-bit integer kernels hold a multiplier)."""
    mant, exp = np.frexp(m)
    q = np.round(mant * (1 << 31)).astype(np.int64)
    carry = q == (1 << 31)
    return np.where(carry, q // 2, q), np.where(carry, exp + 1, exp).astype(np.int64)


def _multiply_by_fixed(acc: np.ndarray, q: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``acc * q * 2**(e-31)`` as 16x8 kernels compute it on 64-bit accumulators: the multiplier reduced
    to 15 bits, one rounding (half up)."""
    reduced = np.where(q < 0x7FFF0000, (q + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - e
    return (acc * reduced + (np.int64(1) << (total - 1))) >> total


def _requantize_accumulator(graph: Graph, op: Op, y: np.ndarray) -> np.ndarray | None:
    """Integer-exact requantization of an accumulating op, or None when its operands are not all fixed-point."""
    a, w = (graph.tensors[n] if n else None for n in op.inputs[:2])
    out = graph.tensors[op.outputs[0]]
    if a is None or w is None or not (is_quantized(a) and is_quantized(w)) or out.encoding.axis is not None:
        return None
    acc_scale = _channel_scales(a)[0] * _channel_scales(w)
    if w.encoding.axis is not None and acc_scale.size != y.shape[-1]:
        return None
    acc = np.round(np.asarray(y, np.float64) / acc_scale).astype(np.int64)
    if out.dtype.itemsize >= 2:
        # 16-bit activations: 31-bit fixed-point multiplier with two roundings (16x8 integer kernels)
        q, e = _fixed_multiplier(acc_scale / out.encoding.scale)
        v = _multiply_by_fixed(acc, q, e) - out.encoding.offset
    else:
        # 8-bit: float32 multiplier computed in this order, round half to even (XNNPACK-style kernels)
        mult = (np.float32(_channel_scales(a)[0]) * _channel_scales(w).astype(np.float32)) / \
            np.float32(out.encoding.scale)
        v = np.rint(acc.astype(np.float32) * mult).astype(np.int64) - out.encoding.offset
    lo, hi = storage_range(out)
    return np.clip(v, lo, hi).astype(out.dtype)


def run_op(graph: Graph, op: Op, xs: list[np.ndarray | None]) -> list[np.ndarray]:
    """Execute one op: quantized inputs are read as real values, quantized outputs stored as integers."""
    ins = [graph.tensors[n] if n else None for n in op.inputs]
    quant_in = [t is not None and x is not None and is_quantized(t) for t, x in zip(ins, xs)]
    outs = [graph.tensors[n] for n in op.outputs]
    quant_out = [is_quantized(t) for t in outs]
    if any(quant_in):
        xs = [dequantize(t, x) if q else x for t, x, q in zip(ins, xs, quant_in)]
    opdef = get_op_def(op.type)
    ys = opdef.compute(op, xs)
    ys = [fake_quantize(t, y) if is_fake_quantized(t) else y for t, y in zip(outs, ys)]
    if any(quant_out):
        # ops declaring ``integer_accumulator`` (output = sum(x_q * w_q) of inputs 0 and 1, + the bias at the
        # same scale, channels last) are requantized from the exact accumulator as integer kernels do it,
        # which reproduces the LiteRT interpreter bit for bit on 8-bit models
        exact = _requantize_accumulator(graph, op, ys[0]) if opdef.integer_accumulator and quant_out[0] else None
        if exact is not None:
            return [exact] + list(ys[1:])
        stored = opdef.rounds_stored_values
        ys = [quantize(t, y, stored) if q else y for t, y, q in zip(outs, ys, quant_out)]
    return ys

"""Fixed-point semantics of the reference runtime: how a quantized tensor turns into real numbers and back.

A tensor is *quantized* when it has an integer dtype and a QNN encoding (``real = (q + offset) * scale``,
per tensor or per channel along ``Encoding.axis``).  Every op runs its float kernel on the real values of
its quantized inputs, and its quantized outputs are re-quantized with round-half-away-from-zero and
saturation to the storage range.  That is what a fixed-point backend computes up to its integer
rounding, and it keeps each op's numerics in one place (the op's float kernel) instead of a second
integer kernel per op; TFLite's integer kernels differ from it by at most one quantization step.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Encoding, Graph, Op, Tensor
from ..ops.registry import get_op_def


def is_quantized(t: Tensor) -> bool:
    return t.encoding is not None and np.issubdtype(np.dtype(t.dtype), np.integer)


def _scale_offset(enc: Encoding, rank: int) -> tuple[np.ndarray | float, np.ndarray | float]:
    if enc.axis is not None and enc.channels:
        shape = [1] * rank
        shape[enc.axis] = len(enc.channels)
        scale = np.asarray([c[0] for c in enc.channels], np.float64).reshape(shape)
        offset = np.asarray([c[1] for c in enc.channels], np.float64).reshape(shape)
        return scale, offset
    return float(enc.scale), float(enc.offset)


def dequantize(t: Tensor, q: np.ndarray) -> np.ndarray:
    """Real values (float32) of the stored integers ``q`` of tensor ``t``."""
    scale, offset = _scale_offset(t.encoding, np.ndim(q))
    return ((np.asarray(q, np.float64) + offset) * scale).astype(np.float32)


def storage_range(t: Tensor) -> tuple[int, int]:
    """Saturation bounds: the container type, narrowed to the encoding's bit width when it is smaller."""
    info = np.iinfo(np.dtype(t.dtype))
    lo, hi = int(info.min), int(info.max)
    bw = t.encoding.bitwidth if t.encoding is not None else 0
    if 0 < bw < info.bits:
        lo, hi = (-(1 << (bw - 1)), (1 << (bw - 1)) - 1) if info.min < 0 else (0, (1 << bw) - 1)
    return lo, hi


def quantize(t: Tensor, x: np.ndarray) -> np.ndarray:
    """Stored integers of tensor ``t`` for real values ``x`` (round half away from zero, saturate)."""
    scale, offset = _scale_offset(t.encoding, np.ndim(x))
    v = np.asarray(x, np.float64) / scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) - offset
    lo, hi = storage_range(t)
    return np.clip(q, lo, hi).astype(t.dtype)


def run_op(graph: Graph, op: Op, xs: list[np.ndarray | None]) -> list[np.ndarray]:
    """Execute one op: quantized inputs are read as real values, quantized outputs stored as integers."""
    ins = [graph.tensors[n] if n else None for n in op.inputs]
    quant_in = [t is not None and x is not None and is_quantized(t) for t, x in zip(ins, xs)]
    outs = [graph.tensors[n] for n in op.outputs]
    quant_out = [is_quantized(t) for t in outs]
    if any(quant_in):
        xs = [dequantize(t, x) if q else x for t, x, q in zip(ins, xs, quant_in)]
    ys = get_op_def(op.type).compute(op, xs)
    if any(quant_out):
        ys = [quantize(t, y) if q else y for t, y, q in zip(outs, ys, quant_out)]
    return ys

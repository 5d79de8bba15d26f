"""QUANTIZE, DEQUANTIZE, FAKE_QUANT -> QNN Quantize / Convert / Dequantize (``snpe_tools/ops/quant.py``).

FAKE_QUANT on float data has no QNN op of its own: it is computed step by step as TFLite's kernel does.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("QUANTIZE")
def quantize(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    if not ctx.is_quantized(op.outputs[0]):
        raise ConversionError(f"QUANTIZE op #{op.index} ({ctx.out_label(op)}): the output has no quantization "
                              "parameters")
    ctx.emit_out(op, "Convert" if ctx.is_quantized(op.inputs[0]) else "Quantize", [x], act=0)


@tflite_op("DEQUANTIZE")
def dequantize(ctx: TfliteContext, op: TflOp) -> None:
    if ctx.is_const(op.inputs[0]):           # fp16 / int8 weights: widened once, at convert time
        ctx.consts[op.outputs[0]] = ctx.real_const(op.inputs[0])
        return
    x = ctx.tensor(op.inputs[0])
    if ctx.graph.tensors[x].encoding is None:     # float16 activations
        ctx.emit_out(op, "Cast", [x], {"to": qd.FLOAT_32}, act=0)
    else:
        ctx.emit_out(op, "Dequantize", [x], act=0)


@tflite_op("FAKE_QUANT")
def fake_quant(ctx: TfliteContext, op: TflOp) -> None:
    """TFLite's FakeQuant on float data, step by step in float32 as its kernel computes it:
    clamp to the nudged range, then round((x - nudged_min) / scale) * scale + nudged_min, the
    rounding of a non-negative value being floor(v + 0.5)."""
    if op.options.get("narrow_range", False):
        raise ConversionError(f"FAKE_QUANT op #{op.index} ({ctx.out_label(op)}): narrow_range is meant for weights "
                              "and LiteRT refuses it on activations too; re-export without narrow_range")
    lo, hi, scale = _nudged_range(op)
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name

    def step(type_: str, ins: list[str], tag: str, params: dict | None = None) -> str:
        return ctx.emit(type_, ins, None, params, name=f"{base}.{tag}")[0]

    def const(v: np.float32, tag: str) -> str:
        return ctx.add_const(f"{base}.{tag}", np.asarray([v], np.float32))

    v = step("ReluMinMax", [x], "clamped", {"min_value": float(lo), "max_value": float(hi)})
    v = step("ElementWiseSubtract", [v, const(lo, "nudged_min")], "shifted")
    v = step("ElementWiseMultiply", [v, const(np.float32(1.0) / scale, "inv_scale")], "steps")
    v = step("ElementWiseFloor", [step("ElementWiseAdd", [v, const(np.float32(0.5), "half")], "half_up")], "rounded")
    v = step("ElementWiseMultiply", [v, const(scale, "scale")], "rescaled")
    ctx.emit_out(op, "ElementWiseAdd", [v, const(lo, "offset")], act=0)


def _nudged_range(op: TflOp) -> tuple[np.float32, np.float32, np.float32]:
    """(nudged_min, nudged_max, scale): [min, max] moved so that real 0 is exactly representable."""
    o = op.options
    f32 = np.float32
    mn, mx = f32(o.get("min", 0.0)), f32(o.get("max", 0.0))
    qmin = f32(0)
    qmax = f32((1 << int(o.get("num_bits", 8))) - 1)
    scale = f32((mx - mn) / (qmax - qmin))
    zp_from_min = f32(qmin - mn / scale)
    zp = qmin if zp_from_min < qmin else qmax if zp_from_min > qmax else f32(np.floor(zp_from_min + f32(0.5)))
    return f32((qmin - zp) * scale), f32((qmax - zp) * scale), scale

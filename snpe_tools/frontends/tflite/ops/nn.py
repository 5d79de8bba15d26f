"""Pooling, reductions, softmax, normalisation, resize, argmax, (de)quantization and casts."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op
from ...lowering.padding import auto_pads, pad_amount
from .conv import padding_mode


def _pool_params(ctx: TfliteContext, op: TflOp, x: str) -> dict:
    o = op.options
    kh, kw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    pads = auto_pads(padding_mode(op), ctx.graph.tensors[x].shape[1:3], (kh, kw), (sh, sw))
    return {"filter_size": [kh, kw], "stride": [sh, sw], "pad_amount": pad_amount(pads)}


@tflite_op("AVERAGE_POOL_2D")
def average_pool(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    ctx.emit_out(op, "PoolAvg2d", [x], dict(_pool_params(ctx, op, x), count_pad_for_edges=False))


@tflite_op("MAX_POOL_2D")
def max_pool(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    ctx.emit_out(op, "PoolMax2d", [x], _pool_params(ctx, op, x))


_REDUCE = {"MEAN": "ReduceMean", "SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax", "REDUCE_MIN": "ReduceMin",
           "REDUCE_PROD": "ReduceProd"}


@tflite_op(*_REDUCE)
def reduce(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axes = sorted({int(a) % rank for a in np.asarray(ctx.require_const(op, 1, "the reduction axes")).reshape(-1)})
    ctx.emit_out(op, _REDUCE[op.name], [x], {"axes": axes, "keep_dims": bool(op.options.get("keep_dims", False))},
                 act=0)


@tflite_op("SOFTMAX", "LOG_SOFTMAX")
def softmax(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    beta = float(op.options.get("beta", 1.0))
    ctx.emit_out(op, "Softmax" if op.name == "SOFTMAX" else "LogSoftmax", [x], {"axis": rank - 1, "beta": beta},
                 act=0)


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


@tflite_op("CAST")
def cast(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    target = ctx.t(op.outputs[0]).dtype
    target = {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.int64): np.dtype(np.int32),
              np.dtype(np.float16): np.dtype(np.float32)}.get(target, target)
    ctx.emit_out(op, "Cast", [x], {"to": qd.to_qnn(target)}, act=0)


@tflite_op("ARG_MAX", "ARG_MIN")
def argmax(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axis = int(np.asarray(ctx.require_const(op, 1, "the axis")).reshape(-1)[0]) % rank
    y = ctx.emit_out(op, "Argmax" if op.name == "ARG_MAX" else "Argmin", [x], {"axis": axis}, act=0)
    ctx.graph.tensors[y].dtype = np.dtype(np.int32)


@tflite_op("L2_NORMALIZATION")
def l2_normalization(ctx: TfliteContext, op: TflOp) -> None:
    """x / sqrt(max(sum(x^2), 1e-12)) over the last axis (TFLite's kernel epsilon)."""
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name
    rank = ctx.graph.tensors[x].rank
    sq = ctx.emit("ElementWiseMultiply", [x, x], None, name=f"{base}.sq")[0]
    ss = ctx.emit("ReduceSum", [sq], None, {"axes": [rank - 1], "keep_dims": True}, name=f"{base}.sumsq")[0]
    ss = ctx.emit("ElementWiseMaximum", [ss, ctx.add_const(f"{base}.eps", np.asarray(1e-12, np.float32))],
                  None, name=f"{base}.clamped")[0]
    inv = ctx.emit("ElementWiseRsqrt", [ss], None, name=f"{base}.rsqrt")[0]
    ctx.emit_out(op, "ElementWiseMultiply", [x, inv])


@tflite_op("LOCAL_RESPONSE_NORMALIZATION")
def lrn(ctx: TfliteContext, op: TflOp) -> None:
    """x / (bias + alpha * sum(x^2 over channels c-radius..c+radius))^beta.

    TF's alpha multiplies the plain window sum (ONNX's is divided by the window size first), and
    QNN Lrn has TF's form, so alpha is passed through unchanged.
    """
    o = op.options
    ctx.emit_out(op, "Lrn", [ctx.tensor(op.inputs[0])],
                 {"radius": int(o.get("radius", 5)), "bias": float(o.get("bias", 1.0)),
                  "alpha": float(o.get("alpha", 1.0)), "beta": float(o.get("beta", 0.5))}, act=0)


@tflite_op("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize(ctx: TfliteContext, op: TflOp) -> None:
    from ....ops.resize import ALIGN_CORNERS, ASYMMETRIC, FLOOR, HALF_PIXEL, LINEAR, NEAREST, ROUND_PREFER_CEIL

    x = ctx.tensor(op.inputs[0])
    size = [int(v) for v in np.asarray(ctx.require_const(op, 1, "the output size")).reshape(-1)]
    shape = list(ctx.graph.tensors[x].shape)
    out = [shape[0], size[0], size[1], shape[3]]
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    mode = ALIGN_CORNERS if align else HALF_PIXEL if half else ASYMMETRIC
    params = {"shape": out, "transformation_mode": mode}
    if op.name == "RESIZE_BILINEAR":
        params["interpolation_mode"] = LINEAR
    else:
        # TF nearest: floor of the asymmetric coordinate, rounded (half up) with align_corners;
        # with half_pixel_centers TF takes floor((x + 0.5) * scale), which is HALF_PIXEL rounded up at .5
        params["interpolation_mode"] = NEAREST
        params["nearest_mode"] = ROUND_PREFER_CEIL if (align or half) else FLOOR
    ctx.emit_out(op, "Resize", [x], params, act=0)


@tflite_op("L2_POOL_2D")
def l2_pool(ctx: TfliteContext, op: TflOp) -> None:
    """sqrt(mean of x^2 over the window); TFLite averages over the in-bounds taps only (SAME borders)."""
    x = ctx.tensor(op.inputs[0])
    base = ctx.t(op.outputs[0]).name
    sq = ctx.emit("ElementWiseMultiply", [x, x], None, name=f"{base}.square")[0]
    mean = ctx.emit("PoolAvg2d", [sq], None, dict(_pool_params(ctx, op, x), count_pad_for_edges=False),
                    name=f"{base}.mean_square")[0]
    ctx.emit_out(op, "ElementWiseSquareRoot", [mean])


@tflite_op("REDUCE_ANY", "REDUCE_ALL")
def reduce_bool(ctx: TfliteContext, op: TflOp) -> None:
    """any / all of booleans = max / min of their 0/1 values (uint8 between two Casts)."""
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axes = sorted({int(a) % rank for a in np.asarray(ctx.require_const(op, 1, "the reduction axes")).reshape(-1)})
    base = ctx.t(op.outputs[0]).name
    u8 = ctx.emit("Cast", [x], None, {"to": qd.to_qnn(np.uint8)}, name=f"{base}.as_uint8")[0]
    red = ctx.emit("ReduceMax" if op.name == "REDUCE_ANY" else "ReduceMin", [u8], None,
                   {"axes": axes, "keep_dims": bool(op.options.get("keep_dims", False))}, name=f"{base}.reduced")[0]
    ctx.emit_out(op, "Cast", [red], {"to": qd.to_qnn(np.bool_)}, act=0)

"""CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV -> QNN Conv2d / DepthWiseConv2d / TransposeConv2d
(the IR ops of ``snpe_tools/ops/conv.py``); 3-D convolutions are in ``volumetric.py``.

Weight layouts: TFLite conv ``[cout,kh,kw,cin/g]`` -> Conv2d HWIO ``[kh,kw,cin/g,cout]`` (per-channel
quantization axis 0 -> 3); depthwise ``[1,kh,kw,cin*m]`` -> ``[kh,kw,1,cin*m]`` (axis stays last);
transpose conv ``[cout,kh,kw,cin]`` -> ``[kh,kw,cin,cout]``.  SAME padding becomes explicit
``pad_amount`` (``frontends/lowering/padding.py``: the odd row/column at the bottom/right, as TF pads).
"""
from __future__ import annotations

from ....errors import ConversionError
from ...lowering.padding import auto_pads, pad_amount, transposed_pads
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def spatial_params(op: TflOp, in_shape, kh: int, kw: int) -> dict:
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    pads = auto_pads(op.padding, in_shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    return {"stride": [sh, sw], "dilation": [dh, dw], "pad_amount": pad_amount(pads)}


@tflite_op("CONV_2D")
def conv_2d(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    w_shape = ctx.t(op.inputs[1]).shape
    cout, kh, kw, cig = w_shape
    cin = ctx.graph.tensors[x].shape[3]
    if cin % cig:
        raise ConversionError(f"CONV_2D op #{op.index} ({ctx.out_label(op)}): input depth {cin} is not a multiple "
                              f"of the filter depth {cig}; the model is malformed, re-export it")
    q = ctx.quantized_io(op)
    w = ctx.weight(op.inputs[1], perm=(1, 2, 3, 0), quantized=q)
    params = spatial_params(op, ctx.graph.tensors[x].shape, kh, kw)
    params["group"] = cin // cig
    ctx.emit_out(op, "Conv2d", [x, w] + ctx.bias(op, 2, q), params)


@tflite_op("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    _, kh, kw, cm = ctx.t(op.inputs[1]).shape
    q = ctx.quantized_io(op)
    w = ctx.weight(op.inputs[1], reshape=(kh, kw, 1, cm), axis=3, quantized=q)
    cin = ctx.graph.tensors[x].shape[3]
    if cm % cin:
        raise ConversionError(f"DEPTHWISE_CONV_2D op #{op.index} ({ctx.out_label(op)}): {cm} output channels is not "
                              f"a multiple of the {cin} input channels; the model is malformed, re-export it")
    params = spatial_params(op, ctx.graph.tensors[x].shape, kh, kw)
    ctx.emit_out(op, "DepthWiseConv2d", [x, w] + ctx.bias(op, 2, q), params)


@tflite_op("TRANSPOSE_CONV")
def transpose_conv(ctx: TfliteContext, op: TflOp) -> None:
    out_shape = [int(v) for v in ctx.require_const(op, 0, "output_shape")]
    x = ctx.tensor(op.inputs[2])
    cout, kh, kw, cin = ctx.t(op.inputs[1]).shape
    q = ctx.is_quantized(op.inputs[2])
    w = ctx.weight(op.inputs[1], perm=(1, 2, 3, 0), quantized=q)
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    ih, iw = ctx.graph.tensors[x].shape[1:3]
    pads, extra = [], []
    for size_in, size_out, k, s in ((ih, out_shape[1], kh, sh), (iw, out_shape[2], kw, sw)):
        pair, more = transposed_pads(size_in, size_out, k, s, op.padding == "SAME")
        pads.append(pair)
        extra.append(more)
    params = {"stride": [sh, sw], "pad_amount": pad_amount(pads), "output_padding": extra}
    ctx.emit_out(op, "TransposeConv2d", [x, w] + ctx.bias(op, 3, q), params)

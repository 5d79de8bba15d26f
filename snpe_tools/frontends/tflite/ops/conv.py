"""CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL -> QNN convolution / linear ops.

Weight layouts: TFLite conv ``[cout,kh,kw,cin/g]`` -> Conv2d HWIO ``[kh,kw,cin/g,cout]`` (per-channel
quantization axis 0 -> 3); depthwise ``[1,kh,kw,cin*m]`` -> ``[kh,kw,1,cin*m]`` (axis stays last);
transpose conv ``[cout,kh,kw,cin]`` -> ``[kh,kw,cin,cout]``; FULLY_CONNECTED keeps ``[out,in]``.
SAME padding becomes explicit ``pad_amount`` (extra row/column at the bottom/right, as TF pads).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op

SAME, VALID = 0, 1


def same_pads(size: int, k: int, stride: int, dilation: int = 1) -> list[int]:
    """TF SAME padding [before, after] of one spatial axis."""
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return [total // 2, total - total // 2]


def spatial_params(op: TflOp, in_shape, kh: int, kw: int) -> dict:
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    if o.get("padding", VALID) == SAME:
        pads = [same_pads(in_shape[1], kh, sh, dh), same_pads(in_shape[2], kw, sw, dw)]
    else:
        pads = [[0, 0], [0, 0]]
    return {"stride": [sh, sw], "dilation": [dh, dw], "pad_amount": pads}


def _bias(ctx: TfliteContext, op: TflOp, k: int, quantized: bool) -> list[str]:
    if len(op.inputs) > k and op.inputs[k] >= 0:
        return [ctx.weight(op.inputs[k], quantized=quantized)]
    return []


@tflite_op("CONV_2D")
def conv_2d(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    w_shape = ctx.t(op.inputs[1]).shape
    cout, kh, kw, cig = w_shape
    cin = ctx.graph.tensors[x].shape[3]
    if cin % cig:
        raise ConversionError(f"CONV_2D op #{op.index}: input depth {cin} is not a multiple of the filter "
                              f"depth {cig}")
    q = ctx.quantized_io(op)
    w = ctx.weight(op.inputs[1], perm=(1, 2, 3, 0), quantized=q)
    params = spatial_params(op, ctx.graph.tensors[x].shape, kh, kw)
    params["group"] = cin // cig
    ctx.emit_out(op, "Conv2d", [x, w] + _bias(ctx, op, 2, q), params)


@tflite_op("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    _, kh, kw, cm = ctx.t(op.inputs[1]).shape
    q = ctx.quantized_io(op)
    w = ctx.weight(op.inputs[1], reshape=(kh, kw, 1, cm), axis=3, quantized=q)
    cin = ctx.graph.tensors[x].shape[3]
    if cm % cin:
        raise ConversionError(f"DEPTHWISE_CONV_2D op #{op.index}: {cm} output channels is not a multiple of "
                              f"the {cin} input channels")
    params = spatial_params(op, ctx.graph.tensors[x].shape, kh, kw)
    ctx.emit_out(op, "DepthWiseConv2d", [x, w] + _bias(ctx, op, 2, q), params)


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
    pads = []
    extra = []
    for size_in, size_out, k, s in ((ih, out_shape[1], kh, sh), (iw, out_shape[2], kw, sw)):
        full = (size_in - 1) * s + k
        if o.get("padding", VALID) == SAME:
            total = max(full - size_out, 0)
            pads.append([total // 2, total - total // 2])
            extra.append(max(size_out - (full - total), 0))
        else:
            pads.append([0, 0])
            extra.append(max(size_out - full, 0))
    params = {"stride": [sh, sw], "pad_amount": pads, "output_padding": extra}
    ctx.emit_out(op, "TransposeConv2d", [x, w] + _bias(ctx, op, 3, q), params)


@tflite_op("FULLY_CONNECTED")
def fully_connected(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    q = ctx.quantized_io(op)
    in_shape = ctx.graph.tensors[x].shape
    out_shape = ctx.t(op.outputs[0]).shape
    if ctx.is_const(op.inputs[1]):
        w = ctx.weight(op.inputs[1], quantized=q)
        n_out, k_in = ctx.graph.tensors[w].shape
        if int(np.prod(in_shape)) % k_in:
            raise ConversionError(f"FULLY_CONNECTED op #{op.index}: input {list(in_shape)} cannot be flattened "
                                  f"to rows of {k_in}")
        inputs = [x, w] + _bias(ctx, op, 2, q)
        keep = bool(op.options.get("keep_num_dims", False)) and len(in_shape) > 2
        if len(in_shape) != 2 or keep:
            rows = int(np.prod(in_shape)) // k_in
            flat = ctx.emit("Reshape", [x], [ctx.graph.unique_name(f"{ctx.t(op.outputs[0]).name}.rows")],
                            {"shape": [rows, k_in]})[0]
            ctx.like(flat, op.inputs[0])
            inputs[0] = flat
        if keep or tuple(out_shape) not in ((int(np.prod(in_shape)) // k_in, n_out),):
            fc = ctx.graph.unique_name(f"{ctx.t(op.outputs[0]).name}.fc")
            ctx.emit("FullyConnected", inputs, [fc], name=fc)
            ctx.like(fc, op.outputs[0])
            act_in = fc
            final = ctx.out_name(op.outputs[0])
            act = op.options.get("fused_activation_function", 0)
            target = final if not act else ctx.graph.unique_name(f"{final}.pre_activation")
            ctx.emit("Reshape", [act_in], [target], {"shape": list(out_shape)}, name=target)
            ctx.like(target, op.outputs[0])
            if act:
                ctx.activation(act, target, final, op)
                ctx.like(final, op.outputs[0])
            return
        ctx.emit_out(op, "FullyConnected", inputs)
        return
    # run-time weights: MatMul with the weight transposed, then the bias
    w = ctx.tensor(op.inputs[1])
    k_in = ctx.graph.tensors[w].shape[1]
    rows = int(np.prod(in_shape)) // k_in
    flat = ctx.emit("Reshape", [x], None, {"shape": [rows, k_in]}, name=f"{ctx.t(op.outputs[0]).name}.rows")[0]
    ctx.like(flat, op.inputs[0])
    bias = _bias(ctx, op, 2, q)
    if bias:
        mm = ctx.emit("MatMul", [flat, w], None, {"transpose_in1": True},
                      name=f"{ctx.t(op.outputs[0]).name}.matmul")[0]
        ctx.like(mm, op.outputs[0])
        y = ctx.emit("ElementWiseAdd", [mm, bias[0]], None, name=f"{ctx.t(op.outputs[0]).name}.bias")[0]
    else:
        y = ctx.emit("MatMul", [flat, w], None, {"transpose_in1": True},
                     name=f"{ctx.t(op.outputs[0]).name}.matmul")[0]
    ctx.like(y, op.outputs[0])
    ctx.emit_out(op, "Reshape", [y], {"shape": list(out_shape)})


@tflite_op("BATCH_MATMUL")
def batch_matmul(ctx: TfliteContext, op: TflOp) -> None:
    a, b = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    ctx.emit_out(op, "MatMul", [a, b], {"transpose_in0": bool(op.options.get("adj_x", False)),
                                         "transpose_in1": bool(op.options.get("adj_y", False))})

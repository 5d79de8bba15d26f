"""CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL -> QNN convolution / linear ops.

Weight layouts: TFLite conv ``[cout,kh,kw,cin/g]`` -> Conv2d HWIO ``[kh,kw,cin/g,cout]`` (per-channel
quantization axis 0 -> 3); depthwise ``[1,kh,kw,cin*m]`` -> ``[kh,kw,1,cin*m]`` (axis stays last);
transpose conv ``[cout,kh,kw,cin]`` -> ``[kh,kw,cin,cout]``; FULLY_CONNECTED keeps ``[out,in]``.
SAME padding becomes explicit ``pad_amount`` (``frontends/lowering/padding.py``: the odd row/column at the
bottom/right, as TF pads).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ...lowering.padding import auto_pads, pad_amount, transposed_pads
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op

SAME, VALID = 0, 1      # the schema's Padding enum


def padding_mode(op: TflOp) -> str:
    """The schema's ``padding`` option as a scheme name of ``lowering.padding`` (no options table: VALID)."""
    return "SAME" if op.options.get("padding", VALID) == SAME else "VALID"


def spatial_params(op: TflOp, in_shape, kh: int, kw: int) -> dict:
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    pads = auto_pads(padding_mode(op), in_shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    return {"stride": [sh, sw], "dilation": [dh, dw], "pad_amount": pad_amount(pads)}


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
        raise ConversionError(f"CONV_2D op #{op.index} ({ctx.out_label(op)}): input depth {cin} is not a multiple "
                              f"of the filter depth {cig}; the model is malformed, re-export it")
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
        raise ConversionError(f"DEPTHWISE_CONV_2D op #{op.index} ({ctx.out_label(op)}): {cm} output channels is not "
                              f"a multiple of the {cin} input channels; the model is malformed, re-export it")
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
    pads, extra = [], []
    for size_in, size_out, k, s in ((ih, out_shape[1], kh, sh), (iw, out_shape[2], kw, sw)):
        pair, more = transposed_pads(size_in, size_out, k, s, padding_mode(op) == "SAME")
        pads.append(pair)
        extra.append(more)
    params = {"stride": [sh, sw], "pad_amount": pad_amount(pads), "output_padding": extra}
    ctx.emit_out(op, "TransposeConv2d", [x, w] + _bias(ctx, op, 3, q), params)


def _fc_core(ctx: TfliteContext, op: TflOp, flat: str, q: bool, base: str) -> tuple[str, list[str]]:
    """The [rows, k] x [n, k]^T product: FullyConnected for constant weights, else MatMul (+ Add bias)."""
    if ctx.is_const(op.inputs[1]):
        return "FullyConnected", [flat, ctx.weight(op.inputs[1], quantized=q)] + _bias(ctx, op, 2, q)
    w = ctx.tensor(op.inputs[1])
    bias = _bias(ctx, op, 2, q)
    if not bias:
        return "MatMul", [flat, w]
    mm = ctx.emit("MatMul", [flat, w], None, {"transpose_in1": True}, name=f"{base}.matmul")[0]
    ctx.like(mm, op.outputs[0])
    return "ElementWiseAdd", [mm, bias[0]]


@tflite_op("FULLY_CONNECTED")
def fully_connected(ctx: TfliteContext, op: TflOp) -> None:
    """TFLite flattens the input to rows of the weight depth; ``keep_num_dims`` keeps the leading dims.

    Shapes come from the IR input (not the flatbuffer's output shape, which holds 1 for free dims).
    """
    x = ctx.tensor(op.inputs[0])
    q = ctx.quantized_io(op)
    base = ctx.t(op.outputs[0]).name
    in_shape = list(ctx.graph.tensors[x].shape)
    n_out, k_in = ctx.t(op.inputs[1]).shape
    total = int(np.prod(in_shape))
    if total % k_in:
        raise ConversionError(f"FULLY_CONNECTED op #{op.index} ({ctx.out_label(op)}): input {in_shape} cannot be "
                              f"flattened to rows of {k_in}")
    rows = total // k_in
    keep = bool(op.options.get("keep_num_dims", False)) and in_shape[-1] == k_in
    out_shape = in_shape[:-1] + [n_out] if keep else [rows, n_out]
    flat = x
    if in_shape != [rows, k_in]:
        flat = ctx.emit("Reshape", [x], None, {"shape": [rows, k_in]}, name=f"{base}.rows")[0]
        ctx.like(flat, op.inputs[0])
    type_, inputs = _fc_core(ctx, op, flat, q, base)
    params = {"transpose_in1": True} if type_ == "MatMul" else None
    if out_shape == [rows, n_out]:
        ctx.emit_out(op, type_, inputs, params)
        return
    y = ctx.emit(type_, inputs, None, params, name=f"{base}.fc")[0]
    ctx.like(y, op.outputs[0])
    ctx.emit_out(op, "Reshape", [y], {"shape": out_shape})


@tflite_op("BATCH_MATMUL")
def batch_matmul(ctx: TfliteContext, op: TflOp) -> None:
    a, b = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    ctx.emit_out(op, "MatMul", [a, b], {"transpose_in0": bool(op.options.get("adj_x", False)),
                                         "transpose_in1": bool(op.options.get("adj_y", False))})


@tflite_op("CONV_3D")
def conv_3d(ctx: TfliteContext, op: TflOp) -> None:
    """NDHWC input, filter [kd, kh, kw, cin/group, cout] (already QNN's Conv3d layout); SAME padding per axis."""
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    kd, kh, kw, cig, _ = ctx.t(op.inputs[1]).shape
    if shape[4] % cig:
        raise ConversionError(f"CONV_3D op #{op.index} ({ctx.out_label(op)}): input depth {shape[4]} is not a "
                              f"multiple of the filter depth {cig}")
    o = op.options
    strides = [int(o.get(f"stride_{a}", 1)) for a in "dhw"]
    dil = [int(o.get(f"dilation_{a}_factor", 1)) for a in "dhw"]
    pads = auto_pads(padding_mode(op), shape[1:4], (kd, kh, kw), strides, dil)
    q = ctx.quantized_io(op)
    w = ctx.weight(op.inputs[1], quantized=q)
    params = {"stride": strides, "dilation": dil, "pad_amount": pad_amount(pads), "group": shape[4] // cig}
    ctx.emit_out(op, "Conv3d", [x, w] + _bias(ctx, op, 2, q), params)


@tflite_op("CONV_3D_TRANSPOSE")
def conv_3d_transpose(ctx: TfliteContext, op: TflOp) -> None:
    """No QNN 3-D transposed convolution: zero-insertion then a Conv3d with the flipped filter.

    A transposed convolution spreads x[i] to out[i*s + k - pad]; equivalently the input upsampled
    with s-1 zeros after every element, padded by (k - 1 - pad) in front, is correlated with the
    filter flipped in space and with in/out swapped ([kd,kh,kw,cout,cin] -> [kd,kh,kw,cin,cout]).
    ``pad`` is the front padding the matching forward convolution has (SAME: half of the total).
    """
    o = op.options
    if any(int(o.get(f"dilation_{a}_factor", 1)) != 1 for a in "dhw"):
        raise ConversionError(f"CONV_3D_TRANSPOSE op #{op.index} ({ctx.out_label(op)}): dilation is not supported; "
                              "re-export with dilation 1")
    out_shape = [int(v) for v in np.asarray(ctx.require_const(op, 0, "output_shape")).reshape(-1)]
    x = ctx.tensor(op.inputs[2])
    shape = list(ctx.graph.tensors[x].shape)
    kd, kh, kw, cout, cin = ctx.t(op.inputs[1]).shape
    strides = [int(o.get(f"stride_{a}", 1)) for a in "dhw"]
    base = ctx.t(op.outputs[0]).name
    pads = []
    for axis, (k, s) in enumerate(zip((kd, kh, kw), strides)):
        n, size = shape[1 + axis], out_shape[1 + axis]
        (front, _), _ = transposed_pads(n, size, k, s, padding_mode(op) == "SAME")
        x = _zero_insert(ctx, x, 1 + axis, s, f"{base}.upsampled{axis}")
        left = k - 1 - front
        right = size + k - 1 - left - n * s
        if left < 0:
            raise ConversionError(f"CONV_3D_TRANSPOSE op #{op.index} ({ctx.out_label(op)}): output size {size} "
                                  "is too small for the filter; the model is malformed, re-export it")
        if right < 0:                    # drop trailing (zero-inserted) positions the output never reads
            cur = list(ctx.graph.tensors[x].shape)
            ranges = [[0, d + (right if i == 1 + axis else 0), 1] for i, d in enumerate(cur)]
            x = ctx.emit("StridedSlice", [x], None, {"ranges": ranges}, name=f"{base}.cropped{axis}")[0]
            right = 0
        pads.append([left, right])
    w = ctx.real_const(op.inputs[1]) if ctx.is_const(op.inputs[1]) else None
    if w is None:
        raise ConversionError(f"CONV_3D_TRANSPOSE op #{op.index} ({ctx.out_label(op)}): the filter must be a "
                              "constant tensor; freeze the weights before converting")
    flipped = np.ascontiguousarray(np.transpose(w[::-1, ::-1, ::-1], (0, 1, 2, 4, 3)))
    inputs = [x, ctx.add_const(f"{base}.filter", flipped)]
    if len(op.inputs) > 3 and op.inputs[3] >= 0:
        inputs.append(ctx.weight(op.inputs[3], quantized=False))
    ctx.emit_out(op, "Conv3d", inputs, {"stride": [1, 1, 1], "dilation": [1, 1, 1], "pad_amount": pads, "group": 1})


def _zero_insert(ctx: TfliteContext, x: str, axis: int, s: int, name: str) -> str:
    """x with s-1 zeros after every element along ``axis`` (length n*s): Reshape, Pad, Reshape."""
    if s == 1:
        return x
    shape = list(ctx.graph.tensors[x].shape)
    split = shape[:axis + 1] + [1] + shape[axis + 1:]
    y = ctx.emit("Reshape", [x], None, {"shape": split}, name=f"{name}.split")[0]
    pad = [[0, 0]] * len(split)
    pad[axis + 1] = [0, s - 1]
    y = ctx.emit("Pad", [y], None, {"pad_amount": pad, "scheme": 0}, name=f"{name}.pad")[0]
    merged = shape[:axis] + [shape[axis] * s] + shape[axis + 1:]
    return ctx.emit("Reshape", [y], None, {"shape": merged}, name=name)[0]

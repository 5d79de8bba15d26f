"""aten convolutions (conv1d/2d, transposed, _convolution) -> QNN Conv2d / DepthWiseConv2d / TransposeConv2d
(channel-last, HWIO weights).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext, pair
from ..registry import aten_op


def _lift1d(ctx: TorchContext, x, base: str) -> Ref:
    s = ctx.shape(x)
    return ctx.op_tmp("Reshape", [x], f"{base}.4d", {"shape": [s[0], s[1], 1, s[2]]})


def _conv(ctx: TorchContext, node, x, w, b, stride, padding, dilation, transposed, out_pad, groups):
    if isinstance(w, Ref):
        raise ConversionError("convolution weights must be constant (parameters of the module)")
    w = np.asarray(w, dtype=np.float32)
    rank = ctx.rank(x)
    if w.ndim != rank:
        raise ConversionError(f"the input has rank {rank} ({list(ctx.shape(x))}) but this convolution expects "
                              f"rank {w.ndim}; check -d/--input_dim")
    if rank not in (3, 4):
        raise ConversionError(f"rank-{rank} convolution input is not supported (1-D and 2-D only)")
    x_shape = list(ctx.shape(x))
    expect = w.shape[0] if transposed else w.shape[1] * int(groups)
    if x_shape[1] != expect:
        raise ConversionError(f"the input has shape {x_shape} ({x_shape[1]} channels) but the weights "
                              f"{list(w.shape)} (groups {int(groups)}) expect {expect} input channels; "
                              "check -d/--input_dim")
    n_sp = rank - 2
    stride, dilation = pair(stride, n_sp), pair(dilation, n_sp)
    out_pad = pair(out_pad, n_sp) if out_pad is not None else [0] * n_sp
    is_1d = rank == 3
    x_in = x
    if is_1d:
        x_in = _lift1d(ctx, x, ctx.out_name(node))
        w = w[:, :, None, :]
        stride, dilation, out_pad = [1] + stride, [1] + dilation, [0] + out_pad
    in_sp = ctx.shape(x_in)[2:]
    k = w.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0), (0, 0)]
        else:  # "same": PyTorch puts the odd extra pixel at the end
            pads = []
            for i in range(2):
                total = dilation[i] * (k[i] - 1)
                pads.append((total // 2, total - total // 2))
    else:
        p = pair(padding, n_sp)
        if is_1d:
            p = [0] + p
        pads = [(p[0], p[0]), (p[1], p[1])]
    groups = int(groups)
    bias = [b] if b is not None else []
    out_name = ctx.out_name(node)
    tmp_out = ctx.graph.unique_name(f"{out_name}.4d") if is_1d else out_name
    xcl = ctx.ir_to_channel_last(ctx.tensor(x_in))
    bias_t = [ctx.tensor(np.asarray(bb, np.float32)) for bb in bias]
    if transposed:
        if any(d != 1 for d in dilation):
            kh = (w.shape[2] - 1) * dilation[0] + 1
            kw = (w.shape[3] - 1) * dilation[1] + 1
            wd = np.zeros(w.shape[:2] + (kh, kw), w.dtype)
            wd[:, :, ::dilation[0], ::dilation[1]] = w
            w = wd
        wq = ctx.add_const(f"{out_name}.weight", np.ascontiguousarray(w.transpose(2, 3, 0, 1)))
        params = {"stride": stride, "pad_amount": pads, "group": groups, "output_padding": out_pad}
        ctx.wrap_channel_last("TransposeConv2d", xcl, tmp_out, params, [wq] + bias_t)
    else:
        wq = ctx.add_const(f"{out_name}.weight", np.ascontiguousarray(w.transpose(2, 3, 1, 0)))
        params = {"stride": stride, "pad_amount": pads, "dilation": dilation}
        ci = in_sp and ctx.shape(x_in)[1]
        if groups > 1 and w.shape[1] == 1 and groups == ci:
            ctx.wrap_channel_last("DepthWiseConv2d", xcl, tmp_out, params, [wq] + bias_t)
        else:
            params["group"] = groups
            ctx.wrap_channel_last("Conv2d", xcl, tmp_out, params, [wq] + bias_t)
    if is_1d:
        s = ctx.graph.tensors[tmp_out].shape
        ctx.emit("Reshape", [tmp_out], [out_name], {"shape": [s[0], s[1], s[3]]}, name=out_name)
    return Ref(out_name)


@aten_op("aten::_convolution")
def _convolution(ctx, node):
    a = node.args
    x, w, b, stride, padding, dilation, transposed, out_pad, groups = a[:9]
    return _conv(ctx, node, x, w, b, stride, padding, dilation, bool(transposed), out_pad, groups)


@aten_op("aten::_convolution_mode")
def _convolution_mode(ctx, node):
    a = node.args
    x, w, b, stride, padding, dilation, groups = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, False, None, groups)


@aten_op("conv1d", "conv2d")
def conv_nd(ctx, node):
    a = node.args
    x, w, b, stride, padding, dilation, groups = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, False, None, groups)


@aten_op("conv_transpose1d", "conv_transpose2d")
def conv_transpose(ctx, node):
    a = node.args
    x, w, b, stride, padding, out_pad, groups, dilation = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, True, out_pad, groups)

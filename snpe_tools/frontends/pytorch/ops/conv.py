"""aten convolution, pooling, batch_norm and linear -> QNN (channel-last, HWIO weights)."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext
from ..registry import aten_op


def _pair(v, n=2) -> list[int]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return [int(x) for x in (v * n if len(v) == 1 else v)]


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
    stride, dilation = _pair(stride, n_sp), _pair(dilation, n_sp)
    out_pad = _pair(out_pad, n_sp) if out_pad is not None else [0] * n_sp
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
        p = _pair(padding, n_sp)
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
def _convolution(ctx, node, a):
    x, w, b, stride, padding, dilation, transposed, out_pad, groups = a[:9]
    return _conv(ctx, node, x, w, b, stride, padding, dilation, bool(transposed), out_pad, groups)


@aten_op("aten::_convolution_mode")
def _convolution_mode(ctx, node, a):
    x, w, b, stride, padding, dilation, groups = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, False, None, groups)


@aten_op("conv1d", "conv2d")
def conv_nd(ctx, node, a):
    x, w, b, stride, padding, dilation, groups = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, False, None, groups)


@aten_op("conv_transpose1d", "conv_transpose2d")
def conv_transpose(ctx, node, a):
    x, w, b, stride, padding, out_pad, groups, dilation = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, True, out_pad, groups)


@aten_op("batch_norm")
def batch_norm(ctx: TorchContext, node, a):
    x, gamma, beta, mean, var, training, _momentum, eps = a[:8]
    if training:
        raise ConversionError("batch_norm in training mode; call model.eval() before tracing")
    for v in (gamma, beta, mean, var):
        if isinstance(v, Ref):
            raise ConversionError("batch_norm statistics must be constants")
    c = ctx.shape(x)[1]
    g = np.ones(c, np.float32) if gamma is None else np.asarray(gamma, np.float64)
    bt = np.zeros(c, np.float32) if beta is None else np.asarray(beta, np.float64)
    scale = g / np.sqrt(np.asarray(var, np.float64) + float(eps))
    bias = bt - np.asarray(mean, np.float64) * scale
    w = ctx.add_const(f"{ctx.out_name(node)}.bn", scale.astype(np.float32))
    b = ctx.add_const(f"{ctx.out_name(node)}.bn", bias.astype(np.float32))
    if ctx.rank(x) == 2:
        return ctx.op("Batchnorm", [x, Ref(w), Ref(b)], node)
    return ctx.channel_last("Batchnorm", x, node, {}, [Ref(w), Ref(b)])


def _pool(ctx: TorchContext, node, kind: str, x, kernel, stride, padding, ceil, count_pad=None,
          divisor=None):
    rank = ctx.rank(x)
    if rank != 4:
        raise ConversionError(f"rank-{rank} pooling input is not supported")
    kernel = _pair(kernel)
    stride = _pair(stride) if stride not in (None, []) and len(list(stride) if isinstance(stride, (list, tuple))
                                                                  else [stride]) else kernel
    p = _pair(padding)
    params = {"filter_size": kernel, "stride": stride, "pad_amount": [(p[0], p[0]), (p[1], p[1])],
              "rounding_mode": 1 if ceil else 0}
    if kind == "PoolAvg2d":
        if divisor is not None:
            raise ConversionError("avg_pool2d with divisor_override is not supported")
        params["count_pad_for_edges"] = bool(count_pad)
    return ctx.channel_last(kind, x, node, params)


@aten_op("max_pool2d")
def max_pool2d(ctx, node, a):
    x, kernel, stride, padding, dilation, ceil = a
    if any(d != 1 for d in _pair(dilation)):
        raise ConversionError("dilated max_pool2d is not supported")
    return _pool(ctx, node, "PoolMax2d", x, kernel, stride, padding, ceil)


@aten_op("avg_pool2d")
def avg_pool2d(ctx, node, a):
    x, kernel, stride, padding, ceil, count_pad, divisor = a
    return _pool(ctx, node, "PoolAvg2d", x, kernel, stride, padding, ceil, count_pad, divisor)


def _adaptive(ctx, node, kind, x, size):
    h, w = ctx.shape(x)[2:]
    oh, ow = [int(s) if s is not None else d for s, d in zip(_pair(size), (h, w))]
    if h % oh or w % ow:
        raise ConversionError(f"adaptive pooling from {h}x{w} to {oh}x{ow} is not a plain pool "
                              "(input size must be a multiple of the output size)")
    k = [h // oh, w // ow]
    params = {"filter_size": k, "stride": k, "pad_amount": [(0, 0), (0, 0)], "rounding_mode": 0}
    if kind == "PoolAvg2d":
        params["count_pad_for_edges"] = False
    return ctx.channel_last(kind, x, node, params)


@aten_op("adaptive_avg_pool2d")
def adaptive_avg_pool2d(ctx, node, a):
    return _adaptive(ctx, node, "PoolAvg2d", a[0], a[1])


@aten_op("adaptive_max_pool2d")
def adaptive_max_pool2d(ctx, node, a):
    if len(list(node.outputs())) > 1 and list(node.outputs())[1].uses():
        raise ConversionError("the indices output of adaptive_max_pool2d is not supported")
    r = _adaptive(ctx, node, "PoolMax2d", a[0], a[1])
    return [r, None] if len(list(node.outputs())) > 1 else r


@aten_op("linear")
def linear(ctx: TorchContext, node, a):
    x, w, b = a
    if isinstance(w, Ref):
        t = ctx.op_tmp("Transpose", [w], f"{ctx.out_name(node)}.wT", {"perm": [1, 0]})
        mm = ctx.op("MatMul", [x, t], node) if b is None else ctx.op_tmp("MatMul", [x, t], ctx.out_name(node))
        return mm if b is None else ctx.op("ElementWiseAdd", [mm, b], node)
    ins = [x, Ref(ctx.add_const(f"{ctx.out_name(node)}.weight", np.asarray(w, np.float32)))]
    if b is not None:
        ins.append(Ref(ctx.tensor(np.asarray(b, np.float32))) if not isinstance(b, Ref) else b)
    return ctx.op("FullyConnected", ins, node, {"keep_dims": True})


@aten_op("addmm")
def addmm(ctx: TorchContext, node, a):
    bias, x, w, beta, alpha = a
    if isinstance(w, Ref) or isinstance(bias, Ref) or float(beta) != 1 or float(alpha) != 1:
        raise ConversionError("addmm is supported with constant weight/bias and alpha = beta = 1")
    ins = [x, Ref(ctx.add_const(f"{ctx.out_name(node)}.weight", np.asarray(w, np.float32).T.copy())),
           Ref(ctx.tensor(np.asarray(bias, np.float32).reshape(-1)))]
    return ctx.op("FullyConnected", ins, node)

"""aten batch/layer/group/instance norms -> QNN Batchnorm / LayerNorm / InstanceNorm.

The channel norms (batch_norm, group_norm, instance_norm) run channel-last so that they sit between
convolutions without leaving Transposes behind.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import axis_format as af
from ..context import Ref, TorchContext
from ..registry import aten_op


@aten_op("batch_norm")
def batch_norm(ctx: TorchContext, node):
    a = node.args
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
    w = ctx.derived_const(ctx.out_name(node), "bn", scale.astype(np.float32))
    b = ctx.derived_const(ctx.out_name(node), "bn", bias.astype(np.float32))
    if ctx.rank(x) == 2:
        return ctx.op("Batchnorm", [x, Ref(w), Ref(b)], node)
    return ctx.channel_last("Batchnorm", x, node, {}, [Ref(w), Ref(b)])


@aten_op("layer_norm")
def layer_norm(ctx: TorchContext, node):
    a = node.args
    x, shape, w, b, eps = a[:5]
    shape = [int(s) for s in (shape if isinstance(shape, (list, tuple)) else [shape])]
    rank = ctx.rank(x)
    k = len(shape)
    if list(ctx.shape(x)[rank - k:]) != shape:
        raise ConversionError(f"normalized_shape {shape} does not match the input's trailing dims "
                              f"{list(ctx.shape(x))}")
    gamma = np.ones(shape, np.float32) if w is None else w
    ins = [x, ctx.as_ref(gamma, None if isinstance(gamma, Ref) else np.float32)]
    if b is not None:
        ins.append(ctx.as_ref(b, None if isinstance(b, Ref) else np.float32))
    return ctx.op("LayerNorm", ins, node, {"epsilon": float(eps), "axes": list(range(rank - k, rank))})


def _channel_last_in(ctx: TorchContext, x) -> tuple[Ref, list[int]]:
    """``x`` ([N, C, *spatial]) in channel-last order, with that order's shape."""
    rank = ctx.rank(x)
    if rank <= 2:
        return ctx.as_ref(x), list(ctx.shape(x))
    name = ctx.ir_to_channel_last(ctx.tensor(x))
    return Ref(name), list(ctx.graph.tensors[name].shape)


def _cl_fmt(rank: int) -> str:
    return af.TO_SPATIAL_FIRST.get(af.onnx_default(rank), (af.NONTRIVIAL,))[0]


@aten_op("group_norm")
def group_norm(ctx: TorchContext, node):
    """Exact decomposition, channel-last: [N,S,G,C/G] -> mean/var over (S, C/G) -> affine per channel."""
    a = node.args
    x, groups, w, b, eps = a[:5]
    shape = list(ctx.shape(x))
    rank = len(shape)
    if rank < 2:
        raise ConversionError("group_norm needs an input of rank >= 2")
    n, c = shape[0], shape[1]
    g = int(groups)
    if c % g:
        raise ConversionError(f"group_norm: {c} channels are not divisible into {g} groups")
    xcl, cl_shape = _channel_last_in(ctx, x)
    s = int(np.prod(shape[2:])) if rank > 2 else 1
    nt = af.NONTRIVIAL
    grouped = ctx.reshape_to(xcl, [n, s, g, c // g], ctx.tmp_name(node, "grp"), nt)
    red = {"axes": [1, 3], "keep_dims": True}
    mean = ctx.emit_to("ReduceMean", [grouped], ctx.tmp_name(node, "mean"), red, nt)
    d = ctx.emit_to("ElementWiseSubtract", [grouped, mean], ctx.tmp_name(node, "centered"), None, nt)
    sq = ctx.emit_to("ElementWiseMultiply", [d, d], ctx.tmp_name(node, "sq"), None, nt)
    var = ctx.emit_to("ReduceMean", [sq], ctx.tmp_name(node, "var"), red, nt)
    veps = ctx.emit_to("ElementWiseAdd", [var, np.asarray(float(eps), np.float32)], ctx.tmp_name(node, "veps"),
                       None, nt)
    inv = ctx.emit_to("ElementWiseRsqrt", [veps], ctx.tmp_name(node, "inv"), None, nt)
    y = ctx.emit_to("ElementWiseMultiply", [d, inv], ctx.tmp_name(node, "norm"), None, nt)
    fmt = _cl_fmt(rank) if rank > 2 else af.onnx_default(rank)
    steps = [("ungrp", None)] + [(tag, v) for tag, v in (("scale", w), ("shift", b)) if v is not None]
    for i, (tag, v) in enumerate(steps):   # rank 2 has no layout change: the last step is the output
        out = ctx.out_name(node) if rank <= 2 and i == len(steps) - 1 else ctx.tmp_name(node, tag)
        if v is None:
            y = ctx.reshape_to(y, cl_shape, out, fmt)
        else:
            y = ctx.emit_to("ElementWiseMultiply" if tag == "scale" else "ElementWiseAdd",
                            [y, ctx.as_ref(v, None if isinstance(v, Ref) else np.float32)], out, None, fmt)
    return y if rank <= 2 else Ref(ctx.from_channel_last(y.name, ctx.out_name(node)))


@aten_op("instance_norm")
def instance_norm(ctx: TorchContext, node):
    a = node.args
    x, w, b, mean, var, use_input_stats, _momentum, eps = a[:8]
    shape = ctx.shape(x)
    rank = len(shape)
    if rank < 3:
        raise ConversionError("instance_norm needs an input of rank >= 3 (N, C, spatial...)")
    c = shape[1]
    for v in (w, b):
        if isinstance(v, Ref):
            raise ConversionError("instance_norm weight/bias must be constants")
    gamma = np.ones(c, np.float32) if w is None else np.asarray(w, np.float32)
    beta = np.zeros(c, np.float32) if b is None else np.asarray(b, np.float32)
    if not use_input_stats:
        if mean is None or var is None or isinstance(mean, Ref) or isinstance(var, Ref):
            raise ConversionError("instance_norm without input statistics needs constant running stats")
        scale = gamma.astype(np.float64) / np.sqrt(np.asarray(var, np.float64) + float(eps))
        bias = beta - np.asarray(mean, np.float64) * scale
        return ctx.channel_last("Batchnorm", x, node, {}, [scale.astype(np.float32), bias.astype(np.float32)])
    return ctx.channel_last("InstanceNorm", x, node, {"epsilon": float(eps)}, [gamma, beta])

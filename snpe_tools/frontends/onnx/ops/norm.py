"""ONNX normalizations -> QNN: BatchNormalization -> Batchnorm, LRN -> Lrn, InstanceNormalization ->
InstanceNorm, LayerNormalization -> LayerNorm (the IR ops of ``snpe_tools/ops/norm.py``), and the ones
QNN has no op for as exact compositions: GroupNormalization, LpNormalization,
MeanVarianceNormalization."""
from __future__ import annotations

import numpy as np

from ..context import (NodeBuilder, OnnxContext, attrs, node_error, node_name, norm_axis, require_float,
                      scalar_const, tmp_name)
from ..registry import onnx_op


@onnx_op("BatchNormalization")
def batch_norm(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    if a.get("training_mode", 0):
        raise node_error(node, "training_mode=1 is not supported")
    eps = float(a.get("epsilon", 1e-5))
    if not all(ctx.is_const(node.input[i]) for i in range(1, 5)):
        _batch_norm_dynamic(ctx, node, eps)
        return
    gamma, beta, mean, var = (ctx.require_const(node, i, "scale/bias/mean/var") for i in range(1, 5))
    scale = (gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)
    bias = (beta - mean * scale).astype(np.float32)
    w = ctx.derived_const(node.input[1], "bn", scale)
    b = ctx.derived_const(node.input[2], "bn", bias)
    rank = ctx.rank(node.input[0])
    if rank <= 2:
        ctx.emit("Batchnorm", [ctx.tensor(node.input[0]), w, b], [node.output[0]], name=node_name(node))
    else:
        ctx.emit_channel_last("Batchnorm", node, [node.input[0]], {}, [w, b])


def _batch_norm_dynamic(ctx: OnnxContext, node, eps: float) -> None:
    """Statistics computed at run time: (x - mean) * (scale / sqrt(var + eps)) + bias, over axis 1."""
    n = node_name(node)
    rank = ctx.rank(node.input[0])
    x = ctx.tensor(node.input[0])

    def chan(idx: int) -> str:   # [C] -> [C, 1, ...] so it broadcasts over axis 1
        name = node.input[idx]
        c = ctx.shape(name)
        if rank <= 2:
            return ctx.tensor(name)
        out = ctx.graph.unique_name(f"{name}.bc")
        return ctx.emit("Reshape", [ctx.tensor(name)], [out], {"shape": list(c) + [1] * (rank - 2)}, name=out)[0]

    def op(qnn: str, ins: list[str], tag: str, out: str | None = None) -> str:
        out = out or ctx.graph.unique_name(f"{node.output[0]}.{tag}")
        return ctx.emit(qnn, ins, [out], name=n if out == node.output[0] else out)[0]

    e = ctx.add_const(f"{n}.eps", np.asarray(eps, dtype=ctx.graph.tensors[x].dtype))
    k = op("ElementWiseDivide", [chan(1), op("ElementWiseSquareRoot", [op("ElementWiseAdd", [chan(4), e], "veps")],
                                             "std")], "k")
    centred = op("ElementWiseSubtract", [x, chan(3)], "centred")
    op("ElementWiseAdd", [op("ElementWiseMultiply", [centred, k], "scaled"), chan(2)], "", node.output[0])


@onnx_op("LRN")
def lrn(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    size = int(a["size"])
    params = {"alpha": float(a.get("alpha", 1e-4)) / size, "beta": float(a.get("beta", 0.75)),
              "bias": float(a.get("bias", 1.0)), "radius": (size - 1) // 2, "region": 0}
    ctx.emit_channel_last("Lrn", node, [node.input[0]], params)


@onnx_op("InstanceNormalization")
def instance_norm(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    g = ctx.tensor(node.input[1])
    b = ctx.tensor(node.input[2])
    ctx.emit_channel_last("InstanceNorm", node, [node.input[0]], {"epsilon": float(a.get("epsilon", 1e-5))},
                          [g, b])


@onnx_op("GroupNormalization")
def group_norm(ctx: OnnxContext, node) -> None:
    """Exact decomposition: per-(sample, group) mean/variance with ReduceMean, then the per-channel affine.

    Opset 18 gives scale/bias per group, opset 21 per channel; both become a [1, C, 1, ...] constant.
    """
    a = attrs(node)
    eps, groups = float(a.get("epsilon", 1e-5)), int(a["num_groups"])
    shape = list(ctx.shape(node.input[0]))
    n, c, rank = shape[0], shape[1], len(shape)
    if c % groups:
        raise node_error(node, f"{c} channels do not split into "
                               f"{groups} groups")
    scale = np.asarray(ctx.require_const(node, 1, "scale"), np.float32).reshape(-1)
    bias = np.asarray(ctx.require_const(node, 2, "bias"), np.float32).reshape(-1)
    if scale.size == groups and groups != c:
        scale, bias = np.repeat(scale, c // groups), np.repeat(bias, c // groups)
    base = node.output[0]

    def op(qnn, ins, params=None, out=None):
        name = out or ctx.graph.unique_name(f"{base}.gn")
        return ctx.emit(qnn, ins, [name], params, name=name)[0]

    g = op("Reshape", [ctx.tensor(node.input[0])], {"shape": [n, groups, int(np.prod(shape[1:])) // groups]})
    mean = op("ReduceMean", [g], {"axes": [2], "keep_dims": True})
    d = op("ElementWiseSubtract", [g, mean])
    var = op("ReduceMean", [op("ElementWiseMultiply", [d, d])], {"axes": [2], "keep_dims": True})
    inv = op("ElementWiseRsqrt", [op("ElementWiseAdd", [var, ctx.add_const(f"{base}.eps",
                                                                           np.asarray(eps, np.float32))])])
    y = op("Reshape", [op("ElementWiseMultiply", [d, inv])], {"shape": shape})
    bshape = [1, c] + [1] * (rank - 2)
    y = op("ElementWiseMultiply", [y, ctx.add_const(f"{base}.scale", scale.reshape(bshape))])
    op("ElementWiseAdd", [y, ctx.add_const(f"{base}.bias", bias.reshape(bshape))], out=node.output[0])


def _op(ctx: OnnxContext, node, qnn: str, ins: list[str], tag: str, out: str | None = None,
        params: dict | None = None) -> str:
    out = out or ctx.graph.unique_name(f"{node.output[0]}.{tag}")
    return ctx.emit(qnn, ins, [out], params, name=node_name(node) if out == node.output[0] else out)[0]


@onnx_op("LpNormalization")
def lp_normalization(ctx: OnnxContext, node) -> None:
    """x / ||x||_p along ``axis`` (p = 1 or 2); 0 where the norm is 0."""
    a = attrs(node)
    p = int(a.get("p", 2))
    if p not in (1, 2):
        raise node_error(node, f"p={p} is not supported (1 or 2)")
    rank = ctx.rank(node.input[0])
    axis = int(a.get("axis", -1))
    if not -rank <= axis < rank:
        raise node_error(node, f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    dt = ctx.graph.tensors[x].dtype
    red = {"axes": [axis], "keep_dims": True}
    if p == 2:
        norm = _op(ctx, node, "ElementWiseSquareRoot", [_op(ctx, node, "ReduceSumSquare", [x], "sumsq", params=red)],
                   "norm")
    else:
        norm = _op(ctx, node, "ReduceSum", [_op(ctx, node, "ElementWiseAbs", [x], "abs")], "norm", params=red)
    zero = ctx.add_const(f"{node_name(node)}.zero", np.asarray(0, dt))
    is0 = _op(ctx, node, "ElementWiseEqual", [norm, zero], "is0")
    q = _op(ctx, node, "ElementWiseDivide", [x, norm], "div")
    _op(ctx, node, "ElementWiseSelect", [is0, zero, q], "", node.output[0])


# ---- LayerNormalization ------------------------------------------------------------------------
@onnx_op("LayerNormalization")
def layer_norm(ctx: OnnxContext, node) -> None:
    """QNN LayerNorm over axes [axis, rank); the optional Mean / InvStdDev outputs are computed with
    ReduceMean, Subtract, Multiply, Add and Rsqrt (their ONNX definition)."""
    a = attrs(node)
    n = node_name(node)
    if int(a.get("stash_type", 1)) != 1:
        raise node_error(node, f"stash_type {a['stash_type']} is not supported")
    dt = require_float(ctx, node)
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    axis = int(a.get("axis", -1))
    if not -rank <= axis < rank:
        raise node_error(node, f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    axes = list(range(axis, rank))
    eps = float(a.get("epsilon", 1e-5))
    norm_shape = shape[axis:]
    if len(node.input) < 2 or not node.input[1]:
        raise node_error(node, "the Scale input is missing")
    extra = []
    for k, what in ((1, "Scale"), (2, "B")):
        if len(node.input) <= k or not node.input[k]:
            continue
        name = node.input[k]
        s = list(ctx.shape(name))
        if s == norm_shape:
            extra.append(ctx.tensor(name))
        elif ctx.is_const(name):
            try:
                full = np.broadcast_to(ctx.const(name), norm_shape)
            except ValueError:
                raise node_error(node, f"{what} shape {s} does not broadcast to "
                                       f"the normalised shape {norm_shape}") from None
            extra.append(ctx.add_const(f"{name}.full", np.ascontiguousarray(full)))
        else:
            raise node_error(node, f"{what} shape {s} differs from the normalised "
                                   f"shape {norm_shape} and is not constant")
    x = ctx.tensor(node.input[0])
    outs = list(node.output) + ["", ""]
    ctx.emit("LayerNorm", [x] + extra, [outs[0]], {"epsilon": eps, "axes": axes}, name=n)
    if not outs[1] and not outs[2]:
        return
    mean_out = outs[1] or tmp_name(ctx, node, "mean")
    m = ctx.emit("ReduceMean", [x], [mean_out], {"axes": axes, "keep_dims": True}, name=f"{n}.mean")[0]
    if not outs[2]:
        return
    d = ctx.emit("ElementWiseSubtract", [x, m], [tmp_name(ctx, node, "diff")], name=f"{n}.diff")[0]
    sq = ctx.emit("ElementWiseMultiply", [d, d], [tmp_name(ctx, node, "sq")], name=f"{n}.sq")[0]
    var = ctx.emit("ReduceMean", [sq], [tmp_name(ctx, node, "var")], {"axes": axes, "keep_dims": True},
                   name=f"{n}.var")[0]
    ve = ctx.emit("ElementWiseAdd", [var, scalar_const(ctx, node, "eps", eps, dt)], [tmp_name(ctx, node, "veps")],
                  name=f"{n}.veps")[0]
    ctx.emit("ElementWiseRsqrt", [ve], [outs[2]], name=f"{n}.invstd")


@onnx_op("MeanVarianceNormalization")
def mean_variance_normalization(ctx: OnnxContext, node) -> None:
    """(x - E[x]) / (sqrt(E[(x - E[x])^2]) + 1e-9) over ``axes`` (the ONNX function's epsilon)."""
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    dt = b.dtype(x)
    if not np.issubdtype(dt, np.floating):
        raise node_error(node, f"input type {dt} is not supported (float only)")
    rank = len(b.shape(x))
    axes = sorted({norm_axis(node, int(v), rank, "axis") for v in attrs(node).get("axes", [0, 2, 3])})
    mean = b.op("ReduceMean", [x], {"axes": axes, "keep_dims": True}, "mean")
    d = b.op("ElementWiseSubtract", [x, mean], tag="centered")
    var = b.op("ReduceMean", [b.op("ElementWiseMultiply", [d, d], tag="sq")], {"axes": axes, "keep_dims": True},
               "var")
    std = b.op("ElementWiseAdd", [b.op("ElementWiseSquareRoot", [var], tag="std"), b.const("eps", 1e-9, dt)],
               tag="std_eps")
    b.op("ElementWiseDivide", [d, std], out=node.output[0])

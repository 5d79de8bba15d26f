"""ONNX normalizations -> QNN: BatchNormalization -> Batchnorm, LRN -> Lrn, InstanceNormalization ->
InstanceNorm, LayerNormalization -> LayerNorm (the IR ops of ``snpe_tools/ops/norm.py``), and the ones
QNN has no op for as exact compositions: GroupNormalization, LpNormalization,
MeanVarianceNormalization."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, attrs
from ..registry import onnx_op


def _node_name(node) -> str:
    return node.name or node.output[0]


@onnx_op("BatchNormalization")
def batch_norm(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    if a.get("training_mode", 0):
        raise ConversionError(f"BatchNormalization node '{_node_name(node)}': training_mode=1 is not supported")
    eps = float(a.get("epsilon", 1e-5))
    if not all(ctx.is_const(node.input[i]) for i in range(1, 5)):
        _batch_norm_dynamic(ctx, node, eps)
        return
    gamma, beta, mean, var = (ctx.require_const(node, i, "scale/bias/mean/var") for i in range(1, 5))
    scale = (gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)
    bias = (beta - mean * scale).astype(np.float32)
    w = ctx.add_const(f"{node.input[1]}.bn", scale)
    b = ctx.add_const(f"{node.input[2]}.bn", bias)
    rank = ctx.rank(node.input[0])
    if rank <= 2:
        ctx.emit("Batchnorm", [ctx.tensor(node.input[0]), w, b], [node.output[0]], name=_node_name(node))
    else:
        ctx.emit_channel_last("Batchnorm", node, [node.input[0]], {}, [w, b])


def _batch_norm_dynamic(ctx: OnnxContext, node, eps: float) -> None:
    """Statistics computed at run time: (x - mean) * (scale / sqrt(var + eps)) + bias, over axis 1."""
    n = _node_name(node)
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
        raise ConversionError(f"GroupNormalization node '{_node_name(node)}': {c} channels do not split into "
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
    return ctx.emit(qnn, ins, [out], params, name=_node_name(node) if out == node.output[0] else out)[0]


@onnx_op("LpNormalization")
def lp_normalization(ctx: OnnxContext, node) -> None:
    """x / ||x||_p along ``axis`` (p = 1 or 2); 0 where the norm is 0."""
    a = attrs(node)
    p = int(a.get("p", 2))
    if p not in (1, 2):
        raise ConversionError(f"LpNormalization node '{_node_name(node)}': p={p} is not supported (1 or 2)")
    rank = ctx.rank(node.input[0])
    axis = int(a.get("axis", -1))
    if not -rank <= axis < rank:
        raise ConversionError(f"LpNormalization node '{_node_name(node)}': axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    dt = ctx.graph.tensors[x].dtype
    red = {"axes": [axis], "keep_dims": True}
    if p == 2:
        norm = _op(ctx, node, "ElementWiseSquareRoot", [_op(ctx, node, "ReduceSumSquare", [x], "sumsq", params=red)],
                   "norm")
    else:
        norm = _op(ctx, node, "ReduceSum", [_op(ctx, node, "ElementWiseAbs", [x], "abs")], "norm", params=red)
    zero = ctx.add_const(f"{_node_name(node)}.zero", np.asarray(0, dt))
    is0 = _op(ctx, node, "ElementWiseEqual", [norm, zero], "is0")
    q = _op(ctx, node, "ElementWiseDivide", [x, norm], "div")
    _op(ctx, node, "ElementWiseSelect", [is0, zero, q], "", node.output[0])

"""ONNX MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool (1-D, 2-D, 3-D) -> QNN PoolMax2d /
PoolAvg2d / PoolMax3d / PoolAvg3d, through the channel-last lowering shared with PyTorch
(:func:`snpe_tools.frontends.lowering.conv.pool`). LpPool is in ``norm.py`` with LpNormalization."""
from __future__ import annotations

import numpy as np
import onnx

from ...lowering import conv as lower
from ..context import OnnxContext, attrs, node_error, node_name
from ..registry import onnx_op
from .conv import check_spatial_rank, explicit_pads

#: ONNX pool -> (kind for :func:`lower.pool`, whether the window is the whole map)
_POOLS = {"MaxPool": ("max", False), "AveragePool": ("avg", False), "GlobalMaxPool": ("max", True),
          "GlobalAveragePool": ("avg", True)}


@onnx_op(*_POOLS)
def pool(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    kind, global_ = _POOLS[node.op_type]
    a = attrs(node)
    if len([o for o in node.output if o]) > 1:
        raise node_error(node, "the Indices output is not supported")
    in_shape = list(ctx.shape(node.input[0]))
    rank = len(in_shape)
    check_spatial_rank(node, rank)
    dil = None
    if global_:
        # one window over the whole map; stride = window (2-D), as Qualcomm's converter writes it
        kernel = in_shape[2:]
        strides = [1, 1, 1] if rank == 5 else list(kernel)
        pads = [(0, 0)] * len(kernel)
        ceil = 0
    else:
        kernel = list(a["kernel_shape"])
        if len(kernel) != rank - 2:
            raise node_error(node, "kernel_shape does not match "
                                   "the input rank")
        strides = list(a.get("strides", [1] * len(kernel)))
        dil = list(a.get("dilations", [1] * len(kernel)))
        ceil = int(a.get("ceil_mode", 0))
        if any(d != 1 for d in dil):
            if rank == 5:
                raise node_error(node, "dilated pooling is not supported")
            if kind != "max" or ceil:
                raise node_error(node, "dilated pooling is only "
                                       "supported for MaxPool without ceil_mode (QNN pools have no dilation)")
        pads = explicit_pads(a, in_shape[2:], kernel, strides, dil if rank < 5 else [1, 1, 1])
    lower.pool(ctx, kind, ctx.tensor(node.input[0]), node.output[0], kernel=kernel, stride=strides, pads=pads,
               ceil=bool(ceil), count_pad=bool(a.get("count_include_pad", 0)), dilation=dil, name=node.name or None)


def _op(ctx: OnnxContext, node, qnn: str, ins: list[str], tag: str, out: str | None = None,
        params: dict | None = None) -> str:
    out = out or ctx.graph.unique_name(f"{node.output[0]}.{tag}")
    return ctx.emit(qnn, ins, [out], params, name=node_name(node) if out == node.output[0] else out)[0]


def _power(ctx: OnnxContext, node, x: str, p: float, tag: str, out: str | None = None) -> str:
    dt = ctx.graph.tensors[x].dtype
    if p == 1:
        return _op(ctx, node, "ElementWiseAbs", [x], tag, out)
    if p == 2:
        return _op(ctx, node, "ElementWiseMultiply", [x, x], tag, out)
    ab = _op(ctx, node, "ElementWiseAbs", [x], f"{tag}.abs")
    return _op(ctx, node, "ElementWisePower", [ab, ctx.add_const(f"{node_name(node)}.p", np.asarray(p, dt))], tag, out)


def _root(ctx: OnnxContext, node, s: str, p: float, out: str) -> str:
    if p == 1:
        return ctx.emit("Reshape", [s], [out], {"shape": list(ctx.graph.tensors[s].shape)}, name=node_name(node))[0]
    if p == 2:
        return _op(ctx, node, "ElementWiseSquareRoot", [s], "", out)
    inv = ctx.add_const(f"{node_name(node)}.invp", np.asarray(1.0 / p, ctx.graph.tensors[s].dtype))
    return _op(ctx, node, "ElementWisePower", [s, inv], "", out)


@onnx_op("LpPool")
def lp_pool(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    """Sum of ``|x|^p`` over each window by a depthwise convolution with an all-ones kernel (zero
    padding, strides and dilations as given), then the ``1/p`` power: exactly the windowed p-norm,
    with no divisor to get wrong at padded borders."""
    a = attrs(node)
    name = node_name(node)
    p = float(a.get("p", 2))
    if not p > 0:
        raise node_error(node, f"p={p} is not supported")
    if int(a.get("ceil_mode", 0)):
        raise node_error(node, "ceil_mode=1 is not supported")
    rank = ctx.rank(node.input[0])
    kernel = [int(k) for k in a["kernel_shape"]]
    if len(kernel) != rank - 2 or rank not in (3, 4, 5):
        raise node_error(node, f"rank-{rank} input with a {len(kernel)}-D kernel is not supported")
    if not np.issubdtype(ctx.graph.tensors[ctx.tensor(node.input[0])].dtype, np.floating):
        raise node_error(node, "only float inputs are supported")
    n_sp = rank - 2
    strides = [int(s) for s in a.get("strides", [1] * n_sp)]
    dil = [int(d) for d in a.get("dilations", [1] * n_sp)]
    channels = ctx.shape(node.input[0])[1]
    pads = explicit_pads(a, ctx.shape(node.input[0])[2:], kernel, strides, dil)
    for size, k, st, d, (pb, pe) in zip(ctx.shape(node.input[0])[2:], kernel, strides, dil, pads):
        if size + pb + pe < (k - 1) * d + 1:
            raise node_error(node, f"the (dilated) kernel {kernel} does not fit the padded input")
    powered = _power(ctx, node, ctx.tensor(node.input[0]), p, "pow")
    summed = ctx.graph.unique_name(f"{node.output[0]}.sum")
    lower.conv(ctx, powered, np.ones([channels, 1] + kernel, np.float32), None, summed, stride=strides,
               dilation=dil, pads=pads, groups=channels, weight_name=f"{name}.ones", name=node.name or None,
               depthwise=True)
    _root(ctx, node, summed, p, node.output[0])

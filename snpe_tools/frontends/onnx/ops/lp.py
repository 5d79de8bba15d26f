"""ONNX LpNormalization and LpPool as compositions of QNN ops.

LpPool sums ``|x|^p`` over each window with a depthwise convolution whose kernel is all ones
(zero padding, strides and dilations as given), then takes the ``1/p`` power: exactly the
windowed p-norm, with no divisor to get wrong at padded borders.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, attrs
from ..padding import explicit_pads
from ..registry import onnx_op
from .nn import NodeView, with_1d


def _name(node) -> str:
    return node.name or node.output[0]


def _op(ctx: OnnxContext, node, qnn: str, ins: list[str], tag: str, out: str | None = None,
        params: dict | None = None) -> str:
    out = out or ctx.graph.unique_name(f"{node.output[0]}.{tag}")
    return ctx.emit(qnn, ins, [out], params, name=_name(node) if out == node.output[0] else out)[0]


def _power(ctx: OnnxContext, node, x: str, p: float, tag: str, out: str | None = None) -> str:
    dt = ctx.graph.tensors[x].dtype
    if p == 1:
        return _op(ctx, node, "ElementWiseAbs", [x], tag, out)
    if p == 2:
        return _op(ctx, node, "ElementWiseMultiply", [x, x], tag, out)
    ab = _op(ctx, node, "ElementWiseAbs", [x], f"{tag}.abs")
    return _op(ctx, node, "ElementWisePower", [ab, ctx.add_const(f"{_name(node)}.p", np.asarray(p, dt))], tag, out)


def _root(ctx: OnnxContext, node, s: str, p: float, out: str) -> str:
    if p == 1:
        return ctx.emit("Reshape", [s], [out], {"shape": list(ctx.graph.tensors[s].shape)}, name=_name(node))[0]
    if p == 2:
        return _op(ctx, node, "ElementWiseSquareRoot", [s], "", out)
    inv = ctx.add_const(f"{_name(node)}.invp", np.asarray(1.0 / p, ctx.graph.tensors[s].dtype))
    return _op(ctx, node, "ElementWisePower", [s, inv], "", out)


@onnx_op("LpNormalization")
def lp_normalization(ctx: OnnxContext, node) -> None:
    """x / ||x||_p along ``axis`` (p = 1 or 2); 0 where the norm is 0."""
    a = attrs(node)
    p = int(a.get("p", 2))
    if p not in (1, 2):
        raise ConversionError(f"LpNormalization node '{_name(node)}': p={p} is not supported (1 or 2)")
    rank = ctx.rank(node.input[0])
    axis = int(a.get("axis", -1))
    if not -rank <= axis < rank:
        raise ConversionError(f"LpNormalization node '{_name(node)}': axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    dt = ctx.graph.tensors[x].dtype
    red = {"axes": [axis], "keep_dims": True}
    if p == 2:
        norm = _op(ctx, node, "ElementWiseSquareRoot", [_op(ctx, node, "ReduceSumSquare", [x], "sumsq", params=red)],
                   "norm")
    else:
        norm = _op(ctx, node, "ReduceSum", [_op(ctx, node, "ElementWiseAbs", [x], "abs")], "norm", params=red)
    zero = ctx.add_const(f"{_name(node)}.zero", np.asarray(0, dt))
    is0 = _op(ctx, node, "ElementWiseEqual", [norm, zero], "is0")
    q = _op(ctx, node, "ElementWiseDivide", [x, norm], "div")
    _op(ctx, node, "ElementWiseSelect", [is0, zero, q], "", node.output[0])


@onnx_op("LpPool")
def lp_pool(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    name = _name(node)
    p = float(a.get("p", 2))
    if not p > 0:
        raise ConversionError(f"LpPool node '{name}': p={p} is not supported")
    if int(a.get("ceil_mode", 0)):
        raise ConversionError(f"LpPool node '{name}': ceil_mode=1 is not supported")
    rank = ctx.rank(node.input[0])
    kernel = [int(k) for k in a["kernel_shape"]]
    if len(kernel) != rank - 2 or rank not in (3, 4, 5):
        raise ConversionError(f"LpPool node '{name}': rank-{rank} input with a {len(kernel)}-D kernel is not supported")
    if not np.issubdtype(ctx.graph.tensors[ctx.tensor(node.input[0])].dtype, np.floating):
        raise ConversionError(f"LpPool node '{name}': only float inputs are supported")
    n_sp = rank - 2
    strides = [int(s) for s in a.get("strides", [1] * n_sp)]
    dil = [int(d) for d in a.get("dilations", [1] * n_sp)]
    channels = ctx.shape(node.input[0])[1]
    pads = explicit_pads(node, a, ctx.shape(node.input[0])[2:], kernel, strides, dil)
    for size, k, st, d, (pb, pe) in zip(ctx.shape(node.input[0])[2:], kernel, strides, dil, pads):
        if size + pb + pe < (k - 1) * d + 1:
            raise ConversionError(f"LpPool node '{name}': the (dilated) kernel {kernel} does not fit the padded input")
    powered = _power(ctx, node, ctx.tensor(node.input[0]), p, "pow")
    summed = ctx.graph.unique_name(f"{node.output[0]}.sum")
    if rank == 5:
        ones = ctx.add_const(f"{name}.ones", np.ones(kernel + [1, channels], np.float32))
        ctx.emit_channel_last("Conv3d", NodeView(node, summed), [powered],
                              {"stride": strides, "dilation": dil, "pad_amount": pads, "group": channels}, [ones])
    else:
        lifted = NodeView(node, summed)
        lifted.input = [powered]

        def body(x, out, is_1d):
            k, st, dl, pa = list(kernel), list(strides), list(dil), dict(a)
            if is_1d:
                k, st, dl = [1] + k, [1] + st, [1] + dl
                if "pads" in a:
                    pa["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
            pads = explicit_pads(node, pa, ctx.shape(x)[2:], k, st, dl)
            ones = ctx.add_const(f"{name}.ones", np.ones(k + [1, channels], np.float32))
            ctx.emit_channel_last("DepthWiseConv2d", NodeView(node, out), [x],
                                  {"stride": st, "dilation": dl, "pad_amount": pads}, [ones])

        with_1d(ctx, lifted, body)
    _root(ctx, node, summed, p, node.output[0])

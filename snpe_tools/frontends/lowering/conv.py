"""Channel-first convolution and pooling -> QNN's channel-last ops, written once for every frontend.

ONNX and PyTorch hold images as ``[N, C, (D,) H, W]`` and weights as ``[O, I/g, (kD,) kH, kW]``
(transposed convolution: ``[I, O/g, kH, kW]``); QNN's Conv2d / DepthWiseConv2d / TransposeConv2d /
Conv3d / PoolMax2d / ... take channel-last inputs and ``[(kD,) kH, kW, I, O]`` weights. The lowering is
the same for both frontends, so it lives here; each translator only turns its own attributes into
explicit numbers (strides, dilations, ``(begin, end)`` pads per spatial axis) and calls one function.

API (every function takes the frontend context, an :class:`~snpe_tools.frontends.emit.EmitMixin`):

- :func:`conv` -- ``Conv`` / ``conv1d`` / ``conv2d`` / ``conv3d`` (rank-3, -4 or -5 input).
- :func:`transpose_conv` -- ``ConvTranspose`` / ``conv_transpose1d`` / ``conv_transpose2d``.
- :func:`pool` -- max / average pooling (rank 3, 4 or 5; dilated max pooling is exact via slices).

Conventions shared by the three:

- ``x`` is an IR tensor name in the source's channel-first layout; ``out`` is the channel-first IR
  tensor the result is written to. The op is emitted as ``Transpose -> QNN op -> Transpose`` (see
  :meth:`EmitMixin.wrap_channel_last`); the layout pass removes the Transposes.
- ``stride``, ``dilation``, ``pads`` and ``output_padding`` give one entry per spatial axis of ``x``
  (``pads`` as ``(begin, end)`` pairs, e.g. from :mod:`.padding`). A rank-3 (1-D) input runs as the 2-D
  op on ``[N, C, 1, L]``: the functions add the unit axis to ``x``, the weights and every parameter, and
  reshape the result back.
- ``name`` is the name of the main op (the source node's name); when ``None`` the op takes the name of
  the tensor it writes. Intermediate tensors are named after ``x`` / ``out`` plus a suffix, made unique.
- ``weight`` is a numpy array in the source layout (converted at convert time into the constant
  ``weight_name``: a plain name, or ``(source, role)`` for a constant derived from source tensor
  ``source``, named by ``Graph.derived_name``) or, for a weight computed at run time, an IR tensor
  name (an in-graph Transpose reorders it). ``bias`` is an IR tensor name or ``None``.

Validation that names the source node or flag (channel counts, unsupported attributes) stays in the
translator, which knows the node; these functions assume consistent shapes.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ...errors import ConversionError
from ..emit import EmitMixin

Pads = Sequence[Sequence[int]]


def _lifted_1d(ctx: EmitMixin, x: str, out: str, name: str | None,
               body: Callable[[str, str], None]) -> str:
    """Run ``body(x, out)`` on ``x`` as given (rank 4/5), or on rank-3 ``x`` as ``[N, C, 1, L]`` and
    reshape the 4-D result back into ``out``."""
    shape = ctx.graph.tensors[x].shape
    if len(shape) != 3:
        body(x, out)
        return out
    lifted = ctx.graph.derived_name(x, "4d")
    ctx.emit("Reshape", [x], [lifted], {"shape": [shape[0], shape[1], 1, shape[2]]}, name=lifted)
    tmp = ctx.graph.derived_name(out, "4d")
    body(lifted, tmp)
    s = ctx.graph.tensors[tmp].shape
    ctx.emit("Reshape", [tmp], [out], {"shape": [s[0], s[1], s[3]]}, name=(name or out) + ".3d")
    return out


def _unit_axis(rank: int, values: Sequence[int], fill: int) -> list[int]:
    """Parameter list of a 1-D op (rank-3 input) gets the leading unit axis of its 2-D twin."""
    return ([fill] if rank == 3 else []) + [int(v) for v in values]


def _pairs(rank: int, pads: Pads) -> list[tuple[int, int]]:
    return ([(0, 0)] if rank == 3 else []) + [(int(b), int(e)) for b, e in pads]


#: name of a converted weight constant: a plain name, or ``(source tensor, role)`` (``Graph.derived_name``)
WeightName = str | tuple[str, str]


def _weight(ctx: EmitMixin, weight: np.ndarray | str, weight_name: WeightName, perm: tuple[int, ...]) -> str:
    """Weights (source layout) -> QNN layout: a constant transposed now, or an in-graph Transpose."""
    if isinstance(weight, str):
        shape = ctx.graph.tensors[weight].shape
        if len(shape) == 3:   # 1-D kernel [O, I, k] -> [O, I, 1, k]
            r = ctx.graph.derived_name(weight, "4d")
            weight = ctx.emit("Reshape", [weight], [r], {"shape": [shape[0], shape[1], 1, shape[2]]}, name=r)[0]
        return ctx.transpose(weight, perm)
    data = np.ascontiguousarray(weight.transpose(perm))
    if isinstance(weight_name, tuple):
        return ctx.derived_const(*weight_name, data)
    return ctx.add_const(weight_name, data)


def _kernel_4d(weight: np.ndarray | str) -> np.ndarray | str:
    if isinstance(weight, str):
        return weight
    weight = np.asarray(weight)
    return weight[:, :, None, :] if weight.ndim == 3 else weight


def conv(ctx: EmitMixin, x: str, weight: np.ndarray | str, bias: str | None, out: str, *,
         stride: Sequence[int], dilation: Sequence[int], pads: Pads, groups: int, weight_name: WeightName,
         name: str | None = None, depthwise: bool | None = None) -> str:
    """Convolution of channel-first ``x`` with ``[O, I/groups, *kernel]`` weights into ``out``.

    Rank 5 -> Conv3d (weights ``[kD, kH, kW, I/g, O]``); rank 3/4 -> Conv2d, or DepthWiseConv2d when
    every input channel is its own group (``groups == C > 1`` and one input channel per group), which
    is what Qualcomm's converters write for depthwise convolutions; ``depthwise`` forces the choice
    (a composition that is depthwise by construction says so even for one channel). Returns ``out``.
    """
    rank = ctx.graph.tensors[x].rank
    extra_bias = [bias] if bias else []
    if rank == 5:
        wq = _weight(ctx, weight, weight_name, (2, 3, 4, 1, 0))
        params = {"stride": list(stride), "dilation": list(dilation), "pad_amount": _pairs(rank, pads),
                  "group": int(groups)}
        ctx.wrap_channel_last("Conv3d", ctx.ir_to_channel_last(x), out, params, [wq] + extra_bias, name=name)
        return out
    w4 = _kernel_4d(weight)

    def body(x4: str, out4: str) -> None:
        params = {"stride": _unit_axis(rank, stride, 1), "dilation": _unit_axis(rank, dilation, 1),
                  "pad_amount": _pairs(rank, pads)}
        cig = w4.shape[1] if isinstance(w4, np.ndarray) else ctx.graph.tensors[w4].shape[1]
        ci = ctx.graph.tensors[x4].shape[1]
        wq = _weight(ctx, w4, weight_name, (2, 3, 1, 0))
        if depthwise if depthwise is not None else (groups > 1 and cig == 1 and groups == ci):
            op = "DepthWiseConv2d"
        else:
            op = "Conv2d"
            params["group"] = int(groups)
        ctx.wrap_channel_last(op, ctx.ir_to_channel_last(x4), out4, params, [wq] + extra_bias,
                              name=name or out4)

    return _lifted_1d(ctx, x, out, name, body)


def dilate_kernel(w: np.ndarray, dilation: Sequence[int]) -> np.ndarray:
    """``[.., .., kH, kW]`` kernel with ``dilation - 1`` zeros between taps (QNN TransposeConv2d has no
    dilation; a dilated kernel computes exactly the same sums)."""
    dh, dw = int(dilation[-2]), int(dilation[-1])
    if dh == 1 and dw == 1:
        return w
    out = np.zeros(w.shape[:2] + ((w.shape[2] - 1) * dh + 1, (w.shape[3] - 1) * dw + 1), w.dtype)
    out[:, :, ::dh, ::dw] = w
    return out


def transpose_conv(ctx: EmitMixin, x: str, weight: np.ndarray | str, bias: str | None, out: str, *,
                   stride: Sequence[int], dilation: Sequence[int], pads: Pads, output_padding: Sequence[int],
                   groups: int, weight_name: WeightName, name: str | None = None) -> str:
    """Transposed convolution of channel-first ``x`` (rank 3 or 4) with ``[I, O/groups, *kernel]`` weights.

    QNN TransposeConv2d takes ``[kH, kW, I, O/g]`` weights and has no dilation: a constant kernel is
    dilated here (:func:`dilate_kernel`); a run-time kernel with dilation is refused. ``pads`` crop the
    full output as ONNX/PyTorch ``pads``/``padding`` do; ``output_padding`` grows it at the end.
    """
    rank = ctx.graph.tensors[x].rank
    dil = _unit_axis(rank, dilation, 1)
    if isinstance(weight, str) and any(d != 1 for d in dil):
        raise ConversionError("a dilated transposed convolution needs constant weights (QNN TransposeConv2d "
                              "has no dilation; the kernel is dilated at convert time)")
    w4 = _kernel_4d(weight)
    if isinstance(w4, np.ndarray):
        w4 = dilate_kernel(w4, dil)

    def body(x4: str, out4: str) -> None:
        wq = _weight(ctx, w4, weight_name, (2, 3, 0, 1))
        params = {"stride": _unit_axis(rank, stride, 1), "pad_amount": _pairs(rank, pads), "group": int(groups),
                  "output_padding": _unit_axis(rank, output_padding, 0)}
        ctx.wrap_channel_last("TransposeConv2d", ctx.ir_to_channel_last(x4), out4, params,
                              [wq] + ([bias] if bias else []), name=name or out4)

    return _lifted_1d(ctx, x, out, name, body)


_POOL_OPS = {("max", 2): "PoolMax2d", ("avg", 2): "PoolAvg2d", ("max", 3): "PoolMax3d", ("avg", 3): "PoolAvg3d"}


def pool(ctx: EmitMixin, kind: str, x: str, out: str, *, kernel: Sequence[int], stride: Sequence[int],
         pads: Pads, ceil: bool = False, count_pad: bool = False, dilation: Sequence[int] | None = None,
         name: str | None = None) -> str:
    """``kind`` ``"max"`` or ``"avg"`` pooling of channel-first ``x`` (rank 3, 4 or 5) into ``out``.

    ``ceil`` is ``ceil_mode`` (QNN ``rounding_mode``); ``count_pad`` (average only) counts padded
    pixels in the divisor. QNN pools have no dilation: a dilated 2-D max pool without ``ceil`` becomes
    the maximum of strided slices (:func:`dilated_max_pool`, exact); other dilated pools are refused.
    """
    rank = ctx.graph.tensors[x].rank
    dil = _unit_axis(rank, dilation or [1] * len(kernel), 1)
    if any(d != 1 for d in dil) and (kind != "max" or ceil or rank == 5):
        raise ConversionError("dilated pooling is only supported for 1-D/2-D max pooling without ceil_mode "
                              "(QNN pools have no dilation)")
    op = _POOL_OPS[(kind, 3 if rank == 5 else 2)]

    def body(x4: str, out4: str) -> None:
        k, s, p = _unit_axis(rank, kernel, 1), _unit_axis(rank, stride, 1), _pairs(rank, pads)
        if any(d != 1 for d in dil):
            dilated_max_pool(ctx, x4, out4, k, s, dil, p)
            return
        params: dict[str, Any] = {"filter_size": k, "stride": s, "pad_amount": p, "rounding_mode": int(ceil)}
        if kind == "avg":
            params["count_pad_for_edges"] = bool(count_pad)
        ctx.wrap_channel_last(op, ctx.ir_to_channel_last(x4), out4, params, name=name or out4)

    return _lifted_1d(ctx, x, out, name, body)


def dilated_max_pool(ctx: EmitMixin, x: str, out: str, kernel: Sequence[int], stride: Sequence[int],
                     dilation: Sequence[int], pads: Pads) -> None:
    """Dilated 2-D MaxPool of channel-first ``x`` as the maximum of kH*kW strided slices of the
    (-inf)-padded input; exact, and needs no channel-last wrapping."""
    n, c, h, w = ctx.graph.tensors[x].shape
    xp = x
    if any(p for pair in pads for p in pair):
        r = ctx.graph.unique_name(f"{out}.pad")
        xp = ctx.emit("Pad", [xp], [r], {"scheme": 0, "pad_constant_value": float(np.finfo(np.float32).min),
                                          "pad_amount": [[0, 0], [0, 0], list(pads[0]), list(pads[1])]}, name=r)[0]
    hp, wp = h + sum(pads[0]), w + sum(pads[1])
    oh = (hp - ((kernel[0] - 1) * dilation[0] + 1)) // stride[0] + 1
    ow = (wp - ((kernel[1] - 1) * dilation[1] + 1)) // stride[1] + 1
    acc = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            b0, b1 = i * dilation[0], j * dilation[1]
            ranges = [[0, n, 1], [0, c, 1], [b0, b0 + (oh - 1) * stride[0] + 1, stride[0]],
                      [b1, b1 + (ow - 1) * stride[1] + 1, stride[1]]]
            t = ctx.graph.unique_name(f"{out}.tap{i}_{j}")
            ctx.emit("StridedSlice", [xp], [t], {"ranges": ranges}, name=t)
            if acc is None:
                acc = t
            else:
                last = i == kernel[0] - 1 and j == kernel[1] - 1
                m = out if last else ctx.graph.unique_name(f"{out}.max{i}_{j}")
                acc = ctx.emit("ElementWiseMaximum", [acc, t], [m], name=m)[0]
    if acc != out:
        ctx.emit("Reshape", [acc], [out], {"shape": [n, c, oh, ow]}, name=out)

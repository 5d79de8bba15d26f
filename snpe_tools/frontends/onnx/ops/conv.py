"""ONNX Conv / ConvTranspose (1-D, 2-D, 3-D) -> QNN Conv2d / DepthWiseConv2d / TransposeConv2d / Conv3d.

The whole ONNX side of a convolution: check the node against its weights (a wrong ``-d`` shows up
here), turn ``strides``/``dilations``/``pads``/``auto_pad``/``output_shape`` into explicit numbers, and
hand them to the channel-last lowering every channel-first frontend shares
(:mod:`snpe_tools.frontends.lowering.conv`). The IR ops are defined in ``snpe_tools/ops/conv.py``
(2-D) and ``snpe_tools/ops/volumetric.py`` (Conv3d).
"""
from __future__ import annotations

from typing import Sequence

import onnx

from ...lowering import conv as lower
from ...lowering.padding import auto_pads, begin_end_pads
from ..context import OnnxContext, attrs, node_error
from ..registry import onnx_op


def _bias(ctx: OnnxContext, node: onnx.NodeProto) -> str | None:
    return ctx.tensor(node.input[2]) if len(node.input) > 2 and node.input[2] else None


def _weight(ctx: OnnxContext, node: onnx.NodeProto):
    """Constant weights as an array, or the IR tensor of weights computed at run time."""
    w = ctx.const(node.input[1])
    return ctx.tensor(node.input[1]) if w is None else w


def _check_conv_input(ctx: OnnxContext, node: onnx.NodeProto, transposed: bool) -> None:
    """The input's rank and channel count must agree with the weights (a wrong -d is caught here)."""
    x_shape = list(ctx.shape(node.input[0]))
    w_shape = list(ctx.shape(node.input[1]))
    g = int(attrs(node).get("group", 1))
    hint = f"check -d/--input_dim {node.input[0]}" if node.input[0] in ctx.graph.inputs else "check -d/--input_dim"
    if len(x_shape) != len(w_shape) or len(x_shape) < 3:
        raise node_error(node, f"input '{node.input[0]}' has shape "
                               f"{x_shape} (rank {len(x_shape)}) but the weights '{node.input[1]}' {w_shape} need a "
                               f"rank-{len(w_shape)} input; {hint}")
    if g < 1:
        raise node_error(node, f"group must be >= 1, got {g}")
    expect = w_shape[0] if transposed else w_shape[1] * g
    if x_shape[1] != expect:
        raise node_error(node, f"input '{node.input[0]}' has shape {x_shape} "
                               f"({x_shape[1]} channels) but the weights '{node.input[1]}' {w_shape} (group {g}) "
                               f"expect {expect} input channels; {hint}")


def explicit_pads(a: dict, in_spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                  dilations: Sequence[int]) -> list[tuple[int, int]]:
    """ONNX ``auto_pad`` / ``pads`` of a Conv or pool -> (begin, end) per spatial axis: SAME_UPPER puts the
    odd pixel at the end, SAME_LOWER at the beginning (as onnxruntime), NOTSET reads ``pads``."""
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        return auto_pads(auto, in_spatial, kernel, strides, dilations)
    return begin_end_pads(a.get("pads", [0] * (2 * len(kernel))))


def check_spatial_rank(node: onnx.NodeProto, rank: int, max_rank: int = 5) -> None:
    """ONNX conv/pool inputs are [N, C, spatial...]: 1-D, 2-D and (up to ``max_rank``) 3-D are lowered."""
    if rank < 3 or rank > max_rank:
        raise node_error(node, f"rank-{rank} input is not supported "
                               "(only 1-D and 2-D spatial)")


@onnx_op("Conv")
def conv(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    _check_conv_input(ctx, node, transposed=False)
    a = attrs(node)
    x_shape = list(ctx.shape(node.input[0]))
    w_shape = list(ctx.shape(node.input[1]))
    g = int(a.get("group", 1))
    if len(x_shape) == 5 and w_shape[0] % g:
        raise node_error(node, f"weights {w_shape} do not match {x_shape[1]} input "
                               f"channels in {g} group(s)")
    check_spatial_rank(node, len(x_shape))
    kernel = w_shape[2:]
    strides = list(a.get("strides", [1] * len(kernel)))
    dil = list(a.get("dilations", [1] * len(kernel)))
    x = ctx.tensor(node.input[0])
    # 3-D weights keep their ``.dhwio`` name in the DLC; 2-D ones are derived (given the source name back)
    weight_name = f"{node.input[1]}.dhwio" if len(x_shape) == 5 else (node.input[1], "hwio")
    lower.conv(ctx, x, _weight(ctx, node), _bias(ctx, node), node.output[0], stride=strides, dilation=dil,
               pads=explicit_pads(a, x_shape[2:], kernel, strides, dil), groups=g,
               weight_name=weight_name, name=node.name or None)


def _transposed_pads(node: onnx.NodeProto, a: dict, in_sp: list[int], kernel: list[int], strides: list[int],
                     opad: list[int]) -> list[tuple[int, int]]:
    """ONNX ConvTranspose ``pads`` / ``auto_pad`` / ``output_shape`` -> (begin, end) crop per axis.

    ``output_shape`` (or SAME) fixes the output size; the crop is what the full transposed output has
    beyond it (SAME_LOWER puts the odd pixel first). A longer wanted tail than the full output is
    added to ``opad`` in place (it only holds the bias).
    """
    n = len(kernel)
    out_shape = a.get("output_shape")
    auto = a.get("auto_pad", "NOTSET")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(out_shape)[-n:] if out_shape is not None else [in_sp[i] * strides[i] for i in range(n)]
        pads = []
        for i in range(n):
            total = strides[i] * (in_sp[i] - 1) + opad[i] + kernel[i] - target[i]
            if total < 0 and out_shape is not None:
                if -total >= strides[i]:
                    raise node_error(node, f"output_shape {list(out_shape)} "
                                           "is inconsistent with the input size, strides and kernel")
                opad[i] += -total   # output_shape asks for a longer tail (it holds only the bias)
            total = max(total, 0)
            if auto == "SAME_UPPER" or (out_shape is not None and auto != "SAME_LOWER"):
                pads.append((total // 2, total - total // 2))
            else:
                pads.append((total - total // 2, total // 2))
        return pads
    if auto == "VALID":
        return [(0, 0)] * n
    pads_l = list(a.get("pads", [0] * (2 * n)))
    return [(int(pads_l[i]), int(pads_l[i + n])) for i in range(n)]


@onnx_op("ConvTranspose")
def conv_transpose(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    _check_conv_input(ctx, node, transposed=True)
    a = attrs(node)
    x_shape = list(ctx.shape(node.input[0]))
    check_spatial_rank(node, len(x_shape), max_rank=4)
    w_shape = list(ctx.shape(node.input[1]))
    n = len(w_shape) - 2
    strides = list(a.get("strides", [1] * n))
    dil = list(a.get("dilations", [1] * n))
    opad = list(a.get("output_padding", [0] * n))
    weight = _weight(ctx, node)
    if any(d != 1 for d in dil) and isinstance(weight, str):
        raise node_error(node, "dilations need constant weights "
                               "(QNN TransposeConv2d has no dilation; the kernel is dilated at convert time)")
    kernel = [(k - 1) * d + 1 for k, d in zip(w_shape[2:], dil)]   # the dilated kernel QNN runs
    pads = _transposed_pads(node, a, x_shape[2:], kernel, strides, opad)
    # ONNX weights [ci, co/g, kh, kw] -> QNN [kh, kw, ci, co/g]
    lower.transpose_conv(ctx, ctx.tensor(node.input[0]), weight, _bias(ctx, node), node.output[0],
                         stride=strides, dilation=dil, pads=pads, output_padding=opad, groups=int(a.get("group", 1)),
                         weight_name=(node.input[1], "hwio"), name=node.name or None)

"""aten convolutions (conv1d/2d/3d, transposed 1-D/2-D, _convolution) -> QNN Conv2d / DepthWiseConv2d /
TransposeConv2d / Conv3d.

The whole PyTorch side of a convolution: check the node against its weights (a wrong ``-d`` shows up
here), turn ``stride``/``padding``/``dilation``/``output_padding`` into explicit numbers, and hand them
to the channel-last lowering every channel-first frontend shares
(:mod:`snpe_tools.frontends.lowering.conv`).  The IR ops are defined in ``snpe_tools/ops/conv.py``
(Conv3d: ``snpe_tools/ops/volumetric.py``).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ...lowering import conv as lower
from ...lowering.padding import same_pads
from ..context import Ref, TorchContext, pair
from ..registry import aten_op


def _conv(ctx: TorchContext, node, x, w, b, stride, padding, dilation, transposed, out_pad, groups):
    if isinstance(w, Ref):
        raise ConversionError("convolution weights must be constant (parameters of the module)")
    w = np.asarray(w, dtype=np.float32)
    rank = ctx.rank(x)
    if w.ndim != rank:
        raise ConversionError(f"the input has rank {rank} ({list(ctx.shape(x))}) but this convolution expects "
                              f"rank {w.ndim}; check -d/--input_dim")
    if rank not in ((3, 4) if transposed else (3, 4, 5)):
        raise ConversionError(f"rank-{rank} {'transposed ' if transposed else ''}convolution input is not supported "
                              f"({'1-D and 2-D' if transposed else '1-D, 2-D and 3-D'} only)")
    x_shape = list(ctx.shape(x))
    groups = int(groups)
    expect = w.shape[0] if transposed else w.shape[1] * groups
    if x_shape[1] != expect:
        raise ConversionError(f"the input has shape {x_shape} ({x_shape[1]} channels) but the weights "
                              f"{list(w.shape)} (groups {groups}) expect {expect} input channels; "
                              "check -d/--input_dim")
    n_sp = rank - 2
    stride, dilation = pair(stride, n_sp), pair(dilation, n_sp)
    if isinstance(padding, str):   # "valid", or "same" (stride 1; PyTorch puts the odd extra pixel at the end)
        pads = [(0, 0)] * n_sp if padding == "valid" else \
            [same_pads(x_shape[2 + i], w.shape[2 + i], 1, dilation[i]) for i in range(n_sp)]
    else:
        pads = [(p, p) for p in pair(padding, n_sp)]
    bias = ctx.tensor(np.asarray(b, np.float32)) if b is not None else None
    out = ctx.out_name(node)
    common = {"stride": stride, "dilation": dilation, "pads": pads, "groups": groups, "weight_name": f"{out}.weight"}
    if transposed:
        out_pad = pair(out_pad, n_sp) if out_pad is not None else [0] * n_sp
        lower.transpose_conv(ctx, ctx.tensor(x), w, bias, out, output_padding=out_pad, **common)
    else:
        lower.conv(ctx, ctx.tensor(x), w, bias, out, **common)
    return Ref(out)


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


@aten_op("conv1d", "conv2d", "conv3d")
def conv_nd(ctx, node):
    a = node.args
    x, w, b, stride, padding, dilation, groups = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, False, None, groups)


@aten_op("conv_transpose1d", "conv_transpose2d")
def conv_transpose(ctx, node):
    a = node.args
    x, w, b, stride, padding, out_pad, groups, dilation = a
    return _conv(ctx, node, x, w, b, stride, padding, dilation, True, out_pad, groups)

"""Convolution topologies: Conv2D/depthwise + bias, dilated (SpaceToBatch -> conv -> BatchToSpace), deconvolution."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..layers import make_layer
from ...lowering.padding import pad_amount, same_pads
from ..ops.nn import emit_conv, emit_deconv
from ..registry import resolver
from .common import candidates, channel_vector, producer, split_static

CONV = ("Conv2D", "DepthwiseConv2dNative")
ADD = ("BiasAdd", "Add", "AddV2")


def _bias_of(model, claimed, conv_out: str, channels: int):
    """A following BiasAdd/Add of a per-channel constant, if ``conv_out`` feeds only it."""
    users = model.consumers.get(conv_out, [])
    if len(users) != 1:
        return None, None
    add = model.nodes[users[0]]
    if add.op not in ADD or add.name in claimed:
        return None, None
    x, b = split_static(model, add)
    if x != conv_out:
        return None, None
    vec = channel_vector(model.const(b), channels)
    return (add, vec) if vec is not None else (None, None)


@resolver("DilatedConvolution", 10)
def dilated_conv(model, claimed):
    """TF's atrous convolution: SpaceToBatchND -> Conv2D/depthwise -> BatchToSpaceND (+ bias)."""
    out = []
    for b2s in candidates(model, claimed, ("BatchToSpaceND",)):
        conv, via1 = producer(model, b2s.inputs[0], claimed, CONV)
        if conv is None:
            continue
        s2b, via2 = producer(model, conv.inputs[0], claimed, ("SpaceToBatchND",))
        if s2b is None:
            continue
        vals = [model.const(t) for t in (s2b.inputs[1], s2b.inputs[2], b2s.inputs[1], b2s.inputs[2], conv.inputs[1])]
        if any(v is None for v in vals):
            continue
        block, paddings, block2, crops, w = (np.asarray(v) for v in vals)
        if block.shape != (2,) or not np.array_equal(block, block2):
            continue
        nodes = [s2b.name, *via2, conv.name, *via1, b2s.name]
        cout = w.shape[3] * (w.shape[2] if conv.op == "DepthwiseConv2dNative" else 1)
        add, bias = _bias_of(model, claimed, f"{b2s.name}:0", cout)
        if add is not None:
            nodes.append(add.name)
        outp = f"{(add or b2s).name}:0"
        out.append(make_layer(model, "DilatedConvolution", nodes, [outp], _translate_dilated, conv=conv.name,
                              x=s2b.inputs[0], block=block.astype(int).tolist(), paddings=paddings.astype(int),
                              crops=crops.astype(int), bias=bias, out=outp))
    return out


def _translate_dilated(ctx, layer):
    info = layer.info
    conv = ctx.model.nodes[info["conv"]]
    x = info["x"]
    w_shape = ctx.const(conv.inputs[1]).shape
    st = conv.attr("strides", [1, 1, 1, 1])
    dl = conv.attr("dilations", [1, 1, 1, 1]) or [1, 1, 1, 1]
    if list(st) != [1, 1, 1, 1] or list(dl) != [1, 1, 1, 1]:
        raise ConversionError(f"{layer.name}: a strided or dilated convolution inside SpaceToBatchND/BatchToSpaceND "
                              "is not supported")
    in_shape = ctx.shape(x)
    pads = []
    for ax in range(2):
        d = info["block"][ax]
        k = w_shape[ax]
        inner = (0, 0)
        if conv.attr("padding") == "SAME":
            size = (in_shape[ax + 1] + int(info["paddings"][ax].sum())) // d
            inner = same_pads(size, k, 1)
        before = int(info["paddings"][ax][0]) + inner[0] * d - int(info["crops"][ax][0])
        after = int(info["paddings"][ax][1]) + inner[1] * d - int(info["crops"][ax][1])
        if before < 0 or after < 0:
            raise ConversionError(f"{layer.name}: the BatchToSpaceND crops exceed the padding; this atrous "
                                  "convolution has no equivalent dilated convolution")
        pads.append([before, after])
    params = {"stride": [1, 1], "dilation": list(info["block"]), "pad_amount": pad_amount(pads)}
    emit_conv(ctx, layer, conv, x, info["bias"], info["out"], params)


def _biased(model, claimed, producer_types, channels_of):
    """(producer, add, bias, alias nodes) for every add of a per-channel constant onto a producer's output.

    Anchored at the add, so one producer feeding two bias adds yields two layers claiming it (an error).
    """
    for add in candidates(model, claimed, ADD):
        x, b = split_static(model, add)
        if x is None:
            continue
        prod, via = producer(model, x, claimed, producer_types)
        if prod is None or model.const(prod.inputs[1]) is None:
            continue
        bias = channel_vector(model.const(b), channels_of(np.asarray(model.const(prod.inputs[1])), prod))
        if bias is not None:
            yield prod, add, bias, via


def _conv_channels(w, node):
    return w.shape[3] * (w.shape[2] if node.op == "DepthwiseConv2dNative" else 1)


@resolver("Convolution", 20)
def conv_bias(model, claimed):
    """Conv2D / DepthwiseConv2dNative followed by a per-channel bias add."""
    return [make_layer(model, "Convolution", [conv.name, *via, add.name], [f"{add.name}:0"], _translate_conv,
                       conv=conv.name, bias=bias, out=f"{add.name}:0")
            for conv, add, bias, via in _biased(model, claimed, CONV, _conv_channels)]


def _translate_conv(ctx, layer):
    conv = ctx.model.nodes[layer.info["conv"]]
    emit_conv(ctx, layer, conv, conv.inputs[0], layer.info["bias"], layer.info["out"])


@resolver("Deconvolution", 25)
def deconv_bias(model, claimed):
    """Conv2DBackpropInput (conv2d_transpose) followed by a per-channel bias add."""
    return [make_layer(model, "Deconvolution", [dc.name, *via, add.name], [f"{add.name}:0"], _translate_deconv,
                       node=dc.name, bias=bias, out=f"{add.name}:0")
            for dc, add, bias, via in _biased(model, claimed, ("Conv2DBackpropInput",), lambda w, n: w.shape[2])]


def _translate_deconv(ctx, layer):
    emit_deconv(ctx, layer, ctx.model.nodes[layer.info["node"]], layer.info["bias"], layer.info["out"])

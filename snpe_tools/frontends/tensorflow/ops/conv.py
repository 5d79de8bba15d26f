"""TensorFlow convolutions -> QNN Conv2d / DepthWiseConv2d / TransposeConv2d (``snpe_tools/ops/conv.py``):
Conv2D's whole TensorFlow story in one module.

* single-op translators (``@tf_op``): Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput (conv2d_transpose),
  NHWC only, constant HWIO filters (a FakeQuant'ed filter keeps its grid, ``quant.weight_encoding``);
* topologies (``@resolver``), which claim the nodes around a convolution first: Conv2D/depthwise + a
  per-channel bias add (Convolution), conv2d_transpose + bias (Deconvolution), and TF's atrous
  convolution ``SpaceToBatchND -> Conv2D/depthwise -> BatchToSpaceND`` (DilatedConvolution), which
  becomes one convolution with ``dilation``.

Padding (SAME/VALID/EXPLICIT) goes through ``frontends/lowering/padding.py`` via ``layout.spatial_pads``.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ...lowering.padding import pad_amount, same_pads, transposed_pads
from ..layers import make_layer, node_of_layer
from ..layout import check_nhwc, spatial_pads
from ..patterns import candidates, channel_vector, constant_adds, producer, split_static
from ..registry import resolver, tf_op
from .quant import weight_encoding


def conv_params(node, in_shape, w_shape) -> dict:
    check_nhwc(node)
    st = node.attr("strides", [1, 1, 1, 1])
    dl = node.attr("dilations", [1, 1, 1, 1]) or [1, 1, 1, 1]
    if st[0] != 1 or st[3] != 1 or dl[0] != 1 or dl[3] != 1:
        raise ConversionError(f"{node.op} '{node.name}': strides/dilations over batch or channels")
    strides, dil = (int(st[1]), int(st[2])), (int(dl[1]), int(dl[2]))
    pads = spatial_pads(node, in_shape, int(w_shape[0]), int(w_shape[1]), strides, dil)
    return {"stride": list(strides), "dilation": list(dil), "pad_amount": pads}


def emit_conv(ctx, layer, conv_node, x: str, bias: np.ndarray | None, out: str, params: dict | None = None) -> str:
    """Conv2D / DepthwiseConv2dNative with constant HWIO weights (+ folded bias) -> Conv2d/DepthWiseConv2d."""
    w = ctx.require_const(layer, conv_node.inputs[1], "the filter").astype(np.float32)
    in_shape = ctx.shape(x)
    p = params or conv_params(conv_node, in_shape, w.shape)
    kh, kw = w.shape[:2]
    if conv_node.op == "DepthwiseConv2dNative":
        cin, mult = w.shape[2], w.shape[3]
        wq = w.reshape(kh, kw, 1, cin * mult)
        type_, cout = "DepthWiseConv2d", cin * mult
    else:
        cin_w, cout = w.shape[2], w.shape[3]
        if in_shape[3] % cin_w:
            raise ConversionError(f"Conv2D '{conv_node.name}': input channels {in_shape[3]} do not fit the "
                                  f"filter's {cin_w}")
        p = dict(p, group=in_shape[3] // cin_w)
        wq, type_ = w, "Conv2d"
    b = np.zeros(cout, np.float32) if bias is None else np.broadcast_to(
        np.asarray(bias, np.float32).reshape(-1), (cout,)).copy()
    ins = [ctx.tensor(x), ctx.derived_const(conv_node.inputs[1], "hwio", wq), ctx.add_const(f"{layer.name}/bias", b)]
    weight_encoding(ctx, conv_node.inputs[1], ins[1])        # quantization-aware filters keep their grid
    return ctx.op(type_, ins, p, out=out, name=layer.name)


@tf_op("Conv2D", "DepthwiseConv2dNative")
def conv(ctx, layer):
    node = node_of_layer(ctx, layer)
    emit_conv(ctx, layer, node, node.inputs[0], None, f"{node.name}:0")


def emit_deconv(ctx, layer, node, bias, out: str) -> str:
    """Conv2DBackpropInput(input_sizes, filter [kh,kw,cout,cin], x) -> TransposeConv2d."""
    check_nhwc(node)
    sizes = ctx.require_const(layer, node.inputs[0], "the output size").astype(int).tolist()
    w = ctx.require_const(layer, node.inputs[1], "the filter").astype(np.float32)
    x = node.inputs[2]
    in_shape = ctx.shape(x)
    st = node.attr("strides", [1, 1, 1, 1])
    dl = node.attr("dilations", [1, 1, 1, 1]) or [1, 1, 1, 1]
    if list(dl) != [1, 1, 1, 1]:
        raise ConversionError(f"Conv2DBackpropInput '{node.name}': dilated transposed convolution is not supported")
    kh, kw, cout, cin = w.shape
    if node.attr("padding") not in ("SAME", "VALID"):
        raise ConversionError(f"Conv2DBackpropInput '{node.name}': padding {node.attr('padding')} unsupported")
    pads, outpad = [], []
    for ax, k, s in ((1, kh, int(st[1])), (2, kw, int(st[2]))):
        pair, extra = transposed_pads(in_shape[ax], sizes[ax], k, s, node.attr("padding") == "SAME")
        pads.append(pair)
        outpad.append(extra)
    b = np.zeros(cout, np.float32) if bias is None else np.asarray(bias, np.float32).reshape(-1)
    ins = [ctx.tensor(x), ctx.derived_const(node.inputs[1], "hwio", np.ascontiguousarray(w.transpose(0, 1, 3, 2))),
           ctx.add_const(f"{layer.name}/bias", b)]
    return ctx.op("TransposeConv2d", ins, {"stride": [int(st[1]), int(st[2])], "pad_amount": pad_amount(pads),
                                          "output_padding": outpad}, out=out, name=layer.name)


@tf_op("Conv2DBackpropInput")
def deconv(ctx, layer):
    node = node_of_layer(ctx, layer)
    emit_deconv(ctx, layer, node, None, f"{node.name}:0")


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
    """(producer, add, bias, alias nodes) for every add of a per-channel constant onto a producer's output."""
    for add, b, prod, via in constant_adds(model, claimed, ADD, producer_types):
        if model.const(prod.inputs[1]) is None:
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

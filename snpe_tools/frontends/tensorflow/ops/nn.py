"""Convolution, pooling, normalisation and activation nodes (NHWC, weights as TF stores them: HWIO)."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ...lowering.padding import auto_pads, pad_amount, transposed_pads
from ..layers import node_of_layer
from ..registry import tf_op
from .fake_quant import weight_encoding


def check_nhwc(node) -> None:
    fmt = node.attr("data_format", "NHWC")
    if fmt not in ("NHWC", "NDHWC"):
        raise ConversionError(f"{node.op} '{node.name}': data_format {fmt} is not supported (NHWC graphs only; "
                              "NCHW ops only run on GPU in TensorFlow)")


def spatial_pads(node, in_shape, kh: int, kw: int, strides, dilations) -> np.ndarray:
    """TF ``padding`` (SAME/VALID, or EXPLICIT ``explicit_paddings`` as NHWC pairs) -> ``pad_amount``."""
    padding = node.attr("padding", "VALID")
    if padding in ("SAME", "VALID"):
        return pad_amount(auto_pads(padding, in_shape[1:3], (kh, kw), strides, dilations))
    if padding == "EXPLICIT":
        ep = node.attr("explicit_paddings", [])
        ep = np.asarray(ep, np.int64).reshape(-1, 2)
        if ep[0].any() or ep[3].any():
            raise ConversionError(f"{node.op} '{node.name}': explicit padding of batch or channels")
        return pad_amount(ep[1:3])
    raise ConversionError(f"{node.op} '{node.name}': padding {padding} is not supported")


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
    ins = [ctx.tensor(x), ctx.add_const(f"{conv_node.inputs[1]}.hwio", wq), ctx.add_const(f"{layer.name}/bias", b)]
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
    ins = [ctx.tensor(x), ctx.add_const(f"{node.inputs[1]}.hwio", np.ascontiguousarray(w.transpose(0, 1, 3, 2))),
           ctx.add_const(f"{layer.name}/bias", b)]
    return ctx.op("TransposeConv2d", ins, {"stride": [int(st[1]), int(st[2])], "pad_amount": pad_amount(pads),
                                          "output_padding": outpad}, out=out, name=layer.name)


@tf_op("Conv2DBackpropInput")
def deconv(ctx, layer):
    node = node_of_layer(ctx, layer)
    emit_deconv(ctx, layer, node, None, f"{node.name}:0")


@tf_op("MaxPool", "AvgPool")
def pool(ctx, layer):
    node = node_of_layer(ctx, layer)
    check_nhwc(node)
    k, st = node.attr("ksize"), node.attr("strides")
    if k[0] != 1 or k[3] != 1 or st[0] != 1 or st[3] != 1:
        raise ConversionError(f"{node.op} '{node.name}': pooling over batch or channels is not supported")
    x = node.inputs[0]
    pads = spatial_pads(node, ctx.shape(x), int(k[1]), int(k[2]), (int(st[1]), int(st[2])), (1, 1))
    params = {"filter_size": [int(k[1]), int(k[2])], "stride": [int(st[1]), int(st[2])], "pad_amount": pads}
    if node.op == "AvgPool":
        params["count_pad_for_edges"] = False      # TF averages over the real pixels only
    ctx.op("PoolMax2d" if node.op == "MaxPool" else "PoolAvg2d", [ctx.tensor(x)], params,
           out=f"{node.name}:0", name=layer.name)


@tf_op("LRN")
def lrn(ctx, layer):
    node = node_of_layer(ctx, layer)
    ctx.op("Lrn", [ctx.tensor(node.inputs[0])],
           {"radius": int(node.attr("depth_radius", 5)), "bias": float(node.attr("bias", 1.0)),
            "alpha": float(node.attr("alpha", 1.0)), "beta": float(node.attr("beta", 0.5))},
           out=f"{node.name}:0", name=layer.name)


def bn_weights(ctx, layer, node) -> tuple[np.ndarray, np.ndarray]:
    """FusedBatchNorm* at inference: y = x * scale/sqrt(var+eps) + (offset - mean*scale/sqrt(var+eps))."""
    if node.attr("is_training", False):
        mean = ctx.const(node.inputs[3])
        if mean is None or np.asarray(mean).size == 0:
            raise ConversionError(f"{node.op} '{node.name}' runs in training mode (batch statistics); freeze the "
                                  "graph for inference (is_training=False)")
    scale, offset, mean, var = (ctx.require_const(layer, node.inputs[i], w).astype(np.float64).reshape(-1)
                                for i, w in ((1, "scale"), (2, "offset"), (3, "mean"), (4, "variance")))
    w = scale / np.sqrt(var + float(node.attr("epsilon", 1e-3)))
    return w.astype(np.float32), (offset - mean * w).astype(np.float32)


@tf_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_bn(ctx, layer):
    node = node_of_layer(ctx, layer)
    check_nhwc(node)
    w, b = bn_weights(ctx, layer, node)
    ctx.op("Batchnorm", [ctx.tensor(node.inputs[0]), ctx.add_const(f"{layer.name}/weight", w),
                         ctx.add_const(f"{layer.name}/bias", b)], out=f"{node.name}:0", name=layer.name)


_UNARY = {"Relu": ("Relu", {}), "Relu6": ("ReluMinMax", {"min_value": 0.0, "max_value": 6.0}),
          "Sigmoid": ("Sigmoid", {}), "Tanh": ("Tanh", {}), "Elu": ("Elu", {"alpha": 1.0}),
          "Softplus": ("ElementWiseNeuron", {"operation": 7})}


@tf_op(*_UNARY)
def activation(ctx, layer):
    node = node_of_layer(ctx, layer)
    type_, params = _UNARY[node.op]
    ctx.op(type_, [ctx.tensor(node.inputs[0])], params, out=f"{node.name}:0", name=layer.name)


@tf_op("LeakyRelu")
def leaky_relu(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    c = ctx.shape(x)[-1]
    slope = np.full(c, float(node.attr("alpha", 0.2)), np.float32)
    ctx.op("Prelu", [ctx.tensor(x), ctx.add_const(f"{layer.name}/alpha", slope)], out=f"{node.name}:0",
           name=layer.name)


@tf_op("Softmax", "LogSoftmax")
def softmax(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    ctx.op(node.op, [ctx.tensor(x)], {"axis": ctx.rank(x) - 1}, out=f"{node.name}:0", name=layer.name)

"""ONNX Conv / MaxPool / AveragePool / Global*Pool on 5-D (NCDHW) inputs -> QNN Conv3d / PoolMax3d /
PoolAvg3d in NDHWC (the 1-D and 2-D cases stay in ``nn.py``, which dispatches rank-5 nodes here)."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, attrs
from ..padding import explicit_pads


def _name(node) -> str:
    return node.name or node.output[0]


def conv3d(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    w_name = node.input[1]
    w_shape = list(ctx.shape(w_name))
    x_shape = list(ctx.shape(node.input[0]))
    if len(w_shape) != 5:
        raise ConversionError(f"Conv node '{_name(node)}': a rank-5 input needs rank-5 weights, got {w_shape}")
    g = int(a.get("group", 1))
    co, cig = w_shape[0], w_shape[1]
    if cig * g != x_shape[1] or co % g:
        raise ConversionError(f"Conv node '{_name(node)}': weights {w_shape} do not match {x_shape[1]} input channels "
                              f"in {g} group(s)")
    kernel = w_shape[2:]
    strides = list(a.get("strides", [1, 1, 1]))
    dil = list(a.get("dilations", [1, 1, 1]))
    pads = explicit_pads(node, a, x_shape[2:], kernel, strides, dil)
    w = ctx.const(w_name)
    if w is None:   # weights computed at run time: a Transpose to [kd,kh,kw,ci/g,co] runs in the graph
        wq = ctx.transpose(ctx.tensor(w_name), (2, 3, 4, 1, 0))
    else:
        wq = ctx.add_const(f"{w_name}.dhwio", np.ascontiguousarray(w.transpose(2, 3, 4, 1, 0)))
    bias = [ctx.tensor(node.input[2])] if len(node.input) > 2 and node.input[2] else []
    ctx.emit_channel_last("Conv3d", node, [node.input[0]],
                          {"stride": strides, "dilation": dil, "pad_amount": pads, "group": g}, [wq] + bias)


def pool3d(ctx: OnnxContext, node, qnn_type: str, global_: bool) -> None:
    """qnn_type is the 2-D name (PoolMax2d / PoolAvg2d); the 3-D op is emitted."""
    a = attrs(node)
    x_shape = list(ctx.shape(node.input[0]))
    if global_:
        kernel, strides, pads, ceil = x_shape[2:], [1, 1, 1], [(0, 0)] * 3, 0
    else:
        kernel = list(a["kernel_shape"])
        if len(kernel) != 3:
            raise ConversionError(f"{node.op_type} node '{_name(node)}': kernel_shape does not match the input rank")
        strides = list(a.get("strides", [1, 1, 1]))
        if any(d != 1 for d in a.get("dilations", [1, 1, 1])):
            raise ConversionError(f"{node.op_type} node '{_name(node)}': dilated pooling is not supported")
        pads = explicit_pads(node, a, x_shape[2:], kernel, strides, [1, 1, 1])
        ceil = int(a.get("ceil_mode", 0))
    params = {"filter_size": kernel, "stride": strides, "pad_amount": pads, "rounding_mode": ceil}
    if qnn_type == "PoolAvg2d":
        params["count_pad_for_edges"] = bool(a.get("count_include_pad", 0))
    ctx.emit_channel_last(qnn_type.replace("2d", "3d"), node, [node.input[0]], params)

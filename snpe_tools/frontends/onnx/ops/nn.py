"""ONNX Conv / ConvTranspose / pooling / BatchNormalization / LRN -> QNN (channel-last)."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, attrs
from ..padding import explicit_pads
from ..registry import onnx_op
from . import volumetric


def _node_name(node) -> str:
    return node.name or node.output[0]


def _lift_1d(ctx: OnnxContext, node, name: str) -> str:
    """[N,C,L] -> [N,C,1,L] so that 1-D ops run as 2-D QNN ops."""
    s = ctx.shape(name)
    out = ctx.graph.unique_name(f"{name}.4d")
    return ctx.emit("Reshape", [ctx.tensor(name)], [out], {"shape": [s[0], s[1], 1, s[2]]}, name=out)[0]


def _finish_1d(ctx: OnnxContext, node, tmp4d: str) -> None:
    s = ctx.graph.tensors[tmp4d].shape
    ctx.emit("Reshape", [tmp4d], [node.output[0]], {"shape": [s[0], s[1], s[3]]},
             name=_node_name(node) + ".3d")


def with_1d(ctx: OnnxContext, node, fn) -> None:
    """Run translator body ``fn(x_name, out_name, is_1d)`` lifting 1-D inputs to 2-D."""
    rank = ctx.rank(node.input[0])
    if rank == 3:
        x = _lift_1d(ctx, node, node.input[0])
        tmp = ctx.graph.unique_name(f"{node.output[0]}.4d")
        fn(x, tmp, True)
        _finish_1d(ctx, node, tmp)
    elif rank == 4:
        fn(node.input[0], node.output[0], False)
    else:
        raise ConversionError(f"{node.op_type} node '{_node_name(node)}': rank-{rank} input is not supported "
                              "(only 1-D and 2-D spatial)")


class NodeView:
    """A NodeProto look-alike with a replaced output (used when lifting 1-D ops)."""

    def __init__(self, node, output: str) -> None:
        self.name, self.op_type, self.input = node.name, node.op_type, node.input
        self.output = [output]


def _check_conv_input(ctx: OnnxContext, node, transposed: bool) -> None:
    """The input's rank and channel count must agree with the weights (a wrong -d is caught here)."""
    x_shape = list(ctx.shape(node.input[0]))
    w_shape = list(ctx.shape(node.input[1]))
    g = int(attrs(node).get("group", 1))
    hint = f"check -d/--input_dim {node.input[0]}" if node.input[0] in ctx.graph.inputs else "check -d/--input_dim"
    if len(x_shape) != len(w_shape) or len(x_shape) < 3:
        raise ConversionError(f"{node.op_type} node '{_node_name(node)}': input '{node.input[0]}' has shape "
                              f"{x_shape} (rank {len(x_shape)}) but the weights '{node.input[1]}' {w_shape} need a "
                              f"rank-{len(w_shape)} input; {hint}")
    if g < 1:
        raise ConversionError(f"{node.op_type} node '{_node_name(node)}': group must be >= 1, got {g}")
    expect = w_shape[0] if transposed else w_shape[1] * g
    if x_shape[1] != expect:
        raise ConversionError(f"{node.op_type} node '{_node_name(node)}': input '{node.input[0]}' has shape {x_shape} "
                              f"({x_shape[1]} channels) but the weights '{node.input[1]}' {w_shape} (group {g}) "
                              f"expect {expect} input channels; {hint}")


@onnx_op("Conv")
def conv(ctx: OnnxContext, node) -> None:
    _check_conv_input(ctx, node, transposed=False)
    if ctx.rank(node.input[0]) == 5:
        volumetric.conv3d(ctx, node)
        return
    a = attrs(node)
    w_name = node.input[1]
    w = ctx.const(w_name)
    dynamic_w = w is None
    if dynamic_w:   # weights computed at run time: a Transpose to HWIO runs in the graph
        w = np.zeros(ctx.shape(w_name), np.float32)
    if w.ndim == 3:
        w = w[:, :, None, :]

    def body(x, out, is_1d):
        g = int(a.get("group", 1))
        kernel = list(w.shape[2:])
        n_src = len(kernel) - int(is_1d)
        strides = list(a.get("strides", [1] * n_src))
        dil = list(a.get("dilations", [1] * n_src))
        pads_attr = dict(a)
        if is_1d:
            strides, dil = [1] + strides, [1] + dil
            if "pads" in a:
                pads_attr["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
        in_shape = ctx.shape(x)
        pads = explicit_pads(node, pads_attr, in_shape[2:], kernel, strides, dil)
        params = {"stride": strides, "dilation": dil, "pad_amount": pads}
        cig = w.shape[1]
        ci = in_shape[1]
        bias = [ctx.tensor(node.input[2])] if len(node.input) > 2 and node.input[2] else []
        view = NodeView(node, out)
        if dynamic_w:
            wsrc = ctx.tensor(w_name)
            if len(ctx.shape(w_name)) == 3:
                s3 = ctx.shape(w_name)
                r = ctx.graph.unique_name(f"{w_name}.4d")
                wsrc = ctx.emit("Reshape", [wsrc], [r], {"shape": [s3[0], s3[1], 1, s3[2]]}, name=r)[0]
            wq = ctx.transpose(wsrc, (2, 3, 1, 0))
        else:
            wq = ctx.add_const(f"{w_name}.hwio", np.ascontiguousarray(w.transpose(2, 3, 1, 0)))
        if g > 1 and cig == 1 and g == ci:
            ctx.emit_channel_last("DepthWiseConv2d", view, [x], params, [wq] + bias)
        else:
            params["group"] = g
            ctx.emit_channel_last("Conv2d", view, [x], params, [wq] + bias)

    with_1d(ctx, node, body)


@onnx_op("ConvTranspose")
def conv_transpose(ctx: OnnxContext, node) -> None:
    _check_conv_input(ctx, node, transposed=True)
    a = attrs(node)
    w_name = node.input[1]
    w = ctx.const(w_name)
    dynamic_w = w is None
    if dynamic_w:   # weights computed at run time: a Transpose to [kh,kw,ci,co/g] runs in the graph
        w = np.zeros(ctx.shape(w_name), np.float32)
    if w.ndim == 3:
        w = w[:, :, None, :]

    def body(x, out, is_1d):
        g = int(a.get("group", 1))
        kernel = list(w.shape[2:])
        n = len(kernel)
        strides = list(a.get("strides", [1] * (n - int(is_1d))))
        dil = list(a.get("dilations", [1] * (n - int(is_1d))))
        opad = list(a.get("output_padding", [0] * (n - int(is_1d))))
        pads_l = list(a.get("pads", [0] * (2 * (n - int(is_1d)))))
        out_shape = a.get("output_shape")
        if is_1d:
            strides, dil, opad = [1] + strides, [1] + dil, [0] + opad
            pads_l = [0, pads_l[0], 0, pads_l[1]]
            if out_shape is not None:
                out_shape = [1] + list(out_shape)[-1:]
        wk = w
        if any(d != 1 for d in dil) and dynamic_w:
            raise ConversionError(f"ConvTranspose node '{_node_name(node)}': dilations need constant weights "
                                  "(QNN TransposeConv2d has no dilation; the kernel is dilated at convert time)")
        if any(d != 1 for d in dil):   # QNN TransposeConv2d has no dilation: dilate the kernel
            kh = (w.shape[2] - 1) * dil[0] + 1
            kw = (w.shape[3] - 1) * dil[1] + 1
            wk = np.zeros(w.shape[:2] + (kh, kw), w.dtype)
            wk[:, :, ::dil[0], ::dil[1]] = w
        k = wk.shape[2:]
        in_sp = ctx.shape(x)[2:]
        auto = a.get("auto_pad", "NOTSET")
        if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
            target = list(out_shape)[-2:] if out_shape is not None else [in_sp[i] * strides[i] for i in range(2)]
            pads = []
            for i in range(2):
                total = strides[i] * (in_sp[i] - 1) + opad[i] + k[i] - target[i]
                if total < 0 and out_shape is not None:
                    if -total >= strides[i]:
                        raise ConversionError(f"ConvTranspose node '{_node_name(node)}': output_shape {list(out_shape)} "
                                              "is inconsistent with the input size, strides and kernel")
                    opad[i] += -total   # output_shape asks for a longer tail (it holds only the bias)
                total = max(total, 0)
                if auto == "SAME_UPPER" or (out_shape is not None and auto != "SAME_LOWER"):
                    pads.append((total // 2, total - total // 2))
                else:
                    pads.append((total - total // 2, total // 2))
        elif auto == "VALID":
            pads = [(0, 0), (0, 0)]
        else:
            pads = [(int(pads_l[0]), int(pads_l[2])), (int(pads_l[1]), int(pads_l[3]))]
        # ONNX weights [ci, co/g, kh, kw] -> QNN [kh, kw, ci, co/g]
        if dynamic_w:
            wsrc = ctx.tensor(w_name)
            if len(ctx.shape(w_name)) == 3:
                s3 = ctx.shape(w_name)
                r = ctx.graph.unique_name(f"{w_name}.4d")
                wsrc = ctx.emit("Reshape", [wsrc], [r], {"shape": [s3[0], s3[1], 1, s3[2]]}, name=r)[0]
            wq = ctx.transpose(wsrc, (2, 3, 0, 1))
        else:
            wq = ctx.add_const(f"{w_name}.hwio", np.ascontiguousarray(wk.transpose(2, 3, 0, 1)))
        bias = [ctx.tensor(node.input[2])] if len(node.input) > 2 and node.input[2] else []
        params = {"stride": strides, "pad_amount": pads, "group": g, "output_padding": opad}
        ctx.emit_channel_last("TransposeConv2d", NodeView(node, out), [x], params, [wq] + bias)

    with_1d(ctx, node, body)


def _dilated_max_pool(ctx: OnnxContext, x: str, out: str, kernel, strides, dil, pads) -> None:
    """Dilated MaxPool as the maximum of kh*kw strided slices of the (-inf)-padded input; exact."""
    n, c, h, w = ctx.shape(x)
    xp = ctx.tensor(x)
    if any(p for pair in pads for p in pair):
        r = ctx.graph.unique_name(f"{out}.pad")
        xp = ctx.emit("Pad", [xp], [r], {"scheme": 0, "pad_constant_value": float(np.finfo(np.float32).min),
                                          "pad_amount": [[0, 0], [0, 0], list(pads[0]), list(pads[1])]}, name=r)[0]
    hp, wp = h + sum(pads[0]), w + sum(pads[1])
    oh = (hp - ((kernel[0] - 1) * dil[0] + 1)) // strides[0] + 1
    ow = (wp - ((kernel[1] - 1) * dil[1] + 1)) // strides[1] + 1
    acc = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            b0, b1 = i * dil[0], j * dil[1]
            ranges = [[0, n, 1], [0, c, 1], [b0, b0 + (oh - 1) * strides[0] + 1, strides[0]],
                      [b1, b1 + (ow - 1) * strides[1] + 1, strides[1]]]
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


def _pool(ctx: OnnxContext, node, qnn_type: str, global_: bool) -> None:
    a = attrs(node)
    if len([o for o in node.output if o]) > 1:
        raise ConversionError(f"{node.op_type} node '{_node_name(node)}': the Indices output is not supported")
    if ctx.rank(node.input[0]) == 5:
        volumetric.pool3d(ctx, node, qnn_type, global_)
        return

    def body(x, out, is_1d):
        in_shape = ctx.shape(x)
        if global_:
            # one window over the whole map; stride = window, as Qualcomm's converter writes it
            kernel, pads = list(in_shape[2:]), [(0, 0), (0, 0)]
            strides = list(kernel)
            ceil = 0
        else:
            kernel = list(a["kernel_shape"])
            strides = list(a.get("strides", [1] * len(kernel)))
            dil = list(a.get("dilations", [1] * len(kernel)))
            if len(kernel) != len(in_shape) - 2 - int(is_1d):
                raise ConversionError(f"{node.op_type} node '{_node_name(node)}': kernel_shape does not match "
                                      "the input rank")
            pa = dict(a)
            if is_1d:
                kernel, strides, dil = [1] + kernel, [1] + strides, [1] + dil
                if "pads" in a:
                    pa["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
            pads = explicit_pads(node, pa, in_shape[2:], kernel, strides, dil)
            ceil = int(a.get("ceil_mode", 0))
            if any(d != 1 for d in dil):
                if qnn_type != "PoolMax2d" or ceil:
                    raise ConversionError(f"{node.op_type} node '{_node_name(node)}': dilated pooling is only "
                                          "supported for MaxPool without ceil_mode (QNN pools have no dilation)")
                _dilated_max_pool(ctx, x, out, kernel, strides, dil, pads)
                return
        params = {"filter_size": kernel, "stride": strides, "pad_amount": pads, "rounding_mode": ceil}
        if qnn_type == "PoolAvg2d":
            params["count_pad_for_edges"] = bool(a.get("count_include_pad", 0))
        ctx.emit_channel_last(qnn_type, NodeView(node, out), [x], params)

    with_1d(ctx, node, body)


@onnx_op("MaxPool")
def max_pool(ctx, node):
    _pool(ctx, node, "PoolMax2d", False)


@onnx_op("AveragePool")
def avg_pool(ctx, node):
    _pool(ctx, node, "PoolAvg2d", False)


@onnx_op("GlobalAveragePool")
def global_avg_pool(ctx, node):
    _pool(ctx, node, "PoolAvg2d", True)


@onnx_op("GlobalMaxPool")
def global_max_pool(ctx, node):
    _pool(ctx, node, "PoolMax2d", True)


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

"""Convolutions: Conv2d, DepthWiseConv2d, TransposeConv2d (QNN semantics, NHWC activations).

Weight layouts: Conv2d ``[kh,kw,cin/group,cout]``, DepthWiseConv2d ``[kh,kw,1,cin*m]``,
TransposeConv2d ``[kh,kw,cin,cout/group]``; ``pad_amount`` is ``[[top,bottom],[left,right]]``.
Kernels use im2col (a strided view) + one matmul per group, never per-pixel loops.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..ir import axis_format as af
from ..ir import dtypes as qd
from .registry import OpDef, Param, register, u32


class _ConvFamily(OpDef):
    """What the passes and the quantizer know of every 2-D convolution: input 1 the HWIO-like weights
    (output channel last, quantized per channel), input 2 the bias, an integer accumulator."""

    dlc_bias_input = 2
    weight_input = 1
    weight_quant_axis = "channel"
    integer_accumulator = True
    folds_batchnorm = True

    def scale_output_channels(self, op, w, s):
        return w * s                                  # [..., cout]


def _absorb_spatial_pad(op, pad_amount) -> bool:
    """A zero Pad on the spatial dims of an NHWC input is more ``pad_amount`` of a convolution."""
    pa = np.asarray(pad_amount)
    if pa.shape[0] != 4 or pa[0].any() or pa[3].any():
        return False      # padding batch or channels cannot move into the conv
    op.params["pad_amount"] = (np.asarray(op.params["pad_amount"]) + pa[1:3]).astype(np.uint32)
    return True

_SPATIAL = {
    "stride": Param(qd.UINT_32, tensor=True, default=u32(1, 1)),
    "pad_amount": Param(qd.UINT_32, tensor=True, default=np.zeros((2, 2), np.uint32)),
    "dilation": Param(qd.UINT_32, tensor=True, default=u32(1, 1)),
}


def conv_out_size(size: int, k: int, stride: int, dilation: int, pad_b: int, pad_e: int) -> int:
    return (size + pad_b + pad_e - ((k - 1) * dilation + 1)) // stride + 1


def check_group(op, cin: int, w_cin: int, cout: int) -> int:
    """The ``group`` of a grouped convolution whose input has ``cin`` channels and whose weights take
    ``w_cin`` input channels per group and give ``cout`` outputs; refused unless the groups split both."""
    g = int(op.params["group"])
    if g < 1 or cin != w_cin * g or cout % g:
        raise ValueError(f"{op.type} {op.name}: group {g} does not fit {cin} input channels, weights taking "
                         f"{w_cin} per group and {cout} outputs (supported: input channels = group x "
                         "weight input channels, outputs a multiple of group)")
    return g


def patches(x: np.ndarray, kh: int, kw: int, stride, dilation, pads, pad_value=0.0) -> np.ndarray:
    """Strided view ``[b, oh, ow, kh, kw, c]`` over the padded NHWC input (no copy)."""
    (pt, pb), (pl, pr) = (int(pads[0][0]), int(pads[0][1])), (int(pads[1][0]), int(pads[1][1]))
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    b, h, w, c = x.shape
    sh, sw = int(stride[0]), int(stride[1])
    dh, dw = int(dilation[0]), int(dilation[1])
    oh = (h - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w - ((kw - 1) * dw + 1)) // sw + 1
    s = x.strides
    return as_strided(x, shape=(b, oh, ow, kh, kw, c),
                      strides=(s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]), writeable=False)


IM2COL_BYTES = 4 << 20     # one im2col block: stays in cache between the copy and the matrix product


def im2col_matmul(pt: np.ndarray, w: np.ndarray, group: int) -> np.ndarray:
    """``[b, oh, ow, co]`` = the patches view ``pt`` (``[b, oh, ow, kh, kw, c]``, see :func:`patches`) times
    the HWIO weights ``w``, one group at a time.

    The patch matrix is copied and multiplied in blocks of about :data:`IM2COL_BYTES` (whole images
    when they fit, else rows of one image) into one reused buffer, so each block is still in cache when
    the matrix product reads it.  A whole-batch patch matrix (115 MB for a 16-image 56x56x64 3x3
    layer) went out to memory and back: on a 2-core machine the blocked form takes ResNet-18's
    convolutions from 853 to 661 ms per 16 images on one core, and two such calls side by side no
    longer slow each other down (908 -> 680 ms).  Every output element is the same dot product as
    in one whole-batch product."""
    b, oh, ow, kh, kw, _ = pt.shape
    cig, co = w.shape[2], w.shape[3]
    cog = co // group
    k = kh * kw * cig
    dtype = np.result_type(pt.dtype, w.dtype)
    y = np.empty((b, oh, ow, co), dtype)
    row_bytes = ow * k * dtype.itemsize
    if oh * row_bytes <= IM2COL_BYTES:
        images, rows = max(1, IM2COL_BYTES // (oh * row_bytes)), oh
    else:
        images, rows = 1, max(1, IM2COL_BYTES // row_bytes)
    buf = np.empty(min(b, images) * rows * ow * k, dtype)
    for gi in range(group):
        src = pt[..., gi * cig:(gi + 1) * cig] if group > 1 else pt
        wg = np.ascontiguousarray(w[..., gi * cog:(gi + 1) * cog].reshape(k, cog)) if group > 1 else \
            w.reshape(k, cog)
        for b0 in range(0, b, images):
            b1 = min(b, b0 + images)
            for r0 in range(0, oh, rows):
                r1 = min(oh, r0 + rows)
                n = (b1 - b0) * (r1 - r0) * ow
                cols = buf[:n * k].reshape(b1 - b0, r1 - r0, ow, kh, kw, cig)
                np.copyto(cols, src[b0:b1, r0:r1])
                if group == 1:      # whole images or rows of one image: a contiguous block of y
                    np.matmul(cols.reshape(n, k), wg, out=y[b0:b1, r0:r1].reshape(n, co))
                else:
                    y[b0:b1, r0:r1, :, gi * cog:(gi + 1) * cog] = (cols.reshape(n, k) @ wg).reshape(
                        b1 - b0, r1 - r0, ow, cog)
    return y


def _spatial_out(op, x_shape, kh, kw):
    st, dl, pa = op.params["stride"], op.params.get("dilation", u32(1, 1)), op.params["pad_amount"]
    st, dl, pa = [int(v) for v in st], [int(v) for v in dl], [[int(v) for v in r] for r in pa]  # no uint32 wrap
    oh = conv_out_size(x_shape[1], kh, st[0], dl[0], pa[0][0], pa[0][1])
    ow = conv_out_size(x_shape[2], kw, st[1], dl[1], pa[1][0], pa[1][1])
    if oh < 1 or ow < 1:
        raise ValueError(f"{op.type} {op.name}: the (dilated) {kh}x{kw} kernel does not fit the padded input")
    return oh, ow


@register
class Conv2d(_ConvFamily):
    type = "Conv2d"
    weight_axis_formats = {1: (af.HWIO, af.OIHW)}
    params = dict(_SPATIAL, group=Param(qd.UINT_32, default=1))
    equalization_input_axis = 2       # a group-1 Conv2d's input channels (the pass checks the group)

    def absorb_zero_pad(self, op, pad_amount):
        return _absorb_spatial_pad(op, pad_amount)

    def infer(self, op, ins):
        x, w = ins[0], ins[1]
        kh, kw, cig, co = w.shape
        check_group(op, x.shape[-1], cig, co)
        oh, ow = _spatial_out(op, x.shape, kh, kw)
        return [((x.shape[0], oh, ow, co), x.dtype)]

    def compute(self, op, xs):
        x, w = xs[0], xs[1]
        bias = xs[2] if len(xs) > 2 else None
        kh, kw, cig, co = w.shape
        g = op.params["group"]
        p = op.params
        if kh == kw == 1 and not p["pad_amount"].any() and (p["stride"] == 1).all() and g == 1:
            y = (x.reshape(-1, x.shape[-1]) @ w.reshape(cig, co)).reshape(x.shape[:-1] + (co,))
        else:
            pt = patches(x, kh, kw, p["stride"], p["dilation"], p["pad_amount"])
            y = im2col_matmul(pt, w, g)
        if bias is not None:
            if np.result_type(y.dtype, bias.dtype) == y.dtype:
                y += bias                     # in place: y is this op's own new array
            else:
                y = y + bias
        return [y.astype(x.dtype, copy=False)]

    def macs(self, op, ins, outs):
        kh, kw, cig, _ = ins[1].shape
        return int(np.prod(outs[0].shape)) * kh * kw * cig


@register
class DepthWiseConv2d(_ConvFamily):
    type = "DepthWiseConv2d"
    weight_axis_formats = {1: (af.HWIO, af.OIHW)}
    params = dict(_SPATIAL)
    # one output per input channel: scaling input channel c by 1/s and its weights (axis 3) by s leaves
    # the output unchanged, which is how MobileNet's expand -> depthwise -> project chains equalize
    equalization_input_axis = 3

    def absorb_zero_pad(self, op, pad_amount):
        return _absorb_spatial_pad(op, pad_amount)

    def infer(self, op, ins):
        x, w = ins[0], ins[1]
        kh, kw, one, co = w.shape
        if one != 1 or co % x.shape[-1]:
            raise ValueError(f"DepthWiseConv2d {op.name}: weights {list(w.shape)} do not fit {x.shape[-1]} input "
                             "channels (supported: [kh, kw, 1, channels x multiplier])")
        oh, ow = _spatial_out(op, x.shape, kh, kw)
        return [((x.shape[0], oh, ow, co), x.dtype)]

    def compute(self, op, xs):
        x, w = xs[0], xs[1]
        bias = xs[2] if len(xs) > 2 else None
        kh, kw, _, co = w.shape
        mult = co // x.shape[-1]
        p = op.params
        pt = patches(x, kh, kw, p["stride"], p["dilation"], p["pad_amount"])
        if mult == 1 and x.dtype == np.float32 and w.dtype == np.float32:
            # one pass over the strided taps instead of a multiply and an add pass per tap (~3x faster
            # on MobileNetV2's 16-image calibration batches)
            y = np.einsum("bhwijc,ijc->bhwc", pt, w[:, :, 0, :])
            if bias is not None:
                y += bias
            return [y]
        y = np.zeros(pt.shape[:3] + (co,), dtype=np.float32)
        wf = w.astype(np.float32, copy=False)   # float32 products: exact for float16 operands
        for i in range(kh):
            for j in range(kw):
                xs_ = pt[:, :, :, i, j, :]
                if mult > 1:
                    xs_ = np.repeat(xs_, mult, axis=-1)
                y += xs_.astype(np.float32, copy=False) * wf[i, j, 0]
        if bias is not None:
            y += bias
        return [y.astype(x.dtype, copy=False)]

    def macs(self, op, ins, outs):
        kh, kw = ins[1].shape[:2]
        return int(np.prod(outs[0].shape)) * kh * kw


@register
class TransposeConv2d(_ConvFamily):
    type = "TransposeConv2d"
    weight_axis_formats = {1: (af.HWIO, af.IOHW)}
    params = {
        "stride": _SPATIAL["stride"],
        "pad_amount": _SPATIAL["pad_amount"],
        "group": Param(qd.UINT_32, default=1),
        "output_padding": Param(qd.UINT_32, tensor=True, default=u32(0, 0)),
    }

    def infer(self, op, ins):
        x, w = ins[0], ins[1]
        kh, kw, ci, cog = w.shape
        g = int(op.params["group"])
        if g < 1 or ci != x.shape[-1] or ci % g:
            raise ValueError(f"TransposeConv2d {op.name}: group {g} / weights {list(w.shape)} do not fit "
                             f"{x.shape[-1]} input channels (supported: weights [kh, kw, input channels, "
                             "outputs / group], input channels a multiple of group)")
        p = op.params
        st, pa, op_ = ([int(v) for v in p["stride"]], [[int(v) for v in r] for r in p["pad_amount"]],
                       [int(v) for v in p["output_padding"]])   # python ints: no uint32 wrap
        oh = (x.shape[1] - 1) * st[0] + kh - sum(pa[0]) + op_[0]
        ow = (x.shape[2] - 1) * st[1] + kw - sum(pa[1]) + op_[1]
        if oh < 1 or ow < 1:
            raise ValueError(f"TransposeConv2d {op.name}: the padding removes the whole output")
        return [((x.shape[0], int(oh), int(ow), cog * p["group"]), x.dtype)]

    def scale_output_channels(self, op, w, s):
        # [kh, kw, cin, cout/group]: output channel gi*cog + j uses input block gi
        group = int(op.params.get("group", 1))
        cig, cog = w.shape[2] // group, w.shape[3]
        out = w.copy()
        for gi in range(group):
            out[:, :, gi * cig:(gi + 1) * cig, :] *= s[gi * cog:(gi + 1) * cog]
        return out

    def compute(self, op, xs):
        x, w = xs[0], xs[1]
        bias = xs[2] if len(xs) > 2 else None
        p = op.params
        b, h, wd, ci = x.shape
        kh, kw, _, cog = w.shape
        g = p["group"]
        cig = ci // g
        sh, sw = int(p["stride"][0]), int(p["stride"][1])
        fh, fw = (h - 1) * sh + kh, (wd - 1) * sw + kw
        (pt, pb), (pl, pr) = p["pad_amount"].astype(int)
        oph, opw = (int(v) for v in p["output_padding"])
        oh, ow = fh - pt - pb + oph, fw - pl - pr + opw
        full = np.zeros((b, max(fh, pt + oh), max(fw, pl + ow), cog * g), dtype=np.float32)
        for gi in range(g):
            xg = x[..., gi * cig:(gi + 1) * cig].reshape(-1, cig)
            # one matmul gives every kernel tap's contribution: [b*h*w, kh*kw*cog]
            wg = w[:, :, gi * cig:(gi + 1) * cig, :].transpose(2, 0, 1, 3).reshape(cig, kh * kw * cog)
            contrib = (xg @ wg).reshape(b, h, wd, kh, kw, cog)
            for i in range(kh):
                for j in range(kw):
                    full[:, i:i + (h - 1) * sh + 1:sh, j:j + (wd - 1) * sw + 1:sw,
                         gi * cog:(gi + 1) * cog] += contrib[:, :, :, i, j, :]
        y = full[:, pt:pt + oh, pl:pl + ow, :]
        if bias is not None:
            y = y + bias
        return [np.ascontiguousarray(y, dtype=x.dtype)]

    def macs(self, op, ins, outs):
        kh, kw, _, cog = ins[1].shape
        return int(np.prod(ins[0].shape)) * kh * kw * cog

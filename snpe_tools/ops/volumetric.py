"""3-D (volumetric) ops on NDHWC activations: Conv3d, PoolMax3d, PoolAvg3d.

Conv3d weights are ``[kd,kh,kw,cin/group,cout]``; ``pad_amount`` is ``[[front,back],[top,bottom],
[left,right]]``.  Kernels take a strided window view ``[b,od,oh,ow,kd,kh,kw,c]`` of the padded input
(no copy) and reduce it with one matmul per group or one max/sum, never per-voxel loops.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..ir import dtypes as qd
from .conv import check_group, conv_out_size
from .pool import ROUNDING_MODES, pool_out_size
from .registry import OpDef, Param, check_enum, register, u32

_ONES3 = u32(1, 1, 1)
_ZERO_PADS3 = np.zeros((3, 2), np.uint32)


def _windows(x: np.ndarray, k, stride, dilation, pads, pad_value=0.0) -> np.ndarray:
    """Strided view ``[b, od, oh, ow, kd, kh, kw, c]`` over the padded NDHWC input."""
    widths = [(0, 0)] + [(int(p[0]), int(p[1])) for p in pads] + [(0, 0)]
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths, constant_values=pad_value)
    k = [int(v) for v in k]
    st = [int(v) for v in stride]
    dl = [int(v) for v in dilation]
    out = [(x.shape[1 + i] - ((k[i] - 1) * dl[i] + 1)) // st[i] + 1 for i in range(3)]
    s = x.strides
    return as_strided(x, shape=(x.shape[0], *out, *k, x.shape[4]),
                      strides=(s[0], *(s[1 + i] * st[i] for i in range(3)), *(s[1 + i] * dl[i] for i in range(3)),
                               s[4]), writeable=False)


@register
class Conv3d(OpDef):
    """Grouped 3-D convolution (ONNX Conv on NCDHW after the move to channel-last)."""

    type = "Conv3d"
    params = {"stride": Param(qd.UINT_32, tensor=True, default=_ONES3),
              "pad_amount": Param(qd.UINT_32, tensor=True, default=_ZERO_PADS3),
              "dilation": Param(qd.UINT_32, tensor=True, default=_ONES3),
              "group": Param(qd.UINT_32, default=1)}
    weight_input = 1
    weight_quant_axis = "channel"

    @property
    def bias_input(self):
        return 2          # quantized like a 2-D convolution's bias; the DLC form names none

    def weight_output_axis(self, op, rank):
        return rank - 1 if rank == 5 else None       # DHWIO: output channels last

    def infer(self, op, ins):
        x, w = ins[0].shape, ins[1].shape
        check_group(op, x[-1], w[3], w[4])
        p = op.params
        out = [conv_out_size(x[1 + i], w[i], int(p["stride"][i]), int(p["dilation"][i]), int(p["pad_amount"][i][0]),
                             int(p["pad_amount"][i][1])) for i in range(3)]
        if min(out) < 1:
            raise ValueError(f"Conv3d {op.name}: the (dilated) kernel {list(w[:3])} does not fit the padded input")
        return [((x[0], *out, w[4]), ins[0].dtype)]

    def compute(self, op, xs):
        x, w = xs[0], xs[1]
        bias = xs[2] if len(xs) > 2 else None
        p = op.params
        kd, kh, kw, cig, co = w.shape
        g = p["group"]
        cog = co // g
        win = _windows(x, (kd, kh, kw), p["stride"], p["dilation"], p["pad_amount"])
        lead = win.shape[:4]
        m = int(np.prod(lead))
        acc = np.float64 if x.dtype == np.float64 else np.float32
        outs = []
        for gi in range(g):
            cols = win[..., gi * cig:(gi + 1) * cig].reshape(m, kd * kh * kw * cig).astype(acc, copy=False)
            outs.append(cols @ w[..., gi * cog:(gi + 1) * cog].reshape(kd * kh * kw * cig, cog).astype(acc))
        y = (outs[0] if g == 1 else np.concatenate(outs, axis=1)).reshape(*lead, co)
        if bias is not None:
            y = y + bias
        return [y.astype(x.dtype, copy=False)]

    def macs(self, op, ins, outs):
        kd, kh, kw, cig, _ = ins[1].shape
        return int(np.prod(outs[0].shape)) * kd * kh * kw * cig


_POOL3 = {"filter_size": Param(qd.UINT_32, tensor=True),
          "stride": Param(qd.UINT_32, tensor=True, default=_ONES3),
          "pad_amount": Param(qd.UINT_32, tensor=True, default=_ZERO_PADS3),
          "rounding_mode": Param(qd.UINT_32, default=0)}


def _pool_geometry(op, shape):
    """Output dims and the padding (extended at the end for ceil mode) every window fits in."""
    p = op.params
    k, s, pa = p["filter_size"], p["stride"], p["pad_amount"]
    ceil = p["rounding_mode"] == 1
    out, pads = [], []
    for i in range(3):
        n = pool_out_size(shape[1 + i], int(k[i]), int(s[i]), int(pa[i][0]), int(pa[i][1]), ceil)
        extra = max(0, (n - 1) * int(s[i]) + int(k[i]) - (shape[1 + i] + int(pa[i][0]) + int(pa[i][1])))
        out.append(n)
        pads.append((int(pa[i][0]), int(pa[i][1]) + extra))
    return out, pads


class _Pool3d(OpDef):
    params = dict(_POOL3)

    def infer(self, op, ins):
        x = ins[0].shape
        check_enum(op, "rounding_mode", ROUNDING_MODES)
        out, _ = _pool_geometry(op, x)
        if min(out) < 1:
            raise ValueError(f"{self.type} {op.name}: the window does not fit the padded input")
        return [((x[0], *out, x[4]), ins[0].dtype)]

    def macs(self, op, ins, outs):
        return int(np.prod(outs[0].shape)) * int(np.prod(op.params["filter_size"]))


@register
class PoolMax3d(_Pool3d):
    """Max over each window; padding never wins (it is -inf)."""

    type = "PoolMax3d"
    data_invariant = True

    def compute(self, op, xs):
        x = xs[0]
        out, pads = _pool_geometry(op, x.shape)
        low = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        win = _windows(x, op.params["filter_size"], op.params["stride"], _ONES3, pads, pad_value=low)
        return [win[:, :out[0], :out[1], :out[2]].max(axis=(4, 5, 6)).astype(x.dtype, copy=False)]


@register
class PoolAvg3d(_Pool3d):
    """Mean over each window; the divisor counts real voxels, plus explicit padding when
    ``count_pad_for_edges`` (the ceil-mode overhang is never counted)."""

    type = "PoolAvg3d"
    params = dict(_POOL3, count_pad_for_edges=Param(qd.BOOL_8, default=False))

    def compute(self, op, xs):
        x = xs[0]
        p = op.params
        out, pads = _pool_geometry(op, x.shape)
        k, s, pa = p["filter_size"], p["stride"], p["pad_amount"]
        sl = (slice(None), slice(0, out[0]), slice(0, out[1]), slice(0, out[2]))
        sums = _windows(x, k, s, _ONES3, pads)[sl].sum(axis=(4, 5, 6), dtype=np.float64)
        full = [x.shape[1 + i] + pads[i][0] + pads[i][1] for i in range(3)]
        mask = np.zeros((1, *full, 1), np.float64)
        if p["count_pad_for_edges"]:
            mask[(0, *(slice(0, x.shape[1 + i] + int(pa[i][0]) + int(pa[i][1])) for i in range(3)), 0)] = 1
        else:
            mask[(0, *(slice(pads[i][0], pads[i][0] + x.shape[1 + i]) for i in range(3)), 0)] = 1
        cnt = _windows(mask, k, s, _ONES3, [(0, 0)] * 3)[sl].sum(axis=(4, 5, 6))
        return [(sums / np.maximum(cnt, 1)).astype(x.dtype, copy=False)]

"""2-D pooling: PoolMax2d and PoolAvg2d on NHWC activations.

``rounding_mode`` 0 = floor, 1 = ceil; with ceil a window may start in the
bottom/right padding only if it overlaps real data (the PyTorch/ONNX rule).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import dtypes as qd
from .conv import patches
from .registry import DlcAttr, OpDef, Param, check_enum, register, u32

_POOL = {
    "filter_size": Param(qd.UINT_32, tensor=True),
    "stride": Param(qd.UINT_32, tensor=True, default=u32(1, 1)),
    "pad_amount": Param(qd.UINT_32, tensor=True, default=np.zeros((2, 2), np.uint32)),
    "rounding_mode": Param(qd.UINT_32, default=0, write_default=False),   # 2.25 writes none when floor
}
ROUNDING_MODES = {0: "FLOOR", 1: "CEIL"}


def pool_out_size(size: int, k: int, s: int, pb: int, pe: int, ceil: bool) -> int:
    span = size + pb + pe - k
    out = (math.ceil(span / s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pb:
        out -= 1
    return out


def _geometry(op, shape):
    p = op.params
    k, s, pa = p["filter_size"], p["stride"], p["pad_amount"]
    ceil = p["rounding_mode"] == 1
    oh = pool_out_size(shape[1], int(k[0]), int(s[0]), int(pa[0][0]), int(pa[0][1]), ceil)
    ow = pool_out_size(shape[2], int(k[1]), int(s[1]), int(pa[1][0]), int(pa[1][1]), ceil)
    # extra bottom/right padding so every window lies inside the padded array
    eh = max(0, (oh - 1) * int(s[0]) + int(k[0]) - (shape[1] + int(pa[0][0]) + int(pa[0][1])))
    ew = max(0, (ow - 1) * int(s[1]) + int(k[1]) - (shape[2] + int(pa[1][0]) + int(pa[1][1])))
    pads = ((int(pa[0][0]), int(pa[0][1]) + eh), (int(pa[1][0]), int(pa[1][1]) + ew))
    return oh, ow, pads


class _Pool(OpDef):
    params = dict(_POOL)

    def infer(self, op, ins):
        x = ins[0]
        check_enum(op, "rounding_mode", ROUNDING_MODES)
        oh, ow, _ = _geometry(op, x.shape)
        if oh < 1 or ow < 1:
            raise ValueError(f"{self.type} {op.name}: the window does not fit the padded input")
        return [((x.shape[0], oh, ow, x.shape[3]), x.dtype)]

    def macs(self, op, ins, outs):
        k = op.params["filter_size"]
        return int(np.prod(outs[0].shape)) * int(k[0]) * int(k[1])


@register
class PoolMax2d(_Pool):
    type = "PoolMax2d"
    data_invariant = True
    dlc_type, dlc_selector = "Pool", (DlcAttr("pool_type", qd.UNDEFINED, "PoolMax2d", 2),)

    def compute(self, op, xs):
        x = xs[0]
        k, s = op.params["filter_size"], op.params["stride"]
        oh, ow, pads = _geometry(op, x.shape)
        pt = patches(x, int(k[0]), int(k[1]), s, (1, 1), pads, pad_value=-np.inf)
        return [pt[:, :oh, :ow].max(axis=(3, 4)).astype(x.dtype, copy=False)]


@register
class PoolAvg2d(_Pool):
    type = "PoolAvg2d"
    dlc_type, dlc_selector = "Pool", (DlcAttr("pool_type", qd.UNDEFINED, "PoolAvg2d", 2),)
    rounds_stored_values = True
    params = dict(_POOL, count_pad_for_edges=Param(qd.BOOL_8, default=False))

    def compute(self, op, xs):
        x = xs[0]
        p = op.params
        k, s, pa = p["filter_size"], p["stride"], p["pad_amount"]
        oh, ow, pads = _geometry(op, x.shape)
        kh, kw = int(k[0]), int(k[1])
        pt = patches(x, kh, kw, s, (1, 1), pads)
        sums = pt[:, :oh, :ow].sum(axis=(3, 4), dtype=np.promote_types(x.dtype, np.float32))
        # divisor: real elements, plus explicit padding when count_pad_for_edges
        h, w = x.shape[1], x.shape[2]
        mask = np.zeros((1, h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1], 1), np.float32)
        if p["count_pad_for_edges"]:
            mask[:, :h + int(pa[0][0]) + int(pa[0][1]), :w + int(pa[1][0]) + int(pa[1][1])] = 1
        else:
            mask[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w] = 1
        cnt = patches(mask, kh, kw, s, (1, 1), ((0, 0), (0, 0)))[:, :oh, :ow].sum(axis=(3, 4))
        return [(sums / np.maximum(cnt, 1)).astype(x.dtype, copy=False)]

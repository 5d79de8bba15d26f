"""Depth <-> space rearrangements on channel-last (NHWC) activations: DepthToSpace, SpaceToDepth.

``block_size`` is ``[bh, bw]``; ``mode`` says how the depth axis is split into (block row,
block column, channel): DCR 0 = depth index ``(i*bw + j)*C + c`` (blocks outermost, TF/ONNX
default), CRD 1 = depth index ``c*bh*bw + i*bw + j`` (channels outermost, PyTorch pixel_shuffle).
Both are pure reshape/transpose data movement, so the kernels are exact.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

DCR, CRD = 0, 1
_P = {"block_size": Param(qd.UINT_32, tensor=True), "mode": Param(qd.UINT_32, default=DCR)}


def _blocks(op) -> tuple[int, int]:
    b = op.params["block_size"]
    return int(b[0]), int(b[1])


@register
class DepthToSpace(OpDef):
    """[n,h,w,c] -> [n,h*bh,w*bw,c/(bh*bw)]: moves depth blocks into spatial blocks."""

    type = "DepthToSpace"
    params = dict(_P)

    def infer(self, op, ins):
        n, h, w, c = ins[0].shape
        bh, bw = _blocks(op)
        if c % (bh * bw):
            raise ValueError(f"DepthToSpace {op.name}: depth {c} is not a multiple of {bh}x{bw}")
        return [((n, h * bh, w * bw, c // (bh * bw)), ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        n, h, w, c = x.shape
        bh, bw = _blocks(op)
        oc = c // (bh * bw)
        if op.params["mode"] == DCR:
            y = x.reshape(n, h, w, bh, bw, oc).transpose(0, 1, 3, 2, 4, 5)
        else:
            y = x.reshape(n, h, w, oc, bh, bw).transpose(0, 1, 4, 2, 5, 3)
        return [np.ascontiguousarray(y).reshape(n, h * bh, w * bw, oc)]


@register
class SpaceToDepth(OpDef):
    """[n,h,w,c] -> [n,h/bh,w/bw,c*bh*bw]: the inverse of DepthToSpace with the same mode."""

    type = "SpaceToDepth"
    params = dict(_P)

    def infer(self, op, ins):
        n, h, w, c = ins[0].shape
        bh, bw = _blocks(op)
        if h % bh or w % bw:
            raise ValueError(f"SpaceToDepth {op.name}: spatial size {h}x{w} is not a multiple of {bh}x{bw}")
        return [((n, h // bh, w // bw, c * bh * bw), ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        n, h, w, c = x.shape
        bh, bw = _blocks(op)
        y = x.reshape(n, h // bh, bh, w // bw, bw, c)
        y = y.transpose(0, 1, 3, 2, 4, 5) if op.params["mode"] == DCR else y.transpose(0, 1, 3, 5, 2, 4)
        return [np.ascontiguousarray(y).reshape(n, h // bh, w // bw, c * bh * bw)]

"""Depth <-> space and space <-> batch rearrangements on channel-last (NHWC) activations: DepthToSpace,
SpaceToDepth, SpaceToBatch, BatchToSpace.

``block_size`` is ``[bh, bw]``; ``mode`` says how the depth axis is split into (block row,
block column, channel): DCR 0 = depth index ``(i*bw + j)*C + c`` (blocks outermost, TF/ONNX
default), CRD 1 = depth index ``c*bh*bw + i*bw + j`` (channels outermost, PyTorch pixel_shuffle).
Both are pure reshape/transpose data movement, so the kernels are exact.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_enum, register

DCR, CRD = 0, 1
MODES = {DCR: "DCR", CRD: "CRD"}
_P = {"block_size": Param(qd.UINT_32, tensor=True), "mode": Param(qd.UINT_32, default=DCR)}


def _blocks(op) -> tuple[int, int]:
    b = op.params["block_size"]
    return int(b[0]), int(b[1])


@register
class DepthToSpace(OpDef):
    """[n,h,w,c] -> [n,h*bh,w*bw,c/(bh*bw)]: moves depth blocks into spatial blocks."""

    type = "DepthToSpace"
    data_invariant = True
    params = dict(_P)

    def infer(self, op, ins):
        n, h, w, c = ins[0].shape
        bh, bw = _blocks(op)
        check_enum(op, "mode", MODES)
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
    data_invariant = True
    params = dict(_P)

    def infer(self, op, ins):
        n, h, w, c = ins[0].shape
        bh, bw = _blocks(op)
        check_enum(op, "mode", MODES)
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


@register
class SpaceToBatch(OpDef):
    """[b,h,w,d] -> [bh*bw*b, (h+pads)/bh, (w+pads)/bw, d]: zero-pad, then move each position of a
    ``block_shape`` block into the batch (output batch ``(i*bw + j)*b + n``, TF's SpaceToBatchND order)."""

    type = "SpaceToBatch"
    data_invariant = True
    params = {"block_shape": Param(qd.UINT_32, tensor=True),
              "pad_amount": Param(qd.UINT_32, tensor=True, default=np.zeros((2, 2), np.uint32))}

    def _geometry(self, op, shape):
        (bh, bw), pads = (int(v) for v in op.params["block_shape"]), op.params["pad_amount"].astype(int)
        h, w = shape[1] + pads[0].sum(), shape[2] + pads[1].sum()
        if h % bh or w % bw:
            raise ValueError(f"SpaceToBatch {op.name}: padded size {h}x{w} is not a multiple of {bh}x{bw}")
        return bh, bw, pads, h, w

    def infer(self, op, ins):
        b, _, _, d = ins[0].shape
        bh, bw, _, h, w = self._geometry(op, ins[0].shape)
        return [((b * bh * bw, h // bh, w // bw, d), ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        b, _, _, d = x.shape
        bh, bw, pads, h, w = self._geometry(op, x.shape)
        x = np.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
        y = x.reshape(b, h // bh, bh, w // bw, bw, d).transpose(2, 4, 0, 1, 3, 5)
        return [np.ascontiguousarray(y).reshape(bh * bw * b, h // bh, w // bw, d)]


@register
class BatchToSpace(OpDef):
    """The inverse of SpaceToBatch: [bh*bw*b, h, w, d] -> [b, h*bh - crops, w*bw - crops, d]."""

    type = "BatchToSpace"
    data_invariant = True
    params = {"block_shape": Param(qd.UINT_32, tensor=True),
              "crops": Param(qd.UINT_32, tensor=True, default=np.zeros((2, 2), np.uint32))}

    def infer(self, op, ins):
        n, h, w, d = ins[0].shape
        (bh, bw), crops = (int(v) for v in op.params["block_shape"]), op.params["crops"].astype(int)
        if n % (bh * bw):
            raise ValueError(f"BatchToSpace {op.name}: batch {n} is not a multiple of {bh}x{bw}")
        return [((n // (bh * bw), h * bh - crops[0].sum(), w * bw - crops[1].sum(), d), ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        n, h, w, d = x.shape
        (bh, bw), crops = (int(v) for v in op.params["block_shape"]), op.params["crops"].astype(int)
        b = n // (bh * bw)
        y = np.ascontiguousarray(x.reshape(bh, bw, b, h, w, d).transpose(2, 3, 0, 4, 1, 5))
        y = y.reshape(b, h * bh, w * bw, d)
        return [np.ascontiguousarray(y[:, crops[0][0]:h * bh - crops[0][1], crops[1][0]:w * bw - crops[1][1]])]

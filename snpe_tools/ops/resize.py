"""QNN ``Resize``: nearest / linear / cubic resampling of the spatial axes of a channel-last tensor.

QNN has no scale parameter: every spatial axis is resampled with ``scale = out / in`` taken from
the output tensor's dims.  The IR keeps those dims as the internal param ``shape`` (like
Reshape's), rebuilt from the output tensor after reading a DLC.  Batch (axis 0) and channel
(last axis) never change.

Per axis, output index ``x`` reads the source coordinate given by ``transformation_mode``
(HALF_PIXEL 0: ``(x+0.5)/scale-0.5``; PYTORCH_HALF_PIXEL 1: the same, 0 when ``out == 1``;
ALIGN_CORNERS 2: ``x*(in-1)/(out-1)``, 0 when ``out == 1``; ASYMMETRIC 3: ``x/scale``) and
interpolates with ``interpolation_mode`` (NEAREST 0 rounded by ``nearest_mode``
ROUND_PREFER_FLOOR 0 / ROUND_PREFER_CEIL 1 / FLOOR 2 / CEIL 3; LINEAR 1; CUBIC 2 with
``cubic_coeff``), taps outside the input clamped to the edge, or dropped and the weights
renormalised when ``exclude_outside``.  Interpolation is separable, so the kernel resamples one
axis at a time with a gather and a weighted sum (no per-pixel loops).
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

HALF_PIXEL, PYTORCH_HALF_PIXEL, ALIGN_CORNERS, ASYMMETRIC = 0, 1, 2, 3
NEAREST, LINEAR, CUBIC = 0, 1, 2
ROUND_PREFER_FLOOR, ROUND_PREFER_CEIL, FLOOR, CEIL = 0, 1, 2, 3


def source_coords(mode: int, in_size: int, out_size: int) -> np.ndarray:
    """Source coordinate of every output index along one axis (QNN transformation modes)."""
    x = np.arange(out_size, dtype=np.float64)
    scale = out_size / in_size
    if mode == HALF_PIXEL:
        return (x + 0.5) / scale - 0.5
    if mode == PYTORCH_HALF_PIXEL:
        return (x + 0.5) / scale - 0.5 if out_size > 1 else np.zeros(out_size)
    if mode == ALIGN_CORNERS:
        return x * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros(out_size)
    if mode == ASYMMETRIC:
        return x / scale
    raise ValueError(f"Resize: unknown transformation_mode {mode}")


def axis_taps(coords: np.ndarray, in_size: int, interp: int, nearest_mode: int = ROUND_PREFER_FLOOR,
              cubic_coeff: float = -0.75, exclude_outside: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``[out, n]`` (clamped into the input) and weights ``[out, n]`` of 1-D resampling.

    The left tap is ``ceil(c) - 1`` so the fraction ``r`` lies in ``(0, 1]`` (an exact integer
    coordinate takes the right tap with weight 1).
    """
    left = np.ceil(coords) - 1
    r = coords - left
    if interp == NEAREST:
        up = {ROUND_PREFER_FLOOR: r > 0.5, ROUND_PREFER_CEIL: r >= 0.5, FLOOR: r >= 1.0,
              CEIL: np.ones_like(r, bool)}[nearest_mode]
        idx = (left + up)[:, None]
        w = np.ones_like(idx)
    elif interp == LINEAR:
        idx = left[:, None] + np.arange(2)
        w = np.stack([1.0 - r, r], axis=1)
    elif interp == CUBIC:
        a = float(cubic_coeff)
        idx = left[:, None] + np.arange(-1, 3)

        def near(d):   # Keys kernel for distance |d| <= 1
            return ((a + 2) * d - (a + 3)) * d * d + 1

        def far(d):    # Keys kernel for distance 1 < |d| < 2
            return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

        w = np.stack([far(1.0 + r), near(r), near(1.0 - r), far(2.0 - r)], axis=1)
    else:
        raise ValueError(f"Resize: unknown interpolation_mode {interp}")
    if exclude_outside and interp != NEAREST:
        w = np.where((idx < 0) | (idx >= in_size), 0.0, w)
        s = w.sum(axis=1, keepdims=True)
        w = w / np.where(s == 0, 1.0, s)
    return np.clip(idx, 0, in_size - 1).astype(np.intp), w


def resample_matrix(idx: np.ndarray, w: np.ndarray, in_size: int) -> np.ndarray:
    """Dense ``[out, in]`` matrix of one axis' resampling (used to compare two samplings)."""
    m = np.zeros((idx.shape[0], in_size))
    np.add.at(m, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.reshape(-1)), w.reshape(-1))
    return m


@register
class Resize(OpDef):
    """Spatial resampling of a channel-last tensor to the output tensor's dims (see module doc)."""

    type = "Resize"
    params = {
        "exclude_outside": Param(qd.BOOL_8, default=False),
        "transformation_mode": Param(qd.UINT_32, default=HALF_PIXEL),
        "interpolation_mode": Param(qd.UINT_32, default=NEAREST),
        "nearest_mode": Param(qd.UINT_32, default=ROUND_PREFER_FLOOR),
        "cubic_coeff": Param(qd.FLOAT_32, default=-0.75),
        "shape": Param(qd.INT_32, tensor=True, internal=True),
    }

    def infer(self, op, ins):
        src = tuple(ins[0].shape)
        out = tuple(int(d) for d in op.params["shape"])
        if not 3 <= len(src) <= 5 or len(out) != len(src) or out[0] != src[0] or out[-1] != src[-1]:
            raise ValueError(f"Resize {op.name}: cannot resize {list(src)} to {list(out)} (rank 3-5, "
                             "batch and channel unchanged)")
        return [(out, ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        p = op.params
        out = [int(d) for d in p["shape"]]
        interp = p["interpolation_mode"]
        y = x if interp == NEAREST else x.astype(np.float64)
        for ax in range(1, x.ndim - 1):
            n_in, n_out = x.shape[ax], out[ax]
            if n_in == n_out:
                continue
            idx, w = axis_taps(source_coords(p["transformation_mode"], n_in, n_out), n_in, interp,
                               p["nearest_mode"], p["cubic_coeff"], p["exclude_outside"])
            if interp == NEAREST:
                y = np.take(y, idx[:, 0], axis=ax)
                continue
            g = np.take(y, idx, axis=ax)
            y = (g * w.reshape((1,) * ax + w.shape + (1,) * (y.ndim - ax - 1))).sum(axis=ax + 1)
        return [np.ascontiguousarray(y).astype(x.dtype, copy=False)]

    def restore_params(self, op, ins, outs):
        op.params["shape"] = np.asarray(outs[0].shape, np.int32)

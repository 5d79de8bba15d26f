"""Sampling: GridSample (QNN semantics: channel-last input, grid in the source's (x, y[, z]) order).

GridSample: inputs ``in[0]`` ``[N, H, W, C]`` (or ``[N, D, H, W, C]``) and ``grid``
``[N, H_out, W_out, 2]`` (``[N, D_out, H_out, W_out, 3]``) holding normalized coordinates in
``[-1, 1]``, last component first (``x`` indexes W, ``y`` H, ``z`` D); output
``[N, H_out, W_out, C]``.  Params: ``align_corners`` (bool), ``mode`` (0 bilinear, 1 nearest),
``padding_mode`` (0 zeros, 1 border, 2 reflection) - the QNN ``GridSample`` definition.

The kernel follows the ONNX reference / PyTorch ``grid_sampler``: coordinates are denormalized in
float32, nearest rounds half to even, out-of-range coordinates are clamped (border) or reflected
(reflection) before interpolation, and taps outside the input read 0 (zeros).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

GRID_SAMPLE_MODES = {0: "bilinear", 1: "nearest"}
GRID_SAMPLE_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect ``x`` by the near border until it lies in ``[lo, hi]`` (float64)."""
    x = np.asarray(x, np.float64)
    rng = hi - lo
    if rng <= 0:
        return np.full_like(x, lo)
    below, above = x < lo, x > hi
    d = np.where(below, lo - x, np.where(above, x - hi, 0.0))
    n = np.trunc(d / rng)
    r = d - n * rng
    even = (n % 2) == 0
    out = np.where(below, np.where(even, lo + r, hi - r), x)
    return np.where(above, np.where(even, hi - r, lo + r), out)


@register
class GridSample(OpDef):
    type = "GridSample"
    params = {"align_corners": Param(qd.BOOL_8, default=False),
              "mode": Param(qd.UINT_32, default=0),
              "padding_mode": Param(qd.UINT_32, default=0)}

    def infer(self, op, ins):
        x, g = ins[0].shape, ins[1].shape
        k = len(x) - 2
        if k not in (2, 3) or len(g) != k + 2 or g[-1] != k or g[0] != x[0]:
            raise ValueError(f"GridSample {op.name}: grid {list(g)} does not fit input {list(x)}")
        if op.params["mode"] not in GRID_SAMPLE_MODES or op.params["padding_mode"] not in GRID_SAMPLE_PADDING:
            raise ValueError(f"GridSample {op.name}: unknown mode / padding_mode")
        return [(tuple(g[:-1]) + (x[-1],), ins[0].dtype)]

    def compute(self, op, xs):
        x, grid = xs[0], xs[1].astype(np.float32, copy=False)
        p = op.params
        align, pad = bool(p["align_corners"]), GRID_SAMPLE_PADDING[p["padding_mode"]]
        spatial = x.shape[1:-1]
        k = len(spatial)
        n_idx = np.arange(x.shape[0]).reshape((-1,) + (1,) * k)
        coords, bounds = [], []
        with np.errstate(all="ignore"):
            for i, length in enumerate(spatial):
                g = grid[..., k - 1 - i]
                one, two = np.float32(1), np.float32(2)
                if align:
                    u = (g + one) / two * np.float32(length - 1)
                    lo, hi = 0.0, float(length - 1)
                else:
                    u = ((g + one) * np.float32(length) - one) / two
                    lo, hi = -0.5, length - 0.5
                if GRID_SAMPLE_MODES[p["mode"]] == "nearest":
                    u = np.rint(u)
                out = (u < lo) | (u > hi)
                if pad == "border":
                    u = np.where(out, np.clip(u, 0, length - 1), u)
                elif pad == "reflection":
                    u = np.where(out, _reflect(u, lo, hi).astype(np.float32), u)
                coords.append(u.astype(np.float32))
                bounds.append((lo, hi))

        def fetch(idx: list[np.ndarray]) -> np.ndarray:
            valid = np.ones(idx[0].shape, dtype=bool)
            safe = []
            for i, (ii, length) in enumerate(zip(idx, spatial)):
                if pad == "zeros":
                    valid &= (ii >= 0) & (ii < length)
                elif pad == "border":
                    ii = np.clip(ii, 0, length - 1)
                else:
                    ii = np.trunc(_reflect(ii, *bounds[i])).astype(np.int64)
                safe.append(np.clip(ii, 0, length - 1))
            vals = x[(n_idx,) + tuple(safe)]
            return np.where(valid[..., None], vals, np.zeros((), x.dtype)) if pad == "zeros" else vals

        if GRID_SAMPLE_MODES[p["mode"]] == "nearest":
            idx = [np.trunc(c).astype(np.int64) for c in coords]
            return [np.ascontiguousarray(fetch(idx)).astype(x.dtype, copy=False)]
        base = [np.floor(c).astype(np.int64) for c in coords]
        frac = [(c - b).astype(np.float32) for c, b in zip(coords, base)]
        acc = np.zeros(grid.shape[:-1] + (x.shape[-1],), np.float32)
        for corner in itertools.product((0, 1), repeat=k):
            w = np.ones(grid.shape[:-1], np.float32)
            for f, bit in zip(frac, corner):
                w = w * (f if bit else np.float32(1) - f)
            acc += w[..., None] * fetch([b + bit for b, bit in zip(base, corner)]).astype(np.float32)
        return [acc.astype(x.dtype)]

    def macs(self, op, ins, outs):
        k = len(ins[0].shape) - 2
        return int(np.prod(outs[0].shape)) * (2 ** k)

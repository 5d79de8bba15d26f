"""Normalisation ops: Batchnorm (folded form), Lrn, InstanceNorm, LayerNorm (channel-last)."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_axes, check_enum, register


@register
class Batchnorm(OpDef):
    """y = x * weight + bias over the last (channel) axis; ONNX BN is folded into weight/bias."""

    type = "Batchnorm"

    def compute(self, op, xs):
        x, w, b = xs[0], xs[1], xs[2] if len(xs) > 2 else None
        y = x * w
        if b is not None:
            y = y + b
        return [y.astype(x.dtype, copy=False)]

    def macs(self, op, ins, outs):
        return int(np.prod(outs[0].shape))


LRN_REGIONS = {0: "ACROSS_CHANNEL", 1: "WITHIN_CHANNEL"}


def _window_sum(a: np.ndarray, axis: int, radius: int) -> np.ndarray:
    """Sum of ``a`` over ``[i - radius, i + radius]`` along ``axis``, the window clipped at the edges
    (a running sum, no per-element loop)."""
    n = a.shape[axis]
    zero = np.zeros(a.shape[:axis] + (1,) + a.shape[axis + 1:], a.dtype)
    csum = np.concatenate([zero, np.cumsum(a, axis=axis)], axis=axis)
    lo = np.clip(np.arange(n) - radius, 0, n)
    hi = np.clip(np.arange(n) + radius + 1, 0, n)
    return np.take(csum, hi, axis=axis) - np.take(csum, lo, axis=axis)


@register
class Lrn(OpDef):
    """Local response normalisation: x / (bias + alpha * sum of x^2 over the window)^beta, ``alpha`` per
    element (ONNX LRN's alpha / size).  ``region`` ACROSS_CHANNEL 0: the window is channels
    ``c - radius .. c + radius``; WITHIN_CHANNEL 1: the ``(2*radius+1)`` square of spatial positions
    around each one, in the same channel (Caffe's within-channel LRN, whose alpha / size^2 this alpha is).
    Windows are clipped at the edges, which is zero padding."""

    type = "Lrn"
    params = {
        "alpha": Param(qd.FLOAT_32, default=1.0),
        "beta": Param(qd.FLOAT_32, default=0.5),
        "bias": Param(qd.FLOAT_32, default=1.0),
        "radius": Param(qd.INT_32),
        "region": Param(qd.UINT_32, default=0),
    }

    def infer(self, op, ins):
        check_enum(op, "region", LRN_REGIONS)
        if op.params["radius"] < 0:
            raise ValueError(f"Lrn {op.name}: radius {op.params['radius']} is negative (supported: 0 or more)")
        return [(ins[0].shape, ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        p = op.params
        r = p["radius"]
        window = np.square(x, dtype=np.float64)
        axes = [x.ndim - 1] if p["region"] == 0 else range(1, x.ndim - 1)
        for ax in axes:
            window = _window_sum(window, ax, r)
        y = x / np.power(p["bias"] + p["alpha"] * window, p["beta"])
        return [y.astype(x.dtype)]


@register
class InstanceNorm(OpDef):
    """Per-sample, per-channel normalisation over spatial axes (channel-last); inputs x, gamma, beta.

    ``normalize_variance`` False only subtracts the mean: y = (x - mean) * gamma + beta (Caffe MVN's
    normalize_variance).  Only ``mode`` MU_SIGMA over ``region`` ACROSS_SPATIAL is computed: what RMS
    and the ACROSS_CHANNEL / ACROSS_ALL regions reduce over is not established (Qualcomm's own
    converter maps both Caffe MVN across_channels and per-pixel Caffe Normalize to ACROSS_CHANNEL), so
    the shape rule refuses them rather than guess."""

    type = "InstanceNorm"
    params = {
        "epsilon": Param(qd.FLOAT_32, default=1e-12),
        # left out at their defaults, as Qualcomm's 2.25 converter writes InstanceNorm (epsilon only)
        "mode": Param(qd.UINT_32, default=0, write_default=False),
        "normalize_variance": Param(qd.BOOL_8, default=True, write_default=False),
        "region": Param(qd.UINT_32, default=0, write_default=False),
    }

    def infer(self, op, ins):
        check_enum(op, "mode", {0: "MU_SIGMA"})
        check_enum(op, "region", {0: "ACROSS_SPATIAL"})
        return [(ins[0].shape, ins[0].dtype)]

    def compute(self, op, xs):
        x, g, b = xs[0], xs[1], xs[2]
        axes = tuple(range(1, x.ndim - 1))
        xd = x.astype(np.float64)
        y = xd - xd.mean(axis=axes, keepdims=True)
        if op.params["normalize_variance"]:
            y = y / np.sqrt((y ** 2).mean(axis=axes, keepdims=True) + op.params["epsilon"])
        return [(y * g + b).astype(x.dtype)]


@register
class LayerNorm(OpDef):
    """Normalise over ``axes``; gamma (and optional beta) have the normalised dims' shape."""

    type = "LayerNorm"
    params = {"epsilon": Param(qd.FLOAT_32, default=1e-5), "axes": Param(qd.UINT_32, tensor=True)}

    def infer(self, op, ins):
        check_axes(op, "axes", len(ins[0].shape))
        return [(ins[0].shape, ins[0].dtype)]

    def compute(self, op, xs):
        x, g = xs[0], xs[1]
        b = xs[2] if len(xs) > 2 else None
        axes = tuple(int(a) for a in op.params["axes"])
        xd = x.astype(np.float64)
        mean = xd.mean(axis=axes, keepdims=True)
        var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (xd - mean) / np.sqrt(var + op.params["epsilon"]) * g
        if b is not None:
            y = y + b
        return [y.astype(x.dtype)]

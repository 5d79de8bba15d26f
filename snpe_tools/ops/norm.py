"""Normalisation ops: Batchnorm (folded form), Lrn, InstanceNorm, LayerNorm (channel-last)."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register


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


@register
class Lrn(OpDef):
    """Local response normalisation across channels: x / (bias + alpha * sum_{|k|<=radius} x^2)^beta."""

    type = "Lrn"
    params = {
        "alpha": Param(qd.FLOAT_32, default=1.0),
        "beta": Param(qd.FLOAT_32, default=0.5),
        "bias": Param(qd.FLOAT_32, default=1.0),
        "radius": Param(qd.INT_32),
        "region": Param(qd.UINT_32, default=0),
    }

    def compute(self, op, xs):
        x = xs[0]
        p = op.params
        r = p["radius"]
        sq = np.square(x, dtype=np.float64)
        c = x.shape[-1]
        csum = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(sq, axis=-1)], axis=-1)
        lo = np.clip(np.arange(c) - r, 0, c)
        hi = np.clip(np.arange(c) + r + 1, 0, c)
        window = csum[..., hi] - csum[..., lo]
        y = x / np.power(p["bias"] + p["alpha"] * window, p["beta"])
        return [y.astype(x.dtype)]


@register
class InstanceNorm(OpDef):
    """Per-sample, per-channel normalisation over spatial axes (channel-last); inputs x, gamma, beta."""

    type = "InstanceNorm"
    params = {
        "epsilon": Param(qd.FLOAT_32, default=1e-12),
        # left out at their defaults, as Qualcomm's 2.25 converter writes InstanceNorm (epsilon only)
        "mode": Param(qd.UINT_32, default=0, write_default=False),
        "normalize_variance": Param(qd.BOOL_8, default=True, write_default=False),
        "region": Param(qd.UINT_32, default=0, write_default=False),
    }

    def compute(self, op, xs):
        x, g, b = xs[0], xs[1], xs[2]
        axes = tuple(range(1, x.ndim - 1))
        xd = x.astype(np.float64)
        mean = xd.mean(axis=axes, keepdims=True)
        var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (xd - mean) / np.sqrt(var + op.params["epsilon"]) * g + b
        return [y.astype(x.dtype)]


@register
class LayerNorm(OpDef):
    """Normalise over ``axes``; gamma (and optional beta) have the normalised dims' shape."""

    type = "LayerNorm"
    params = {"epsilon": Param(qd.FLOAT_32, default=1e-5), "axes": Param(qd.UINT_32, tensor=True)}

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

"""QNN ops for attention-style models (added as needed by the ONNX Attention/RMSNorm/RotaryEmbedding mappings).

Attention and RotaryEmbedding are written by the frontends as exact compositions of existing QNN
ops (MatMul, Softmax, ElementWise*, Reshape/Transpose/Concat/Split ...); only ops QNN defines as a
single node and that the compositions would otherwise spell out element by element live here.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_axes, register


@register
class RmsNorm(OpDef):
    """y = x / sqrt(mean(x^2 over ``axes``) + epsilon) * gamma (+ beta).

    Inputs: x, gamma (shape of the normalised dims, broadcast against x's trailing dims), optional
    beta (same shape as gamma).  No mean is subtracted (that is LayerNorm).  The kernel accumulates
    in float64 and returns x's dtype.
    """

    type = "RmsNorm"
    params = {"epsilon": Param(qd.FLOAT_32, default=1e-6), "axes": Param(qd.UINT_32, tensor=True)}

    def infer(self, op, ins):
        x = ins[0]
        check_axes(op, "axes", len(x.shape))
        for t in ins[1:]:
            if t is not None:
                np.broadcast_shapes(tuple(x.shape), tuple(t.shape))
        return [(x.shape, x.dtype)]

    def compute(self, op, xs):
        x, g = xs[0], xs[1]
        b = xs[2] if len(xs) > 2 else None
        axes = tuple(int(a) for a in op.params["axes"])
        xd = x.astype(np.float64)
        ms = np.mean(xd * xd, axis=axes, keepdims=True)
        y = xd / np.sqrt(ms + op.params["epsilon"]) * g.astype(np.float64)
        if b is not None:
            y = y + b.astype(np.float64)
        return [y.astype(x.dtype)]

    def macs(self, op, ins, outs):
        return 3 * int(np.prod(outs[0].shape))

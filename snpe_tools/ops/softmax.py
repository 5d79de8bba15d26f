"""Softmax and LogSoftmax over one axis, with QNN's ``beta`` scaling."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_axis, register

_P = {"axis": Param(qd.UINT_32), "beta": Param(qd.FLOAT_32, default=1.0)}


class _OverOneAxis(OpDef):
    layout_agnostic = "first_input"

    def permute_axes(self, op, perm, ins):
        op.params["axis"] = perm[op.params["axis"]]
        return list(perm)

    def infer(self, op, ins):
        check_axis(op, "axis", len(ins[0].shape))
        return [(ins[0].shape, ins[0].dtype)]


@register
class Softmax(_OverOneAxis):
    type = "Softmax"
    params = dict(_P)

    def compute(self, op, xs):
        x = xs[0].astype(np.float64) * op.params["beta"]
        ax = op.params["axis"]
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        return [(e / e.sum(axis=ax, keepdims=True)).astype(xs[0].dtype)]


@register
class LogSoftmax(_OverOneAxis):
    type = "LogSoftmax"
    params = dict(_P)

    def compute(self, op, xs):
        x = xs[0].astype(np.float64) * op.params["beta"]
        ax = op.params["axis"]
        m = x.max(axis=ax, keepdims=True)
        y = x - m - np.log(np.exp(x - m).sum(axis=ax, keepdims=True))
        return [y.astype(xs[0].dtype)]

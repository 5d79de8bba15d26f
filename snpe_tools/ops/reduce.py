"""Reductions over ``axes`` with ``keep_dims``; Argmax/Argmin over one axis."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

_P = {"axes": Param(qd.UINT_32, tensor=True), "keep_dims": Param(qd.BOOL_8, default=False)}

REDUCE = {"ReduceMax": np.max, "ReduceMin": np.min, "ReduceMean": np.mean, "ReduceSum": np.sum,
          "ReduceProd": np.prod, "ReduceSumSquare": lambda x, axis, keepdims: np.sum(x * x, axis=axis,
                                                                                      keepdims=keepdims)}


class _Reduce(OpDef):
    params = dict(_P)
    fn = staticmethod(np.sum)

    def _axes(self, op):
        return tuple(int(a) for a in op.params["axes"])

    def infer(self, op, ins):
        axes = self._axes(op)
        shape = [1 if i in axes else d for i, d in enumerate(ins[0].shape)]
        if not op.params["keep_dims"]:
            shape = [d for i, d in enumerate(ins[0].shape) if i not in axes]
        return [(tuple(shape), ins[0].dtype)]

    def compute(self, op, xs):
        y = self.fn(xs[0], axis=self._axes(op), keepdims=op.params["keep_dims"])
        return [np.asarray(y).astype(xs[0].dtype, copy=False)]


for _name, _fn in REDUCE.items():
    register(type(_name, (_Reduce,), {"type": _name, "fn": staticmethod(_fn)}))


class _Arg(OpDef):
    params = {"axis": Param(qd.UINT_32), "keep_dims": Param(qd.BOOL_8, default=False)}
    fn = staticmethod(np.argmax)

    def infer(self, op, ins):
        ax = op.params["axis"]
        s = list(ins[0].shape)
        if op.params["keep_dims"]:
            s[ax] = 1
        else:
            del s[ax]
        return [(tuple(s), np.int32)]

    def compute(self, op, xs):
        y = self.fn(xs[0], axis=op.params["axis"], keepdims=op.params["keep_dims"])
        return [np.asarray(y).astype(np.int32)]


@register
class Argmax(_Arg):
    type = "Argmax"


@register
class Argmin(_Arg):
    type = "Argmin"
    fn = staticmethod(np.argmin)

"""FullyConnected (weights ``[n_out, k_in]``) and MatMul."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register


@register
class FullyConnected(OpDef):
    type = "FullyConnected"
    params = {"keep_dims": Param(qd.BOOL_8, default=False, write_default=False)}   # 2.25 writes none
    dlc_bias_input = 2
    weight_input = 1
    weight_quant_axis = "row"
    integer_accumulator = True
    folds_batchnorm = True

    def weight_output_axis(self, op, rank):
        return 0 if rank >= 2 else None              # [n_out, k_in]: rows on axis 0

    def scale_output_channels(self, op, w, s):
        return w * s[:, None]                         # [n_out, k]

    def infer(self, op, ins):
        x, w = ins[0], ins[1]
        n, k = w.shape
        if (x.shape[-1] if op.params["keep_dims"] else int(np.prod(x.shape))) % k or (
                op.params["keep_dims"] and x.shape[-1] != k):
            raise ValueError(f"FullyConnected {op.name}: input {list(x.shape)} does not fit weights [{n}, {k}]")
        if op.params["keep_dims"]:
            return [(tuple(x.shape[:-1]) + (n,), x.dtype)]
        return [((int(np.prod(x.shape)) // k, n), x.dtype)]

    def compute(self, op, xs):
        x, w = xs[0], xs[1]
        b = xs[2] if len(xs) > 2 else None
        n, k = w.shape
        y = x.reshape(-1, k) @ w.T
        if b is not None:
            y = y + b
        if op.params["keep_dims"]:
            y = y.reshape(x.shape[:-1] + (n,))
        return [y.astype(x.dtype, copy=False)]

    def macs(self, op, ins, outs):
        return int(np.prod(outs[0].shape)) * ins[1].shape[1]


@register
class MatMul(OpDef):
    type = "MatMul"
    params = {"transpose_in0": Param(qd.BOOL_8, default=False),
              "transpose_in1": Param(qd.BOOL_8, default=False)}
    weight_input = 1
    weight_quant_axis = "row"
    integer_accumulator = True

    def weight_output_axis(self, op, rank):
        """A static input 1 is [..., K, N] (or [..., N, K] transposed): its rows are the N outputs."""
        if rank < 2:
            return None
        return rank - 2 if op.params.get("transpose_in1") else rank - 1

    @staticmethod
    def _shapes(op, a, b):
        a, b = list(a), list(b)
        if op.params["transpose_in0"] and len(a) >= 2:
            a[-1], a[-2] = a[-2], a[-1]
        if op.params["transpose_in1"] and len(b) >= 2:
            b[-1], b[-2] = b[-2], b[-1]
        return a, b

    def infer(self, op, ins):
        a, b = self._shapes(op, ins[0].shape, ins[1].shape)
        ka = a[-1]
        kb = b[-2] if len(b) > 1 else b[0]
        if ka != kb:
            raise ValueError(f"MatMul {op.name}: inner dimensions differ ({list(a)} x {list(b)})")
        shape = _matmul_shape(a, b)
        return [(shape, ins[0].dtype)]

    def compute(self, op, xs):
        a, b = xs[0], xs[1]
        if op.params["transpose_in0"]:
            a = np.swapaxes(a, -1, -2)
        if op.params["transpose_in1"]:
            b = np.swapaxes(b, -1, -2)
        y = np.matmul(a, b)
        if len(xs) > 2 and xs[2] is not None:
            y = y + xs[2]
        return [y.astype(xs[0].dtype, copy=False)]

    def macs(self, op, ins, outs):
        a, _ = self._shapes(op, ins[0].shape, ins[1].shape)
        return int(np.prod(outs[0].shape)) * int(a[-1])


def _matmul_shape(a, b):
    if len(a) == 1:
        return tuple(_matmul_shape([1] + list(a), b)[:-2]) + (b[-1],) if len(b) > 1 else ()
    if len(b) == 1:
        return tuple(a[:-1])
    batch = np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
    return tuple(batch) + (a[-2], b[-1])

"""QNN scatter/sort/cumulative ops: ScatterElements, ScatterNd, GatherNd, TopK, CumulativeSum, OneHot ...

Index semantics shared by the kernels: indices are int32 (or any integer type) and negative values
count from the end of the indexed dimension, as in ONNX.  Scatter reductions are applied in index
order with ``ufunc.at`` so duplicate indices accumulate (``NONE`` lets the last write win).
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_axis, register

# QNN ScatterElements / ScatterNd ``reduction`` values
REDUCTION_NONE, REDUCTION_ADD, REDUCTION_MUL, REDUCTION_MAX = 0, 1, 2, 3
_SCATTER_UFUNC = {REDUCTION_ADD: np.add, REDUCTION_MUL: np.multiply, REDUCTION_MAX: np.maximum}


def _wrap(idx: np.ndarray, dim: int) -> np.ndarray:
    idx = np.asarray(idx).astype(np.int64)
    return np.where(idx < 0, idx + dim, idx)


def _scatter(out: np.ndarray, where: tuple, updates: np.ndarray, reduction: int) -> np.ndarray:
    if reduction == REDUCTION_NONE:
        out[where] = updates
    else:
        _SCATTER_UFUNC[reduction].at(out, where, updates)
    return out


@register
class ScatterElements(OpDef):
    """out = data; out[..., indices[i...], ...] (op)= updates[i...] along ``axis``; indices and updates
    share a shape of the data's rank."""

    type = "ScatterElements"
    params = {"axis": Param(qd.INT_32, default=0), "reduction": Param(qd.UINT_32, default=REDUCTION_NONE)}

    def infer(self, op, ins):
        data, idx, upd = (t.shape for t in ins[:3])
        ax = check_axis(op, "axis", len(data), negative=True)
        if tuple(idx) != tuple(upd) or len(idx) != len(data) or any(
                i > d for k, (i, d) in enumerate(zip(idx, data)) if k != ax):
            raise ValueError(f"ScatterElements {op.name}: indices {list(idx)} / updates {list(upd)} do not fit "
                             f"data {list(data)}")
        if op.params["reduction"] not in (REDUCTION_NONE, *_SCATTER_UFUNC):
            raise ValueError(f"ScatterElements {op.name}: unknown reduction {op.params['reduction']}")
        return [(tuple(data), ins[0].dtype)]

    def compute(self, op, xs):
        data, idx, upd = xs[0], xs[1], xs[2]
        ax = op.params["axis"] % data.ndim
        where = list(np.indices(idx.shape, sparse=True))
        where[ax] = _wrap(idx, data.shape[ax])
        out = np.array(data, copy=True)
        return [_scatter(out, tuple(where), upd.astype(data.dtype, copy=False), op.params["reduction"])]


@register
class ScatterNd(OpDef):
    """indices ``[..., k]`` address slices ``data[i0, ..., ik-1]``; updates have shape
    ``indices.shape[:-1] + data.shape[k:]``."""

    type = "ScatterNd"
    params = {"reduction": Param(qd.UINT_32, default=REDUCTION_NONE)}

    def infer(self, op, ins):
        data, idx, upd = (tuple(t.shape) for t in ins[:3])
        k = idx[-1] if idx else 0
        if not idx or k > len(data) or upd != idx[:-1] + data[k:]:
            raise ValueError(f"ScatterNd {op.name}: indices {list(idx)} / updates {list(upd)} do not fit "
                             f"data {list(data)}")
        if op.params["reduction"] not in (REDUCTION_NONE, REDUCTION_ADD, REDUCTION_MUL):
            raise ValueError(f"ScatterNd {op.name}: unknown reduction {op.params['reduction']}")
        return [(data, ins[0].dtype)]

    def compute(self, op, xs):
        data, idx, upd = xs[0], xs[1], xs[2]
        k = idx.shape[-1]
        where = tuple(_wrap(idx[..., j], data.shape[j]) for j in range(k))
        out = np.array(data, copy=True)
        return [_scatter(out, where, upd.astype(data.dtype, copy=False), op.params["reduction"])]


@register
class GatherNd(OpDef):
    """out[b..., m...] = data[b..., indices[b..., m..., :], ...] with ``batch_dims`` leading batch dims."""

    type = "GatherNd"
    data_invariant = True
    params = {"batch_dims": Param(qd.UINT_32, default=0)}

    def infer(self, op, ins):
        data, idx = tuple(ins[0].shape), tuple(ins[1].shape)
        b = op.params["batch_dims"]
        k = idx[-1] if idx else 0
        if not idx or b >= len(idx) or b + k > len(data) or idx[:b] != data[:b]:
            raise ValueError(f"GatherNd {op.name}: indices {list(idx)} do not fit data {list(data)} "
                             f"with batch_dims {b}")
        return [(idx[:-1] + data[b + k:], ins[0].dtype)]

    def compute(self, op, xs):
        data, idx = xs[0], xs[1]
        b = op.params["batch_dims"]
        k = idx.shape[-1]
        nb = int(np.prod(data.shape[:b]))
        d = data.reshape((nb,) + data.shape[b:])
        i = idx.reshape((nb,) + idx.shape[b:])
        batch = np.arange(nb).reshape((nb,) + (1,) * (i.ndim - 2))
        where = (batch,) + tuple(_wrap(i[..., j], d.shape[1 + j]) for j in range(k))
        out = d[where]
        return [np.ascontiguousarray(out.reshape(idx.shape[:-1] + data.shape[b + k:]))]


@register
class TopK(OpDef):
    """The ``k`` largest (or smallest) entries along the last axis, sorted; equal values keep their
    index order.  Outputs: values, indices (int32)."""

    type = "TopK"
    params = {"k": Param(qd.UINT_32), "largest": Param(qd.BOOL_8, default=True, write_default=False)}

    def num_outputs(self, params, n_inputs):
        return 2

    def infer(self, op, ins):
        s = tuple(ins[0].shape)
        k = op.params["k"]
        if not s or k > s[-1]:
            raise ValueError(f"TopK {op.name}: k={k} exceeds the last dimension of {list(s)}")
        return [(s[:-1] + (k,), ins[0].dtype), (s[:-1] + (k,), np.int32)]

    def compute(self, op, xs):
        x = xs[0]
        k = op.params["k"]
        n = x.shape[-1]
        if op.params["largest"]:
            # stable ascending sort of the reversed row, read backwards: descending values, ties by index
            order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]
            order = (n - 1) - order
        else:
            order = np.argsort(x, axis=-1, kind="stable")
        idx = np.ascontiguousarray(order[..., :k])
        return [np.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)]


@register
class CumulativeSum(OpDef):
    type = "CumulativeSum"
    params = {"axis": Param(qd.UINT_32), "exclusive": Param(qd.BOOL_8, default=False),
              "reverse": Param(qd.BOOL_8, default=False)}

    def infer(self, op, ins):
        check_axis(op, "axis", len(ins[0].shape))
        return [(ins[0].shape, ins[0].dtype)]

    def compute(self, op, xs):
        x = xs[0]
        ax = op.params["axis"]
        y = np.flip(x, ax) if op.params["reverse"] else x
        c = np.cumsum(y, axis=ax, dtype=x.dtype)
        if op.params["exclusive"]:   # shift by one: out[i] = sum of y[:i]
            pad = [(1, 0) if d == ax else (0, 0) for d in range(x.ndim)]
            c = np.pad(np.take(c, np.arange(c.shape[ax] - 1), axis=ax), pad)
        if op.params["reverse"]:
            c = np.flip(c, ax)
        return [np.ascontiguousarray(c.astype(x.dtype, copy=False))]


@register
class OneHot(OpDef):
    """out has a new axis of size ``depth`` at ``axis``: ``on_value`` where it equals the index,
    ``off_value`` elsewhere (indices outside [0, depth) give an all-off row).  The output dtype is the
    output tensor's (the IR keeps it as ``out_dtype``)."""

    type = "OneHot"
    params = {"depth": Param(qd.UINT_32), "axis": Param(qd.INT_32, default=-1),
              "on_value": Param(qd.FLOAT_32, default=1.0), "off_value": Param(qd.FLOAT_32, default=0.0),
              "out_dtype": Param(qd.UINT_32, default=qd.FLOAT_32, internal=True)}

    def _axis(self, op, rank):
        ax = op.params["axis"]
        return ax + rank + 1 if ax < 0 else ax

    def infer(self, op, ins):
        s = list(ins[0].shape)
        ax = self._axis(op, len(s))
        if not 0 <= ax <= len(s):
            raise ValueError(f"OneHot {op.name}: axis {op.params['axis']} is out of range for rank {len(s)}")
        s.insert(ax, op.params["depth"])
        return [(tuple(s), qd.to_numpy(op.params["out_dtype"]))]

    def compute(self, op, xs):
        idx = np.asarray(xs[0]).astype(np.int64)
        ax = self._axis(op, idx.ndim)
        depth = op.params["depth"]
        ramp = np.arange(depth).reshape((depth,) + (1,) * (idx.ndim - ax))
        hit = np.expand_dims(idx, ax) == ramp
        dt = qd.to_numpy(op.params["out_dtype"])
        on = np.asarray(op.params["on_value"]).astype(dt)
        off = np.asarray(op.params["off_value"]).astype(dt)
        return [np.where(hit, on, off).astype(dt)]

    def restore_params(self, op, ins, outs):
        op.params["out_dtype"] = qd.to_qnn(outs[0].dtype)


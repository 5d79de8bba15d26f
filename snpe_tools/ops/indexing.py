"""Element-wise indexing: GatherElements."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_axis, register


@register
class GatherElements(OpDef):
    """out[..., i, ...] = data[..., indices[..., i, ...], ...] along ``axis`` (output has the indices'
    shape; negative indices count from the end).  Kept separate from Gather because every output
    element carries its own index, which no Gather/Reshape combination expresses."""

    type = "GatherElements"
    data_invariant = True
    params = {"axis": Param(qd.INT_32, default=0)}

    def infer(self, op, ins):
        data, idx = ins[0].shape, ins[1].shape
        ax = check_axis(op, "axis", len(data), negative=True)
        if len(idx) != len(data) or any(i > d for k, (i, d) in enumerate(zip(idx, data)) if k != ax):
            raise ValueError(f"GatherElements {op.name}: indices {list(idx)} do not fit data {list(data)}")
        return [(tuple(idx), ins[0].dtype)]

    def compute(self, op, xs):
        data, idx = xs[0], xs[1].astype(np.int64)
        ax = op.params["axis"] % data.ndim
        idx = np.where(idx < 0, idx + data.shape[ax], idx)
        view = data[tuple(slice(None) if k == ax else slice(0, n) for k, n in enumerate(idx.shape))]
        return [np.take_along_axis(view, idx, axis=ax)]

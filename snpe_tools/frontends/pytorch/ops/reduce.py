"""aten mean/sum/amax/amin -> QNN Reduce* ops."""
from __future__ import annotations

from ....errors import ConversionError
from ..context import axis
from ..registry import aten_op


def _reduce(ctx, node, qnn):
    a = node.args
    x = a[0]
    rank = ctx.rank(x)
    dims = a[1] if len(a) > 1 else None
    if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
        dims = list(range(rank))
    dims = dims if isinstance(dims, (list, tuple)) else [dims]
    keep = bool(a[2]) if len(a) > 2 and a[2] is not None else False
    if len(a) > 3 and a[3] is not None and not isinstance(a[3], bool):
        raise ConversionError("reductions with an explicit dtype are not supported")
    return ctx.op(qnn, [x], node, {"axes": sorted(axis(int(d), rank) for d in dims), "keep_dims": keep})


aten_op("mean")(lambda ctx, node: _reduce(ctx, node, "ReduceMean"))
aten_op("sum")(lambda ctx, node: _reduce(ctx, node, "ReduceSum"))
aten_op("amax")(lambda ctx, node: _reduce(ctx, node, "ReduceMax"))
aten_op("amin")(lambda ctx, node: _reduce(ctx, node, "ReduceMin"))

"""aten shape and data-movement ops -> QNN Reshape/Transpose/Concat/reductions."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext, axis
from ..registry import aten_op


def _reshape(ctx: TorchContext, node, x, shape):
    shape = [int(s) for s in shape]
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape[shape.index(-1)] = int(np.prod(ctx.shape(x))) // max(known, 1)
    return ctx.op("Reshape", [x], node, {"shape": shape})


@aten_op("view", "reshape")
def view(ctx, node, a):
    return _reshape(ctx, node, a[0], a[1])


@aten_op("flatten")
def flatten(ctx, node, a):
    x, start, end = a
    s = list(ctx.shape(x))
    if not s:
        return _reshape(ctx, node, x, [1])
    start, end = axis(int(start), len(s)), axis(int(end), len(s))
    return _reshape(ctx, node, x, s[:start] + [int(np.prod(s[start:end + 1]))] + s[end + 1:])


@aten_op("unsqueeze")
def unsqueeze(ctx, node, a):
    s = list(ctx.shape(a[0]))
    s.insert(axis(int(a[1]), len(s) + 1), 1)
    return _reshape(ctx, node, a[0], s)


@aten_op("squeeze")
def squeeze(ctx, node, a):
    s = list(ctx.shape(a[0]))
    if len(a) == 1 or a[1] is None:
        dims = [i for i, d in enumerate(s) if d == 1]
    else:
        dims = a[1] if isinstance(a[1], (list, tuple)) else [a[1]]
        dims = [axis(int(d), len(s)) for d in dims if s[axis(int(d), len(s))] == 1]
    return _reshape(ctx, node, a[0], [d for i, d in enumerate(s) if i not in dims])


@aten_op("permute")
def permute(ctx, node, a):
    rank = ctx.rank(a[0])
    return ctx.op("Transpose", [a[0]], node, {"perm": [axis(int(p), rank) for p in a[1]]})


@aten_op("transpose", "t")
def transpose(ctx, node, a):
    rank = ctx.rank(a[0])
    if len(a) == 1:
        d0, d1 = 0, rank - 1
    else:
        d0, d1 = axis(int(a[1]), rank), axis(int(a[2]), rank)
    perm = list(range(rank))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return ctx.op("Transpose", [a[0]], node, {"perm": perm})


@aten_op("cat", "concat")
def cat(ctx, node, a):
    items = [t for t in a[0] if not (not isinstance(t, Ref) and np.asarray(t).size == 0)]
    rank = ctx.rank(items[0])
    if len(items) == 1:
        return _reshape(ctx, node, items[0], ctx.shape(items[0]))
    dt = next((ctx.dtype(t) for t in items if isinstance(t, Ref)), np.float32)
    return ctx.op("Concat", [t if isinstance(t, Ref) else np.asarray(t, dt) for t in items], node,
                  {"axis": axis(int(a[1]), rank)})


def _reduce(ctx, node, a, qnn):
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


aten_op("mean")(lambda ctx, node, a: _reduce(ctx, node, a, "ReduceMean"))
aten_op("sum")(lambda ctx, node, a: _reduce(ctx, node, a, "ReduceSum"))
aten_op("amax")(lambda ctx, node, a: _reduce(ctx, node, a, "ReduceMax"))
aten_op("amin")(lambda ctx, node, a: _reduce(ctx, node, a, "ReduceMin"))


@aten_op("dropout", "feature_dropout", "alpha_dropout")
def dropout(ctx, node, a):
    if a[2]:
        raise ConversionError("dropout in training mode; call model.eval() before tracing")
    return a[0]


@aten_op("contiguous", "detach", "clone")
def identity(ctx, node, a):
    return a[0]

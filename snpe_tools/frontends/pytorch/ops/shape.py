"""aten shape and data-movement ops -> QNN Reshape / Transpose / Concat / Split / StridedSlice /
Tile / Gather / Cast / Pad.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext, axis, resolve_shape
from ..registry import aten_op
from ..schema import schema_args, torch_dtype


def _reshape_out(ctx: TorchContext, node, x, shape):
    """Reshape ``x`` into node output 0 (``-1`` resolved)."""
    return ctx.op("Reshape", [x], node, {"shape": resolve_shape(shape, int(np.prod(ctx.shape(x))))})


@aten_op("view", "reshape")
def view(ctx, node):
    a = node.args
    return _reshape_out(ctx, node, a[0], a[1])


@aten_op("flatten")
def flatten(ctx, node):
    a = node.args
    x, start, end = a
    s = list(ctx.shape(x))
    if not s:
        return _reshape_out(ctx, node, x, [1])
    start, end = axis(int(start), len(s)), axis(int(end), len(s))
    return _reshape_out(ctx, node, x, s[:start] + [int(np.prod(s[start:end + 1]))] + s[end + 1:])


@aten_op("unsqueeze")
def unsqueeze(ctx, node):
    a = node.args
    s = list(ctx.shape(a[0]))
    s.insert(axis(int(a[1]), len(s) + 1), 1)
    return _reshape_out(ctx, node, a[0], s)


@aten_op("squeeze")
def squeeze(ctx, node):
    a = node.args
    s = list(ctx.shape(a[0]))
    if len(a) == 1 or a[1] is None:
        dims = [i for i, d in enumerate(s) if d == 1]
    else:
        dims = a[1] if isinstance(a[1], (list, tuple)) else [a[1]]
        dims = [axis(int(d), len(s)) for d in dims if s[axis(int(d), len(s))] == 1]
    return _reshape_out(ctx, node, a[0], [d for i, d in enumerate(s) if i not in dims])


@aten_op("permute")
def permute(ctx, node):
    a = node.args
    rank = ctx.rank(a[0])
    return ctx.op("Transpose", [a[0]], node, {"perm": [axis(int(p), rank) for p in a[1]]})


@aten_op("transpose", "t")
def transpose(ctx, node):
    a = node.args
    rank = ctx.rank(a[0])
    if len(a) == 1:
        d0, d1 = 0, rank - 1
    else:
        d0, d1 = axis(int(a[1]), rank), axis(int(a[2]), rank)
    perm = list(range(rank))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return ctx.op("Transpose", [a[0]], node, {"perm": perm})


@aten_op("cat", "concat")
def cat(ctx, node):
    a = node.args
    items = [t for t in a[0] if not (not isinstance(t, Ref) and np.asarray(t).size == 0)]
    rank = ctx.rank(items[0])
    if len(items) == 1:
        return _reshape_out(ctx, node, items[0], ctx.shape(items[0]))
    dt = next((ctx.dtype(t) for t in items if isinstance(t, Ref)), np.float32)
    return ctx.op("Concat", [t if isinstance(t, Ref) else np.asarray(t, dt) for t in items], node,
                  {"axis": axis(int(a[1]), rank)})


def int_indices(ctx: TorchContext, idx, what: str, size: int | None = None):
    """Run-time integer indices as they are; constant ones as int32 (negatives wrapped by ``size``)."""
    if isinstance(idx, Ref):
        dt = np.dtype(ctx.dtype(idx))
        if not np.issubdtype(dt, np.integer):
            raise ConversionError(f"{what} indices are {dt}; feed integer indices (e.g. --input_dtype NAME int32)")
        return idx
    arr = np.asarray(idx).astype(np.int64)
    if size is not None:
        if np.any((arr < -size) | (arr >= size)):
            raise ConversionError(f"{what} index out of range for a dim of size {size}")
        arr = np.where(arr < 0, arr + size, arr)
    return arr.astype(np.int32)


@aten_op("embedding")
def embedding(ctx: TorchContext, node):
    a = node.args
    w, idx = a[0], a[1]
    idx = int_indices(ctx, idx, "embedding")
    return ctx.op("Gather", [w, idx], node, {"axis": 0})


@aten_op("index_select")
def index_select(ctx: TorchContext, node):
    a = node.args
    x, dim, idx = a[:3]
    ax = axis(int(dim), ctx.rank(x))
    idx = int_indices(ctx, idx, "index_select", ctx.shape(x)[ax])
    if len(ctx.shape(idx)) == 0:
        idx = ctx.reshape_to(idx, [1], ctx.tmp_name(node, "idx")) if isinstance(idx, Ref) else idx.reshape(1)
    return ctx.op("Gather", [x, idx], node, {"axis": ax})


@aten_op("index")
def index(ctx: TorchContext, node):
    """x[..., idx, ...] with one integer index tensor (other positions ':')."""
    a = node.args
    x, indices = a[0], list(a[1])
    used = [i for i, t in enumerate(indices) if t is not None]
    if len(used) != 1:
        raise ConversionError("advanced indexing with more than one index tensor is not supported")
    pos = used[0]
    idx = indices[pos]
    if np.dtype(ctx.dtype(idx)) == np.bool_:
        if isinstance(idx, Ref) or np.ndim(idx) != 1:
            raise ConversionError("boolean-mask indexing has a data-dependent shape and cannot be converted")
        idx = np.nonzero(np.asarray(idx))[0]
    idx = int_indices(ctx, idx, "index", ctx.shape(x)[pos])
    return ctx.op("Gather", [x, idx], node, {"axis": pos})


def _split_sizes(ctx, node, x, sizes, dim) -> list[Ref]:
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    sizes = [int(s) for s in sizes]
    if sum(sizes) != shape[ax] or any(s <= 0 for s in sizes):
        raise ConversionError(f"split sizes {sizes} do not partition dim {ax} of size {shape[ax]} into "
                              "non-empty parts")
    if not isinstance(x, Ref):
        return [np.ascontiguousarray(p) for p in np.split(np.asarray(x), np.cumsum(sizes)[:-1], axis=ax)]
    if len(sizes) == 1:
        return [x]
    base = ctx.out_name(node)
    outs = [ctx.graph.unique_name(f"{base}.{i}") for i in range(len(sizes))]
    ctx.emit("Split", [ctx.tensor(x)], outs, {"axis": ax, "split_index": [int(v) for v in np.cumsum(sizes)[:-1]]},
             name=base)
    return [Ref(o) for o in outs]


def _even_sizes(n: int, size: int) -> list[int]:
    size = max(int(size), 1)
    return [size] * (n // size) + ([n % size] if n % size else [])


@aten_op("split", "unsafe_split", "split_with_sizes", "unsafe_split_with_sizes")
def split(ctx: TorchContext, node):
    a = node.args
    x, sz = a[0], a[1]
    dim = a[2] if len(a) > 2 else 0
    n = ctx.shape(x)[axis(int(dim), ctx.rank(x))]
    sizes = list(sz) if isinstance(sz, (list, tuple)) else _even_sizes(n, int(sz))
    return _split_sizes(ctx, node, x, sizes, dim)


@aten_op("chunk", "unsafe_chunk")
def chunk(ctx: TorchContext, node):
    a = node.args
    x, chunks = a[0], int(a[1])
    dim = a[2] if len(a) > 2 else 0
    n = ctx.shape(x)[axis(int(dim), ctx.rank(x))]
    return _split_sizes(ctx, node, x, _even_sizes(n, -(-n // chunks)), dim)


@aten_op("unbind")
def unbind(ctx: TorchContext, node):
    a = node.args
    x = a[0]
    dim = a[1] if len(a) > 1 else 0
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    parts = _split_sizes(ctx, node, x, [1] * shape[ax], ax)
    sq = shape[:ax] + shape[ax + 1:]
    out = []
    for i, p in enumerate(parts):
        if isinstance(p, Ref):
            out.append(ctx.reshape_to(p, sq, ctx.tmp_name(node, f"item{i}")))
        else:
            out.append(np.asarray(p).reshape(sq))
    return out


@aten_op("stack")
def stack(ctx: TorchContext, node):
    a = node.args
    items, dim = list(a[0]), a[1] if len(a) > 1 else 0
    rank = ctx.rank(items[0])
    ax = axis(int(dim), rank + 1)
    dt = next((ctx.dtype(t) for t in items if isinstance(t, Ref)), np.float32)
    lifted = []
    for i, t in enumerate(items):
        s = list(ctx.shape(t))
        s.insert(ax, 1)
        if isinstance(t, Ref):
            out = ctx.out_name(node) if len(items) == 1 else ctx.tmp_name(node, f"in{i}")
            lifted.append(ctx.reshape_to(t, s, out))
        else:
            lifted.append(np.asarray(t, dt).reshape(s))
    if len(items) == 1:
        return lifted[0]
    return ctx.op("Concat", lifted, node, {"axis": ax})


@aten_op("unflatten")
def unflatten(ctx: TorchContext, node):
    a = node.args
    x, dim, sizes = a[:3]
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    new = resolve_shape(sizes, shape[ax])
    return ctx.op("Reshape", [x], node, {"shape": shape[:ax] + new + shape[ax + 1:]})


@aten_op("slice")
def slice_(ctx: TorchContext, node):
    a = node.args
    x = a[0]
    dim = a[1] if len(a) > 1 and a[1] is not None else 0
    start = a[2] if len(a) > 2 else None
    end = a[3] if len(a) > 3 else None
    step = a[4] if len(a) > 4 and a[4] is not None else 1
    for v in (start, end, step):
        if isinstance(v, Ref):
            raise ConversionError("slicing with run-time bounds is not supported")
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    n = shape[ax]
    step = int(step)
    if step <= 0:
        raise ConversionError(f"slice step {step} must be positive")
    s, e, st = slice(None if start is None else int(start), None if end is None else int(end), step).indices(n)
    if s == 0 and e >= n and st == 1:
        return x
    if len(range(s, e, st)) == 0:
        raise ConversionError(f"slice [{start}:{end}:{step}] of dim {ax} (size {n}) is empty")
    ranges = [[0, d, 1] for d in shape]
    ranges[ax] = [s, e, st]
    return ctx.op("StridedSlice", [x], node, {"ranges": np.asarray(ranges, np.int32)})


@aten_op("select")
def select(ctx: TorchContext, node):
    a = node.args
    x, dim, index = a[:3]
    if isinstance(index, Ref):
        raise ConversionError("select with a run-time index is not supported")
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    i = int(index)
    if not -shape[ax] <= i < shape[ax]:
        raise ConversionError(f"select index {i} is out of range for dim {ax} of size {shape[ax]}")
    i = i % shape[ax]
    ranges = [[0, d, 1] for d in shape]
    ranges[ax] = [i, i + 1, 1]
    return ctx.op("StridedSlice", [x], node, {"ranges": np.asarray(ranges, np.int32), "shrink_axes": 1 << ax})


def _tile_to(ctx: TorchContext, node, x, target: list[int]):
    """Exact broadcasting of ``x`` to ``target`` (leading 1s added, size-1 dims tiled)."""
    src = list(ctx.shape(x))
    n = len(target)
    if len(src) > n:
        raise ConversionError(f"cannot expand a rank-{len(src)} tensor to {target}")
    full = [1] * (n - len(src)) + src
    for sd, td in zip(full, target):
        if sd != td and sd != 1:
            raise ConversionError(f"cannot expand shape {src} to {target}")
    if full == src and full == target:
        return x
    if not isinstance(x, Ref):
        return np.broadcast_to(np.asarray(x).reshape(full), target).copy()
    return _lift_and_tile(ctx, node, x, src, full, [t // s for s, t in zip(full, target)])


def _lift_and_tile(ctx: TorchContext, node, x, src: list[int], full: list[int], mult: list[int]) -> Ref:
    """``x`` (shape ``src``) reshaped to ``full`` (leading 1s) and tiled ``mult`` times, into the node's output."""
    out = ctx.out_name(node)
    cur = x
    if full != src:
        cur = ctx.reshape_to(x, full, out if all(m == 1 for m in mult) else ctx.tmp_name(node, "rank"))
    if all(m == 1 for m in mult):
        return cur
    return ctx.emit_to("Tile", [cur], out, {"multiples": mult})


@aten_op("expand")
def expand(ctx: TorchContext, node):
    a = node.args
    x, size = a[0], [int(s) for s in a[1]]
    src = list(ctx.shape(x))
    full = [1] * (len(size) - len(src)) + src
    target = [full[i] if s == -1 else s for i, s in enumerate(size)]
    return _tile_to(ctx, node, x, target)


@aten_op("expand_as")
def expand_as(ctx: TorchContext, node):
    a = node.args
    return _tile_to(ctx, node, a[0], list(ctx.shape(a[1])))


@aten_op("broadcast_to")
def broadcast_to(ctx: TorchContext, node):
    return expand(ctx, node)


@aten_op("repeat")
def repeat(ctx: TorchContext, node):
    a = node.args
    x, reps = a[0], [int(r) for r in a[1]]
    src = list(ctx.shape(x))
    if len(reps) < len(src):
        raise ConversionError(f"repeat with {len(reps)} repeats for a rank-{len(src)} tensor")
    return _lift_and_tile(ctx, node, x, src, [1] * (len(reps) - len(src)) + src, reps)


@aten_op("to")
def to(ctx: TorchContext, node):
    a = node.args
    x = a[0]
    names = schema_args(node)
    dt = None
    if "other" in names:
        dt = ctx.dtype(a[names.index("other")])
    elif "dtype" in names:
        dt = torch_dtype(a[names.index("dtype")])
    else:   # no schema: the first dtype-looking argument after the tensor
        for v in a[1:]:
            if isinstance(v, Ref) or isinstance(v, np.ndarray):
                dt = ctx.dtype(v)
                break
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool) or "dtype" in type(v).__name__:
                dt = torch_dtype(v)
                break
    if dt is None:
        return x
    return ctx.cast_to(x, dt, ctx.out_name(node))


@aten_op("type_as")
def type_as(ctx, node):
    a = node.args
    return ctx.cast_to(a[0], ctx.dtype(a[1]), ctx.out_name(node))


# ---- padding -----------------------------------------------------------------------------------

_SCHEMES = {"constant": 0, "reflect": 2, "replicate": 3}


def _pad(ctx: TorchContext, node, x, pad, mode: str, value):
    if isinstance(pad, Ref) or any(isinstance(p, Ref) for p in pad):
        raise ConversionError("padding by a run-time amount is not supported")
    pad = [int(p) for p in pad]
    shape = list(ctx.shape(x))
    rank = len(shape)
    if len(pad) % 2 or len(pad) // 2 > rank:
        raise ConversionError(f"pad {pad} does not fit a rank-{rank} tensor")
    amounts = [[0, 0] for _ in range(rank)]
    for i in range(len(pad) // 2):   # PyTorch lists the last dim first
        amounts[rank - 1 - i] = [pad[2 * i], pad[2 * i + 1]]
    if all(a == [0, 0] for a in amounts):
        return x
    out = ctx.out_name(node)
    if mode == "circular":
        return _circular(ctx, node, x, amounts, out)
    if mode not in _SCHEMES:
        raise ConversionError(f"padding mode '{mode}' is not supported")
    neg = any(v < 0 for a in amounts for v in a)
    if neg and mode != "constant":
        raise ConversionError(f"negative {mode} padding is not supported")
    if mode == "reflect":
        for d, (lo, hi) in enumerate(amounts):
            if max(lo, hi) >= shape[d]:
                raise ConversionError(f"reflect padding {lo},{hi} must be smaller than dim {d} of size {shape[d]}")
    pos = [[max(v, 0) for v in a] for a in amounts]
    cur = x
    if any(v for a in pos for v in a):
        params = {"scheme": _SCHEMES[mode], "pad_amount": np.asarray(pos, np.uint32)}
        if mode == "constant":
            params["pad_constant_value"] = 0.0 if value is None else float(value)
        name = ctx.graph.unique_name(f"{out}.pad") if neg else out
        ctx.emit("Pad", [ctx.tensor(x)], [name], params, name=name)
        cur = Ref(name)
    if not neg:
        return cur
    padded = ctx.shape(cur)
    ranges = [[max(-lo, 0), d - max(-hi, 0), 1] for (lo, hi), d in zip(amounts, padded)]
    if any(e <= b for b, e, _ in ranges):
        raise ConversionError(f"padding {pad} crops {shape} to nothing")
    ctx.emit("StridedSlice", [ctx.tensor(cur)], [out], {"ranges": np.asarray(ranges, np.int32)}, name=out)
    return Ref(out)


def _circular(ctx: TorchContext, node, x, amounts, out: str):
    cur = x
    todo = [d for d, a in enumerate(amounts) if a != [0, 0]]
    for k, d in enumerate(todo):
        lo, hi = amounts[d]
        shape = list(ctx.shape(cur))
        n = shape[d]
        if lo < 0 or hi < 0 or lo > n or hi > n:
            raise ConversionError(f"circular padding {lo},{hi} of dim {d} (size {n}) is not supported")
        parts = []
        for tag, (b, e) in (("lo", (n - lo, n)), ("hi", (0, hi))):
            if e <= b:
                continue
            ranges = [[0, s, 1] for s in shape]
            ranges[d] = [b, e, 1]
            name = ctx.graph.unique_name(f"{out}.{tag}{d}")
            ctx.emit("StridedSlice", [ctx.tensor(cur)], [name], {"ranges": np.asarray(ranges, np.int32)}, name=name)
            parts.append((tag, Ref(name)))
        ins = [p for t, p in parts if t == "lo"] + [cur] + [p for t, p in parts if t == "hi"]
        name = out if k == len(todo) - 1 else ctx.graph.unique_name(f"{out}.circ{d}")
        ctx.emit("Concat", [ctx.tensor(i) for i in ins], [name], {"axis": d}, name=name)
        cur = Ref(name)
    return cur


@aten_op("constant_pad_nd")
def constant_pad_nd(ctx, node):
    a = node.args
    return _pad(ctx, node, a[0], a[1], "constant", a[2] if len(a) > 2 else 0.0)


@aten_op("pad")
def pad(ctx, node):
    a = node.args
    mode = a[2] if len(a) > 2 and a[2] is not None else "constant"
    return _pad(ctx, node, a[0], a[1], mode, a[3] if len(a) > 3 else None)


for _k, _m in (("reflection_pad1d", "reflect"), ("reflection_pad2d", "reflect"), ("reflection_pad3d", "reflect"),
               ("replication_pad1d", "replicate"), ("replication_pad2d", "replicate"),
               ("replication_pad3d", "replicate"), ("_pad_circular", "circular")):
    aten_op(_k)(lambda ctx, node, _m=_m: _pad(ctx, node, node.args[0], node.args[1], _m, None))

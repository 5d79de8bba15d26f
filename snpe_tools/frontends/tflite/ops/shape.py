"""Data movement: reshape family, concat/split, slicing, padding, transpose, tile, pack/unpack, gather,
depth/space rearrangement, and SHAPE (always static here, so it folds to a constant)."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def _out_shape(ctx: TfliteContext, op: TflOp, k: int = 0) -> list[int]:
    return list(ctx.t(op.outputs[k]).shape)


@tflite_op("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(ctx: TfliteContext, op: TflOp) -> None:
    """The output shape is fixed in the flatbuffer (static shapes), so all three are one Reshape."""
    x = ctx.tensor(op.inputs[0])
    shape = _out_shape(ctx, op)
    if op.name == "RESHAPE" and len(op.inputs) > 1 and ctx.is_const(op.inputs[1]):
        want = [int(v) for v in np.asarray(ctx.const(op.inputs[1])).reshape(-1)]
        if -1 in want:
            known = int(np.prod([d for d in want if d != -1]))
            want[want.index(-1)] = int(np.prod(ctx.graph.tensors[x].shape)) // max(known, 1)
        shape = want
    ctx.emit_out(op, "Reshape", [x], {"shape": shape}, act=0)


@tflite_op("CONCATENATION")
def concatenation(ctx: TfliteContext, op: TflOp) -> None:
    xs = [ctx.tensor(i) for i in op.inputs]
    rank = ctx.graph.tensors[xs[0]].rank
    ctx.emit_out(op, "Concat", xs, {"axis": int(op.options.get("axis", 0)) % rank})


def _split(ctx: TfliteContext, op: TflOp, x: str, axis: int, sizes: list[int]) -> None:
    bounds = list(np.cumsum(sizes)[:-1])
    outs = [ctx.out_name(o) for o in op.outputs]
    ctx.emit("Split", [x], outs, {"axis": axis, "split_index": bounds}, name=outs[0])
    for o, idx in zip(outs, op.outputs):
        ctx.like(o, idx)


@tflite_op("SPLIT")
def split(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[1])
    shape = ctx.graph.tensors[x].shape
    axis = int(np.asarray(ctx.require_const(op, 0, "the split axis")).reshape(-1)[0]) % len(shape)
    n = int(op.options.get("num_splits", len(op.outputs)))
    _split(ctx, op, x, axis, [shape[axis] // n] * n)


@tflite_op("SPLIT_V")
def split_v(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    axis = int(np.asarray(ctx.require_const(op, 2, "the split axis")).reshape(-1)[0]) % len(shape)
    sizes = [int(v) for v in np.asarray(ctx.require_const(op, 1, "the split sizes")).reshape(-1)]
    if -1 in sizes:
        sizes[sizes.index(-1)] = shape[axis] - sum(s for s in sizes if s != -1)
    _split(ctx, op, x, axis, sizes)


@tflite_op("STRIDED_SLICE")
def strided_slice(ctx: TfliteContext, op: TflOp) -> None:
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0):
        raise ConversionError(f"STRIDED_SLICE op #{op.index} ({ctx.out_label(op)}): ellipsis_mask / "
                              "new_axis_mask are not supported; re-export without them")
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    begin = [int(v) for v in ctx.require_const(op, 1, "begin")]
    end = [int(v) for v in ctx.require_const(op, 2, "end")]
    strides = [int(v) for v in ctx.require_const(op, 3, "strides")] if len(op.inputs) > 3 else [1] * len(begin)
    if o.get("offset", False):
        end = [b + e for b, e in zip(begin, end)]
    n = len(shape)
    ranges = [[begin[i], end[i], strides[i]] if i < len(begin) else [0, shape[i], 1] for i in range(n)]
    bm, em = int(o.get("begin_mask", 0)), int(o.get("end_mask", 0))
    for i in range(len(begin), n):
        bm |= 1 << i
        em |= 1 << i
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges, "begin_mask": bm, "end_mask": em,
                                          "shrink_axes": int(o.get("shrink_axis_mask", 0))}, act=0)


@tflite_op("SLICE")
def slice_(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    begin = [int(v) for v in ctx.require_const(op, 1, "begin")]
    size = [int(v) for v in ctx.require_const(op, 2, "size")]
    ranges = [[b, shape[i] if s == -1 else b + s, 1] for i, (b, s) in enumerate(zip(begin, size))]
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges}, act=0)


@tflite_op("PAD", "PADV2", "MIRROR_PAD")
def pad(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    widths = np.asarray(ctx.require_const(op, 1, "the paddings"), np.int64).reshape(-1, 2)
    params = {"pad_amount": widths.tolist(), "scheme": 0}
    if op.name == "MIRROR_PAD":
        params["scheme"] = 2 if op.options.get("mode", 0) == 0 else 1     # REFLECT 0 / SYMMETRIC 1
    elif op.name == "PADV2" and len(op.inputs) > 2:
        value = ctx.real_const(op.inputs[2]) if ctx.is_const(op.inputs[2]) else None
        if value is None:
            raise ConversionError(f"PADV2 op #{op.index}: the pad value must be a constant")
        params["pad_constant_value"] = float(np.asarray(value).reshape(-1)[0])
    ctx.emit_out(op, "Pad", [x], params, act=0)


@tflite_op("TRANSPOSE")
def transpose(ctx: TfliteContext, op: TflOp) -> None:
    perm = [int(v) for v in ctx.require_const(op, 1, "the permutation")]
    ctx.emit_out(op, "Transpose", [ctx.tensor(op.inputs[0])], {"perm": perm}, act=0)


@tflite_op("TILE")
def tile(ctx: TfliteContext, op: TflOp) -> None:
    reps = [int(v) for v in ctx.require_const(op, 1, "the multiples")]
    ctx.emit_out(op, "Tile", [ctx.tensor(op.inputs[0])], {"multiples": reps}, act=0)


@tflite_op("BROADCAST_TO")
def broadcast_to(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    shape = _out_shape(ctx, op)
    src = list(ctx.graph.tensors[x].shape)
    src = [1] * (len(shape) - len(src)) + src
    if len(src) != ctx.graph.tensors[x].rank:
        x = ctx.emit("Reshape", [x], None, {"shape": src}, name=f"{ctx.t(op.outputs[0]).name}.rank")[0]
        ctx.like(x, op.inputs[0])
    ctx.emit_out(op, "Tile", [x], {"multiples": [d // s for d, s in zip(shape, src)]}, act=0)


@tflite_op("PACK")
def pack(ctx: TfliteContext, op: TflOp) -> None:
    """Stack = Reshape every input to have a size-1 axis, then Concat on it."""
    out_shape = _out_shape(ctx, op)
    axis = int(op.options.get("axis", 0)) % len(out_shape)
    parts = []
    for k, i in enumerate(op.inputs):
        x = ctx.tensor(i)
        s = list(ctx.graph.tensors[x].shape)
        r = ctx.emit("Reshape", [x], None, {"shape": s[:axis] + [1] + s[axis:]},
                     name=f"{ctx.t(op.outputs[0]).name}.part{k}")[0]
        ctx.like(r, i)
        parts.append(r)
    ctx.emit_out(op, "Concat", parts, {"axis": axis}, act=0)


@tflite_op("UNPACK")
def unpack(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    axis = int(op.options.get("axis", 0)) % len(shape)
    n = shape[axis]
    base = ctx.t(op.outputs[0]).name
    pieces = [ctx.graph.unique_name(f"{base}.slice{k}") for k in range(n)]
    ctx.emit("Split", [x], pieces, {"axis": axis, "split_index": list(range(1, n))}, name=pieces[0])
    for k, (p, idx) in enumerate(zip(pieces, op.outputs)):
        ctx.like(p, op.inputs[0])
        ctx.emit_out(op, "Reshape", [p], {"shape": shape[:axis] + shape[axis + 1:]}, act=0, k=k)


@tflite_op("SHAPE")
def shape_(ctx: TfliteContext, op: TflOp) -> None:
    i = op.inputs[0]
    shape = ctx.graph.tensors[ctx.tensor(i)].shape if not ctx.is_const(i) else ctx.const(i).shape
    dt = ctx.t(op.outputs[0]).dtype
    ctx.consts[op.outputs[0]] = np.asarray(shape, dtype=np.int32 if dt == np.int64 else dt)


@tflite_op("GATHER")
def gather(ctx: TfliteContext, op: TflOp) -> None:
    if int(op.options.get("batch_dims", 0)):
        raise ConversionError(f"GATHER op #{op.index}: batch_dims != 0 is not supported")
    x = ctx.tensor(op.inputs[0])
    idx = ctx.tensor(op.inputs[1])
    rank = ctx.graph.tensors[x].rank
    ctx.emit_out(op, "Gather", [x, idx], {"axis": int(op.options.get("axis", 0)) % rank}, act=0)


@tflite_op("GATHER_ND")
def gather_nd(ctx: TfliteContext, op: TflOp) -> None:
    ctx.emit_out(op, "GatherNd", [ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])], act=0)


@tflite_op("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def depth_space(ctx: TfliteContext, op: TflOp) -> None:
    b = int(op.options["block_size"])
    ctx.emit_out(op, "DepthToSpace" if op.name == "DEPTH_TO_SPACE" else "SpaceToDepth",
                 [ctx.tensor(op.inputs[0])], {"block_size": [b, b], "mode": 0}, act=0)

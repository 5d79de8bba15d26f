"""ONNX shape and data-movement ops -> QNN Reshape / Transpose / Concat / Split / Pad / StridedSlice / Tile /
Gather / Cast (``snpe_tools/ops/shape.py``): Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat,
Split, Pad, Slice, Tile, Gather, CenterCropPad, Cast / CastLike, Expand (Reshape + Tile), and
Identity / Dropout (no op: the output is an alias of the input).

* Compress / ReverseSequence with constant condition / lengths: Gather with static indices;
"""
from __future__ import annotations

import numpy as np
import onnx

from ....ir import dtypes as qd
from ..context import (DLC_SOURCE_TYPES, NodeBuilder, OnnxContext, attrs, node_error, node_name, norm_axis,
                      onnx_np_dtype, tensor_dtype, tmp_name)
from ..registry import onnx_op


def _reshape(ctx: OnnxContext, node, shape) -> None:
    ctx.emit("Reshape", [ctx.tensor(node.input[0])], [node.output[0]], {"shape": [int(d) for d in shape]},
             name=node_name(node))


@onnx_op("Reshape")
def reshape(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    target = list(a["shape"]) if ctx.opset < 5 else [int(d) for d in ctx.require_const(node, 1, "shape")]
    src = ctx.shape(node.input[0])
    allow_zero = int(a.get("allowzero", 0))
    out = [src[i] if (d == 0 and not allow_zero) else d for i, d in enumerate(target)]
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = int(np.prod(src)) // max(known, 1)
    _reshape(ctx, node, out)


@onnx_op("Flatten")
def flatten(ctx: OnnxContext, node) -> None:
    s = ctx.shape(node.input[0])
    axis = int(attrs(node).get("axis", 1))
    axis = axis + len(s) if axis < 0 else axis
    _reshape(ctx, node, [int(np.prod(s[:axis])), int(np.prod(s[axis:]))])


def _axes(ctx: OnnxContext, node, rank: int) -> list[int] | None:
    a = attrs(node)
    if "axes" in a:
        axes = list(a["axes"])
    elif len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in np.atleast_1d(ctx.require_const(node, 1, "axes"))]
    else:
        return None
    return [ax + rank if ax < 0 else ax for ax in axes]


@onnx_op("Squeeze")
def squeeze(ctx: OnnxContext, node) -> None:
    s = ctx.shape(node.input[0])
    axes = _axes(ctx, node, len(s))
    if axes is None:
        axes = [i for i, d in enumerate(s) if d == 1]
    _reshape(ctx, node, [d for i, d in enumerate(s) if i not in axes])


@onnx_op("Unsqueeze")
def unsqueeze(ctx: OnnxContext, node) -> None:
    s = list(ctx.shape(node.input[0]))
    axes = _axes(ctx, node, len(s) + len(attrs(node).get("axes", [])) if ctx.opset < 13 else 0)
    rank = len(s) + len(axes)
    axes = sorted(ax + rank if ax < 0 else ax for ax in axes)
    for ax in axes:
        s.insert(ax, 1)
    _reshape(ctx, node, s)


@onnx_op("Transpose")
def transpose(ctx: OnnxContext, node) -> None:
    rank = ctx.rank(node.input[0])
    perm = list(attrs(node).get("perm", list(range(rank))[::-1]))
    ctx.emit("Transpose", [ctx.tensor(node.input[0])], [node.output[0]], {"perm": perm}, name=node_name(node))


@onnx_op("Concat")
def concat(ctx: OnnxContext, node) -> None:
    ins = [i for i in node.input if i and (not ctx.is_const(i) or ctx.const(i).size)]
    rank = ctx.rank(ins[0])
    axis = int(attrs(node).get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if len(ins) == 1:
        _reshape(ctx, type("N", (), {"input": [ins[0]], "output": node.output, "name": node.name})(),
                 ctx.shape(ins[0]))
        return
    ctx.emit("Concat", [ctx.tensor(i) for i in ins], [node.output[0]], {"axis": axis}, name=node_name(node))


@onnx_op("Split")
def split(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    s = ctx.shape(node.input[0])
    axis = int(a.get("axis", 0))
    axis = axis + len(s) if axis < 0 else axis
    outs = [o for o in node.output]
    if "split" in a:
        sizes = list(a["split"])
    elif len(node.input) > 1 and node.input[1]:
        sizes = [int(v) for v in ctx.require_const(node, 1, "split")]
    else:
        n = int(a.get("num_outputs", len(outs)))
        chunk = -(-s[axis] // n)
        sizes = [min(chunk, s[axis] - i * chunk) for i in range(n)]
    starts = list(np.cumsum(sizes)[:-1])
    names = [o if o else ctx.graph.unique_name(f"{node_name(node)}.unused{i}") for i, o in enumerate(outs)]
    ctx.emit("Split", [ctx.tensor(node.input[0])], names, {"axis": axis, "split_index": starts},
             name=node_name(node))


_PAD_MODES = {"constant": 0, "reflect": 2, "edge": 3}


@onnx_op("Pad")
def pad(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    rank = ctx.rank(node.input[0])
    mode = a.get("mode", "constant")
    if mode not in _PAD_MODES:
        raise node_error(node, f"mode '{mode}' is not supported")
    if ctx.opset < 11:
        pads, value = list(a.get("pads", a.get("paddings", []))), float(a.get("value", 0.0))
    else:
        pads = [int(v) for v in ctx.require_const(node, 1, "pads")]
        value = (float(np.asarray(ctx.require_const(node, 2, "constant_value")).reshape(-1)[0])
                 if len(node.input) > 2 and node.input[2] else 0.0)
    axes = list(range(rank))
    if len(node.input) > 3 and node.input[3]:
        axes = [int(v) + rank if v < 0 else int(v) for v in ctx.require_const(node, 3, "axes")]
    n = len(axes)
    amount = [[0, 0] for _ in range(rank)]
    for k, ax in enumerate(axes):
        amount[ax] = [int(pads[k]), int(pads[k + n])]
    if any(v < 0 for row in amount for v in row):
        raise node_error(node, "negative pads (cropping) are not supported")
    ctx.emit("Pad", [ctx.tensor(node.input[0])], [node.output[0]],
             {"scheme": _PAD_MODES[mode], "pad_amount": amount, "pad_constant_value": value}, name=node_name(node))


@onnx_op("Slice")
def slice_(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    rank = len(shape)
    if ctx.opset < 10:
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in ctx.require_const(node, 1, "starts")]
        ends = [int(v) for v in ctx.require_const(node, 2, "ends")]
        axes = ([int(v) for v in ctx.require_const(node, 3, "axes")] if len(node.input) > 3 and node.input[3]
                else list(range(len(starts))))
        steps = ([int(v) for v in ctx.require_const(node, 4, "steps")] if len(node.input) > 4 and node.input[4]
                 else [1] * len(starts))
    ranges = [[0, d, 1] for d in shape]
    end_mask = 0
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        ax = ax + rank if ax < 0 else ax
        b, e, s = slice(st, en, sp).indices(shape[ax])
        if s < 0 and e < 0:
            end_mask |= 1 << ax
        ranges[ax] = [b, e, s]
    ctx.emit("StridedSlice", [ctx.tensor(node.input[0])], [node.output[0]],
             {"ranges": ranges, "end_mask": end_mask}, name=node_name(node))


@onnx_op("Tile")
def tile(ctx: OnnxContext, node) -> None:
    reps = [int(v) for v in ctx.require_const(node, 1, "repeats")]
    ctx.emit("Tile", [ctx.tensor(node.input[0])], [node.output[0]], {"multiples": reps}, name=node_name(node))


@onnx_op("Gather")
def gather(ctx: OnnxContext, node) -> None:
    axis = int(attrs(node).get("axis", 0))
    ctx.emit("Gather", [ctx.tensor(node.input[0]), ctx.tensor(node.input[1])], [node.output[0]],
             {"axis": axis}, name=node_name(node))


@onnx_op("CenterCropPad")
def center_crop_pad(ctx: OnnxContext, node) -> None:
    """Centered crop (StridedSlice) and/or zero pad (Pad) of the given axes to a constant target shape."""
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    target = [int(v) for v in ctx.require_const(node, 1, "shape")]
    axes = [a + rank if a < 0 else a for a in attrs(node).get("axes", list(range(rank)))]
    if len(axes) != len(target):
        raise node_error(node, f"shape has {len(target)} values for "
                               f"{len(axes)} axes")
    ranges = [[0, d, 1] for d in shape]
    pads = [[0, 0] for _ in shape]
    for ax, want in zip(axes, target):
        have = shape[ax]
        if want < have:
            start = (have - want) // 2
            ranges[ax] = [start, start + want, 1]
        elif want > have:
            before = (want - have) // 2
            pads[ax] = [before, want - have - before]
    x = ctx.tensor(node.input[0])
    need_pad = any(p for row in pads for p in row)
    need_crop = any(r != [0, d, 1] for r, d in zip(ranges, shape))
    if need_crop:
        out = node.output[0] if not need_pad else ctx.graph.unique_name(f"{node.output[0]}.crop")
        x = ctx.emit("StridedSlice", [x], [out], {"ranges": ranges}, name=out)[0]
    if need_pad:
        ctx.emit("Pad", [x], [node.output[0]], {"scheme": 0, "pad_amount": pads, "pad_constant_value": 0.0},
                 name=node_name(node))
    if not need_pad and not need_crop:
        ctx.emit("Reshape", [x], [node.output[0]], {"shape": shape}, name=node_name(node))


@onnx_op("Identity", "Dropout")
def identity(ctx: OnnxContext, node) -> None:
    """Identity, and Dropout at inference (or in training mode with a constant ratio of 0): no op."""
    if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]:
        training = not ctx.is_const(node.input[2]) or bool(np.asarray(ctx.const(node.input[2])).reshape(-1)[0])
        ratio = (ctx.const(node.input[1]) if len(node.input) > 1 and node.input[1] and ctx.is_const(node.input[1])
                 else None if len(node.input) > 1 and node.input[1] else 0.5)
        if training and (ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0):
            raise node_error(node, "training mode drops random elements; only "
                                   "inference graphs (training_mode False, or ratio 0) can be converted")
    ctx.alias(node.output[0], node.input[0])
    if len(node.output) > 1 and node.output[1]:
        ctx.consts[node.output[1]] = np.ones(ctx.shape(node.input[0]), dtype=np.bool_)


# ---- Cast ------------------------------------------------------------------------------
@onnx_op("Cast", "CastLike")
def cast(ctx: OnnxContext, node) -> None:
    """QNN Cast; the target is the output dtype (int64 -> int32, float64 -> float32 on QNN targets)."""
    if node.op_type == "Cast":
        to = int(attrs(node)["to"])
        target = onnx_np_dtype(to)
        if target is None:
            raise node_error(node, f"target type "
                                   f"{onnx.TensorProto.DataType.Name(to)} has no QNN equivalent")
    else:
        like = node.input[1]
        target = np.dtype(ctx.const(like).dtype) if ctx.is_const(like) else tensor_dtype(ctx, like)
        if target not in DLC_SOURCE_TYPES:
            raise node_error(node, f"target type {target} has no QNN equivalent")
    target = qd.narrow(target)
    ctx.emit("Cast", [ctx.tensor(node.input[0])], [node.output[0]], {"to": qd.to_qnn(target)}, name=node_name(node))


@onnx_op("Expand")
def expand(ctx: OnnxContext, node) -> None:
    """numpy broadcast to ``shape``: Reshape to the output rank, then Tile the size-1 dims."""
    target = [int(d) for d in np.atleast_1d(ctx.require_const(node, 1, "shape"))]
    src = list(ctx.shape(node.input[0]))
    try:
        out_shape = list(np.broadcast_shapes(tuple(src), tuple(target)))
    except ValueError:
        raise node_error(node, f"shape {target} does not broadcast with the "
                               f"input shape {src}") from None
    aligned = [1] * (len(out_shape) - len(src)) + src
    mult = [o // a if a != o else 1 for a, o in zip(aligned, out_shape)]
    x = ctx.tensor(node.input[0])
    out = node.output[0]
    if all(m == 1 for m in mult):
        if aligned == src:
            ctx.alias(out, node.input[0])
        else:
            ctx.emit("Reshape", [x], [out], {"shape": aligned}, name=node_name(node))
        return
    if aligned != src:
        x = ctx.emit("Reshape", [x], [tmp_name(ctx, node, "rank")], {"shape": aligned},
                     name=f"{node_name(node)}.rank")[0]
    ctx.emit("Tile", [x], [out], {"multiples": mult}, name=node_name(node))


# ---- static-index selections --------------------------------------------------------------------
@onnx_op("Compress")
def compress(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    cond = np.asarray(ctx.require_const(node, 1, "condition")).astype(bool).reshape(-1)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    a = attrs(node)
    if "axis" in a:
        axis = norm_axis(node, int(a["axis"]), len(shape))
    else:
        x = b.reshape(x, [int(np.prod(shape))], "flat")
        shape, axis = [int(np.prod(shape))], 0
    n = shape[axis]
    if cond[n:].any():
        raise node_error(node, f"condition selects index {int(np.nonzero(cond)[0][-1])} beyond the axis size {n}")
    keep = np.nonzero(cond[:n])[0]
    if keep.size == 0:
        raise node_error(node, "the condition selects nothing (empty outputs are not supported)")
    if keep.size == n:
        b.finish(x)
        return
    b.op("Gather", [x, b.const("indices", keep.astype(np.int32))], {"axis": axis}, out=node.output[0])


@onnx_op("ReverseSequence")
def reverse_sequence(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    if len(shape) < 2:
        raise node_error(node, "the input must have rank >= 2")
    t_ax, b_ax = int(a.get("time_axis", 0)), int(a.get("batch_axis", 1))
    if {t_ax, b_ax} != {0, 1}:
        raise node_error(node, f"time_axis {t_ax} / batch_axis {b_ax} must be 0 and 1")
    lens = np.asarray(ctx.require_const(node, 1, "sequence_lens")).astype(np.int64).reshape(-1)
    T, B = shape[t_ax], shape[b_ax]
    if lens.size != B or (lens < 0).any() or (lens > T).any():
        raise node_error(node, f"sequence_lens {lens.tolist()} do not fit batch {B} / time {T}")
    t = np.arange(T)[:, None]
    src_t = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)          # [T, B]
    bb = np.arange(B)[None, :]
    if t_ax == 0:   # flat position t * B + b
        idx = (src_t * B + bb).reshape(-1)
    else:           # flat position b * T + t
        idx = (bb * T + src_t).T.reshape(-1)
    if (idx == np.arange(idx.size)).all():
        b.finish(x)
        return
    flat = b.reshape(x, [T * B] + shape[2:], "flat")
    g = b.op("Gather", [flat, b.const("indices", idx.astype(np.int32))], {"axis": 0}, "gather")
    b.reshape(g, shape, out=node.output[0])

"""ONNX shape and data-movement ops -> QNN Reshape/Transpose/Concat/Split/Pad/StridedSlice/..."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, attrs
from ..registry import onnx_op


def _name(node) -> str:
    return node.name or node.output[0]


def _reshape(ctx: OnnxContext, node, shape) -> None:
    ctx.emit("Reshape", [ctx.tensor(node.input[0])], [node.output[0]], {"shape": [int(d) for d in shape]},
             name=_name(node))


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
    ctx.emit("Transpose", [ctx.tensor(node.input[0])], [node.output[0]], {"perm": perm}, name=_name(node))


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
    ctx.emit("Concat", [ctx.tensor(i) for i in ins], [node.output[0]], {"axis": axis}, name=_name(node))


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
    names = [o if o else ctx.graph.unique_name(f"{_name(node)}.unused{i}") for i, o in enumerate(outs)]
    ctx.emit("Split", [ctx.tensor(node.input[0])], names, {"axis": axis, "split_index": starts},
             name=_name(node))


_PAD_MODES = {"constant": 0, "reflect": 2, "edge": 3}


@onnx_op("Pad")
def pad(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    rank = ctx.rank(node.input[0])
    mode = a.get("mode", "constant")
    if mode not in _PAD_MODES:
        raise ConversionError(f"Pad node '{_name(node)}': mode '{mode}' is not supported")
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
        raise ConversionError(f"Pad node '{_name(node)}': negative pads (cropping) are not supported")
    ctx.emit("Pad", [ctx.tensor(node.input[0])], [node.output[0]],
             {"scheme": _PAD_MODES[mode], "pad_amount": amount, "pad_constant_value": value}, name=_name(node))


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
             {"ranges": ranges, "end_mask": end_mask}, name=_name(node))


@onnx_op("Tile")
def tile(ctx: OnnxContext, node) -> None:
    reps = [int(v) for v in ctx.require_const(node, 1, "repeats")]
    ctx.emit("Tile", [ctx.tensor(node.input[0])], [node.output[0]], {"multiples": reps}, name=_name(node))


@onnx_op("Gather")
def gather(ctx: OnnxContext, node) -> None:
    axis = int(attrs(node).get("axis", 0))
    ctx.emit("Gather", [ctx.tensor(node.input[0]), ctx.tensor(node.input[1])], [node.output[0]],
             {"axis": axis}, name=_name(node))


@onnx_op("CenterCropPad")
def center_crop_pad(ctx: OnnxContext, node) -> None:
    """Centered crop (StridedSlice) and/or zero pad (Pad) of the given axes to a constant target shape."""
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    target = [int(v) for v in ctx.require_const(node, 1, "shape")]
    axes = [a + rank if a < 0 else a for a in attrs(node).get("axes", list(range(rank)))]
    if len(axes) != len(target):
        raise ConversionError(f"CenterCropPad node '{_name(node)}': shape has {len(target)} values for "
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
                 name=_name(node))
    if not need_pad and not need_crop:
        ctx.emit("Reshape", [x], [node.output[0]], {"shape": shape}, name=_name(node))

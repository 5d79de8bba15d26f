"""Data movement -> QNN Reshape / Concat / Split / StridedSlice / Pad / Transpose / Tile / Gather / Cast
(``snpe_tools/ops/shape.py``): the reshape family, concat/split, slicing, REVERSE_V2, padding, DILATE,
transpose, tile, pack/unpack, gather, CAST, and SHAPE (always static here, so it folds to a constant)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import TfliteContext, ints
from ..model import TflOp
from ..registry import tflite_op


def _out_shape(ctx: TfliteContext, op: TflOp, k: int = 0) -> list[int]:
    return list(ctx.t(op.outputs[k]).shape)


def _resolve_shape(ctx: TfliteContext, op: TflOp, want: list[int], in_shape: tuple[int, ...]) -> list[int]:
    """Fill in one -1 of a RESHAPE target from the element count (TF also allows 0-sized dims)."""
    want = list(want)
    total = int(np.prod(in_shape))
    if want.count(-1) > 1:
        raise ConversionError(f"RESHAPE op #{op.index} ({ctx.out_label(op)}): the target shape {want} has more "
                              "than one -1")
    if -1 in want:
        known = int(np.prod([d for d in want if d != -1]))
        want[want.index(-1)] = total // known if known else 0
    if int(np.prod(want)) != total:
        raise ConversionError(f"RESHAPE op #{op.index} ({ctx.out_label(op)}): cannot reshape {list(in_shape)} "
                              f"to {want}")
    return want


def _reshape_target(ctx: TfliteContext, op: TflOp, in_shape: tuple[int, ...]) -> list[int]:
    """Output shape from the op's own arguments, not the flatbuffer's output shape.

    A model with a free (batch) dim stores 1 in the output shapes; the converter resolves the
    free dims from ``-d``, so the target must be recomputed from the actual input shape.
    """
    rank = len(in_shape)
    if op.name == "SQUEEZE":
        dims = {int(d) % rank for d in ints(op.options.get("squeeze_dims", []))}
        dims = dims or {i for i, d in enumerate(in_shape) if d == 1}
        bad = [i for i in dims if in_shape[i] != 1]
        if bad:
            raise ConversionError(f"SQUEEZE op #{op.index} ({ctx.out_label(op)}): dims {bad} of input "
                                  f"{list(in_shape)} are not 1")
        return [d for i, d in enumerate(in_shape) if i not in dims]
    if op.name == "EXPAND_DIMS":
        axis = ints(ctx.require_const(op, 1, "the axis"))[0]
        axis = axis + rank + 1 if axis < 0 else axis
        return list(in_shape[:axis]) + [1] + list(in_shape[axis:])
    if len(op.inputs) > 1 and op.inputs[1] >= 0:
        want = ints(ctx.require_const(op, 1, "the target shape"))
    elif "new_shape" in op.options and np.asarray(op.options["new_shape"]).size:
        want = ints(op.options["new_shape"])
    else:
        want = _out_shape(ctx, op)
    return _resolve_shape(ctx, op, want, in_shape)


@tflite_op("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    shape = _reshape_target(ctx, op, ctx.graph.tensors[x].shape)
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


def _dense_slice_spec(shape: tuple[int, ...], begin: list[int], end: list[int], strides: list[int],
                      o: dict) -> tuple[list[list[int]], int, int, int, list[int]]:
    """TF's sparse slice spec (ellipsis, new axes) -> one (begin, end, stride) per input dim.

    Returns the ranges, begin / end / shrink masks over input dims and the output shape with the
    new axes inserted.  The ellipsis covers the input dims no other entry consumes (an implicit one
    sits at the end); a new axis consumes no input dim.  A shrunk axis with its begin masked reads
    index 0 (dim-1 when stepping backwards), as TFLite's kernel does, so it is resolved here.
    """
    ell, new = int(o.get("ellipsis_mask", 0)), int(o.get("new_axis_mask", 0))
    bm_in, em_in, sh_in = int(o.get("begin_mask", 0)), int(o.get("end_mask", 0)), int(o.get("shrink_axis_mask", 0))
    n = len(begin)
    if not ell:
        ell_at, ell = n, 1 << n
        begin, end, strides = begin + [0], end + [0], strides + [1]
    else:
        ell_at = (ell & -ell).bit_length() - 1
    consumed = sum(1 for i in range(len(begin)) if i != ell_at and not (new >> i & 1))
    ranges: list[list[int]] = []
    bm = em = sh = 0
    index: list[Any] = []             # numpy view of the slicing, to derive the output shape
    for i in range(len(begin)):
        if i == ell_at:
            for _ in range(len(shape) - consumed):
                ranges.append([0, shape[len(ranges)], 1])
                index.append(slice(None))
            continue
        if new >> i & 1:
            index.append(None)
            continue
        d, k = shape[len(ranges)], len(ranges)
        b, e, st = begin[i], end[i], strides[i]
        if sh_in >> i & 1:
            b = (0 if st > 0 else d - 1) if bm_in >> i & 1 else b
            b = b + d if b < 0 else b
            ranges.append([b, b + 1, 1])
            sh |= 1 << k
            index.append(b)
            continue
        ranges.append([b, e, st])
        bm |= (bm_in >> i & 1) << k
        em |= (em_in >> i & 1) << k
        e_np = None if em_in >> i & 1 or (st < 0 and e < -d) else e
        index.append(slice(None if bm_in >> i & 1 else b, e_np, st))
    out_shape = list(np.empty(shape, np.bool_)[tuple(index)].shape)
    return ranges, bm, em, sh, out_shape


@tflite_op("STRIDED_SLICE")
def strided_slice(ctx: TfliteContext, op: TflOp) -> None:
    """QNN StridedSlice with dense ranges; new axes (and a slice down to a scalar) add a Reshape."""
    o = op.options
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    begin = ints(ctx.require_const(op, 1, "begin"))
    end = ints(ctx.require_const(op, 2, "end"))
    strides = ints(ctx.require_const(op, 3, "strides")) if len(op.inputs) > 3 else [1] * len(begin)
    if o.get("offset", False):
        end = [b + e for b, e in zip(begin, end)]
    if 0 in strides:
        raise ConversionError(f"STRIDED_SLICE op #{op.index} ({ctx.out_label(op)}): a stride is 0")
    ranges, bm, em, sh, out_shape = _dense_slice_spec(tuple(shape), begin, end, strides, o)
    params = {"ranges": ranges, "begin_mask": bm, "end_mask": em, "shrink_axes": sh}
    if not int(o.get("new_axis_mask", 0)) and out_shape:
        ctx.emit_out(op, "StridedSlice", [x], params, act=0)
        return
    # new axes, or every dim shrunk: slice without shrinking, then one Reshape to the final shape
    params["shrink_axes"] = 0
    sl = ctx.emit("StridedSlice", [x], None, params, name=f"{ctx.t(op.outputs[0]).name}.slice")[0]
    ctx.like(sl, op.outputs[0])
    ctx.emit_out(op, "Reshape", [sl], {"shape": out_shape}, act=0)


@tflite_op("SLICE")
def slice_(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    begin = [int(v) for v in ctx.require_const(op, 1, "begin")]
    size = [int(v) for v in ctx.require_const(op, 2, "size")]
    ranges = [[b, shape[i] if s == -1 else b + s, 1] for i, (b, s) in enumerate(zip(begin, size))]
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges}, act=0)


@tflite_op("REVERSE_V2")
def reverse_v2(ctx: TfliteContext, op: TflOp) -> None:
    """StridedSlice with stride -1 (begin and end masked) on every reversed axis."""
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    axes = {a % len(shape) for a in ints(ctx.require_const(op, 1, "the axes"))}
    ranges = [[0, 0, -1] if i in axes else [0, d, 1] for i, d in enumerate(shape)]
    mask = sum(1 << i for i in axes)
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges, "begin_mask": mask, "end_mask": mask}, act=0)


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
            raise ConversionError(f"PADV2 op #{op.index} ({ctx.out_label(op)}): the pad value must be a constant "
                                  "tensor; computing it at run time is not supported")
        params["pad_constant_value"] = float(np.asarray(value).reshape(-1)[0])
    ctx.emit_out(op, "Pad", [x], params, act=0)


def _interleave(ctx: TfliteContext, op: TflOp, x: str, axis: int, s: int, value: float, tag: str) -> str:
    """x with s-1 copies of ``value`` between neighbours along ``axis`` (length (n-1)*s + 1).

    Reshape to put a unit axis after ``axis``, Pad it to s with the value, merge, drop the s-1 values
    after the last element.
    """
    if s == 1:
        return x
    like = op.inputs[0]
    shape = list(ctx.graph.tensors[x].shape)
    split = shape[:axis + 1] + [1] + shape[axis + 1:]
    y = ctx.step(op, "Reshape", [x], {"shape": split}, f"{tag}.split", like)
    pad = [[0, 0]] * len(split)
    pad[axis + 1] = [0, s - 1]
    y = ctx.step(op, "Pad", [y], {"pad_amount": pad, "scheme": 0, "pad_constant_value": value}, f"{tag}.pad", like)
    merged = shape[:axis] + [shape[axis] * s] + shape[axis + 1:]
    y = ctx.step(op, "Reshape", [y], {"shape": merged}, f"{tag}.merged", like)
    ranges = [[0, d - (s - 1 if i == axis else 0), 1] for i, d in enumerate(merged)]
    return ctx.step(op, "StridedSlice", [y], {"ranges": ranges}, tag, like)


@tflite_op("DILATE")
def dilate(ctx: TfliteContext, op: TflOp) -> None:
    """Spread the elements s apart along every axis, the gaps filled with padding_value."""
    x = ctx.tensor(op.inputs[0])
    rates = ints(ctx.require_const(op, 1, "the dilations"))
    value = ctx.const_scalar(op, 2, "the padding value")
    if len(rates) != ctx.graph.tensors[x].rank or min(rates, default=1) < 1:
        raise ctx.fail(op, f"dilations {rates} do not fit the input rank; the model is malformed, re-export it")
    for axis, s in enumerate(rates):
        x = _interleave(ctx, op, x, axis, s, value, f"dilated{axis}")
    ctx.emit_out(op, "Reshape", [x], {"shape": list(ctx.graph.tensors[x].shape)}, act=0)


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
    """Tile after aligning ranks (numpy broadcasting: leading 1s), target from the shape input."""
    x = ctx.tensor(op.inputs[0])
    shape = ints(ctx.require_const(op, 1, "the target shape"))
    src = list(ctx.graph.tensors[x].shape)
    if len(src) > len(shape) or any(s not in (1, d) for s, d in zip(src[::-1], shape[::-1])):
        raise ConversionError(f"BROADCAST_TO op #{op.index} ({ctx.out_label(op)}): {src} does not broadcast "
                              f"to {shape}")
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
    """Gather on ``axis``; with ``batch_dims`` it is a GatherNd of one index column (see _batched_gather).

    LiteRT rejects negative indices at run time; QNN Gather counts them from the end.
    """
    x = ctx.tensor(op.inputs[0])
    idx = ctx.tensor(op.inputs[1])
    rank = ctx.graph.tensors[x].rank
    axis = int(op.options.get("axis", 0)) % rank
    b = int(op.options.get("batch_dims", 0))
    b = b + ctx.graph.tensors[idx].rank if b < 0 else b
    if b:
        _batched_gather(ctx, op, x, idx, axis, b)
        return
    ctx.emit_out(op, "Gather", [x, idx], {"axis": axis}, act=0)


def _batched_gather(ctx: TfliteContext, op: TflOp, x: str, idx: str, axis: int, b: int) -> None:
    """out[B, p_b..p_a-1, I, rest] = x[B, p_b..p_a-1, idx[B, I], rest] for b batch dims.

    The gathered axis is moved right after the batch dims, GatherNd(batch_dims=b) reads one index per
    position (indices reshaped to [..., 1]), and the dims between the batch and the axis are moved
    back in front of the index dims.
    """
    base = ctx.t(op.outputs[0]).name
    xs, ishape = list(ctx.graph.tensors[x].shape), list(ctx.graph.tensors[idx].shape)
    if axis < b or xs[:b] != ishape[:b]:
        raise ConversionError(f"GATHER op #{op.index} ({ctx.out_label(op)}): batch_dims {b} needs axis >= {b} and "
                              f"matching batch dims (params {xs}, indices {ishape})")
    if axis > b:
        perm = list(range(b)) + [axis] + list(range(b, axis)) + list(range(axis + 1, len(xs)))
        x = ctx.emit("Transpose", [x], None, {"perm": perm}, name=f"{base}.axis_first")[0]
        ctx.like(x, op.inputs[0])
    col = ctx.emit("Reshape", [idx], None, {"shape": ishape + [1]}, name=f"{base}.index_column")[0]
    ctx.like(col, op.inputs[1])
    if axis == b:
        ctx.emit_out(op, "GatherNd", [x, col], {"batch_dims": b}, act=0)
        return
    g = ctx.emit("GatherNd", [x, col], None, {"batch_dims": b}, name=f"{base}.gathered")[0]
    ctx.like(g, op.outputs[0])
    n_mid, n_between = len(ishape) - b, axis - b          # I dims, then p_b..p_a-1, then the rest
    perm = list(range(b)) + list(range(b + n_mid, b + n_mid + n_between)) + list(range(b, b + n_mid)) + \
        list(range(b + n_mid + n_between, ctx.graph.tensors[g].rank))
    ctx.emit_out(op, "Transpose", [g], {"perm": perm}, act=0)


@tflite_op("CAST")
def cast(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    target = qd.narrow(ctx.t(op.outputs[0]).dtype)
    if target == np.float16:            # fp16 activations are float32 in the IR (see DEQUANTIZE)
        target = np.dtype(np.float32)
    ctx.emit_out(op, "Cast", [x], {"to": qd.to_qnn(target)}, act=0)

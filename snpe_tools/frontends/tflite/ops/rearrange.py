"""Pure data rearrangements: SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND (QNN SpaceToBatch / BatchToSpace for 4-D
NHWC tensors with two block dims; other ranks built from Pad / Reshape / Transpose / StridedSlice), and
REVERSE_V2, REVERSE_SEQUENCE, MATRIX_DIAG, MATRIX_SET_DIAG, which have no QNN op of their own.  All are exact
index permutations (or selections), so quantized tensors keep their encoding and no value is recomputed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ....errors import ConversionError
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def _ints(v) -> list[int]:
    return [int(d) for d in np.asarray(v).reshape(-1)]


def _step(ctx: TfliteContext, op: TflOp, type_: str, inputs: list[str], params: dict[str, Any] | None,
          tag: str, like: int) -> str:
    """An intermediate op named after the TFLite output, typed like TFLite tensor ``like``."""
    y = ctx.emit(type_, inputs, None, params, name=f"{ctx.t(op.outputs[0]).name}.{tag}")[0]
    ctx.like(y, like)
    return y


def _fail(ctx: TfliteContext, op: TflOp, what: str) -> ConversionError:
    return ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): {what}")


@tflite_op("SPACE_TO_BATCH_ND")
def space_to_batch_nd(ctx: TfliteContext, op: TflOp) -> None:
    """Pad the M spatial dims, split each into (dim/b, b), move the block axes in front of the batch.

    TF's batch order is block-major: output batch index = (bh * bw_count + bw) * N + n, hence the
    block axes go before N in the transpose.  Padding uses the zero point, i.e. real 0.
    """
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    block = _ints(ctx.require_const(op, 1, "block_shape"))
    pads = np.asarray(ctx.require_const(op, 2, "the paddings"), np.int64).reshape(-1, 2).tolist()
    m = len(block)
    if len(shape) == 4 and m == 2:
        ctx.emit_out(op, "SpaceToBatch", [x], {"block_shape": block, "pad_amount": pads}, act=0)
        return
    padded = [shape[0]] + [shape[1 + i] + pads[i][0] + pads[i][1] for i in range(m)] + shape[1 + m:]
    if any(padded[1 + i] % b for i, b in enumerate(block)):
        raise _fail(ctx, op, f"padded spatial dims {padded[1:1 + m]} are not multiples of the block {block}")
    if any(p for pair in pads for p in pair):
        full = [[0, 0]] + pads + [[0, 0]] * (len(shape) - 1 - m)
        x = _step(ctx, op, "Pad", [x], {"pad_amount": full, "scheme": 0}, "pad", op.inputs[0])
    split = [shape[0]]
    for i, b in enumerate(block):
        split += [padded[1 + i] // b, b]
    rest = shape[1 + m:]
    x = _step(ctx, op, "Reshape", [x], {"shape": split + rest}, "split", op.inputs[0])
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + \
        list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    x = _step(ctx, op, "Transpose", [x], {"perm": perm}, "blocks_first", op.inputs[0])
    out = [shape[0] * int(np.prod(block))] + [padded[1 + i] // b for i, b in enumerate(block)] + rest
    ctx.emit_out(op, "Reshape", [x], {"shape": out}, act=0)


@tflite_op("BATCH_TO_SPACE_ND")
def batch_to_space_nd(ctx: TfliteContext, op: TflOp) -> None:
    """Inverse of SPACE_TO_BATCH_ND: split the batch into (blocks..., N), interleave, then crop."""
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    block = _ints(ctx.require_const(op, 1, "block_shape"))
    crops = np.asarray(ctx.require_const(op, 2, "the crops"), np.int64).reshape(-1, 2).tolist()
    m, nb = len(block), int(np.prod(block))
    if len(shape) == 4 and m == 2:
        ctx.emit_out(op, "BatchToSpace", [x], {"block_shape": block, "crops": crops}, act=0)
        return
    if shape[0] % nb:
        raise _fail(ctx, op, f"batch {shape[0]} is not a multiple of the block size {nb}")
    n, spatial, rest = shape[0] // nb, shape[1:1 + m], shape[1 + m:]
    x = _step(ctx, op, "Reshape", [x], {"shape": block + [n] + spatial + rest}, "split", op.inputs[0])
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
    x = _step(ctx, op, "Transpose", [x], {"perm": perm}, "interleave", op.inputs[0])
    full = [n] + [s * b for s, b in zip(spatial, block)] + rest
    if not any(c for pair in crops for c in pair):
        ctx.emit_out(op, "Reshape", [x], {"shape": full}, act=0)
        return
    x = _step(ctx, op, "Reshape", [x], {"shape": full}, "merged", op.inputs[0])
    ranges = [[0, n, 1]] + [[crops[i][0], full[1 + i] - crops[i][1], 1] for i in range(m)] + \
        [[0, d, 1] for d in rest]
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges}, act=0)


@tflite_op("REVERSE_V2")
def reverse_v2(ctx: TfliteContext, op: TflOp) -> None:
    """StridedSlice with stride -1 (begin and end masked) on every reversed axis."""
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    axes = {a % len(shape) for a in _ints(ctx.require_const(op, 1, "the axes"))}
    ranges = [[0, 0, -1] if i in axes else [0, d, 1] for i, d in enumerate(shape)]
    mask = sum(1 << i for i in axes)
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges, "begin_mask": mask, "end_mask": mask}, act=0)


@tflite_op("REVERSE_SEQUENCE")
def reverse_sequence(ctx: TfliteContext, op: TflOp) -> None:
    """GatherElements along seq_dim with a constant index table: reversed below seq_lengths[b]."""
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    lengths = _ints(ctx.require_const(op, 1, "seq_lengths"))
    seq_ax = int(op.options.get("seq_dim", 0)) % len(shape)
    batch_ax = int(op.options.get("batch_dim", 0)) % len(shape)
    if len(lengths) != shape[batch_ax] or max(lengths, default=0) > shape[seq_ax] or min(lengths, default=0) < 0:
        raise _fail(ctx, op, f"seq_lengths {lengths} do not fit dims {shape} (batch {batch_ax}, seq {seq_ax})")
    t = np.arange(shape[seq_ax])
    table = np.stack([np.where(t < n, n - 1 - t, t) for n in lengths])          # [batch, seq]
    view = [1] * len(shape)
    view[batch_ax], view[seq_ax] = shape[batch_ax], shape[seq_ax]
    order = (0, 1) if batch_ax < seq_ax else (1, 0)
    idx = np.broadcast_to(np.transpose(table, order).reshape(view), shape).astype(np.int32)
    index = ctx.add_const(f"{ctx.t(op.outputs[0]).name}.indices", np.ascontiguousarray(idx))
    ctx.emit_out(op, "GatherElements", [x, index], {"axis": seq_ax}, act=0)


def _eye(rows: int, cols: int) -> np.ndarray:
    return np.eye(rows, cols, dtype=np.bool_)


@tflite_op("MATRIX_DIAG")
def matrix_diag(ctx: TfliteContext, op: TflOp) -> None:
    """out[..., i, j] = d[..., j] if i == j else 0: Select(eye, d as a row, 0), broadcast."""
    d = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[d].shape)
    n = shape[-1]
    base = ctx.t(op.outputs[0]).name
    row = _step(ctx, op, "Reshape", [d], {"shape": shape[:-1] + [1, n]}, "row", op.inputs[0])
    zero = ctx.add_const(f"{base}.zero", np.zeros(1, ctx.graph.tensors[d].dtype))
    enc = ctx.graph.tensors[d].encoding
    if enc is not None:                               # the quantized zero is the zero point
        ctx.graph.tensors[zero].data = np.full(1, -enc.offset, ctx.graph.tensors[d].dtype)
        ctx.graph.tensors[zero].encoding = enc
    mask = ctx.add_const(f"{base}.eye", _eye(n, n))
    ctx.emit_out(op, "ElementWiseSelect", [mask, row, zero], act=0)


@tflite_op("MATRIX_SET_DIAG")
def matrix_set_diag(ctx: TfliteContext, op: TflOp) -> None:
    """Select(eye[m, n], diagonal as a row (padded to n columns), x)."""
    x, d = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    shape = list(ctx.graph.tensors[x].shape)
    m, n = shape[-2:]
    dshape = list(ctx.graph.tensors[d].shape)
    k = dshape[-1]
    if k != min(m, n):
        raise _fail(ctx, op, f"diagonal length {k} != min{(m, n)}")
    if ctx.is_quantized(op.inputs[0]) != ctx.is_quantized(op.inputs[1]):
        raise _fail(ctx, op, "the matrix and the diagonal must both be float or both quantized")
    if k < n:
        pad = [[0, 0]] * (len(dshape) - 1) + [[0, n - k]]
        d = _step(ctx, op, "Pad", [d], {"pad_amount": pad, "scheme": 0}, "padded", op.inputs[1])
    row = _step(ctx, op, "Reshape", [d], {"shape": dshape[:-1] + [1, n]}, "row", op.inputs[1])
    if ctx.is_quantized(op.inputs[1]) and ctx.graph.tensors[row].encoding != ctx.graph.tensors[x].encoding:
        row = _step(ctx, op, "Convert", [row], None, "requantized", op.inputs[0])
    mask = ctx.add_const(f"{ctx.t(op.outputs[0]).name}.eye", _eye(m, n))
    ctx.emit_out(op, "ElementWiseSelect", [mask, row, x], act=0)


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
    y = _step(ctx, op, "Reshape", [x], {"shape": split}, f"{tag}.split", like)
    pad = [[0, 0]] * len(split)
    pad[axis + 1] = [0, s - 1]
    y = _step(ctx, op, "Pad", [y], {"pad_amount": pad, "scheme": 0, "pad_constant_value": value}, f"{tag}.pad", like)
    merged = shape[:axis] + [shape[axis] * s] + shape[axis + 1:]
    y = _step(ctx, op, "Reshape", [y], {"shape": merged}, f"{tag}.merged", like)
    ranges = [[0, d - (s - 1 if i == axis else 0), 1] for i, d in enumerate(merged)]
    return _step(ctx, op, "StridedSlice", [y], {"ranges": ranges}, tag, like)


def _pad_value(ctx: TfliteContext, op: TflOp, k: int) -> float:
    """Real value of the scalar padding input ``k`` (a quantized one read with its own parameters)."""
    ctx.require_const(op, k, "the padding value")
    return float(np.asarray(ctx.real_const(op.inputs[k])).reshape(-1)[0])


@tflite_op("DILATE")
def dilate(ctx: TfliteContext, op: TflOp) -> None:
    """Spread the elements s apart along every axis, the gaps filled with padding_value."""
    x = ctx.tensor(op.inputs[0])
    rates = _ints(ctx.require_const(op, 1, "the dilations"))
    value = _pad_value(ctx, op, 2)
    if len(rates) != ctx.graph.tensors[x].rank or min(rates, default=1) < 1:
        raise _fail(ctx, op, f"dilations {rates} do not fit the input rank; the model is malformed, re-export it")
    for axis, s in enumerate(rates):
        x = _interleave(ctx, op, x, axis, s, value, f"dilated{axis}")
    ctx.emit_out(op, "Reshape", [x], {"shape": list(ctx.graph.tensors[x].shape)}, act=0)

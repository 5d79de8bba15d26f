"""Sorting, one-hot, cumulative sums, scatters, gathers by index and lookups -> the IR ops of
``snpe_tools/ops/scatter.py`` (TopK, OneHot, CumulativeSum, ScatterNd, ScatterElements, GatherNd).

TOPK_V2 -> TopK, ONE_HOT -> OneHot, CUMSUM -> CumulativeSum, SCATTER_ND / SPARSE_TO_DENSE ->
ScatterNd on a constant background, GATHER_ND -> GatherNd, the SEGMENT_* reductions -> ScatterElements,
EMBEDDING_LOOKUP -> Gather, HASHTABLE_LOOKUP / EMBEDDING_LOOKUP_SPARSE / BUCKETIZE as exact
compositions (comparisons, gathers and scatter-adds).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ....ir.limits import check_fold_shape
from ....ops.scatter import REDUCTION_ADD, REDUCTION_MAX, REDUCTION_MUL, REDUCTION_NONE
from ..context import TfliteContext, encoding_of, ints
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("TOPK_V2")
def topk_v2(ctx: TfliteContext, op: TflOp) -> None:
    """Largest k along the last axis, sorted; ties keep the lower index first (as TFLite's TopContainer)."""
    x = ctx.tensor(op.inputs[0])
    k = ints(ctx.require_const(op, 1, "k"))[0]
    outs = [ctx.out_name(o) for o in op.outputs]
    ctx.emit("TopK", [x], outs, {"k": k, "largest": True}, name=outs[0])
    ctx.like(outs[0], op.outputs[0])
    ctx.like(outs[1], op.outputs[1])


@tflite_op("ONE_HOT")
def one_hot(ctx: TfliteContext, op: TflOp) -> None:
    """Indices outside [0, depth) give an all-off row in both TFLite and QNN OneHot."""
    idx = ctx.tensor(op.inputs[0])
    depth = ints(ctx.require_const(op, 1, "depth"))[0]
    on, off = ctx.const_scalar(op, 2, "on_value"), ctx.const_scalar(op, 3, "off_value")
    out_t = ctx.t(op.outputs[0])
    dtype = qd.narrow(out_t.dtype)
    y = ctx.emit_out(op, "OneHot", [idx], {"depth": depth, "axis": int(op.options.get("axis", -1)), "on_value": on,
                                           "off_value": off, "out_dtype": qd.to_qnn(dtype)}, act=0)
    ctx.graph.tensors[y].dtype = dtype


@tflite_op("CUMSUM")
def cumsum(ctx: TfliteContext, op: TflOp) -> None:
    x = ctx.tensor(op.inputs[0])
    rank = ctx.graph.tensors[x].rank
    axis = ints(ctx.require_const(op, 1, "the axis"))[0] % rank
    ctx.emit_out(op, "CumulativeSum", [x], {"axis": axis, "exclusive": bool(op.options.get("exclusive", False)),
                                           "reverse": bool(op.options.get("reverse", False))}, act=0)


def _background(ctx: TfliteContext, op: TflOp, shape: list[int], value: float, like: int) -> str:
    """A constant filled with real ``value`` in the dtype (and encoding) of TFLite tensor ``like``."""
    t = ctx.t(like)
    base = f"{ctx.t(op.outputs[0]).name}.background"
    if ctx.is_quantized(like):
        q = t.quant
        stored = np.round(value / float(q.scale[0])) + int(q.zero_point[0])
        name = ctx.graph.add_const(base, np.full(shape, stored, t.dtype))
        ctx.graph.tensors[name].encoding = encoding_of(q, t.dtype)
        return name
    dtype = qd.narrow(t.dtype)
    return ctx.add_const(base, np.full(shape, value, dtype))


@tflite_op("SCATTER_ND")
def scatter_nd(ctx: TfliteContext, op: TflOp) -> None:
    """TFLite scatters into zeros and sums updates at repeated indices: ScatterNd(zeros, ADD)."""
    indices, updates = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    shape = ints(ctx.require_const(op, 2, "the output shape"))
    zeros = _background(ctx, op, shape, 0.0, op.inputs[1])
    ctx.emit_out(op, "ScatterNd", [zeros, indices, updates], {"reduction": REDUCTION_ADD}, act=0)


@tflite_op("SPARSE_TO_DENSE")
def sparse_to_dense(ctx: TfliteContext, op: TflOp) -> None:
    """ScatterNd of the values onto a constant filled with default_value (1-D / scalar indices widened)."""
    shape = ints(ctx.require_const(op, 1, "output_shape"))
    default = ctx.const_scalar(op, 3, "default_value")
    base = ctx.t(op.outputs[0]).name
    indices = ctx.tensor(op.inputs[0])
    ishape = list(ctx.graph.tensors[indices].shape)
    if len(ishape) < 2:                        # [N] (1-D output) or a scalar index -> [N, 1]
        n = int(np.prod(ishape)) if ishape else 1
        indices = ctx.emit("Reshape", [indices], None, {"shape": [n, 1] if len(shape) == 1 else [1, n]},
                           name=f"{base}.indices")[0]
    n = ctx.graph.tensors[indices].shape[0]
    values = ctx.tensor(op.inputs[2])
    if ctx.graph.tensors[values].shape != (n,):
        if int(np.prod(ctx.graph.tensors[values].shape)) != 1:
            raise ConversionError(f"SPARSE_TO_DENSE op #{op.index} ({ctx.out_label(op)}): values must be a scalar or "
                                  f"have one entry per index ({n})")
        values = ctx.emit("Reshape", [values], None, {"shape": [1]}, name=f"{base}.value")[0]
        ctx.like(values, op.inputs[2])
        values = ctx.emit("Tile", [values], None, {"multiples": [n]}, name=f"{base}.values")[0]
        ctx.like(values, op.inputs[2])
    background = _background(ctx, op, shape, default, op.inputs[2])
    ctx.emit_out(op, "ScatterNd", [background, indices, values], {"reduction": REDUCTION_NONE}, act=0)


@tflite_op("EMBEDDING_LOOKUP")
def embedding_lookup(ctx: TfliteContext, op: TflOp) -> None:
    """Rows of the table (input 1) at the ids (input 0): Gather on axis 0.

    A quantized table read into a float output (hybrid model) is dequantized at convert time.
    """
    ids = ctx.tensor(op.inputs[0])
    table_idx = op.inputs[1]
    if ctx.is_const(table_idx) and ctx.is_quantized(table_idx) and not ctx.is_quantized(op.outputs[0]):
        table = ctx.add_const(ctx.t(table_idx).name, ctx.real_const(table_idx))
    else:
        table = ctx.tensor(table_idx)
    ctx.emit_out(op, "Gather", [table, ids], {"axis": 0}, act=0)


@tflite_op("BUCKETIZE")
def bucketize(ctx: TfliteContext, op: TflOp) -> None:
    """Bucket = number of boundaries <= x: compare against all boundaries on a new last axis, count."""
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    bounds = np.asarray(op.options.get("boundaries", []), np.float64).reshape(-1)
    if bounds.size == 0:                       # a single bucket: a constant 0 of the input's shape
        check_fold_shape(shape, np.int32, f"{op.name} op #{op.index} ({ctx.out_label(op)})")
        ctx.consts[op.outputs[0]] = np.zeros(shape, np.int32)
        return
    base = ctx.t(op.outputs[0]).name
    col = ctx.emit("Reshape", [x], None, {"shape": shape + [1]}, name=f"{base}.column")[0]
    ctx.like(col, op.inputs[0])
    if ctx.is_quantized(op.inputs[0]):         # compare real values: dequantize once
        col = ctx.emit("Dequantize", [col], None, name=f"{base}.real")[0]
        ctx.graph.tensors[col].dtype = np.dtype(np.float32)
    dtype = ctx.graph.tensors[col].dtype
    b = ctx.add_const(f"{base}.boundaries", bounds.astype(np.float32 if dtype.kind == "f" else dtype))
    ge = ctx.emit("ElementWiseGreaterEqual", [col, b], None, name=f"{base}.above")[0]
    ones = ctx.emit("Cast", [ge], None, {"to": qd.to_qnn(np.int32)}, name=f"{base}.count")[0]
    ctx.emit_out(op, "ReduceSum", [ones], {"axes": [len(shape)], "keep_dims": False}, act=0)


# ---- segment reductions ----------------------------------------------------------------------------------------
_SEGMENT = {"SEGMENT_SUM": "sum", "UNSORTED_SEGMENT_SUM": "sum", "UNSORTED_SEGMENT_PROD": "prod",
            "UNSORTED_SEGMENT_MAX": "max", "UNSORTED_SEGMENT_MIN": "min"}


def _segment_count(ctx: TfliteContext, op: TflOp) -> int:
    """Number of output segments: num_segments, or (SEGMENT_SUM) max id + 1 / the model's static output dim."""
    if op.name != "SEGMENT_SUM":
        return ints(ctx.require_const(op, 2, "num_segments"))[0]
    if ctx.is_const(op.inputs[1]):
        return max(ints(ctx.const(op.inputs[1])), default=-1) + 1
    out = ctx.t(op.outputs[0]).signature
    if out and out[0] > 0:
        return int(out[0])
    raise ConversionError(f"SEGMENT_SUM op #{op.index} ({ctx.out_label(op)}): with run-time segment ids the number "
                          "of segments is unknown; make the ids constant")


def _segment_init(kind: str, dtype: np.dtype) -> float:
    """Value of an empty segment (TFLite: 0, 1, lowest, max), max/min taken on negated data for min."""
    lowest = np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min + (1 if kind == "min" else 0)
    return {"sum": 0, "prod": 1, "max": lowest, "min": lowest}[kind]


@tflite_op(*_SEGMENT)
def segment_reduce(ctx: TfliteContext, op: TflOp) -> None:
    """ScatterElements(init, ids, data, axis 0) on data flattened to [N, R]; min is -max(-x).

    Segment ids index the leading dims of the data (flattened to N rows).  Float / int32 only: the
    TFLite kernels do not take quantized data.
    """
    kind = _SEGMENT[op.name]
    base = ctx.t(op.outputs[0]).name
    x = ctx.tensor(op.inputs[0])
    if ctx.is_quantized(op.inputs[0]):
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): quantized data is not supported "
                              "(LiteRT has no integer kernel either); convert the float model")
    xshape = list(ctx.graph.tensors[x].shape)
    ids_shape = list(ctx.const(op.inputs[1]).shape if ctx.is_const(op.inputs[1])
                     else ctx.graph.tensors[ctx.tensor(op.inputs[1])].shape)
    if xshape[:len(ids_shape)] != ids_shape:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): segment ids {ids_shape} are not a "
                              f"prefix of the data shape {xshape}")
    if ctx.is_const(op.inputs[1]) and min(ints(ctx.const(op.inputs[1])), default=0) < 0:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): negative segment ids (dropped rows) "
                              "are not supported; filter those rows out before the op")
    n = int(np.prod(ids_shape))
    rest = xshape[len(ids_shape):]
    r = int(np.prod(rest))
    segments = _segment_count(ctx, op)
    dtype = ctx.graph.tensors[x].dtype
    rows = ctx.emit("Reshape", [x], None, {"shape": [n, r]}, name=f"{base}.rows")[0]
    if kind == "min":
        rows = ctx.emit("ElementWiseNeg", [rows], None, name=f"{base}.negated")[0]
    ids = _segment_ids(ctx, op, n, r, base)
    init = ctx.add_const(f"{base}.init", np.full([segments, r], _segment_init(kind, dtype), dtype))
    red = {"sum": REDUCTION_ADD, "prod": REDUCTION_MUL, "max": REDUCTION_MAX, "min": REDUCTION_MAX}[kind]
    y = ctx.emit("ScatterElements", [init, ids, rows], None, {"axis": 0, "reduction": red}, name=f"{base}.scatter")[0]
    if kind == "min":
        y = ctx.emit("ElementWiseNeg", [y], None, name=f"{base}.min")[0]
    ctx.emit_out(op, "Reshape", [y], {"shape": [segments] + rest}, act=0)


def _segment_ids(ctx: TfliteContext, op: TflOp, n: int, r: int, base: str) -> str:
    """The ids as an [N, R] index tensor (every element of a data row goes to the row's segment)."""
    if ctx.is_const(op.inputs[1]):
        ids = np.asarray(ctx.const(op.inputs[1])).reshape(n, 1).astype(np.int32)
        return ctx.add_const(f"{base}.ids", np.ascontiguousarray(np.broadcast_to(ids, (n, r))))
    col = ctx.emit("Reshape", [ctx.tensor(op.inputs[1])], None, {"shape": [n, 1]}, name=f"{base}.ids")[0]
    return ctx.emit("Tile", [col], None, {"multiples": [1, r]}, name=f"{base}.id_grid")[0] if r > 1 else col


@tflite_op("DYNAMIC_UPDATE_SLICE")
def dynamic_update_slice(ctx: TfliteContext, op: TflOp) -> None:
    """ScatterNd of the update at start + every update coordinate.

    TFLite (like XLA) clamps the start so that the update fits: start = min(max(start, 0), dim - size).
    A constant start is clamped now; a run-time one with Maximum / Minimum before it is added to the
    constant coordinate grid.
    """
    x, upd = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    shape, ushape = list(ctx.graph.tensors[x].shape), list(ctx.graph.tensors[upd].shape)
    if len(shape) != len(ushape) or any(u > d for u, d in zip(ushape, shape)):
        raise ConversionError(f"DYNAMIC_UPDATE_SLICE op #{op.index} ({ctx.out_label(op)}): update {ushape} does not "
                              f"fit the operand {shape}")
    base = ctx.t(op.outputs[0]).name
    limit = np.asarray([d - u for d, u in zip(shape, ushape)], np.int32)
    grid = np.moveaxis(np.indices(ushape, dtype=np.int32), 0, -1)          # [*update, rank]
    if ctx.is_const(op.inputs[2]):
        start = np.clip(np.asarray(ctx.const(op.inputs[2])).reshape(-1), 0, limit).astype(np.int32)
        indices = ctx.add_const(f"{base}.indices", np.ascontiguousarray(grid + start))
    else:
        s = ctx.tensor(op.inputs[2])
        s = ctx.emit("ElementWiseMaximum", [s, ctx.add_const(f"{base}.zero", np.zeros(1, np.int32))], None,
                     name=f"{base}.start_lo")[0]
        s = ctx.emit("ElementWiseMinimum", [s, ctx.add_const(f"{base}.limit", limit)], None,
                     name=f"{base}.start")[0]
        indices = ctx.emit("ElementWiseAdd", [ctx.add_const(f"{base}.grid", grid), s], None,
                           name=f"{base}.indices")[0]
    ctx.emit_out(op, "ScatterNd", [x, indices, upd], {"reduction": REDUCTION_NONE}, act=0)


@tflite_op("HASHTABLE_LOOKUP")
def hashtable_lookup(ctx: TfliteContext, op: TflOp) -> None:
    """values[row of the key equal to each lookup id], zeros and hit 0 where no key matches.

    Every id is compared with every key ([N, K]); Argmax of the 0/1 matches picks the first matching
    row, ReduceMax says whether there was one (TFLite's ``hits`` output, uint8).
    """
    base = ctx.t(op.outputs[0]).name
    ids, keys, values = (ctx.tensor(i) for i in op.inputs[:3])
    n, k = ctx.graph.tensors[ids].shape[0], ctx.graph.tensors[keys].shape[0]
    col = ctx.emit("Reshape", [ids], None, {"shape": [n, 1]}, name=f"{base}.ids")[0]
    row = ctx.emit("Reshape", [keys], None, {"shape": [1, k]}, name=f"{base}.keys")[0]
    match = ctx.emit("ElementWiseEqual", [col, row], None, name=f"{base}.match")[0]
    match = ctx.emit("Cast", [match], None, {"to": qd.to_qnn(np.uint8)}, name=f"{base}.match_u8")[0]
    idx = ctx.emit("Argmax", [match], None, {"axis": 1}, name=f"{base}.row")[0]
    hits = ctx.emit_out(op, "ReduceMax", [match], {"axes": [1], "keep_dims": False}, act=0, k=1)
    rest = list(ctx.graph.tensors[values].shape[1:])
    hit = ctx.emit("Cast", [hits], None, {"to": qd.to_qnn(np.bool_)}, name=f"{base}.hit")[0]
    hit = ctx.emit("Reshape", [hit], None, {"shape": [n] + [1] * len(rest)}, name=f"{base}.hit_rows")[0]
    picked = ctx.emit("Gather", [values, idx], None, {"axis": 0}, name=f"{base}.picked")[0]
    ctx.like(picked, op.outputs[0])
    zero = _background(ctx, op, [1], 0.0, op.outputs[0])
    ctx.emit_out(op, "ElementWiseSelect", [hit, picked, zero], act=0)


@tflite_op("EMBEDDING_LOOKUP_SPARSE")
def embedding_lookup_sparse(ctx: TfliteContext, op: TflOp) -> None:
    """Weighted rows params[ids] summed into the output row named by each entry's sparse coordinates.

    Inputs: ids [N], indices [N, rank] (constant), dense_shape [rank] (constant), weights [N], params.
    The output row of entry i is indices[i, :-1] in dense_shape[:-1] (the last coordinate only orders
    entries).  combiner SUM keeps the weighted sums; MEAN divides them by the row's weight sum,
    SQRTN by the root of its sum of squared weights; rows without entries stay 0 (no division).
    """
    base = ctx.t(op.outputs[0]).name
    coords = np.asarray(ctx.require_const(op, 1, "the sparse indices"), np.int64)
    dense = ints(ctx.require_const(op, 2, "dense_shape"))
    n = coords.shape[0]
    rows_shape = dense[:-1]
    seg = np.ravel_multi_index(tuple(coords[:, :-1].T), rows_shape) if rows_shape else np.zeros(n, np.int64)
    s = int(np.prod(rows_shape))
    params = ctx.tensor(op.inputs[4])
    emb_shape = list(ctx.graph.tensors[params].shape[1:])
    e = int(np.prod(emb_shape))
    picked = ctx.emit("Gather", [params, ctx.tensor(op.inputs[0])], None, {"axis": 0}, name=f"{base}.rows")[0]
    picked = ctx.emit("Reshape", [picked], None, {"shape": [n, e]}, name=f"{base}.flat_rows")[0]
    wcol = ctx.emit("Reshape", [ctx.tensor(op.inputs[3])], None, {"shape": [n, 1]}, name=f"{base}.weights")[0]
    weighted = ctx.emit("ElementWiseMultiply", [picked, wcol], None, name=f"{base}.weighted")[0]
    total = _scatter_add(ctx, weighted, seg, s, e, f"{base}.sums")
    combiner = int(op.options.get("combiner", 0))
    if combiner:                              # MEAN / SQRTN
        w = wcol if combiner == 1 else ctx.emit("ElementWiseMultiply", [wcol, wcol], None, name=f"{base}.w2")[0]
        denom = _scatter_add(ctx, w, seg, s, 1, f"{base}.weight_sums")
        if combiner == 2:
            denom = ctx.emit("ElementWiseSquareRoot", [denom], None, name=f"{base}.root")[0]
        used = np.zeros((s, 1), np.bool_)
        used[seg] = True
        denom = ctx.emit("ElementWiseSelect", [ctx.add_const(f"{base}.used", used), denom,
                                               ctx.add_const(f"{base}.one", np.ones(1, np.float32))], None,
                         name=f"{base}.divisor")[0]
        total = ctx.emit("ElementWiseDivide", [total, denom], None, name=f"{base}.combined")[0]
    ctx.emit_out(op, "Reshape", [total], {"shape": rows_shape + emb_shape}, act=0)


def _scatter_add(ctx: TfliteContext, x: str, seg: np.ndarray, s: int, width: int, name: str) -> str:
    """Sum the rows of x [N, width] into [s, width] by the constant row numbers ``seg``."""
    grid = np.ascontiguousarray(np.broadcast_to(seg.reshape(-1, 1), (seg.size, width)).astype(np.int32))
    zeros = ctx.add_const(f"{name}.init", np.zeros((s, width), np.float32))
    return ctx.emit("ScatterElements", [zeros, ctx.add_const(f"{name}.index", grid), x], None,
                    {"axis": 0, "reduction": REDUCTION_ADD}, name=name)[0]


@tflite_op("GATHER_ND")
def gather_nd(ctx: TfliteContext, op: TflOp) -> None:
    ctx.emit_out(op, "GatherNd", [ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])], act=0)

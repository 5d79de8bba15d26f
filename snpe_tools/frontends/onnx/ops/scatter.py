"""ONNX scatter, gather-by-index, sort, cumulative and one-hot ops -> QNN ops (``snpe_tools/ops/scatter.py``).

Direct mappings: ScatterElements/Scatter -> ScatterElements, ScatterND -> ScatterNd, GatherND -> GatherNd,
TopK -> TopK (last axis; other axes through Transposes), CumSum -> CumulativeSum, OneHot -> OneHot.
Col2Im and MaxUnpool are ScatterNd compositions.

Exact compositions of QNN ops:
* reduction ``min`` (and ScatterND ``max``): an order-reversing involution f (``-x`` for floats,
  ``-1 - x`` for signed and ``MAX - x`` for unsigned integers, none of which overflows) turns min into
  max: ``min-scatter(d, u) = f(max-scatter(f(d), f(u)))``; ScatterND max is ScatterElements max over
  the data flattened to ``[slices, slice size]`` with linearised indices;
* CumProd: a log-depth (Hillis-Steele) scan of Multiply with the input shifted by Pad(1)+StridedSlice;
  a run-time CumSum/CumProd axis scans along every axis and selects the matching result;
* TensorScatter (KV-cache write): ScatterElements with ``write_index + arange(seq)`` indices;
* ``Col2Im``: no QNN op folds columns back into an image, so it is the exact composition
  ``Reshape -> Transpose -> ScatterNd(add) -> [StridedSlice] -> Transpose -> Reshape``: every column
  entry ``(k, l)`` (kernel offset, block) is added into its image position, a static index table
  computed from ``image_shape`` / ``block_shape`` / strides / pads / dilations; entries falling into the
  padding are sent to one spare row that is sliced off.
* ``MaxUnpool``: ``ScatterNd`` of the flattened ``X`` into a zero vector of the inferred output size
  at the (whole-tensor) flat indices ``I``, ``Reshape``, and a zero ``Pad`` at the end of each spatial
  axis when ``output_shape`` is larger (the ONNX reference and conformance data place the inferred
  output in the leading corner; onnxruntime instead re-reads the indices in ``output_shape``).
"""
from __future__ import annotations

import itertools

import numpy as np
import onnx

from ....ir import dtypes as qd
from ....ops.scatter import REDUCTION_ADD, REDUCTION_NONE
from ..context import (NodeBuilder, OnnxContext, attrs, has_input, ints_attr, node_error, node_name,
                      norm_axis, str_attr)
from ..registry import onnx_op

_REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3}


def _order_flip(b: NodeBuilder, x: str, tag: str) -> str:
    """An order-reversing involution that never overflows: -x, -1-x (signed), MAX-x (unsigned)."""
    dt = b.dtype(x)
    if np.issubdtype(dt, np.floating):
        return b.op("ElementWiseNeg", [x], tag=tag)
    if np.issubdtype(dt, np.signedinteger):
        return b.op("ElementWiseSubtract", [b.const(f"{tag}.m1", -1, dt), x], tag=tag)
    if np.issubdtype(dt, np.unsignedinteger):
        return b.op("ElementWiseSubtract", [b.const(f"{tag}.max", np.iinfo(dt).max, dt), x], tag=tag)
    raise node_error(b.node, f"reduction 'min' is not supported for {dt} data")


def _reduction(node, allowed) -> str:
    red = str_attr(attrs(node).get("reduction"), "none")
    if red not in allowed:
        raise node_error(node, f"reduction '{red}' is not supported")
    return red


# ---- scatter / gather ------------------------------------------------------------------------
@onnx_op("ScatterElements", "Scatter")
def scatter_elements(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    data, idx, upd = (ctx.tensor(i) for i in node.input[:3])
    ds, is_, us = b.shape(data), b.shape(idx), b.shape(upd)
    rank = len(ds)
    axis = norm_axis(node, int(attrs(node).get("axis", 0)), rank)
    red = "none" if node.op_type == "Scatter" else _reduction(node, ("none", "add", "mul", "max", "min"))
    if is_ != us or len(is_) != rank or any(i > d for k, (i, d) in enumerate(zip(is_, ds)) if k != axis):
        raise node_error(node, f"indices {is_} / updates {us} do not fit data {ds}")
    if b.dtype(upd) != b.dtype(data):
        upd = b.op("Cast", [upd], {"to": qd.to_qnn(b.dtype(data))}, "upd_cast")
    if red != "min":
        b.op("ScatterElements", [data, idx, upd], {"axis": axis, "reduction": _REDUCTIONS[red]},
             out=node.output[0])
        return
    y = b.op("ScatterElements", [_order_flip(b, data, "fdata"), idx, _order_flip(b, upd, "fupd")],
             {"axis": axis, "reduction": _REDUCTIONS["max"]}, "scatter")
    fy = _order_flip(b, y, "unflip")
    b.finish(fy)


@onnx_op("ScatterND")
def scatter_nd(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    data, idx, upd = (ctx.tensor(i) for i in node.input[:3])
    ds, is_, us = b.shape(data), b.shape(idx), b.shape(upd)
    red = _reduction(node, ("none", "add", "mul", "max", "min"))
    k = is_[-1] if is_ else 0
    if not is_ or not 1 <= k <= len(ds) or us != is_[:-1] + ds[k:]:
        raise node_error(node, f"indices {is_} / updates {us} do not fit data {ds}")
    if b.dtype(upd) != b.dtype(data):
        upd = b.op("Cast", [upd], {"to": qd.to_qnn(b.dtype(data))}, "upd_cast")
    if red in ("none", "add", "mul"):
        b.op("ScatterNd", [data, idx, upd], {"reduction": _REDUCTIONS[red]}, out=node.output[0])
        return
    # max/min: ScatterElements(max) on data viewed as [slices, slice size] with linear slice indices
    n_slices = int(np.prod(ds[:k]))
    inner = int(np.prod(ds[k:]))
    n_upd = int(np.prod(is_[:-1]))
    strides = np.asarray([int(np.prod(ds[j + 1:k])) for j in range(k)], np.int64)
    if ctx.is_const(node.input[1]):
        iv = np.asarray(ctx.const(node.input[1])).astype(np.int64)
        iv = np.where(iv < 0, iv + np.asarray(ds[:k]), iv)
        lin = (iv * strides).sum(-1).reshape(n_upd, 1)
        lin2 = b.const("linear", np.broadcast_to(lin, (n_upd, inner)).astype(np.int32))
    else:
        idt = b.dtype(idx)
        neg = b.op("ElementWiseLess", [idx, b.const("zero", 0, idt)], tag="neg")
        wrapped = b.op("ElementWiseSelect", [neg, b.op("ElementWiseAdd", [idx, b.const("dims", ds[:k], idt)],
                                                       tag="plus"), idx], tag="wrapped")
        scaled = b.op("ElementWiseMultiply", [wrapped, b.const("strides", strides, idt)], tag="scaled")
        lin = b.op("ReduceSum", [scaled], {"axes": [len(is_) - 1], "keep_dims": False}, "linear")
        lin = b.reshape(lin, [n_upd, 1], "linear2d")
        lin2 = lin if inner == 1 else b.op("Tile", [lin], {"multiples": [1, inner]}, "linear_tile")
    d2 = b.reshape(data, [n_slices, inner], "data2d")
    u2 = b.reshape(upd, [n_upd, inner], "upd2d")
    if red == "min":
        d2, u2 = _order_flip(b, d2, "fdata"), _order_flip(b, u2, "fupd")
    y = b.op("ScatterElements", [d2, lin2, u2], {"axis": 0, "reduction": _REDUCTIONS["max"]}, "scatter")
    if red == "min":
        y = _order_flip(b, y, "unflip")
    b.reshape(y, ds, out=node.output[0])


@onnx_op("GatherND")
def gather_nd(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    data, idx = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    ds, is_ = b.shape(data), b.shape(idx)
    bd = int(attrs(node).get("batch_dims", 0))
    k = is_[-1] if is_ else 0
    if not is_ or bd < 0 or bd >= len(is_) or bd + k > len(ds) or is_[:bd] != ds[:bd]:
        raise node_error(node, f"indices {is_} do not fit data {ds} with batch_dims {bd}")
    b.op("GatherNd", [data, idx], {"batch_dims": bd}, out=node.output[0])


# ---- sorting / cumulative ----------------------------------------------------------------------
@onnx_op("TopK")
def top_k(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    rank = len(shape)
    if rank == 0:
        raise node_error(node, "the input must have rank >= 1")
    axis = norm_axis(node, int(a.get("axis", -1)), rank)
    if ctx.opset < 10:
        k = int(a["k"])
    else:
        k = int(np.asarray(ctx.require_const(node, 1, "K")).reshape(-1)[0])
    if not 1 <= k <= shape[axis]:
        raise node_error(node, f"K={k} must lie in [1, {shape[axis]}] (the size of axis {axis})")
    largest = bool(int(a.get("largest", 1)))   # sorted=0 leaves the order open: sorted output is valid
    outs = list(node.output) + [""] * (2 - len(node.output))
    if axis == rank - 1:
        names = [o or ctx.graph.unique_name(f"{node_name(node)}.unused{i}") for i, o in enumerate(outs)]
        b.ops("TopK", [x], {"k": k, "largest": largest}, outs=names)
        return
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    vals, inds = b.ops("TopK", [b.transpose(x, perm, "to_last")], {"k": k, "largest": largest}, "topk", n_out=2)
    for res, out in zip((vals, inds), outs):
        if out:
            b.transpose(res, perm, "back", out=out)


def _cumulative(ctx: OnnxContext, node, scan) -> None:
    """``scan(b, x, axis, out)`` emits the scan along one static axis.  A run-time axis (the output shape
    does not depend on it) scans along every axis and selects the result whose axis matches."""
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    rank = len(b.shape(x))
    if rank == 0:
        raise node_error(node, "the input must have rank >= 1")
    if rank == 1 or ctx.is_const(node.input[1]):
        axis = int(np.asarray(ctx.const(node.input[1])).reshape(-1)[0]) if ctx.is_const(node.input[1]) else 0
        scan(b, x, norm_axis(node, axis, rank), node.output[0])
        return
    at = ctx.tensor(node.input[1])
    if int(np.prod(b.shape(at))) != 1:
        raise node_error(node, "axis must be a scalar")
    at = b.reshape(at, [], "axis")
    adt = b.dtype(at)
    out = scan(b, x, rank - 1, None)
    for k in range(rank - 2, -1, -1):
        hit = b.op("ElementWiseEqual", [at, b.const(f"axis{k}", k, adt)], tag=f"is_axis{k}")
        if np.issubdtype(adt, np.signedinteger):
            neg = b.op("ElementWiseEqual", [at, b.const(f"axis{k - rank}", k - rank, adt)], tag=f"is_axis{k - rank}")
            hit = b.op("ElementWiseOr", [hit, neg], tag=f"pick{k}")
        out = b.op("ElementWiseSelect", [hit, scan(b, x, k, None), out], tag=f"select{k}",
                   out=node.output[0] if k == 0 else None)


@onnx_op("CumSum")
def cum_sum(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    params = {"exclusive": bool(int(a.get("exclusive", 0))), "reverse": bool(int(a.get("reverse", 0)))}

    def scan(b: NodeBuilder, x: str, axis: int, out: str | None) -> str:
        return b.op("CumulativeSum", [x], dict(params, axis=axis), f"cumsum{axis}", out=out)

    _cumulative(ctx, node, scan)


@onnx_op("CumProd")
def cum_prod(ctx: OnnxContext, node) -> None:
    """Hillis-Steele scan: y *= shift(y, s) for s = 1, 2, 4 ... (ceil(log2 n) Multiply steps)."""
    a = attrs(node)
    reverse = bool(int(a.get("reverse", 0)))
    exclusive = bool(int(a.get("exclusive", 0)))

    def scan(b: NodeBuilder, x: str, axis: int, out: str | None) -> str:
        shape = b.shape(x)
        rank, n = len(shape), shape[axis]

        def shift(t: str, s: int, tag: str) -> str:
            pad = [[0, 0] for _ in range(rank)]
            pad[axis] = [0, s] if reverse else [s, 0]
            p = b.op("Pad", [t], {"scheme": 0, "pad_amount": pad, "pad_constant_value": 1.0}, f"{tag}.pad")
            ranges = [[0, d, 1] for d in shape]
            ranges[axis] = [s, n + s, 1] if reverse else [0, n, 1]
            return b.op("StridedSlice", [p], {"ranges": ranges}, f"{tag}.slice")

        y = shift(x, 1, f"ax{axis}.excl") if exclusive else x
        s = 1
        while s < n:
            y = b.op("ElementWiseMultiply", [y, shift(y, s, f"ax{axis}.shift{s}")], tag=f"ax{axis}.scan{s}",
                     out=out if s * 2 >= n else None)
            s *= 2
        if out is not None and y != out:
            y = b.reshape(y, shape, out=out)
        return y

    _cumulative(ctx, node, scan)


# ---- one-hot ---------------------------------------------------------------------------------
@onnx_op("OneHot")
def one_hot(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    idx = ctx.tensor(node.input[0])
    rank = len(b.shape(idx))
    depth_v = np.asarray(ctx.require_const(node, 1, "depth")).reshape(-1)
    if depth_v.size != 1:
        raise node_error(node, "depth must hold exactly one value")
    depth = int(depth_v[0])
    if depth < 1:
        raise node_error(node, f"depth {depth} must be positive")
    axis = int(attrs(node).get("axis", -1))
    if not -(rank + 1) <= axis <= rank:
        raise node_error(node, f"axis {axis} is out of range for a rank-{rank} input")
    axis = axis + rank + 1 if axis < 0 else axis
    idt = b.dtype(idx)
    if not np.issubdtype(idt, np.integer):   # non-integer indices are cast (truncated) first
        idx = b.op("Cast", [idx], {"to": qd.INT_32}, "cast")
        idt = np.dtype(np.int32)
    if np.issubdtype(idt, np.signedinteger):   # in-range negative indices count from the end
        neg = b.op("ElementWiseLess", [idx, b.const("zero", 0, idt)], tag="neg")
        wrapped = b.op("ElementWiseAdd", [idx, b.const("depth", depth, idt)], tag="wrap")
        idx = b.op("ElementWiseSelect", [neg, wrapped, idx], tag="index")
    values = node.input[2]
    if ctx.is_const(values):
        vals = qd.narrow_array(np.asarray(ctx.const(values)).reshape(-1))
        if vals.size != 2:
            raise node_error(node, "values must hold [off_value, on_value]")
        try:
            code = qd.to_qnn(vals.dtype)
        except ValueError:
            raise node_error(node, f"values of type {vals.dtype} are not supported") from None
        off, on = (float(v) for v in vals)
        if all(np.asarray(float(v), np.float32).astype(vals.dtype) == v for v in vals):
            b.op("OneHot", [idx], {"depth": depth, "axis": axis, "on_value": on, "off_value": off,
                                   "out_dtype": code}, out=node.output[0])
            return
    v = ctx.tensor(values)
    if b.shape(v) not in ([2], [1, 2], [2, 1]):
        raise node_error(node, "values must hold [off_value, on_value]")
    v = b.reshape(v, [2], "values")
    hot = b.op("OneHot", [idx], {"depth": depth, "axis": axis, "on_value": 1.0, "off_value": 0.0,
                                 "out_dtype": qd.BOOL_8}, "hot")
    off_t = b.op("StridedSlice", [v], {"ranges": [[0, 1, 1]]}, "off")
    on_t = b.op("StridedSlice", [v], {"ranges": [[1, 2, 1]]}, "on")
    b.op("ElementWiseSelect", [hot, on_t, off_t], out=node.output[0])


# ---- KV-cache update ----------------------------------------------------------------------------
@onnx_op("TensorScatter")
def tensor_scatter(ctx: OnnxContext, node) -> None:
    """present = past with ``update`` written along ``axis`` from ``write_indices[batch]`` on (modulo the
    cache length in circular mode): ScatterElements with indices ``write_index + arange(seq)``."""
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    past, upd = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    ps, us = b.shape(past), b.shape(upd)
    rank = len(ps)
    axis = norm_axis(node, int(a.get("axis", -2)), rank)
    mode = str_attr(a.get("mode"), "linear")
    if mode not in ("linear", "circular"):
        raise node_error(node, f"mode '{mode}' is not supported")
    if axis == 0 or len(us) != rank or any(u != p for k, (u, p) in enumerate(zip(us, ps)) if k != axis) \
            or us[axis] > ps[axis]:
        raise node_error(node, f"update {us} does not fit cache {ps} along axis {axis}")
    seq, cap = us[axis], ps[axis]
    ramp_shape = [seq if k == axis else 1 for k in range(rank)]
    ramp = np.arange(seq).reshape(ramp_shape)
    if not has_input(node, 2) or ctx.is_const(node.input[2]):
        wi = (np.asarray(ctx.const(node.input[2])).astype(np.int64).reshape(-1) if has_input(node, 2)
              else np.zeros(ps[0], np.int64))
        idx = wi.reshape([ps[0]] + [1] * (rank - 1)) + ramp
        if mode == "circular":
            idx = idx % cap
        elif idx.min() < 0 or idx.max() >= cap:
            raise node_error(node, f"write_indices {wi.tolist()} + {seq} positions run past the cache length {cap}")
        idx = b.const("indices", np.ascontiguousarray(np.broadcast_to(idx, us)).astype(np.int32))
    else:
        wi = ctx.tensor(node.input[2])
        if not np.issubdtype(b.dtype(wi), np.signedinteger):
            wi = b.op("Cast", [wi], {"to": qd.INT_32}, "wi_cast")
        idt = b.dtype(wi)
        idx = b.op("ElementWiseAdd", [b.reshape(wi, [ps[0]] + [1] * (rank - 1), "wi"), b.const("ramp", ramp, idt)],
                   tag="positions")
        if mode == "circular":
            idx = b.op("ElementWiseMod", [idx, b.const("cap", cap, idt)], tag="wrapped")
        mult = [u // s for u, s in zip(us, b.shape(idx))]
        if any(m != 1 for m in mult):
            idx = b.op("Tile", [idx], {"multiples": mult}, "indices")
    b.op("ScatterElements", [past, idx, upd], {"axis": axis, "reduction": 0}, out=node.output[0])


# ---- Col2Im ------------------------------------------------------------------------------------
def col2im_positions(image: list[int], block: list[int], strides: list[int], pads: list[int],
                     dilations: list[int]) -> tuple[np.ndarray, int]:
    """Flat image position of every column entry ``(k, l)`` (k-major), and the number of blocks L.

    Entries landing in the padding get position ``prod(image)`` (one spare slot).  Row-major order
    of both the kernel offsets and the blocks, as ONNX lays out ``[N, C * prod(block), L]``.
    """
    k = len(image)
    counts = [(image[i] + pads[i] + pads[k + i] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1
              for i in range(k)]
    if min(counts) < 1:
        return np.zeros(0, np.int64), 0
    offs = np.array(list(itertools.product(*[range(b) for b in block])), np.int64).reshape(-1, k)
    blocks = np.array(list(itertools.product(*[range(c) for c in counts])), np.int64).reshape(-1, k)
    pos = (blocks[None, :, :] * np.array(strides) - np.array(pads[:k])
           + offs[:, None, :] * np.array(dilations))                    # [K, L, k]
    inside = np.all((pos >= 0) & (pos < np.array(image)), axis=-1)
    flat = np.ravel_multi_index(tuple(np.clip(pos, 0, np.array(image) - 1).reshape(-1, k).T), image)
    flat = np.where(inside.reshape(-1), flat, int(np.prod(image)))
    return flat, int(np.prod(counts))


@onnx_op("Col2Im")
def col2im(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    a = attrs(node)
    x = ctx.tensor(node.input[0])
    image = [int(v) for v in np.asarray(ctx.require_const(node, 1, "image_shape")).reshape(-1)]
    block = [int(v) for v in np.asarray(ctx.require_const(node, 2, "block_shape")).reshape(-1)]
    k = len(image)
    if k < 1 or len(block) != k:
        raise node_error(node, f"image_shape {image} and block_shape {block} must have the same, non-zero length")
    strides = ints_attr(node, a, "strides", [1] * k, k)
    dilations = ints_attr(node, a, "dilations", [1] * k, k)
    pads = ints_attr(node, a, "pads", [0] * 2 * k, 2 * k)
    if min(image) < 1 or min(block) < 1 or min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise node_error(node, "image_shape, block_shape, strides and dilations must be positive, pads >= 0")
    xs = e.shape(x)
    kk = int(np.prod(block))
    if len(xs) != 3 or xs[1] % kk:
        raise node_error(node, f"input {xs} is not [N, C * {kk}, L] for block_shape {block}")
    pos, n_blocks = col2im_positions(image, block, strides, pads, dilations)
    if n_blocks != xs[2]:
        raise node_error(node, f"input has {xs[2]} blocks but image_shape {image}, block_shape {block}, strides "
                               f"{strides}, pads {pads}, dilations {dilations} give {n_blocks}")
    n, c, p = xs[0], xs[1] // kk, int(np.prod(image))
    spare = bool(np.any(pos == p))
    cols = e.transpose(e.reshape(x, [n, c, kk * n_blocks], "cols"), [2, 0, 1], "cols_t")      # [K*L, N, C]
    zeros = e.const("zeros", np.zeros((p + spare, n, c), e.dtype(x)))
    img = e.op("ScatterNd", [zeros, e.const("positions", pos.reshape(-1, 1).astype(np.int32)), cols],
               {"reduction": REDUCTION_ADD}, "scatter")
    if spare:
        ranges = [[0, p, 1], [0, n, 1], [0, c, 1]]
        img = e.op("StridedSlice", [img], {"ranges": ranges}, "crop")
    e.reshape(e.transpose(img, [1, 2, 0], "image_t"), [n, c] + image, out=node.output[0])


# ---- MaxUnpool ---------------------------------------------------------------------------------
@onnx_op("MaxUnpool")
def max_unpool(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    a = attrs(node)
    x, ind = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    xs = e.shape(x)
    k = len(xs) - 2
    if k < 1:
        raise node_error(node, f"input {xs} has no spatial axes")
    if e.shape(ind) != xs:
        raise node_error(node, f"indices {e.shape(ind)} must have the shape of X {xs}")
    if "kernel_shape" not in a:
        raise node_error(node, "the kernel_shape attribute is required")
    kernel = ints_attr(node, a, "kernel_shape", [], k)
    strides = ints_attr(node, a, "strides", [1] * k, k)
    pads = ints_attr(node, a, "pads", [0] * 2 * k, 2 * k)
    inferred = xs[:2] + [(xs[2 + i] - 1) * strides[i] - pads[i] - pads[k + i] + kernel[i] for i in range(k)]
    if min(inferred) < 1:
        raise node_error(node, f"kernel_shape {kernel}, strides {strides}, pads {pads} give an empty output "
                               f"{inferred}")
    target = inferred
    if len(node.input) > 2 and node.input[2]:
        target = [int(v) for v in np.asarray(ctx.require_const(node, 2, "output_shape")).reshape(-1)]
        if len(target) != len(xs) or target[:2] != xs[:2] or any(t < i for t, i in zip(target, inferred)):
            raise node_error(node, f"output_shape {target} must keep N, C of {xs} and be at least the inferred "
                                   f"shape {inferred} on every spatial axis")
    total = int(np.prod(inferred))
    flat_x = e.reshape(x, [int(np.prod(xs))], "values")
    flat_i = e.reshape(e.int32(ind, "indices_i32"), [int(np.prod(xs)), 1], "flat_indices")
    zeros = e.const("zeros", np.zeros(total, e.dtype(x)))
    y = e.op("ScatterNd", [zeros, flat_i, flat_x], {"reduction": REDUCTION_NONE}, "scatter")
    if target == inferred:
        e.reshape(y, inferred, out=node.output[0])
        return
    y = e.reshape(y, inferred, "unpooled")
    pad = [[0, t - i] for t, i in zip(target, inferred)]
    e.op("Pad", [y], {"pad_amount": pad, "pad_constant_value": 0.0}, "pad", out=node.output[0])

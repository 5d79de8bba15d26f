"""ONNX scatter/gather/sort/cumulative/bitwise/loss ops -> QNN ops.

Direct mappings: ScatterElements/Scatter -> ScatterElements, ScatterND -> ScatterNd, GatherND -> GatherNd,
TopK -> TopK (last axis; other axes through Transposes), CumSum -> CumulativeSum, OneHot -> OneHot.

Exact compositions of QNN ops:

* reduction ``min`` (and ScatterND ``max``): an order-reversing involution f (``-x`` for floats,
  ``-1 - x`` for signed and ``MAX - x`` for unsigned integers, none of which overflows) turns min into
  max: ``min-scatter(d, u) = f(max-scatter(f(d), f(u)))``; ScatterND max is ScatterElements max over
  the data flattened to ``[slices, slice size]`` with linearised indices;
* CumProd: a log-depth (Hillis-Steele) scan of Multiply with the input shifted by Pad(1)+StridedSlice;
  a run-time CumSum/CumProd axis scans along every axis and selects the matching result;
* Trilu: ElementWiseSelect against a static column-minus-row ramp (``k`` may be a run-time scalar);
* Einsum: diagonals by StridedSlice over a flattened square, ReduceSum, Transpose/Reshape and MatMul
  (batch letters stay separate dims, so ellipsis broadcasting is MatMul's own);
* BitShift: multiplication / floor division by powers of two, with the shift split as
  ``min(y, w-2) + (0 or 1)`` so ``2**shift`` never overflows, and Select for shifts outside [0, w);
  BitwiseNot as ``-1 - x`` (signed) / ``MAX - x`` (unsigned);
* NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss: LogSoftmax, GatherElements on the class axis,
  Gather of the weights, Select for ``ignore_index`` and ReduceSum/Divide for the reductions (the ONNX
  function body);
* Compress / ReverseSequence with constant condition / lengths: Gather with static indices;
* Shrink, MeanVarianceNormalization: Select / Reduce compositions;
* TensorScatter (KV-cache write): ScatterElements with ``write_index + arange(seq)`` indices;
* EyeLike (and Range with constant inputs): constants.
"""
from __future__ import annotations

import math

import numpy as np
import onnx

from ....errors import ConversionError
from ....ir import dtypes as qd
from ....ir.limits import check_fold_shape
from ...emit import narrow
from ..context import NodeBuilder, OnnxContext, attrs
from ..registry import onnx_op

_REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3}


def _name(node) -> str:
    return node.name or node.output[0]


def _fail(node, msg: str) -> ConversionError:
    return ConversionError(f"{node.op_type} node '{_name(node)}': {msg}")


def _str(v, default: str) -> str:
    if v is None:
        return default
    return v.decode() if isinstance(v, bytes) else str(v)


def _has(node, idx: int) -> bool:
    return len(node.input) > idx and bool(node.input[idx])


def _axis(node, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise _fail(node, f"{what} {axis} is out of range for a rank-{rank} input")
    return axis + rank if axis < 0 else axis


def _order_flip(b: NodeBuilder, x: str, tag: str) -> str:
    """An order-reversing involution that never overflows: -x, -1-x (signed), MAX-x (unsigned)."""
    dt = b.dtype(x)
    if np.issubdtype(dt, np.floating):
        return b.op("ElementWiseNeg", [x], tag=tag)
    if np.issubdtype(dt, np.signedinteger):
        return b.op("ElementWiseSubtract", [b.const(f"{tag}.m1", -1, dt), x], tag=tag)
    if np.issubdtype(dt, np.unsignedinteger):
        return b.op("ElementWiseSubtract", [b.const(f"{tag}.max", np.iinfo(dt).max, dt), x], tag=tag)
    raise _fail(b.node, f"reduction 'min' is not supported for {dt} data")


def _reduction(node, allowed) -> str:
    red = _str(attrs(node).get("reduction"), "none")
    if red not in allowed:
        raise _fail(node, f"reduction '{red}' is not supported")
    return red


# ---- scatter / gather ------------------------------------------------------------------------
@onnx_op("ScatterElements", "Scatter")
def scatter_elements(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    data, idx, upd = (ctx.tensor(i) for i in node.input[:3])
    ds, is_, us = b.shape(data), b.shape(idx), b.shape(upd)
    rank = len(ds)
    axis = _axis(node, int(attrs(node).get("axis", 0)), rank)
    red = "none" if node.op_type == "Scatter" else _reduction(node, ("none", "add", "mul", "max", "min"))
    if is_ != us or len(is_) != rank or any(i > d for k, (i, d) in enumerate(zip(is_, ds)) if k != axis):
        raise _fail(node, f"indices {is_} / updates {us} do not fit data {ds}")
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
        raise _fail(node, f"indices {is_} / updates {us} do not fit data {ds}")
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
        raise _fail(node, f"indices {is_} do not fit data {ds} with batch_dims {bd}")
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
        raise _fail(node, "the input must have rank >= 1")
    axis = _axis(node, int(a.get("axis", -1)), rank)
    if ctx.opset < 10:
        k = int(a["k"])
    else:
        k = int(np.asarray(ctx.require_const(node, 1, "K")).reshape(-1)[0])
    if not 1 <= k <= shape[axis]:
        raise _fail(node, f"K={k} must lie in [1, {shape[axis]}] (the size of axis {axis})")
    largest = bool(int(a.get("largest", 1)))   # sorted=0 leaves the order open: sorted output is valid
    outs = list(node.output) + [""] * (2 - len(node.output))
    if axis == rank - 1:
        names = [o or ctx.graph.unique_name(f"{_name(node)}.unused{i}") for i, o in enumerate(outs)]
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
        raise _fail(node, "the input must have rank >= 1")
    if rank == 1 or ctx.is_const(node.input[1]):
        axis = int(np.asarray(ctx.const(node.input[1])).reshape(-1)[0]) if ctx.is_const(node.input[1]) else 0
        scan(b, x, _axis(node, axis, rank), node.output[0])
        return
    at = ctx.tensor(node.input[1])
    if int(np.prod(b.shape(at))) != 1:
        raise _fail(node, "axis must be a scalar")
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


# ---- one-hot / triangular / einsum -------------------------------------------------------------
@onnx_op("OneHot")
def one_hot(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    idx = ctx.tensor(node.input[0])
    rank = len(b.shape(idx))
    depth_v = np.asarray(ctx.require_const(node, 1, "depth")).reshape(-1)
    if depth_v.size != 1:
        raise _fail(node, "depth must hold exactly one value")
    depth = int(depth_v[0])
    if depth < 1:
        raise _fail(node, f"depth {depth} must be positive")
    axis = int(attrs(node).get("axis", -1))
    if not -(rank + 1) <= axis <= rank:
        raise _fail(node, f"axis {axis} is out of range for a rank-{rank} input")
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
        vals = narrow(np.asarray(ctx.const(values)).reshape(-1))
        if vals.size != 2:
            raise _fail(node, "values must hold [off_value, on_value]")
        try:
            code = qd.to_qnn(vals.dtype)
        except ValueError:
            raise _fail(node, f"values of type {vals.dtype} are not supported") from None
        off, on = (float(v) for v in vals)
        if all(np.asarray(float(v), np.float32).astype(vals.dtype) == v for v in vals):
            b.op("OneHot", [idx], {"depth": depth, "axis": axis, "on_value": on, "off_value": off,
                                   "out_dtype": code}, out=node.output[0])
            return
    v = ctx.tensor(values)
    if b.shape(v) not in ([2], [1, 2], [2, 1]):
        raise _fail(node, "values must hold [off_value, on_value]")
    v = b.reshape(v, [2], "values")
    hot = b.op("OneHot", [idx], {"depth": depth, "axis": axis, "on_value": 1.0, "off_value": 0.0,
                                 "out_dtype": qd.BOOL_8}, "hot")
    off_t = b.op("StridedSlice", [v], {"ranges": [[0, 1, 1]]}, "off")
    on_t = b.op("StridedSlice", [v], {"ranges": [[1, 2, 1]]}, "on")
    b.op("ElementWiseSelect", [hot, on_t, off_t], out=node.output[0])


@onnx_op("Trilu")
def trilu(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    if len(shape) < 2:
        raise _fail(node, "the input must have rank >= 2")
    upper = bool(int(attrs(node).get("upper", 1)))
    rows, cols = shape[-2], shape[-1]
    diff = np.arange(cols)[None, :] - np.arange(rows)[:, None]   # column - row
    if not _has(node, 1) or ctx.is_const(node.input[1]):
        k = int(np.asarray(ctx.const(node.input[1])).reshape(-1)[0]) if _has(node, 1) else 0
        mask = diff >= k if upper else diff <= k
        if mask.all():
            b.finish(x)
            return
        b.op("ElementWiseSelect", [b.const("mask", mask), x, b.const("zero", 0, b.dtype(x))], out=node.output[0])
        return
    zero = b.const("zero", 0, b.dtype(x))
    kt = ctx.tensor(node.input[1])
    if int(np.prod(b.shape(kt))) != 1:
        raise _fail(node, "k must be a scalar")
    kt = b.reshape(kt, [], "k")
    if not np.issubdtype(b.dtype(kt), np.signedinteger):
        kt = b.op("Cast", [kt], {"to": qd.INT_32}, "k_cast")
    ramp = b.const("diff", diff, b.dtype(kt))
    mask = b.op("ElementWiseGreaterEqual" if upper else "ElementWiseLessEqual", [ramp, kt], tag="mask")
    b.op("ElementWiseSelect", [mask, x, zero], out=node.output[0])


def _einsum_terms(node, eq: str, ranks: list[int]) -> tuple[list[list[str]], list[str]]:
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise _fail(node, f"equation '{eq}' names {len(terms)} operands, the node has {len(ranks)}")
    n_ell = 0
    for t, r in zip(terms, ranks):
        if "..." in t:
            n_ell = max(n_ell, r - (len(t) - 3))
    ell = [chr(0x100 + i) for i in range(n_ell)]   # placeholder letters for the ellipsis dims

    def expand(t: str, r: int | None) -> list[str]:
        if t.count("...") > 1 or any(not (c.isalpha() or c == ".") for c in t):
            raise _fail(node, f"cannot parse equation '{eq}'")
        if "..." not in t:
            if "." in t:
                raise _fail(node, f"cannot parse equation '{eq}'")
            return list(t)
        pre, post = t.split("...")
        e = len(ell) if r is None else r - len(pre) - len(post)
        if e < 0:
            raise _fail(node, f"term '{t}' does not fit its operand")
        return list(pre) + ell[len(ell) - e:] + list(post)

    ins = [expand(t, r) for t, r in zip(terms, ranks)]
    for t, r in zip(ins, ranks):
        if len(t) != r:
            raise _fail(node, f"equation '{eq}' does not match the operand ranks {ranks}")
    if arrow:
        out = expand(rhs, None)
    else:
        counts = {}
        for t in ins:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = list(ell) + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    if len(set(out)) != len(out) or any(c not in {x for t in ins for x in t} for c in out):
        raise _fail(node, f"output term of '{eq}' is invalid")
    return ins, out


@onnx_op("Einsum")
def einsum(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    eq = _str(attrs(node).get("equation"), "")
    xs = [ctx.tensor(i) for i in node.input if i]
    terms, out_term = _einsum_terms(node, eq, [len(b.shape(x)) for x in xs])
    ops = []   # (tensor, letters)
    for k, (x, t) in enumerate(zip(xs, terms)):
        x, t = _einsum_diagonals(b, x, list(t), f"in{k}")
        ops.append((x, t))

    def needed_after(i: int) -> set[str]:
        s = set(out_term)
        for _, t in ops[i + 1:]:
            s |= set(t)
        return s

    # sum out letters private to one operand first
    for i, (x, t) in enumerate(ops):
        others = needed_after(i) | {c for j, (_, tj) in enumerate(ops) if j < i for c in tj}
        x, t = _einsum_sum(b, x, t, [c for c in t if c not in others], f"sum{i}")
        ops[i] = (x, t)
    x, t = ops[0]
    for i in range(1, len(ops)):
        x, t = _einsum_pair(b, (x, t), ops[i], needed_after(i), f"mm{i}")
    x, t = _einsum_sum(b, x, t, [c for c in t if c not in out_term], "sum")
    perm = [t.index(c) for c in out_term]
    if perm != list(range(len(perm))):
        x = b.transpose(x, perm, out=node.output[0])
    b.finish(x)


def _einsum_diagonals(b: NodeBuilder, x: str, t: list[str], tag: str) -> tuple[str, list[str]]:
    """Collapse repeated letters of one operand to their diagonal."""
    step = 0
    while len(set(t)) != len(t):
        c = next(c for c in t if t.count(c) > 1)
        p = t.index(c)
        q = t.index(c, p + 1)
        shape = b.shape(x)
        if shape[p] != shape[q]:
            raise _fail(b.node, f"letter '{c}' labels dimensions of different sizes {shape[p]} and {shape[q]}")
        rest = [i for i in range(len(t)) if i not in (p, q)]
        x = b.transpose(x, rest + [p, q], f"{tag}.diag{step}.t")
        n = shape[p]
        lead = [shape[i] for i in rest]
        x = b.reshape(x, lead + [n * n], f"{tag}.diag{step}.flat")
        ranges = [[0, d, 1] for d in lead] + [[0, n * n, n + 1]]
        x = b.op("StridedSlice", [x], {"ranges": ranges}, f"{tag}.diag{step}")
        t = [t[i] for i in rest] + [c]
        step += 1
    return x, t


def _einsum_sum(b: NodeBuilder, x: str, t: list[str], letters: list[str], tag: str) -> tuple[str, list[str]]:
    if not letters:
        return x, t
    axes = [t.index(c) for c in letters]
    x = b.op("ReduceSum", [x], {"axes": sorted(axes), "keep_dims": False}, tag)
    return x, [c for c in t if c not in letters]


def _einsum_pair(b: NodeBuilder, lhs, rhs, keep: set[str], tag: str) -> tuple[str, list[str]]:
    (xa, ta), (xb, tb) = lhs, rhs
    sa, sb = dict(zip(ta, b.shape(xa))), dict(zip(tb, b.shape(xb)))
    common = [c for c in ta if c in tb]
    batch = [c for c in common if c in keep]
    contract = [c for c in common if c not in keep]
    # a contracted letter broadcast (size 1) on one side: sum the other side over it first
    for c in contract:
        if sa[c] != sb[c]:
            if sa[c] != 1 and sb[c] != 1:
                raise _fail(b.node, f"letter '{c}' has sizes {sa[c]} and {sb[c]}")
            if sa[c] == 1:
                xb = b.op("ReduceSum", [xb], {"axes": [tb.index(c)], "keep_dims": True}, f"{tag}.bsum")
                sb[c] = 1
            else:
                xa = b.op("ReduceSum", [xa], {"axes": [ta.index(c)], "keep_dims": True}, f"{tag}.asum")
                sa[c] = 1
    for c in batch:
        if sa[c] != sb[c] and 1 not in (sa[c], sb[c]):
            raise _fail(b.node, f"letter '{c}' has sizes {sa[c]} and {sb[c]}")
    la = [c for c in ta if c not in tb]
    lb = [c for c in tb if c not in ta]
    xa = b.transpose(xa, [ta.index(c) for c in batch + la + contract], f"{tag}.at")
    xb = b.transpose(xb, [tb.index(c) for c in batch + contract + lb], f"{tag}.bt")
    L, K, R = (int(np.prod([s[c] for c in g])) for s, g in ((sa, la), (sa, contract), (sb, lb)))
    xa = b.reshape(xa, [sa[c] for c in batch] + [L, K], f"{tag}.a3")
    xb = b.reshape(xb, [sb[c] for c in batch] + [K, R], f"{tag}.b3")
    y = b.op("MatMul", [xa, xb], {}, tag)
    bshape = [max(sa[c], sb[c]) for c in batch]
    y = b.reshape(y, bshape + [sa[c] for c in la] + [sb[c] for c in lb], f"{tag}.out")
    return y, batch + la + lb


# ---- bitwise ------------------------------------------------------------------------------------
def _require_int(b: NodeBuilder, x: str) -> np.dtype:
    dt = b.dtype(x)
    if not np.issubdtype(dt, np.integer):
        raise _fail(b.node, f"input type {dt} is not supported (integer types only)")
    return dt


@onnx_op("BitwiseNot")
def bitwise_not(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    dt = _require_int(b, x)
    c = -1 if np.issubdtype(dt, np.signedinteger) else np.iinfo(dt).max
    b.op("ElementWiseSubtract", [b.const("ones", c, dt), x], out=node.output[0])


@onnx_op("BitShift")
def bit_shift(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    direction = _str(attrs(node).get("direction"), "")
    if direction not in ("LEFT", "RIGHT"):
        raise _fail(node, f"direction '{direction}' must be LEFT or RIGHT")
    x, y = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    dt = _require_int(b, x)
    if b.dtype(y) != dt:
        y = b.op("Cast", [y], {"to": qd.to_qnn(dt)}, "y_cast")
    signed = np.issubdtype(dt, np.signedinteger)
    w = dt.itemsize * 8

    def c(tag, v):
        return b.const(tag, v, dt)

    # shift = y1 + y2 with y1 = clamp(y, 0, w-2) and y2 in {0, 1}: 2**y1 and 2**y2 both fit in dt
    y0 = b.op("ElementWiseMaximum", [y, c("zero", 0)], tag="ypos") if signed else y
    y1 = b.op("ElementWiseMinimum", [y0, c("wm2", w - 2)], tag="y1")
    y2 = b.op("ElementWiseMinimum", [b.op("ElementWiseSubtract", [y0, y1], tag="yrest"), c("one", 1)], tag="y2")
    p1 = b.op("ElementWisePower", [c("two", 2), y1], tag="p1")
    p2 = b.op("ElementWisePower", [c("two", 2), y2], tag="p2")
    qnn = "ElementWiseMultiply" if direction == "LEFT" else "ElementWiseFloorDiv"
    r = b.op(qnn, [b.op(qnn, [x, p1], tag="step1"), p2], tag="shifted")
    valid = b.op("ElementWiseLess", [y, c("w", w)], tag="inrange")
    if signed:
        valid = b.op("ElementWiseAnd", [valid, b.op("ElementWiseGreaterEqual", [y, c("zero", 0)], tag="nonneg")],
                     tag="valid")
    if direction == "RIGHT" and signed:   # sign fill: -1 for negative x, 0 otherwise
        fill = b.op("ElementWiseSelect", [b.op("ElementWiseLess", [x, c("zero", 0)], tag="xneg"), c("m1", -1),
                                          c("zero", 0)], tag="fill")
    else:
        fill = c("zero", 0)
    b.op("ElementWiseSelect", [valid, r, fill], out=node.output[0])


# ---- losses -------------------------------------------------------------------------------------
def _nll(b: NodeBuilder, logp: str, target: str, weight: str | None, ignore: int | None, reduction: str,
         out: str) -> None:
    """ONNX NegativeLogLikelihoodLoss on log-probabilities ``logp`` [N, C, d...] (function-body semantics)."""
    shape = b.shape(logp)
    tshape = b.shape(target)
    if len(shape) < 2 or tshape != [shape[0]] + shape[2:]:
        raise _fail(b.node, f"target shape {tshape} does not fit input shape {shape}")
    dt = b.dtype(logp)
    if not np.issubdtype(dt, np.floating):
        raise _fail(b.node, f"input type {dt} is not supported (float only)")
    t = target
    if not np.issubdtype(b.dtype(t), np.signedinteger):
        t = b.op("Cast", [t], {"to": qd.INT_32}, "target_cast")
    tdt = b.dtype(t)
    keep = None
    if ignore is not None:
        keep = b.op("ElementWiseNotEqual", [t, b.const("ignore_index", ignore, tdt)], tag="keep")
        t = b.op("ElementWiseSelect", [keep, t, b.const("tzero", 0, tdt)], tag="target_safe")
    picked = b.op("GatherElements", [logp, b.reshape(t, [shape[0], 1] + shape[2:], "target_n1")], {"axis": 1},
                  "picked")
    loss = b.op("ElementWiseNeg", [b.reshape(picked, tshape, "picked_n")], tag="neg")
    zero = b.const("zero", 0, dt)
    if keep is not None:
        loss = b.op("ElementWiseSelect", [keep, loss, zero], tag="masked")
    w = None
    if weight is not None:
        w = b.op("Gather", [weight, t], {"axis": 0}, "weight")
        if keep is not None:
            w = b.op("ElementWiseSelect", [keep, w, zero], tag="weight_masked")
        loss = b.op("ElementWiseMultiply", [loss, w], tag="weighted", out=out if reduction == "none" else None)
    elif keep is not None:
        w = b.op("Cast", [keep], {"to": qd.to_qnn(dt)}, "count")
    if reduction == "none":
        b.finish(loss, out)
        return
    axes = list(range(len(tshape)))
    if reduction == "sum":
        b.op("ReduceSum", [loss], {"axes": axes, "keep_dims": False}, out=out)
    elif w is None:
        b.op("ReduceMean", [loss], {"axes": axes, "keep_dims": False}, out=out)
    else:
        total = b.op("ReduceSum", [loss], {"axes": axes, "keep_dims": False}, "loss_sum")
        wsum = b.op("ReduceSum", [w], {"axes": axes, "keep_dims": False}, "weight_sum")
        b.op("ElementWiseDivide", [total, wsum], out=out)


def _loss_args(ctx: OnnxContext, node) -> tuple[str | None, int | None, str]:
    a = attrs(node)
    reduction = _str(a.get("reduction"), "mean")
    if reduction not in ("none", "sum", "mean"):
        raise _fail(node, f"reduction '{reduction}' is not supported")
    weight = ctx.tensor(node.input[2]) if _has(node, 2) else None
    ignore = int(a["ignore_index"]) if "ignore_index" in a else None
    return weight, ignore, reduction


@onnx_op("NegativeLogLikelihoodLoss")
def nll_loss(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    weight, ignore, reduction = _loss_args(ctx, node)
    _nll(b, ctx.tensor(node.input[0]), ctx.tensor(node.input[1]), weight, ignore, reduction, node.output[0])


@onnx_op("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    weight, ignore, reduction = _loss_args(ctx, node)
    x = ctx.tensor(node.input[0])
    if len(b.shape(x)) < 2:
        raise _fail(node, "scores must have rank >= 2")
    log_out = node.output[1] if len(node.output) > 1 and node.output[1] else None
    logp = b.op("LogSoftmax", [x], {"axis": 1}, "log_prob", out=log_out)
    _nll(b, logp, ctx.tensor(node.input[1]), weight, ignore, reduction, node.output[0])


# ---- static-index selections --------------------------------------------------------------------
@onnx_op("Compress")
def compress(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    cond = np.asarray(ctx.require_const(node, 1, "condition")).astype(bool).reshape(-1)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    a = attrs(node)
    if "axis" in a:
        axis = _axis(node, int(a["axis"]), len(shape))
    else:
        x = b.reshape(x, [int(np.prod(shape))], "flat")
        shape, axis = [int(np.prod(shape))], 0
    n = shape[axis]
    if cond[n:].any():
        raise _fail(node, f"condition selects index {int(np.nonzero(cond)[0][-1])} beyond the axis size {n}")
    keep = np.nonzero(cond[:n])[0]
    if keep.size == 0:
        raise _fail(node, "the condition selects nothing (empty outputs are not supported)")
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
        raise _fail(node, "the input must have rank >= 2")
    t_ax, b_ax = int(a.get("time_axis", 0)), int(a.get("batch_axis", 1))
    if {t_ax, b_ax} != {0, 1}:
        raise _fail(node, f"time_axis {t_ax} / batch_axis {b_ax} must be 0 and 1")
    lens = np.asarray(ctx.require_const(node, 1, "sequence_lens")).astype(np.int64).reshape(-1)
    T, B = shape[t_ax], shape[b_ax]
    if lens.size != B or (lens < 0).any() or (lens > T).any():
        raise _fail(node, f"sequence_lens {lens.tolist()} do not fit batch {B} / time {T}")
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


# ---- elementwise compositions -------------------------------------------------------------------
@onnx_op("Shrink")
def shrink(ctx: OnnxContext, node) -> None:
    """x + bias where x < -lambd, x - bias where x > lambd, 0 elsewhere."""
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    lambd, bias = float(a.get("lambd", 0.5)), float(a.get("bias", 0.0))
    x = ctx.tensor(node.input[0])
    dt = b.dtype(x)
    if np.issubdtype(dt, np.floating):
        lo, hi = -lambd, lambd
        lt, gt = "ElementWiseLess", "ElementWiseGreater"
    elif np.issubdtype(dt, np.integer):
        if bias != int(bias):
            raise _fail(node, f"a non-integer bias {bias} is not supported for {dt} input")
        lo, hi = int(np.floor(-lambd)), int(np.ceil(lambd))    # x < -lambd <=> x <= floor(-lambd) ...
        lt, gt = "ElementWiseLessEqual", "ElementWiseGreaterEqual"
        if lambd == int(lambd):
            lo, hi = lo - 1, hi + 1
        lo, hi = (int(np.clip(v, np.iinfo(dt).min, np.iinfo(dt).max)) for v in (lo, hi))
    else:
        raise _fail(node, f"input type {dt} is not supported")
    bias_c = b.const("bias", bias, dt)
    zero = b.const("zero", 0, dt)
    below = b.op(lt, [x, b.const("lo", lo, dt)], tag="below")
    above = b.op(gt, [x, b.const("hi", hi, dt)], tag="above")
    inner = b.op("ElementWiseSelect", [above, b.op("ElementWiseSubtract", [x, bias_c], tag="minus"), zero],
                 tag="upper")
    b.op("ElementWiseSelect", [below, b.op("ElementWiseAdd", [x, bias_c], tag="plus"), inner],
         out=node.output[0])


@onnx_op("MeanVarianceNormalization")
def mean_variance_normalization(ctx: OnnxContext, node) -> None:
    """(x - E[x]) / (sqrt(E[(x - E[x])^2]) + 1e-9) over ``axes`` (the ONNX function's epsilon)."""
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    dt = b.dtype(x)
    if not np.issubdtype(dt, np.floating):
        raise _fail(node, f"input type {dt} is not supported (float only)")
    rank = len(b.shape(x))
    axes = sorted({_axis(node, int(v), rank, "axis") for v in attrs(node).get("axes", [0, 2, 3])})
    mean = b.op("ReduceMean", [x], {"axes": axes, "keep_dims": True}, "mean")
    d = b.op("ElementWiseSubtract", [x, mean], tag="centered")
    var = b.op("ReduceMean", [b.op("ElementWiseMultiply", [d, d], tag="sq")], {"axes": axes, "keep_dims": True},
               "var")
    std = b.op("ElementWiseAdd", [b.op("ElementWiseSquareRoot", [var], tag="std"), b.const("eps", 1e-9, dt)],
               tag="std_eps")
    b.op("ElementWiseDivide", [d, std], out=node.output[0])


# ---- constants ----------------------------------------------------------------------------------
@onnx_op("EyeLike")
def eye_like(ctx: OnnxContext, node) -> None:
    """Depends only on the input's static shape: a constant."""
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    if len(shape) != 2:
        raise _fail(node, "the input must be 2-D")
    if "dtype" in a:
        try:
            dt = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(a["dtype"])))
        except Exception:
            raise _fail(node, f"dtype {a['dtype']} is not supported") from None
    else:
        dt = np.asarray(ctx.const(node.input[0])).dtype if ctx.is_const(node.input[0]) else \
            ctx.graph.tensors[ctx.tensor(node.input[0])].dtype
    ctx.consts[node.output[0]] = np.eye(shape[0], shape[1], int(a.get("k", 0)), dtype=dt)


@onnx_op("Range")
def range_(ctx: OnnxContext, node) -> None:
    """Only constant ranges (the output size depends on the values)."""
    vals = [ctx.require_const(node, i, what) for i, what in enumerate(("start", "limit", "delta"))]
    start, limit, delta = (np.asarray(v).reshape(-1)[0] for v in vals)
    if delta == 0:
        raise _fail(node, "delta must not be 0")
    dt = np.asarray(vals[0]).dtype
    try:
        count = max(math.ceil((float(limit) - float(start)) / float(delta)), 0)
    except (OverflowError, ValueError):
        raise _fail(node, "start, limit and delta must be finite numbers") from None
    check_fold_shape([count], dt, f"Range node '{node.name or node.output[0]}'")
    ctx.consts[node.output[0]] = np.arange(start, limit, delta, dtype=dt)


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
    axis = _axis(node, int(a.get("axis", -2)), rank)
    mode = _str(a.get("mode"), "linear")
    if mode not in ("linear", "circular"):
        raise _fail(node, f"mode '{mode}' is not supported")
    if axis == 0 or len(us) != rank or any(u != p for k, (u, p) in enumerate(zip(us, ps)) if k != axis) \
            or us[axis] > ps[axis]:
        raise _fail(node, f"update {us} does not fit cache {ps} along axis {axis}")
    seq, cap = us[axis], ps[axis]
    ramp_shape = [seq if k == axis else 1 for k in range(rank)]
    ramp = np.arange(seq).reshape(ramp_shape)
    if not _has(node, 2) or ctx.is_const(node.input[2]):
        wi = (np.asarray(ctx.const(node.input[2])).astype(np.int64).reshape(-1) if _has(node, 2)
              else np.zeros(ps[0], np.int64))
        idx = wi.reshape([ps[0]] + [1] * (rank - 1)) + ramp
        if mode == "circular":
            idx = idx % cap
        elif idx.min() < 0 or idx.max() >= cap:
            raise _fail(node, f"write_indices {wi.tolist()} + {seq} positions run past the cache length {cap}")
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

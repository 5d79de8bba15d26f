"""ONNX Gemm / MatMul -> QNN FullyConnected (constant weights) or MatMul (``snpe_tools/ops/linear.py``), and
the ops that lower to MatMul:

* Einsum: diagonals by StridedSlice over a flattened square, ReduceSum, Transpose/Reshape and MatMul
  (batch letters stay separate dims, so ellipsis broadcasting is MatMul's own);
* DFT / STFT: MatMul with constant cosine/sine matrices (QNN has no DFT op).

A DFT of static length is a linear map, so it is exact as matrices: with ``c = cos(2*pi*k*t/L)`` and
``s = sin(...)``, the forward transform of ``x = xr + i*xi`` is ``Yr = xr@C + xi@S``, ``Yi = xi@C - xr@S``
and the inverse is ``(xr@C - xi@S, xi@C + xr@S) / L``.  Zero-padding or truncating the signal to
``dft_length`` and keeping only the first ``L//2 + 1`` bins (``onesided``) are rows / columns of those
matrices.  An inverse ``onesided`` transform (irfft) rebuilds the Hermitian spectrum: bins strictly
between DC and Nyquist count twice and the imaginary parts of DC and Nyquist are ignored, as numpy's
irfft does.  The matrices are built in float64 and stored in the signal's float type.
"""
from __future__ import annotations

import numpy as np
import onnx

from ..context import NodeBuilder, OnnxContext, attrs, node_error, node_name, str_attr
from ..registry import onnx_op

# FullyConnected wants weights [n, k]; re-laying out a weight costs a full copy, so weights at least this
# large that would need it stay [k, n] under MatMul (a copy of a multi-GiB weight doubles peak memory)
LARGE_WEIGHT = 256 << 20


@onnx_op("Gemm")
def gemm(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    trans_a, trans_b = int(a.get("transA", 0)), int(a.get("transB", 0))
    x = ctx.tensor(node.input[0])
    if trans_a:
        t = ctx.graph.unique_name(f"{node.input[0]}.T")
        x = ctx.emit("Transpose", [x], [t], {"perm": [1, 0]}, name=t)[0]
    b = ctx.const(node.input[1])
    has_c = len(node.input) > 2 and node.input[2]
    c = ctx.const(node.input[2]) if has_c else None
    out = node.output[0]
    if b is not None and (trans_b or b.nbytes < LARGE_WEIGHT):
        w = b if trans_b else b.T
        if alpha != 1.0:
            w = w * alpha
        wq = ctx.derived_const(node.input[1], "fc", np.ascontiguousarray(w, dtype=np.float32))
        n = w.shape[0]
        ins = [x, wq]
        late_c = None
        if has_c:
            if c is not None and c.size in (1, n) and (c.ndim <= 1 or c.shape[0] == 1):
                ins.append(ctx.derived_const(node.input[2], "fc",
                                             np.broadcast_to(c.reshape(-1) * beta, (n,)).astype(np.float32)))
            else:
                late_c = node.input[2]
        tmp = out if late_c is None else ctx.graph.derived_name(out, "fc")
        ctx.emit("FullyConnected", ins, [tmp], {}, name=node_name(node))
        if late_c is not None:
            cc = ctx.tensor(late_c) if beta == 1.0 else ctx.add_const(f"{late_c}.beta", ctx.const(late_c) * beta)
            ctx.emit("ElementWiseAdd", [tmp, cc], [out], name=f"{node_name(node)}.bias")
        return
    tmp = ctx.graph.unique_name(f"{out}.mm")
    cur = ctx.emit("MatMul", [x, ctx.tensor(node.input[1])], [tmp], {"transpose_in1": bool(trans_b)},
                   name=node_name(node))[0]
    if alpha != 1.0:
        al = ctx.add_const(f"{node_name(node)}.alpha", np.array(alpha, np.float32))
        t2 = ctx.graph.unique_name(f"{out}.alpha")
        cur = ctx.emit("ElementWiseMultiply", [cur, al], [t2 if has_c else out], name=t2)[0]
    if has_c:
        cc = ctx.tensor(node.input[2]) if beta == 1.0 else ctx.add_const(
            f"{node.input[2]}.beta", ctx.require_const(node, 2, "C") * beta)
        ctx.emit("ElementWiseAdd", [cur, cc], [out], name=f"{node_name(node)}.bias")
    elif cur != out:
        ctx.emit("Reshape", [cur], [out], {"shape": list(ctx.graph.tensors[cur].shape)}, name=f"{out}.id")


@onnx_op("MatMul")
def matmul(ctx: OnnxContext, node) -> None:
    b = ctx.const(node.input[1])
    a_shape = ctx.shape(node.input[0])
    x = ctx.tensor(node.input[0])
    if b is not None and b.ndim == 2 and len(a_shape) >= 2 and b.dtype.kind == "f" and b.nbytes < LARGE_WEIGHT:
        w = ctx.derived_const(node.input[1], "fc", np.ascontiguousarray(b.T, dtype=np.float32))
        ctx.emit("FullyConnected", [x, w], [node.output[0]], {"keep_dims": True}, name=node_name(node))
        return
    ctx.emit("MatMul", [x, ctx.tensor(node.input[1])], [node.output[0]], name=node_name(node))


def _einsum_terms(node, eq: str, ranks: list[int]) -> tuple[list[list[str]], list[str]]:
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise node_error(node, f"equation '{eq}' names {len(terms)} operands, the node has {len(ranks)}")
    n_ell = 0
    for t, r in zip(terms, ranks):
        if "..." in t:
            n_ell = max(n_ell, r - (len(t) - 3))
    ell = [chr(0x100 + i) for i in range(n_ell)]   # placeholder letters for the ellipsis dims

    def expand(t: str, r: int | None) -> list[str]:
        if t.count("...") > 1 or any(not (c.isalpha() or c == ".") for c in t):
            raise node_error(node, f"cannot parse equation '{eq}'")
        if "..." not in t:
            if "." in t:
                raise node_error(node, f"cannot parse equation '{eq}'")
            return list(t)
        pre, post = t.split("...")
        e = len(ell) if r is None else r - len(pre) - len(post)
        if e < 0:
            raise node_error(node, f"term '{t}' does not fit its operand")
        return list(pre) + ell[len(ell) - e:] + list(post)

    ins = [expand(t, r) for t, r in zip(terms, ranks)]
    for t, r in zip(ins, ranks):
        if len(t) != r:
            raise node_error(node, f"equation '{eq}' does not match the operand ranks {ranks}")
    if arrow:
        out = expand(rhs, None)
    else:
        counts = {}
        for t in ins:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = list(ell) + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    if len(set(out)) != len(out) or any(c not in {x for t in ins for x in t} for c in out):
        raise node_error(node, f"output term of '{eq}' is invalid")
    return ins, out


@onnx_op("Einsum")
def einsum(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    eq = str_attr(attrs(node).get("equation"), "")
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
            raise node_error(b.node, f"letter '{c}' labels dimensions of different sizes {shape[p]} and {shape[q]}")
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
                raise node_error(b.node, f"letter '{c}' has sizes {sa[c]} and {sb[c]}")
            if sa[c] == 1:
                xb = b.op("ReduceSum", [xb], {"axes": [tb.index(c)], "keep_dims": True}, f"{tag}.bsum")
                sb[c] = 1
            else:
                xa = b.op("ReduceSum", [xa], {"axes": [ta.index(c)], "keep_dims": True}, f"{tag}.asum")
                sa[c] = 1
    for c in batch:
        if sa[c] != sb[c] and 1 not in (sa[c], sb[c]):
            raise node_error(b.node, f"letter '{c}' has sizes {sa[c]} and {sb[c]}")
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


def _matrices(n_in: int, length: int, inverse: bool, onesided: bool) -> tuple[np.ndarray, ...]:
    """(Ar, Br, Ai, Bi) with ``Yr = xr@Ar + xi@Br`` and ``Yi = xr@Ai + xi@Bi``; Ai/Bi None for irfft."""
    if inverse and onesided:                                  # irfft: bins -> L real samples
        k = np.arange(n_in)[:, None]
        t = np.arange(length)[None, :]
        bins = length // 2 + 1
        weight = np.where((k == 0) | ((length % 2 == 0) & (k == length // 2)), 1.0, 2.0) * (k < bins)
        angle = 2 * np.pi * k * t / length
        return weight * np.cos(angle) / length, -weight * np.sin(angle) / length, None, None
    n_out = length // 2 + 1 if onesided else length
    t = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    angle = 2 * np.pi * ((t * k) % length) / length
    keep = t < length                                          # samples past dft_length are dropped
    c, s = np.cos(angle) * keep, np.sin(angle) * keep
    if inverse:
        return c / length, -s / length, s / length, c / length
    return c, s, -s, c


@onnx_op("DFT")
def dft(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    a = attrs(node)
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    rank = len(shape)
    dt = b.dtype(x)
    if dt not in (np.float32, np.float16) or shape[-1] not in (1, 2):
        raise node_error(node, f"the input must be float32/float16 with a last dimension of 1 "
                               f"(real) or 2 (complex); got {dt} {shape}")
    if ctx.opset >= 20:
        axis = int(np.asarray(ctx.require_const(node, 2, "the axis")).reshape(-1)[0]) \
            if len(node.input) > 2 and node.input[2] else -2
    else:
        axis = int(a.get("axis", 1))
    axis = axis % rank
    if axis == rank - 1:
        raise node_error(node, "the axis cannot be the last (real/imaginary) dimension")
    inverse, onesided = bool(a.get("inverse", 0)), bool(a.get("onesided", 0))
    n_in = shape[axis]
    if len(node.input) > 1 and node.input[1]:
        length = int(np.asarray(ctx.require_const(node, 1, "dft_length")).reshape(-1)[0])
    else:
        length = 2 * (n_in - 1) if inverse and onesided else n_in
    if length < 1:
        raise node_error(node, "dft_length must be positive")
    _emit_dft(b, x, axis, length, inverse, onesided, node.output[0])


def _emit_dft(b: NodeBuilder, x: str, axis: int, length: int, inverse: bool, onesided: bool, out: str) -> None:
    """DFT of ``x [..., n, 1|2]`` along ``axis`` into ``out [..., n_out, 1|2]`` (same axis order)."""
    shape = b.shape(x)
    rank, dt, n_in = len(shape), b.dtype(x), shape[axis]
    # signal axis last, real/imaginary parts split: [..., n]
    perm = [d for d in range(rank - 1) if d != axis] + [rank - 1, axis]
    xt = b.transpose(x, perm, "signal_last")
    parts_shape = b.shape(xt)
    lead = parts_shape[:-2]
    if shape[-1] == 2:
        xr, xi = b.ops("Split", [xt], {"axis": rank - 2, "split_index": [1]}, "parts", n_out=2)
        xr, xi = b.reshape(xr, lead + [n_in], "real"), b.reshape(xi, lead + [n_in], "imag")
    else:
        xr, xi = b.reshape(xt, lead + [n_in], "real"), None
    ar, br, ai, bi = _matrices(n_in, length, inverse, onesided)

    def linear(m_x: np.ndarray, m_y: np.ndarray | None, tag: str) -> str:
        y = b.op("MatMul", [xr, b.const(f"{tag}_r", m_x, dt)], tag=f"{tag}_from_real")
        if xi is not None and m_y is not None:
            yi = b.op("MatMul", [xi, b.const(f"{tag}_i", m_y, dt)], tag=f"{tag}_from_imag")
            y = b.op("ElementWiseAdd", [y, yi], tag=tag)
        return y

    yr = linear(ar, br, "re")
    n_out = ar.shape[1]
    outs = [b.reshape(yr, lead + [1, n_out], "re_part")]
    if ai is not None:
        outs.append(b.reshape(linear(ai, bi, "im"), lead + [1, n_out], "im_part"))
    y = outs[0] if len(outs) == 1 else b.op("Concat", outs, {"axis": rank - 2}, "complex")
    inv = [perm.index(d) for d in range(rank)]
    b.transpose(y, inv, "out", out=out)


@onnx_op("STFT")
def stft(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    """Frames gathered with a constant index table, windowed, then the DFT above along the frame axis."""
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    dt = b.dtype(x)
    if len(shape) != 3 or shape[-1] not in (1, 2) or dt not in (np.float32, np.float16):
        raise node_error(node, f"the signal must be float32/float16 [batch, length, 1|2]; got "
                               f"{dt} {shape}")
    step = int(np.asarray(ctx.require_const(node, 1, "frame_step")).reshape(-1)[0])
    window = ctx.tensor(node.input[2]) if len(node.input) > 2 and node.input[2] else None   # may be run-time
    if len(node.input) > 3 and node.input[3]:
        frame = int(np.asarray(ctx.require_const(node, 3, "frame_length")).reshape(-1)[0])
    elif window is not None:
        frame = int(b.shape(window)[0])
    else:
        raise node_error(node, "give frame_length or a window")
    if window is not None and b.shape(window) != [frame]:
        raise node_error(node, f"the window has shape {b.shape(window)}, frame_length is {frame}")
    onesided = bool(attrs(node).get("onesided", 1))
    if onesided and shape[-1] == 2:
        raise node_error(node, "onesided output is only defined for a real signal")
    n_frames = (shape[1] - frame) // step + 1
    if n_frames < 1 or step < 1:
        raise node_error(node, f"a signal of {shape[1]} samples holds no frame of {frame} "
                               f"with step {step}")
    index = np.arange(n_frames)[:, None] * step + np.arange(frame)[None, :]
    frames = b.op("Gather", [x, b.const("frame_index", index, np.int32)], {"axis": 1}, "frames")
    if window is not None:
        frames = b.op("ElementWiseMultiply", [frames, b.reshape(window, [frame, 1], "window")], tag="windowed")
    _emit_dft(b, frames, 2, frame, False, onesided, node.output[0])

"""ONNX Attention, RMSNormalization, RotaryEmbedding, CausalConvWithState, LinearAttention, FlexAttention -> QNN.

QNN has no single scaled-dot-product-attention op, so ``Attention`` (opset 23-25) is written as the
exact composition its ONNX function body defines: scale Q and K by sqrt(scale), MatMul with
``transpose_in1``, optional softcap, additive bias (attention mask, causal / sliding-window frontier,
KV padding), Softmax over the keys, the fully-masked-row guard, MatMul with V.  That composition,
including grouped-query attention (q heads folded onto their kv head by a free Reshape, no Tile of
K/V), is ``frontends/lowering/attention.py``, shared with the PyTorch frontend; this module maps
ONNX's conventions onto it (3-D packed heads, KV cache, the bias from mask/causal/window/padding).

``RMSNormalization`` maps onto QNN ``RmsNorm``; ``RotaryEmbedding`` is a composition (Gather of the
cos/sin caches, Split, Multiply/Subtract/Add, Concat) because the QNN op of that name is not
documented in enough detail to reproduce its numerics.  ``CausalConvWithState`` is a left
Concat/Pad plus a DepthWiseConv2d; ``LinearAttention`` is its recurrence unrolled over the (static)
sequence length, since QNN has no loop op.  ``FlexAttention`` (ai.onnx.preview) reuses the Attention
composition and translates its score/prob modifier subgraphs in place.
"""
from __future__ import annotations

import math

import numpy as np
import onnx

from ....errors import ConversionError
from ....ir import dtypes as qd
from ...lowering import attention as lowering
from ..context import NodeBuilder, OnnxContext, attrs
from ..folding import fold_node
from ..registry import get_translator, onnx_op

# softmax_precision / stash_type (ONNX TensorProto type) -> numpy dtype QNN targets can compute in
_SOFTMAX_PRECISION = {1: np.dtype(np.float32), 10: np.dtype(np.float16), 11: np.dtype(np.float32)}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float16))


def _name(node) -> str:
    return node.name or node.output[0]


def _err(node, what: str) -> ConversionError:
    return ConversionError(f"{node.op_type} node '{_name(node)}': {what}")


def _inputs(node, n: int) -> list[str]:
    return (list(node.input) + [""] * n)[:n]


def _outputs(node, n: int) -> list[str]:
    return (list(node.output) + [""] * n)[:n]


def _value(ctx: OnnxContext, onnx_name: str):
    """numpy value of a constant ONNX input, else its IR tensor name."""
    c = ctx.const(ctx.aliases.get(onnx_name, onnx_name))
    return np.asarray(c) if c is not None else ctx.tensor(onnx_name)


def _onnx_dtype(ctx: OnnxContext, name: str) -> np.dtype:
    c = ctx.const(ctx.aliases.get(name, name))
    if c is not None:
        return np.asarray(c).dtype
    return ctx.graph.tensors[ctx.tensor(name)].dtype


# ---- Attention -------------------------------------------------------------------------------
@onnx_op("Attention")
def attention(ctx: OnnxContext, node) -> None:
    """Scaled dot-product attention as MatMul/Softmax/elementwise QNN ops (ONNX function semantics).

    Why a composition: QNN has no attention op.  Every step follows the ONNX function body so the
    numbers match bit for bit where the arithmetic allows (Q and K are each scaled by sqrt(scale) in
    the input dtype, softcap precedes the bias, the bias is additive 0/-inf, rows whose bias is all
    -inf are zeroed after the softmax).  Static parts of the bias (causal/window frontier with a
    static offset, constant masks and constant ``nonpad_kv_seqlen``) are computed at convert time.
    """
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    q_in, k_in, v_in, mask_in, pk_in, pv_in, nonpad_in = _inputs(node, 7)
    y_out, pk_out, pv_out, qk_out = _outputs(node, 4)
    dt = _onnx_dtype(ctx, q_in)
    if dt not in _FLOATS:
        raise _err(node, f"input type {dt} is not supported (float32/float16 only)")
    if _onnx_dtype(ctx, k_in) != dt or _onnx_dtype(ctx, v_in) != dt:
        raise _err(node, "Q, K and V must have the same element type")
    qs, ks, vs = (tuple(ctx.shape(i)) for i in (q_in, k_in, v_in))
    rank = len(qs)
    if rank not in (3, 4) or len(ks) != rank or len(vs) != rank:
        raise _err(node, f"Q/K/V must all be 3-D or all 4-D (got ranks {len(qs)}, {len(ks)}, {len(vs)})")
    batch = qs[0]
    if ks[0] != batch or vs[0] != batch:
        raise _err(node, f"batch sizes of Q, K, V differ ({qs[0]}, {ks[0]}, {vs[0]})")
    q, k, v = ctx.tensor(q_in), ctx.tensor(k_in), ctx.tensor(v_in)

    # -- heads: to [B, heads, seq, head_size] ------------------------------------------------
    if rank == 3:
        if "q_num_heads" not in a or "kv_num_heads" not in a:
            raise _err(node, "3-D Q/K/V need the q_num_heads and kv_num_heads attributes")
        hq, hkv = int(a["q_num_heads"]), int(a["kv_num_heads"])
        if hq <= 0 or hkv <= 0 or qs[2] % hq or ks[2] % hkv or vs[2] % hkv:
            raise _err(node, f"hidden sizes Q {qs[2]}, K {ks[2]}, V {vs[2]} are not divisible by "
                             f"q_num_heads={hq} / kv_num_heads={hkv}")
        q4, k4, v4 = (lowering.split_heads(ctx, x, h, b.n, tag)
                      for x, h, tag in ((q, hq, "q"), (k, hkv, "k"), (v, hkv, "v")))
    else:
        hq, hkv = qs[1], ks[1]
        if vs[1] != hkv:
            raise _err(node, f"K has {hkv} heads but V has {vs[1]}")
        for attr, have in (("q_num_heads", hq), ("kv_num_heads", hkv)):
            if attr in a and int(a[attr]) != have:
                raise _err(node, f"{attr}={a[attr]} disagrees with the 4-D input's {have} heads")
        q4, k4, v4 = q, k, v
    sq, d = b.shape(q4)[2], b.shape(q4)[3]
    if b.shape(k4)[3] != d:
        raise _err(node, f"Q head size {d} differs from K head size {b.shape(k4)[3]}")
    dv = b.shape(v4)[3]
    if hq % hkv:
        raise _err(node, f"q_num_heads {hq} is not a multiple of kv_num_heads {hkv}")

    # -- KV cache ------------------------------------------------------------------------------
    if bool(pk_in) != bool(pv_in):
        raise _err(node, "past_key and past_value must be given together")
    past = 0
    if pk_in:
        if nonpad_in:
            raise _err(node, "nonpad_kv_seqlen cannot be combined with past_key/past_value")
        pks, pvs = tuple(ctx.shape(pk_in)), tuple(ctx.shape(pv_in))
        if len(pks) != 4 or pks[:2] != (batch, hkv) or pks[3] != d or len(pvs) != 4 or \
                pvs[:3] != pks[:3] or pvs[3] != dv:
            raise _err(node, f"past_key {list(pks)} / past_value {list(pvs)} do not fit K/V "
                             f"[{batch}, {hkv}, *, {d}] / [{batch}, {hkv}, *, {dv}]")
        if _onnx_dtype(ctx, pk_in) != dt or _onnx_dtype(ctx, pv_in) != dt:
            raise _err(node, "past_key/past_value must have the element type of Q, K, V")
        past = pks[2]
        k4 = b.op("Concat", [ctx.tensor(pk_in), k4], {"axis": 2}, "present_key", out=pk_out or None)
        v4 = b.op("Concat", [ctx.tensor(pv_in), v4], {"axis": 2}, "present_value", out=pv_out or None)
    else:
        if pk_out:
            ctx.alias(pk_out, k4)
        if pv_out:
            ctx.alias(pv_out, v4)
    skv = b.shape(k4)[2]
    if b.shape(v4)[2] != skv:
        raise _err(node, f"K and V sequence lengths differ ({skv} vs {b.shape(v4)[2]})")

    # -- scores, softcap, bias, softmax (optionally in another precision), row guard, V ----------------
    scale = float(a["scale"]) if "scale" in a else 1.0 / math.sqrt(d)
    softcap = float(a.get("softcap", 0.0))
    if softcap < 0:
        raise _err(node, f"softcap {softcap} must be >= 0")
    bias, row_masked = _attention_bias(ctx, b, node, a, mask_in, nonpad_in, dt, batch, hq, sq, skv, past)
    prec = a.get("softmax_precision")
    sdt = dt
    if prec is not None:
        if int(prec) not in _SOFTMAX_PRECISION:
            name = onnx.TensorProto.DataType.Name(int(prec)) if int(prec) in onnx.TensorProto.DataType.values() \
                else prec
            raise _err(node, f"softmax_precision {name} is not supported (FLOAT, FLOAT16, DOUBLE as FLOAT)")
        sdt = _SOFTMAX_PRECISION[int(prec)]
    mode = int(a.get("qk_matmul_output_mode", 0))
    if qk_out and mode not in (0, 1, 2, 3):
        raise _err(node, f"qk_matmul_output_mode {mode} is not defined (0-3)")
    att = lowering.scaled_dot_product_attention(
        ctx, q4, k4, v4, b.n, scale=scale, scale_inputs=True, mask=bias, softcap=softcap, softmax_dtype=sdt,
        row_masked=row_masked, out=y_out if rank == 4 else None)
    if qk_out:
        ctx.alias(qk_out, (att.scores, att.capped, att.masked, att.probs)[mode])
    if rank == 3:
        lowering.merge_heads(ctx, att.output, b.n, "y", out=y_out)


def _attention_bias(ctx: OnnxContext, b: NodeBuilder, node, a, mask_in: str, nonpad_in: str, dt,
                    batch: int, hq: int, sq: int, skv: int, past: int):
    """Additive bias (0 / -inf / float mask) broadcastable to [B, Hq, Sq, Skv], and the row guard.

    Returns ``(bias, row_masked)``: IR tensor names or None.  ``row_masked`` is a bool tensor that is
    True for query rows whose bias is -inf everywhere (their probabilities become 0, not NaN).
    """
    causal = bool(int(a.get("is_causal", 0)))
    left, right = int(a.get("left_window_size", -1)), int(a.get("right_window_size", -1))
    if left < -1 or right < -1:
        raise _err(node, f"left/right_window_size must be -1 or >= 0 (got {left}, {right})")
    windowed = left >= 0 or right >= 0
    ninf = np.asarray(-np.inf, dt)
    static_parts: list[np.ndarray] = []
    dynamic_parts: list[str] = []

    # attention mask: bool -> 0/-inf, short key axis padded with -inf
    if mask_in:
        mshape = tuple(ctx.shape(mask_in))
        mdt = _onnx_dtype(ctx, mask_in)
        if not 1 <= len(mshape) <= 4:
            raise _err(node, f"attn_mask of rank {len(mshape)} is not supported (1-4)")
        if mshape[-1] > skv:
            raise _err(node, f"attn_mask key length {mshape[-1]} exceeds the total sequence length {skv}")
        try:
            np.broadcast_shapes(mshape[:-1] + (skv,), (batch, hq, sq, skv))
        except ValueError:
            raise _err(node, f"attn_mask shape {list(mshape)} does not broadcast to "
                             f"[{batch}, {hq}, {sq}, {skv}]") from None
        if mdt != np.bool_ and not np.issubdtype(mdt, np.floating):
            raise _err(node, f"attn_mask type {mdt} is not supported (bool or float)")
        pad = skv - mshape[-1]
        m = _value(ctx, mask_in)
        if isinstance(m, np.ndarray):
            m = np.where(m, np.zeros((), dt), ninf) if m.dtype == np.bool_ else m.astype(dt)
            if pad:
                m = np.pad(m, [(0, 0)] * (m.ndim - 1) + [(0, pad)], constant_values=ninf)
            static_parts.append(m)
        else:
            if mdt == np.bool_:
                m = b.op("ElementWiseSelect", [m, b.const("mask_zero", 0, dt), b.const("mask_ninf", ninf, dt)], tag="mask_bias")
            elif mdt != dt:
                m = b.op("Cast", [m], {"to": qd.to_qnn(dt)}, "mask_cast")
            if pad:
                amounts = [[0, 0]] * (len(mshape) - 1) + [[0, pad]]
                m = b.op("Pad", [m], {"pad_amount": amounts, "pad_constant_value": -np.inf}, "mask_pad")
            dynamic_parts.append(m)

    # causal / sliding-window frontier and KV padding
    i = np.arange(sq).reshape(sq, 1)
    j = np.arange(skv).reshape(1, skv)
    if nonpad_in:
        ns = tuple(ctx.shape(nonpad_in))
        if ns != (batch,):
            raise _err(node, f"nonpad_kv_seqlen shape {list(ns)} is not [batch] = [{batch}]")
        n = _value(ctx, nonpad_in)
        if isinstance(n, np.ndarray):
            off = n.astype(np.int64).reshape(batch, 1, 1, 1)
            allowed = j < off                                  # [B,1,1,Skv] padding
            allowed = allowed & lowering.key_frontier(i + off - sq - j, causal, left, right)
            static_parts.append(np.where(allowed, np.zeros((), dt), ninf))
        else:
            if not np.issubdtype(b.dtype(n), np.integer):
                raise _err(node, "nonpad_kv_seqlen must be an integer tensor")
            n4 = b.reshape(n, [batch, 1, 1, 1], "nonpad_b111")
            it = b.dtype(n4)
            # j < n ; causal: (j - i + Sq) <= n ; left: n <= (j - i + Sq) + L ; right: n >= (j - i + Sq) - R
            conds = [b.op("ElementWiseLess", [b.const("kv_index", j.reshape(1, 1, 1, skv), it), n4], tag="kv_valid")]
            rel = (j - i + sq).reshape(1, 1, sq, skv)
            if causal:
                conds.append(b.op("ElementWiseLessEqual", [b.const("causal_rel", rel, it), n4], tag="causal_ok"))
            if left >= 0:
                conds.append(b.op("ElementWiseLessEqual", [n4, b.const("left_rel", rel + left, it)], tag="left_ok"))
            if right >= 0:
                conds.append(b.op("ElementWiseGreaterEqual", [n4, b.const("right_rel", rel - right, it)], tag="right_ok"))
            ok = conds[0]
            for k, cnd in enumerate(conds[1:]):
                ok = b.op("ElementWiseAnd", [ok, cnd], tag=f"allowed{k}")
            dynamic_parts.append(b.op("ElementWiseSelect", [ok, b.const("zero_b", 0, dt), b.const("ninf_b", ninf, dt)], tag="frontier_bias"))
    elif causal or windowed:
        allowed = lowering.key_frontier(i + past - j, causal, left, right)
        static_parts.append(np.where(allowed, np.zeros((), dt), ninf))

    static = None
    if static_parts:
        static = static_parts[0]
        for part in static_parts[1:]:
            static = static + part
        static = static.astype(dt)
        if not np.any(static):   # all zero: nothing to add
            static = None
    if not dynamic_parts:
        if static is None:
            return None, None
        rows = np.isneginf(static.max(axis=-1, keepdims=True))
        bias = b.const("attn_bias", static, dt)
        return bias, (b.const("row_masked", rows, np.bool_) if rows.any() else None)
    bias = dynamic_parts[0]
    for k, part in enumerate(dynamic_parts[1:] + ([b.const("attn_bias", static, dt)] if static is not None else [])):
        bias = b.op("ElementWiseAdd", [bias, part], tag=f"bias_sum{k}")
    rank = len(b.shape(bias))
    mx = b.op("ReduceMax", [bias], {"axes": [rank - 1], "keep_dims": True}, "bias_row_max")
    return bias, b.op("ElementWiseEqual", [mx, b.const("ninf", ninf, dt)], tag="row_masked")


# ---- RMSNormalization ------------------------------------------------------------------------
@onnx_op("RMSNormalization")
def rms_normalization(ctx: OnnxContext, node) -> None:
    """QNN RmsNorm over axes [axis, rank); the scale becomes gamma when it spans only those dims.

    Why: QNN defines RmsNorm directly (epsilon, axes, gamma), so one op replaces the function's
    Mul/ReduceMean/Add/Sqrt/Div/Mul chain.  A scale that also varies over leading (non-normalised)
    dims cannot be a gamma; it is applied by an ElementWiseMultiply after a unit-gamma RmsNorm, which
    is exactly the function's last step.  When ``stash_type`` differs from X's type (the default
    FLOAT with float16 X) the normalisation runs in the stash type between two Casts and the scale
    is applied after casting back, as in the ONNX function.
    """
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    x_in, s_in = _inputs(node, 2)
    xs = tuple(ctx.shape(x_in))
    rank = len(xs)
    axis = int(a.get("axis", -1))
    if not -rank <= axis < rank:
        raise _err(node, f"axis {axis} is out of range for a rank-{rank} input")
    axis %= rank
    eps = float(a.get("epsilon", 1e-5))
    dt = _onnx_dtype(ctx, x_in)
    if dt not in _FLOATS:
        raise _err(node, f"input type {dt} is not supported (float32/float16 only)")
    if _onnx_dtype(ctx, s_in) != dt:
        raise _err(node, f"scale type {_onnx_dtype(ctx, s_in)} differs from the input type {dt}; not supported")
    stash = int(a.get("stash_type", 1))
    sdt = _SOFTMAX_PRECISION.get(stash)   # FLOAT, FLOAT16, DOUBLE computed as FLOAT
    if sdt is None:
        raise _err(node, f"stash_type {stash} is not supported (FLOAT, FLOAT16, DOUBLE as FLOAT)")
    norm_shape = xs[axis:]
    axes = list(range(axis, rank))
    ss = tuple(ctx.shape(s_in))
    try:
        if np.broadcast_shapes(xs, ss) != xs:
            raise ValueError
    except ValueError:
        raise _err(node, f"scale shape {list(ss)} does not broadcast to the input shape {list(xs)}") from None
    stripped = ss[next((i for i, d in enumerate(ss) if d != 1), len(ss)):]
    as_gamma = len(stripped) <= len(norm_shape) and sdt == dt
    x = ctx.tensor(x_in)
    out = node.output[0]
    if as_gamma:
        sv = _value(ctx, s_in)
        if isinstance(sv, np.ndarray):
            gamma = b.const("gamma", np.broadcast_to(sv.astype(dt).reshape(stripped), norm_shape).copy(), dt)
        elif ss == norm_shape:
            gamma = sv
        elif stripped == norm_shape[len(norm_shape) - len(stripped):] and \
                len(stripped) == len(norm_shape):
            gamma = b.reshape(sv, norm_shape, "gamma")
        else:
            as_gamma = False
    if as_gamma:
        b.op("RmsNorm", [x, gamma], {"epsilon": eps, "axes": axes}, "rmsnorm", out=out)
        return
    # general scale (or float32 stash for float16 X): unit-gamma RmsNorm, then the scale
    xn = x if sdt == dt else b.op("Cast", [x], {"to": qd.to_qnn(sdt)}, "x_stash")
    ones = b.const("unit_gamma", np.ones(norm_shape, sdt), sdt)
    y = b.op("RmsNorm", [xn, ones], {"epsilon": eps, "axes": axes}, "rmsnorm")
    if sdt != dt:
        y = b.op("Cast", [y], {"to": qd.to_qnn(dt)}, "normalized")
    b.op("ElementWiseMultiply", [y, ctx.tensor(s_in)], tag="scaled", out=out)


# ---- RotaryEmbedding -------------------------------------------------------------------------
@onnx_op("RotaryEmbedding")
def rotary_embedding(ctx: OnnxContext, node) -> None:
    """RoPE as Gather (cache rows by position_ids), Split, Multiply/Subtract/Add and Concat.

    Why a composition: the QNN RotaryEmbedding op's input conventions are not documented here, while
    the rotation is a handful of elementwise ops.  The input keeps ONNX's own layout ([B, H, S, D] or
    [B, S, H*D] viewed as [B, S, H, D]); the cos/sin rows are reshaped to broadcast over the heads.
    Interleaved pairs (x[2i], x[2i+1]) are exposed by a free Reshape to [..., R/2, 2] and a Split.
    """
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    x_in, cos_in, sin_in, pos_in = _inputs(node, 4)
    xs = tuple(ctx.shape(x_in))
    dt = _onnx_dtype(ctx, x_in)
    if dt not in _FLOATS:
        raise _err(node, f"input type {dt} is not supported (float32/float16 only)")
    interleaved = bool(int(a.get("interleaved", 0)))
    x = ctx.tensor(x_in)
    if len(xs) == 4:
        bsz, _, seq, hd = xs
        view = x
        cache_view = [bsz, 1, seq]            # broadcast over heads (axis 1)
    elif len(xs) == 3:
        nh = int(a.get("num_heads", 0))
        if nh <= 0 or xs[2] % nh:
            raise _err(node, f"3-D input needs num_heads dividing the hidden size {xs[2]} (got {nh})")
        bsz, seq = xs[0], xs[1]
        hd = xs[2] // nh
        view = b.reshape(x, [bsz, seq, nh, hd], "bshd")
        cache_view = [bsz, seq, 1]            # broadcast over heads (axis 2)
    else:
        raise _err(node, f"input of rank {len(xs)} is not supported (3-D or 4-D)")
    rdim = int(a.get("rotary_embedding_dim", 0)) or hd
    if rdim % 2 or rdim > hd:
        raise _err(node, f"rotary_embedding_dim {rdim} must be even and at most the head size {hd}")
    half = rdim // 2

    def cache(name: str, tag: str) -> str:
        cs = tuple(ctx.shape(name))
        if _onnx_dtype(ctx, name) != dt:
            raise _err(node, f"{tag}_cache type differs from the input type {dt}")
        if pos_in:
            ps = tuple(ctx.shape(pos_in))
            if len(cs) != 2 or cs[1] != half or ps != (bsz, seq):
                raise _err(node, f"{tag}_cache {list(cs)} / position_ids {list(ps)} do not fit "
                                 f"[max_pos, {half}] / [{bsz}, {seq}]")
            pv, cv = _value(ctx, pos_in), _value(ctx, name)
            if isinstance(pv, np.ndarray) and isinstance(cv, np.ndarray):
                if pv.min(initial=0) < 0 or pv.max(initial=0) >= cs[0]:
                    raise _err(node, f"position_ids outside [0, {cs[0]})")
                rows = b.const(f"{tag}_rows", cv[pv.astype(np.int64)], dt)
            else:
                idx = ctx.tensor(pos_in)
                rows = b.op("Gather", [ctx.tensor(name), idx], {"axis": 0}, f"{tag}_rows")
        else:
            if cs != (bsz, seq, half):
                raise _err(node, f"{tag}_cache {list(cs)} must be [{bsz}, {seq}, {half}] without position_ids")
            rows = ctx.tensor(name)
        shape = cache_view + ([half, 1] if interleaved else [half])
        return b.reshape(rows, shape, f"{tag}_view")

    cos, sin = cache(cos_in, "cos"), cache(sin_in, "sin")
    lead = list(b.shape(view)[:-1])
    axis = len(lead)
    if rdim < hd:
        rot, rest = _split(b, view, axis, [rdim], "rot_split")
    else:
        rot, rest = view, None
    if interleaved:
        pairs = b.reshape(rot, lead + [half, 2], "pairs")
        x1, x2 = _split(b, pairs, axis + 1, [1], "pair_split")
    else:
        x1, x2 = _split(b, rot, axis, [half], "half_split")
    c1 = b.op("ElementWiseMultiply", [cos, x1], tag="cos_x1")
    s2 = b.op("ElementWiseMultiply", [sin, x2], tag="sin_x2")
    s1 = b.op("ElementWiseMultiply", [sin, x1], tag="sin_x1")
    c2 = b.op("ElementWiseMultiply", [cos, x2], tag="cos_x2")
    real = b.op("ElementWiseSubtract", [c1, s2], tag="real")
    imag = b.op("ElementWiseAdd", [s1, c2], tag="imag")
    if interleaved:   # pairs back in place: [..., R/2, 2] -> [..., R]
        joined = b.op("Concat", [real, imag], {"axis": axis + 1}, "pairs_out")
        parts = [joined if rest is None else b.reshape(joined, lead + [rdim], "rotated")]
    else:
        parts = [real, imag]
    parts += [rest] if rest is not None else []
    if len(parts) == 1:
        b.reshape(parts[0], xs, "out", out=node.output[0])
    elif len(xs) == 4:
        b.op("Concat", parts, {"axis": axis}, "rope", out=node.output[0])
    else:
        b.reshape(b.op("Concat", parts, {"axis": axis}, "rope"), xs, "out", out=node.output[0])


def _split(b: NodeBuilder, x: str, axis: int, index: list[int], tag: str) -> list[str]:
    return b.ops("Split", [x], {"axis": axis, "split_index": index}, tag, n_out=len(index) + 1)


# ---- CausalConvWithState -----------------------------------------------------------------------
@onnx_op("CausalConvWithState")
def causal_conv_with_state(ctx: OnnxContext, node) -> None:
    """Causal depthwise Conv1d with carried state: Concat/Pad on the left, DepthWiseConv2d, SiLU.

    Why: QNN has no stateful conv; the op is by definition ``padded = [past_state | input]`` (zeros
    when no state), a valid depthwise convolution over ``padded``, an optional SiLU and
    ``present_state = padded[..., -(k-1):]``, all of which are plain QNN ops.  The 1-D conv runs as
    a channel-last DepthWiseConv2d over a height-1 map, like ONNX Conv-1d.  SiLU of float16 data is
    evaluated in float32 as the ONNX definition does.
    """
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    x_in, w_in, bias_in, past_in = _inputs(node, 4)
    y_out, state_out = _outputs(node, 2)
    xs, ws = tuple(ctx.shape(x_in)), tuple(ctx.shape(w_in))
    dt = _onnx_dtype(ctx, x_in)
    if dt not in _FLOATS:
        raise _err(node, f"input type {dt} is not supported (float32/float16 only)")
    if len(xs) != 3 or len(ws) != 3 or ws[0] != xs[1] or ws[1] != 1:
        raise _err(node, f"input {list(xs)} / weight {list(ws)} must be [B, C, L] / [C, 1, k]")
    for name, tag in ((w_in, "weight"), (bias_in, "bias"), (past_in, "past_state")):
        if name and _onnx_dtype(ctx, name) != dt:
            raise _err(node, f"{tag} type {_onnx_dtype(ctx, name)} differs from the input type {dt}")
    act = a.get("activation", "none")
    if act not in ("none", "silu", "swish"):
        raise _err(node, f"activation '{act}' is not supported (none, silu, swish)")
    bsz, ch, length = xs
    k = ws[2]
    x = ctx.tensor(x_in)
    if past_in:
        if tuple(ctx.shape(past_in)) != (bsz, ch, k - 1):
            raise _err(node, f"past_state {list(ctx.shape(past_in))} must be [{bsz}, {ch}, {k - 1}]")
        padded = b.op("Concat", [ctx.tensor(past_in), x], {"axis": 2}, "padded") if k > 1 else x
    elif k > 1:
        padded = b.op("Pad", [x], {"pad_amount": [[0, 0], [0, 0], [k - 1, 0]]}, "padded")
    else:
        padded = x
    if state_out:
        b.op("StridedSlice", [padded], {"ranges": [[0, bsz, 1], [0, ch, 1], [length, length + k - 1, 1]]}, "present_state", out=state_out)

    # weights [C, 1, k] -> DepthWiseConv2d [1, k, 1, C]
    wv = _value(ctx, w_in)
    if isinstance(wv, np.ndarray):
        wq = b.const("w_hwio", np.ascontiguousarray(wv.reshape(ch, k).T.reshape(1, k, 1, ch)).astype(dt), dt)
    else:
        w4 = b.reshape(wv, [ch, 1, 1, k], "w4d")
        wq = b.op("Transpose", [w4], {"perm": [2, 3, 1, 0]}, "w_hwio")
    extra = [wq]
    if bias_in:
        if tuple(ctx.shape(bias_in)) != (ch,):
            raise _err(node, f"bias {list(ctx.shape(bias_in))} must be [{ch}]")
        extra.append(ctx.tensor(bias_in))
    p4 = b.reshape(padded, [bsz, ch, 1, length + k - 1], "padded4d")
    conv4 = ctx.graph.unique_name(f"{node.output[0]}.conv4d")
    ctx.wrap_channel_last("DepthWiseConv2d", ctx.ir_to_channel_last(p4), conv4,
                          {"stride": [1, 1], "dilation": [1, 1], "pad_amount": [[0, 0], [0, 0]]}, extra,
                          name=f"{b.n}.conv")
    if act == "none":
        b.reshape(conv4, [bsz, ch, length], "conv", out=y_out)
        return
    y = b.reshape(conv4, [bsz, ch, length], "conv")
    yf = y if dt == np.float32 else b.op("Cast", [y], {"to": qd.FLOAT_32}, "conv_f32")
    sg = b.op("Sigmoid", [yf], tag="sigmoid")
    if dt == np.float32:
        b.op("ElementWiseMultiply", [yf, sg], tag="silu", out=y_out)
        return
    s = b.op("ElementWiseMultiply", [yf, sg], tag="silu")
    b.op("Cast", [s], {"to": qd.to_qnn(dt)}, "silu_cast", out=y_out)


# ---- LinearAttention ---------------------------------------------------------------------------
_MAX_UNROLL = 1024   # time steps a LinearAttention recurrence may be unrolled into


@onnx_op("LinearAttention")
def linear_attention(ctx: OnnxContext, node) -> None:
    """Linear-attention recurrence (linear / gated / delta / gated_delta), unrolled over time.

    Why unrolled: the ONNX op is defined as a sequential state update per token and QNN has no loop
    or scan op; the delta rules depend on the state of the previous step, so no closed form made of
    QNN ops reproduces them.  Each step is a handful of ops on [B, H_kv, d_k, d_v] states
    (decay Multiply, MatMul read-out of S^T k, outer-product Multiply, Add, MatMul of the grouped
    queries); everything that does not depend on the state (exp of the decay, head unpacking,
    output scaling) is done once, vectorised over T.  Computation is float32 as the ONNX definition
    requires; results are cast back to the input/state types.
    """
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    q_in, k_in, v_in, past_in, decay_in, beta_in = _inputs(node, 6)
    y_out, state_out = _outputs(node, 2)
    rule = a.get("update_rule", "gated_delta")
    if rule not in ("linear", "gated", "delta", "gated_delta"):
        raise _err(node, f"update_rule '{rule}' is not defined (linear, gated, delta, gated_delta)")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    if gating != bool(decay_in) or delta != bool(beta_in):
        raise _err(node, f"update_rule '{rule}' {'needs' if gating else 'forbids'} decay and "
                         f"{'needs' if delta else 'forbids'} beta")
    if "q_num_heads" not in a or "kv_num_heads" not in a:
        raise _err(node, "the q_num_heads and kv_num_heads attributes are required")
    hq, hkv = int(a["q_num_heads"]), int(a["kv_num_heads"])
    if hq <= 0 or hkv <= 0 or hq % hkv:
        raise _err(node, f"q_num_heads {hq} must be a positive multiple of kv_num_heads {hkv}")
    qs, ks, vs = (tuple(ctx.shape(i)) for i in (q_in, k_in, v_in))
    if any(len(s) != 3 for s in (qs, ks, vs)) or not qs[:2] == ks[:2] == vs[:2]:
        raise _err(node, f"query {list(qs)}, key {list(ks)}, value {list(vs)} must be [B, T, H*D] alike")
    bsz, steps = qs[0], qs[1]
    if qs[2] % hq or ks[2] % hkv or vs[2] % hkv or qs[2] // hq != ks[2] // hkv:
        raise _err(node, f"hidden sizes {qs[2]}, {ks[2]}, {vs[2]} do not split into {hq}/{hkv} heads of "
                         "equal key size")
    dk, dv, rep = qs[2] // hq, vs[2] // hkv, hq // hkv
    if steps > _MAX_UNROLL:
        raise _err(node, f"sequence length {steps} exceeds the {_MAX_UNROLL} steps this recurrence is "
                         "unrolled into; split the sequence into shorter calls")
    dt = _onnx_dtype(ctx, q_in)
    if dt not in _FLOATS or any(_onnx_dtype(ctx, i) != dt for i in (k_in, v_in)):
        raise _err(node, "query/key/value must share a float32 or float16 type")
    f32 = np.dtype(np.float32)

    def as_f32(name: str, tag: str) -> str:
        t = ctx.tensor(name)
        if b.dtype(t) == f32:
            return t
        if b.dtype(t) not in _FLOATS:
            raise _err(node, f"{tag} type {b.dtype(t)} is not supported (float32/float16)")
        return b.op("Cast", [t], {"to": qd.FLOAT_32}, f"{tag}_f32")

    def split_t(x: str, axis: int, tag: str) -> list[str]:
        return [x] if steps == 1 else _split(b, x, axis, list(range(1, steps)), tag)

    # per-step slices: q [B,Hkv,rep,dk]; k column [B,Hkv,dk,1]; v row [B,Hkv,1,dv]
    q5 = b.reshape(as_f32(q_in, "query"), [bsz, steps, hkv, rep, dk], "q5")
    q5 = b.op("Transpose", [q5], {"perm": [0, 2, 1, 3, 4]}, "q_ghtrd")
    q_t = [b.reshape(x, [bsz, hkv, rep, dk], f"q{t}") for t, x in enumerate(split_t(q5, 2, "q_split"))]
    k4 = b.reshape(as_f32(k_in, "key"), [bsz, steps, hkv, dk], "k4")
    k_col = split_t(b.op("Transpose", [k4], {"perm": [0, 2, 3, 1]}, "k_hdt"), 3, "k_split")
    v4 = b.reshape(as_f32(v_in, "value"), [bsz, steps, hkv, dv], "v4")
    v_row = split_t(b.op("Transpose", [v4], {"perm": [0, 2, 1, 3]}, "v_htd"), 2, "v_split")
    e_t = beta_t = None
    if gating:
        ds = tuple(ctx.shape(decay_in))
        if ds not in ((bsz, steps, hkv * dk), (bsz, steps, hkv)):
            raise _err(node, f"decay {list(ds)} must be [{bsz}, {steps}, {hkv * dk}] or [{bsz}, {steps}, {hkv}]")
        per = dk if ds[2] == hkv * dk else 1
        e = b.op("ElementWiseExp", [as_f32(decay_in, "decay")], tag="decay_exp")
        e = b.reshape(e, [bsz, steps, hkv, per], "decay4")
        e_t = split_t(b.op("Transpose", [e], {"perm": [0, 2, 3, 1]}, "decay_hdt"), 3, "decay_split")
    if delta:
        bs = tuple(ctx.shape(beta_in))
        if bs not in ((bsz, steps, hkv), (bsz, steps, 1)):
            raise _err(node, f"beta {list(bs)} must be [{bsz}, {steps}, {hkv}] or [{bsz}, {steps}, 1]")
        be = b.reshape(as_f32(beta_in, "beta"), [bsz, steps, bs[2], 1], "beta4")
        beta_t = split_t(b.op("Transpose", [be], {"perm": [0, 2, 1, 3]}, "beta_ht1"), 2, "beta_split")

    state = None   # None: all-zero state (no past_state), so the first step needs no read-out
    state_dt = dt
    if past_in:
        ps = tuple(ctx.shape(past_in))
        if ps != (bsz, hkv, dk, dv):
            raise _err(node, f"past_state {list(ps)} must be [{bsz}, {hkv}, {dk}, {dv}]")
        state_dt = _onnx_dtype(ctx, past_in)
        state = as_f32(past_in, "past_state")
    outs = []
    for t in range(steps):
        if gating and state is not None:
            state = b.op("ElementWiseMultiply", [state, e_t[t]], tag=f"s{t}_decay")
        v = v_row[t]
        if delta:
            if state is not None:
                k_row = b.reshape(k_col[t], [bsz, hkv, 1, dk], f"k{t}_row")
                got = b.op("MatMul", [k_row, state], tag=f"s{t}_read")
                v = b.op("ElementWiseSubtract", [v, got], tag=f"s{t}_err")
            v = b.op("ElementWiseMultiply", [beta_t[t], v], tag=f"s{t}_beta")
        outer = b.op("ElementWiseMultiply", [k_col[t], v], tag=f"s{t}_outer")
        state = outer if state is None else b.op("ElementWiseAdd", [state, outer], tag=f"s{t}")
        o = b.op("MatMul", [q_t[t], state], tag=f"o{t}")
        outs.append(b.reshape(o, [bsz, 1, hq * dv], f"o{t}_flat"))
    y = outs[0] if steps == 1 else b.op("Concat", outs, {"axis": 1}, "o_all")
    scale = float(a.get("scale", 0.0)) or 1.0 / math.sqrt(dk)
    if dt == f32:
        b.op("ElementWiseMultiply", [y, b.const("scale", scale, f32)], tag="output", out=y_out)
    else:
        y = b.op("ElementWiseMultiply", [y, b.const("scale", scale, f32)], tag="output_f32")
        b.op("Cast", [y], {"to": qd.to_qnn(dt)}, "output", out=y_out)
    if state_out:
        if state_dt == f32:
            ctx.alias(state_out, state)
        else:
            b.op("Cast", [state], {"to": qd.to_qnn(state_dt)}, "present_state", out=state_out)


# ---- FlexAttention (ai.onnx.preview) -------------------------------------------------------------
@onnx_op("FlexAttention")
def flex_attention(ctx: OnnxContext, node) -> None:
    """Attention with user score/prob modifier subgraphs, inlined into the QNN graph.

    Why: the modifier subgraphs (masks, soft caps, relative-position biases ...) are ordinary ONNX
    graphs of one tensor, so they are translated in place, node by node, with the same translators
    and convert-time folding as the main graph (a ``Shape``/``Range`` index computation becomes a
    constant).  The rest is the Attention composition: sqrt(scale)-scaled Q and K, MatMul, Softmax in
    the softmax precision (float32 by default, also for float16 inputs), MatMul with V in that
    precision, cast back to V's type.
    """
    b = NodeBuilder(ctx, node)
    a = attrs(node)
    q_in, k_in, v_in = _inputs(node, 3)
    qs, ks, vs = (tuple(ctx.shape(i)) for i in (q_in, k_in, v_in))
    if len(qs) != 4 or len(ks) != 4 or len(vs) != 4:
        raise _err(node, "Q, K and V must be 4-D")
    batch, hq, sq, d = qs
    _, hkv, skv, dk = ks
    if ks[0] != batch or vs[0] != batch or vs[1] != hkv or vs[2] != skv or dk != d:
        raise _err(node, f"Q {list(qs)}, K {list(ks)}, V {list(vs)} do not fit together")
    if hq % hkv:
        raise _err(node, f"{hq} query heads are not a multiple of {hkv} key/value heads")
    dt = _onnx_dtype(ctx, q_in)
    if dt not in _FLOATS or _onnx_dtype(ctx, k_in) != dt or _onnx_dtype(ctx, v_in) != dt:
        raise _err(node, "Q, K and V must share a float32 or float16 type")
    prec = a.get("softmax_precision")
    if prec is None:
        cdt = np.dtype(np.float32)
    elif int(prec) in _SOFTMAX_PRECISION:
        cdt = _SOFTMAX_PRECISION[int(prec)]
    else:
        raise _err(node, f"softmax_precision {prec} is not supported (FLOAT, FLOAT16, DOUBLE as FLOAT)")
    scale = float(a["scale"]) if "scale" in a else 1.0 / math.sqrt(d)
    q, k, v = ctx.tensor(q_in), ctx.tensor(k_in), ctx.tensor(v_in)
    # the sqrt of the float32-rounded scale, as the reference computes it (float64 sqrt rounds the same)
    scores = lowering.attention_scores(ctx, q, k, b.n, scale=float(np.float32(scale)), scale_inputs=True)
    if cdt != dt:
        scores = b.op("Cast", [scores], {"to": qd.to_qnn(cdt)}, "scores_cast")
    if "score_mod" in a:
        scores = _inline_modifier(ctx, node, a["score_mod"], scores, "score_mod")
    probs = lowering.softmax(ctx, scores, b.n)
    if "prob_mod" in a:
        probs = _inline_modifier(ctx, node, a["prob_mod"], probs, "prob_mod")
    vc = v if cdt == dt else b.op("Cast", [v], {"to": qd.to_qnn(cdt)}, "v_cast")
    if cdt == dt:
        lowering.attention_values(ctx, probs, vc, b.n, out=node.output[0])
        return
    y = lowering.attention_values(ctx, probs, vc, b.n)
    b.op("Cast", [y], {"to": qd.to_qnn(dt)}, "y_cast", out=node.output[0])


def _inline_modifier(ctx: OnnxContext, node, graph: onnx.GraphProto, x: str, tag: str) -> str:
    """Translate a one-input/one-output modifier subgraph applied to IR tensor ``x``; returns its output.

    Subgraph values are renamed under a node-specific prefix (two nodes may use the same inner
    names); names from the enclosing graph keep referring to it, as ONNX scoping says.
    """
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise _err(node, f"{tag} must have exactly one input and one output")
    prefix = f"{_name(node)}.{tag}/"
    rename = {graph.input[0].name: x}
    for init in graph.initializer:
        rename[init.name] = prefix + init.name
        ctx.consts[prefix + init.name] = onnx.numpy_helper.to_array(init)
    stub = onnx.helper.make_model(onnx.helper.make_graph([], tag, [], []),
                                  opset_imports=[onnx.helper.make_opsetid("", ctx.opset)])
    for inner in graph.node:
        if inner.domain not in ("", "ai.onnx"):
            raise _err(node, f"{tag} uses {inner.domain}.{inner.op_type}, which is not supported")
        n = onnx.NodeProto()
        n.CopyFrom(inner)
        n.input[:] = [rename.get(i, i) for i in inner.input]
        for o in inner.output:
            if o:
                rename[o] = prefix + o
        n.output[:] = [rename.get(o, o) for o in inner.output]
        if any(at.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for at in n.attribute):
            raise _err(node, f"{tag} contains a {n.op_type} with its own subgraph; not supported")
        if fold_node(n, ctx, stub):
            continue
        translator = get_translator(n.op_type)
        if translator is None:
            raise _err(node, f"{tag} uses {n.op_type}, which the converter does not support")
        translator(ctx, n)
    out = rename.get(graph.output[0].name, graph.output[0].name)
    if ctx.is_const(out):
        raise _err(node, f"{tag} output does not depend on its input; not supported")
    y = ctx.tensor(out)
    if ctx.graph.tensors[y].shape != ctx.graph.tensors[x].shape:
        raise _err(node, f"{tag} changes the shape {list(ctx.graph.tensors[x].shape)} to "
                         f"{list(ctx.graph.tensors[y].shape)}")
    return y

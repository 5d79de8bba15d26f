"""aten attention: scaled_dot_product_attention and the fused kernels ``torch.jit.trace`` records
under ``torch.no_grad()`` (``aten::_native_multi_head_attention``, ``aten::_transformer_encoder_layer_fwd``),
decomposed into the same ops as the slow path (MatMul, Softmax, FullyConnected, LayerNorm).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ...lowering import attention as lower
from ..context import Ref, TorchContext
from ..registry import aten_op


def attention(ctx: TorchContext, q, k, v, out: str, mask=None, is_causal: bool = False, scale=None,
              masked_where_true: bool = False, weights_out: str | None = None, avg_weights: bool = True):
    """softmax(q k^T * scale + mask) v, lowered by the attention lowering every frontend shares.

    A bool ``mask`` keeps positions where it is True (``masked_where_true`` flips that, as the
    fused MHA kernels do, and then any non-zero float is a masked position too); a float mask is
    added to the scores.  K/V with fewer heads than Q are grouped, not repeated
    (:mod:`snpe_tools.frontends.lowering.attention`).  Returns the output Ref (and the attention
    weights, averaged over the heads when ``avg_weights``, when ``weights_out``).
    """
    if is_causal and mask is not None:
        raise ConversionError("scaled_dot_product_attention with both attn_mask and is_causal")
    if mask is not None:
        mdt = np.dtype(ctx.dtype(mask))
        if masked_where_true and mdt != np.bool_:
            mask = ctx.emit_to("ElementWiseNotEqual", [mask, np.asarray(0, mdt)],
                               ctx.graph.unique_name(f"{out}.mask")) if isinstance(mask, Ref) else np.asarray(mask) != 0
        elif mdt != np.bool_ and not isinstance(mask, Ref):
            mask = np.asarray(mask, np.float32)
        mask = ctx.tensor(mask)
    t = lower.scaled_dot_product_attention(ctx, ctx.tensor(q), ctx.tensor(k), ctx.tensor(v), out,
                                           scale=None if scale is None else float(scale), mask=mask,
                                           mask_keeps=not masked_where_true, causal=is_causal, out=out)
    res = Ref(t.output)
    if weights_out is None:
        return res
    probs = Ref(t.probs)
    if avg_weights:
        w = ctx.emit_to("ReduceMean", [probs], weights_out, {"axes": [ctx.rank(probs) - 3], "keep_dims": False})
    else:
        w = ctx.reshape_to(probs, ctx.shape(probs), weights_out)
    return res, w


@aten_op("scaled_dot_product_attention")
def sdpa(ctx: TorchContext, node):
    a = node.args
    q, k, v = a[:3]
    mask = a[3] if len(a) > 3 else None
    dropout_p = float(a[4]) if len(a) > 4 and a[4] is not None else 0.0
    is_causal = bool(a[5]) if len(a) > 5 and a[5] is not None else False
    scale = a[6] if len(a) > 6 else None
    if dropout_p != 0:
        raise ConversionError(f"scaled_dot_product_attention with dropout_p={dropout_p}; use dropout_p=0 "
                              "(eval mode)")
    if isinstance(scale, Ref):
        raise ConversionError("scaled_dot_product_attention with a run-time scale is not supported")
    hq, hk = ctx.shape(q)[:-2], ctx.shape(k)[:-2]
    if len(a) > 7 and a[7] and hq and hk and hq[-1] != hk[-1] and hq[-1] % hk[-1]:
        raise ConversionError(f"enable_gqa: {hq[-1]} query heads are not a multiple of {hk[-1]} key heads")
    return attention(ctx, q, k, v, ctx.out_name(node), mask, is_causal, scale)


def _fc(ctx, x, w, b, out: str) -> Ref:
    ins = [x, Ref(ctx.add_const(f"{out}.weight", np.asarray(w, np.float32)))]
    if b is not None:
        ins.append(Ref(ctx.add_const(f"{out}.bias", np.asarray(b, np.float32))))
    return ctx.emit_to("FullyConnected", ins, out, {"keep_dims": True})


def _native_mha(ctx: TorchContext, base: str, query, key, value, embed_dim: int, heads: int, qkv_w, qkv_b,
                proj_w, proj_b, mask, mask_type, out: str, weights_out: str | None = None, avg: bool = True):
    """The fused MHA kernel: batch-first [B, L, E] q/k/v, packed in-projection, bool-ish mask."""
    for t in (qkv_w, qkv_b, proj_w, proj_b):
        if isinstance(t, Ref):
            raise ConversionError("attention projection weights must be constants")
    e, h = int(embed_dim), int(heads)
    qkv_w = np.asarray(qkv_w, np.float32)
    qkv_b = np.zeros(3 * e, np.float32) if qkv_b is None else np.asarray(qkv_b, np.float32)
    heads_out = []
    for i, (t, tag) in enumerate(((query, "q"), (key, "k"), (value, "v"))):
        shape = ctx.shape(t)
        if len(shape) != 3:
            raise ConversionError(f"fused multi-head attention on a rank-{len(shape)} input (expects [B, L, E])")
        p = _fc(ctx, t, qkv_w[i * e:(i + 1) * e], qkv_b[i * e:(i + 1) * e], ctx.graph.unique_name(f"{base}.{tag}"))
        heads_out.append(Ref(lower.split_heads(ctx, p.name, h, base, tag)))
    q, k, v = heads_out
    b, ll = ctx.shape(query)[:2]
    s = ctx.shape(key)[1]
    if mask is not None:
        mrank = len(ctx.shape(mask))
        if mask_type == 1 or (mask_type is None and mrank == 2 and tuple(ctx.shape(mask)) == (b, s)):
            shape4 = [b, 1, 1, s]
        elif mask_type == 0 or mrank == 2:
            shape4 = [1, 1, ll, s]
        else:
            shape4 = None
        if shape4 is not None:
            mask = ctx.reshape_to(mask, shape4, ctx.graph.unique_name(f"{base}.mask4d")) if isinstance(mask, Ref) \
                else np.asarray(mask).reshape(shape4)
    res = attention(ctx, q, k, v, ctx.graph.unique_name(f"{base}.attn"), mask, False, None,
                    masked_where_true=True, weights_out=weights_out, avg_weights=avg)
    attn = res[0] if weights_out else res
    merged = Ref(lower.merge_heads(ctx, attn.name, base, "merged"))
    o = _fc(ctx, merged, proj_w, proj_b, out)
    return (o, res[1]) if weights_out else o


@aten_op("_native_multi_head_attention")
def native_mha(ctx: TorchContext, node):
    a = node.args
    q, k, v, e, h, qkv_w, qkv_b, proj_w, proj_b = a[:9]
    mask = a[9] if len(a) > 9 else None
    need_weights = bool(a[10]) if len(a) > 10 and a[10] is not None else True
    avg = bool(a[11]) if len(a) > 11 and a[11] is not None else True
    mask_type = a[12] if len(a) > 12 else None
    outs = list(node.outputs())
    want_w = need_weights and len(outs) > 1 and len(outs[1].uses()) > 0
    base = ctx.out_name(node)
    if want_w:
        o, w = _native_mha(ctx, base, q, k, v, e, h, qkv_w, qkv_b, proj_w, proj_b, mask, mask_type, base,
                           ctx.out_name(node, 1), avg)
        return [o, w]
    o = _native_mha(ctx, base, q, k, v, e, h, qkv_w, qkv_b, proj_w, proj_b, mask, mask_type, base)
    return [o, None] if len(outs) > 1 else o


@aten_op("_transformer_encoder_layer_fwd")
def transformer_encoder_layer_fwd(ctx: TorchContext, node):
    """nn.TransformerEncoderLayer's fused eval kernel (batch_first), decomposed."""
    a = node.args
    (src, e, h, qkv_w, qkv_b, proj_w, proj_b, use_gelu, norm_first, eps, n1w, n1b, n2w, n2b,
     w1, b1, w2, b2) = a[:18]
    mask = a[18] if len(a) > 18 else None
    mask_type = a[19] if len(a) > 19 else None
    base = ctx.out_name(node)
    eps = float(eps)
    e = int(e)

    def ln(x, w, b, tag, out=None):
        return ctx.emit_to("LayerNorm", [x, ctx.as_ref(w, np.float32), ctx.as_ref(b, np.float32)],
                           out or ctx.graph.unique_name(f"{base}.{tag}"),
                           {"epsilon": eps, "axes": [ctx.rank(x) - 1]})

    def tmp(tag):
        return ctx.graph.unique_name(f"{base}.{tag}")

    x = src
    a_in = ln(x, n1w, n1b, "norm1") if norm_first else x
    att = _native_mha(ctx, tmp("sa"), a_in, a_in, a_in, e, h, qkv_w, qkv_b, proj_w, proj_b, mask, mask_type,
                      tmp("sa_out"))
    x = ctx.emit_to("ElementWiseAdd", [x, att], tmp("res1"))
    if not norm_first:
        x = ln(x, n1w, n1b, "norm1")
    f_in = ln(x, n2w, n2b, "norm2") if norm_first else x
    hdn = _fc(ctx, f_in, w1, b1, tmp("ff1"))
    hdn = ctx.emit_to("Gelu" if use_gelu else "Relu", [hdn], tmp("act"))
    f = _fc(ctx, hdn, w2, b2, tmp("ff2"))
    if norm_first:
        return ctx.emit_to("ElementWiseAdd", [x, f], base)
    x = ctx.emit_to("ElementWiseAdd", [x, f], tmp("res2"))
    return ln(x, n2w, n2b, "norm2", out=base)

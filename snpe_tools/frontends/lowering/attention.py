"""Scaled dot-product attention as QNN ops, written once for every frontend.

QNN has no attention op, so ONNX ``Attention``/``FlexAttention`` and PyTorch
``scaled_dot_product_attention``/``MultiheadAttention`` all lower to the same composition:
``softmax(Q K^T * scale + mask) V`` as MatMul (``transpose_in1``), elementwise scale/mask ops,
Softmax over the keys and a second MatMul.  Keeping it here means one place decides the op
sequence, the grouped-query strategy and the masking rules; the frontends only map their own
argument conventions (3-D packed heads, KV caches, fused-kernel masks ...) onto these functions.

Grouped-query attention (fewer K/V heads than Q heads): the ``rep = Hq / Hkv`` query heads that
share a K/V head are folded into the query-row axis by a Reshape, ``[.., Hq, Sq, D] ->
[.., Hkv, rep*Sq, D]``, so every MatMul runs against the K/V head it uses and K/V are never
copied.  Repeating K/V instead (Reshape, Tile, Reshape for each of K and V, PyTorch's
``repeat_interleave``) needs 6 ops, two of them Tiles that materialise ``rep`` copies of K and V,
where grouping needs 4 Reshapes that move no data; both give the same dot products (exact: every
score is the same D-length product of the same operands).

Every function takes the frontend context (the ``frontends.emit.EmitMixin`` API: ``ctx.emit``,
``ctx.add_const``, ``ctx.graph``) and IR tensor names, and names what it creates ``<name>.<tag>``.
Argument checks with user-facing messages stay in the frontends, which know the source op's
vocabulary; the helpers assume shapes that fit.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ...ir import dtypes as qd
from ..emit import EmitMixin


class AttentionTensors(NamedTuple):
    """The IR tensors of one lowered attention, so a frontend can expose intermediate results.

    ONNX ``Attention`` returns one of scores/capped/masked/probs as ``qk_matmul_output``; PyTorch's
    MultiheadAttention returns the probabilities as its attention weights.
    """

    scores: str   #: Q K^T * scale, [..., Hq, Sq, Skv]
    capped: str   #: after the softcap (``scores`` when there is none)
    masked: str   #: after the causal mask and the mask/bias (``capped`` when there are none)
    probs: str    #: softmax over the keys, in the input dtype, fully-masked rows zeroed if asked
    output: str   #: probs V, [..., Hq, Sq, Dv]


def op(ctx: EmitMixin, type_: str, inputs: list[str], name: str, tag: str,
       params: dict[str, Any] | None = None, out: str | None = None) -> str:
    """Emit one single-output op; its tensor is ``out`` or a fresh ``<name>.<tag>``.

    An op writing a caller-given ``out`` (a source-model output) is named ``name`` itself, so the
    DLC shows the source node's name on the op that produces its result.
    """
    dst = out or ctx.graph.unique_name(f"{name}.{tag}")
    return ctx.emit(type_, inputs, [dst], params or {}, name=name if out else dst)[0]


def const(ctx: EmitMixin, name: str, tag: str, value: Any, dtype: Any) -> str:
    """A static tensor ``<name>.<tag>`` holding ``value`` in ``dtype``."""
    return ctx.add_const(f"{name}.{tag}", np.asarray(value, dtype=dtype))


def reshape(ctx: EmitMixin, x: str, shape: list[int] | tuple[int, ...], name: str, tag: str,
            out: str | None = None) -> str:
    """Reshape, or ``x`` itself when it already has ``shape`` and no named output is wanted."""
    shape = [int(d) for d in shape]
    if out is None and list(_shape(ctx, x)) == shape:
        return x
    return op(ctx, "Reshape", [x], name, tag, {"shape": shape}, out=out)


def split_heads(ctx: EmitMixin, x: str, heads: int, name: str, tag: str) -> str:
    """``[B, S, H*D] -> [B, H, S, D]`` (Reshape + Transpose): the head-major layout MatMul needs."""
    b, s, hd = _shape(ctx, x)
    r = reshape(ctx, x, [b, s, heads, hd // heads], name, f"{tag}_split")
    return op(ctx, "Transpose", [r], name, f"{tag}_bhsd", {"perm": [0, 2, 1, 3]})


def merge_heads(ctx: EmitMixin, x: str, name: str, tag: str, out: str | None = None) -> str:
    """``[B, H, S, D] -> [B, S, H*D]`` (Transpose + Reshape), the inverse of :func:`split_heads`."""
    b, h, s, d = _shape(ctx, x)
    t = op(ctx, "Transpose", [x], name, f"{tag}_bshd", {"perm": [0, 2, 1, 3]})
    return reshape(ctx, t, [b, s, h * d], name, tag, out=out)


def group_factor(q_shape: tuple[int, ...], kv_shape: tuple[int, ...]) -> int:
    """How many query heads share one K/V head (1: no grouping; MatMul broadcasting does the rest).

    Heads are axis -3 (``[..., H, S, D]``).  Grouping applies when K/V have fewer heads than Q and
    divide them; a frontend that requires divisibility checks it first with its own message.
    """
    if len(q_shape) < 3 or len(kv_shape) < 3:
        return 1
    hq, hkv = q_shape[-3], kv_shape[-3]
    return hq // hkv if hkv and hq != hkv and hq % hkv == 0 else 1


def attention_scores(ctx: EmitMixin, q: str, k: str, name: str, *, scale: float,
                     scale_inputs: bool = False) -> str:
    """``Q K^T * scale`` as ``[..., Hq, Sq, Skv]``, grouping Q heads when K has fewer heads.

    By default the scores are scaled once after the MatMul (one op; PyTorch's translators always
    did this).  ``scale_inputs`` scales Q and K by ``sqrt(scale)`` each before the MatMul instead
    (one op more), as ONNX's Attention function body does: needed to match it bit for bit in
    float16, where the unscaled product can overflow first.  The scale constant has the input's
    dtype.
    """
    dt = _dtype(ctx, q)
    qs, ks = _shape(ctx, q), _shape(ctx, k)
    rep = group_factor(qs, ks)
    if scale_inputs:
        s = const(ctx, name, "scale_sqrt", np.sqrt(np.float64(scale)), dt)
        q = op(ctx, "ElementWiseMultiply", [q, s], name, "q_scaled")
        k = op(ctx, "ElementWiseMultiply", [k, s], name, "k_scaled")
    if rep > 1:   # q heads g*rep .. g*rep+rep-1 share kv head g
        q = reshape(ctx, q, list(qs[:-3]) + [ks[-3], rep * qs[-2], qs[-1]], name, "q_grouped")
    scores = op(ctx, "MatMul", [q, k], name, "qk", {"transpose_in1": True})
    if rep > 1:
        scores = reshape(ctx, scores, list(_shape(ctx, scores)[:-3]) + [qs[-3], qs[-2], ks[-2]], name, "qk_heads")
    if not scale_inputs:
        scores = op(ctx, "ElementWiseMultiply", [scores, const(ctx, name, "scale", scale, dt)], name, "qk_scaled")
    return scores


def attention_values(ctx: EmitMixin, probs: str, v: str, name: str, out: str | None = None) -> str:
    """``probs [..., Hq, Sq, Skv] @ V [..., Hkv, Skv, Dv] -> [..., Hq, Sq, Dv]``, grouped like the scores."""
    ps, vs = _shape(ctx, probs), _shape(ctx, v)
    rep = group_factor(ps, vs)
    if rep == 1:
        return op(ctx, "MatMul", [probs, v], name, "pv", out=out)
    p = reshape(ctx, probs, list(ps[:-3]) + [vs[-3], rep * ps[-2], ps[-1]], name, "p_grouped")
    y = op(ctx, "MatMul", [p, v], name, "pv")
    return reshape(ctx, y, list(_shape(ctx, y)[:-3]) + [ps[-3], ps[-2], vs[-1]], name, "pv_heads", out=out)


def key_frontier(diff: np.ndarray, causal: bool, left: int = -1, right: int = -1) -> np.ndarray:
    """Allowed keys given ``diff = query position - key position``: causal and sliding-window bounds.

    ``left``/``right`` are window sizes (-1: unbounded).  Query positions are absolute, so a KV
    cache of ``past`` entries shifts them by ``past`` (bottom-right aligned causal mask) while
    PyTorch's ``is_causal`` uses offset 0 (top-left aligned).
    """
    ok = np.ones(diff.shape, dtype=bool)
    if causal:
        ok &= diff >= 0
    if left >= 0:
        ok &= diff <= left
    if right >= 0:
        ok &= -diff <= right
    return ok


def causal_keep(sq: int, skv: int, offset: int = 0) -> np.ndarray:
    """``[Sq, Skv]`` bool: key j visible to query i iff ``j <= i + offset``."""
    return key_frontier(np.arange(sq).reshape(sq, 1) + offset - np.arange(skv).reshape(1, skv), True)


def scaled_dot_product_attention(ctx: EmitMixin, q: str, k: str, v: str, name: str, *,
                                 scale: float | None = None, mask: str | None = None, mask_keeps: bool = True,
                                 causal: bool = False, causal_offset: int = 0, softcap: float = 0.0,
                                 softmax_dtype: Any = None, row_masked: str | None = None,
                                 scale_inputs: bool = False, out: str | None = None) -> AttentionTensors:
    """``softmax(Q K^T * scale [+ mask]) V`` for ``[..., H, S, D]`` Q/K/V (rank >= 2); see the module doc.

    * ``scale``: default ``1/sqrt(D)``; ``scale_inputs`` as in :func:`attention_scores`.
    * ``softcap > 0``: ``softcap * tanh(scores / softcap)`` before masking (Gemma-style).
    * ``causal``: keys after ``query + causal_offset`` get -inf (a static Select, no run-time mask).
    * ``mask``: an IR tensor broadcastable to the scores.  A bool mask selects: ``mask_keeps``
      True keeps positions where it is True (PyTorch ``attn_mask``), False masks them (the fused
      MHA kernels' convention).  A float mask is added (ONNX/PyTorch additive bias).
    * ``softmax_dtype``: run the Softmax in another float type between two Casts.
    * ``row_masked``: bool tensor, True for query rows whose probabilities must be 0 (ONNX's guard
      for rows masked everywhere, where Softmax would give NaN).
    * ``out``: name of the result tensor (its op is then named ``name``).
    """
    dt = _dtype(ctx, q)
    if scale is None:
        scale = 1.0 / math.sqrt(_shape(ctx, q)[-1])
    scores = attention_scores(ctx, q, k, name, scale=scale, scale_inputs=scale_inputs)
    capped = scores
    if softcap > 0:
        c = const(ctx, name, "softcap", softcap, dt)
        t = op(ctx, "ElementWiseDivide", [scores, c], name, "softcap_div")
        t = op(ctx, "Tanh", [t], name, "softcap_tanh")
        capped = op(ctx, "ElementWiseMultiply", [t, c], name, "softcapped")
    masked = capped
    if causal:
        sq, skv = _shape(ctx, scores)[-2:]
        keep = const(ctx, name, "causal_keep", causal_keep(sq, skv, causal_offset), np.bool_)
        masked = op(ctx, "ElementWiseSelect", [keep, masked, const(ctx, name, "causal_ninf", -np.inf, dt)],
                    name, "causal")
    if mask is not None:
        if _dtype(ctx, mask) == np.bool_:
            ninf = const(ctx, name, "mask_ninf", -np.inf, dt)
            pick = [mask, masked, ninf] if mask_keeps else [mask, ninf, masked]
            masked = op(ctx, "ElementWiseSelect", pick, name, "masked")
        else:
            masked = op(ctx, "ElementWiseAdd", [masked, mask], name, "masked")
    probs = softmax(ctx, masked, name, softmax_dtype)
    if row_masked is not None:
        probs = op(ctx, "ElementWiseSelect", [row_masked, const(ctx, name, "zero", 0, dt), probs], name,
                   "softmax_safe")
    return AttentionTensors(scores, capped, masked, probs, attention_values(ctx, probs, v, name, out=out))


def softmax(ctx: EmitMixin, x: str, name: str, compute_dtype: Any = None) -> str:
    """Softmax over the last axis, optionally computed in ``compute_dtype`` (Cast in and back)."""
    dt = _dtype(ctx, x)
    sdt = dt if compute_dtype is None else np.dtype(compute_dtype)
    logits = x if sdt == dt else op(ctx, "Cast", [x], name, "softmax_in", {"to": qd.to_qnn(sdt)})
    probs = op(ctx, "Softmax", [logits], name, "softmax", {"axis": len(_shape(ctx, x)) - 1})
    return probs if sdt == dt else op(ctx, "Cast", [probs], name, "softmax_out", {"to": qd.to_qnn(dt)})


def _shape(ctx: EmitMixin, x: str) -> tuple[int, ...]:
    return tuple(ctx.graph.tensors[x].shape)


def _dtype(ctx: EmitMixin, x: str) -> np.dtype:
    return np.dtype(ctx.graph.tensors[x].dtype)

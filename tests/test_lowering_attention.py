"""Shared attention lowering (snpe_tools/frontends/lowering/attention.py) against a numpy reference.

The frontends' own tests (ONNX node backend, PyTorch transformer models) check it end to end; these
check each option of the lowering directly, and that grouped-query attention never copies K/V.
"""
from __future__ import annotations

import collections

import numpy as np
import pytest

from snpe_tools.frontends.emit import EmitMixin
from snpe_tools.frontends.lowering import attention as L
from snpe_tools.ir.graph import Graph
from snpe_tools.runtime import execute

RNG = np.random.default_rng(7)


class _Ctx(EmitMixin):
    def __init__(self) -> None:
        self.graph = Graph()


def _run(build, feeds: dict[str, np.ndarray]):
    """Build a graph from ``feeds`` (inputs) with ``build(ctx, *names) -> output``; run it; op-type counts."""
    ctx = _Ctx()
    for name, x in feeds.items():
        ctx.graph.add_input(name, x.shape, x.dtype)
    out = build(ctx, *feeds)
    ctx.graph.outputs = [out]
    return execute(ctx.graph, feeds)[out], collections.Counter(op.type for op in ctx.graph.ops)


def _reference(q, k, v, scale=None, keep=None, bias=None):
    rep = q.shape[-3] // k.shape[-3]
    k, v = np.repeat(k, rep, axis=-3).astype(np.float64), np.repeat(v, rep, axis=-3).astype(np.float64)
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    if bias is not None:
        s = s + bias
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def _qkv(lead, hq, hkv, sq=5, skv=7, d=8):
    f = np.float32
    return (RNG.standard_normal(lead + (hq, sq, d)).astype(f), RNG.standard_normal(lead + (hkv, skv, d)).astype(f),
            RNG.standard_normal(lead + (hkv, skv, d)).astype(f))


@pytest.mark.parametrize("lead,hq,hkv", [((2,), 6, 2), ((), 4, 1), ((1,), 3, 3)])
def test_grouped_query_heads_share_kv_without_copies(lead, hq, hkv):
    q, k, v = _qkv(lead, hq, hkv)
    y, ops = _run(lambda c, *n: L.scaled_dot_product_attention(c, *n, "att", out="y").output,
                  {"q": q, "k": k, "v": v})
    np.testing.assert_allclose(y, _reference(q, k, v), rtol=1e-5, atol=1e-5)
    assert "Tile" not in ops and ops["MatMul"] == 2
    assert ops["Reshape"] == (4 if hq != hkv else 0)


def test_scale_on_inputs_or_scores_same_numbers_one_op_apart():
    q, k, v = _qkv((1,), 4, 2)
    got = {}
    for split in (True, False):
        got[split] = _run(lambda c, *n: L.scaled_dot_product_attention(
            c, *n, "att", scale=0.3, scale_inputs=split, out="y").output, {"q": q, "k": k, "v": v})
        np.testing.assert_allclose(got[split][0], _reference(q, k, v, scale=0.3), rtol=1e-5, atol=1e-5)
    assert sum(got[True][1].values()) == sum(got[False][1].values()) + 1


@pytest.mark.parametrize("offset", [0, 2])
def test_causal_mask_with_offset_and_bool_masks(offset):
    q, k, v = _qkv((1,), 2, 2, sq=5, skv=7)
    keep = RNG.random((1, 1, 5, 7)) > 0.3
    keep[..., 0] = True
    causal = L.causal_keep(5, 7, offset)
    assert causal[0, offset] and not causal[0, offset + 1]
    feeds = {"q": q, "k": k, "v": v, "m": keep}
    for keeps in (True, False):
        y, _ = _run(lambda c, q_, k_, v_, m: L.scaled_dot_product_attention(
            c, q_, k_, v_, "att", mask=m, mask_keeps=keeps, causal=True, causal_offset=offset, out="y").output,
            dict(feeds, m=keep if keeps else ~keep))
        np.testing.assert_allclose(y, _reference(q, k, v, keep=keep & causal), rtol=1e-5, atol=1e-5)


def test_float_bias_softcap_softmax_precision_and_row_guard():
    q, k, v = (x.astype(np.float16) for x in _qkv((1,), 2, 1, sq=3, skv=4))
    bias = np.zeros((1, 1, 3, 4), np.float16)
    bias[..., 1, :] = -np.inf                                   # row 1 masked everywhere
    rows = np.isneginf(bias.max(-1, keepdims=True))

    def build(c, q_, k_, v_, b_, r_):
        return L.scaled_dot_product_attention(c, q_, k_, v_, "att", mask=b_, softcap=2.0, softmax_dtype=np.float32,
                                              row_masked=r_, out="y").output

    y, ops = _run(build, {"q": q, "k": k, "v": v, "b": bias, "r": rows})
    assert y.dtype == np.float16 and ops["Tanh"] == 1 and ops["Cast"] == 2
    s = q.astype(np.float64) @ np.repeat(k, 2, 1).astype(np.float64).swapaxes(-1, -2) / np.sqrt(8)
    s = 2.0 * np.tanh(s / 2.0) + bias
    with np.errstate(invalid="ignore"):
        p = np.exp(s - s.max(-1, keepdims=True))
        p = np.nan_to_num(p / p.sum(-1, keepdims=True))
    np.testing.assert_allclose(y.astype(np.float64), p @ np.repeat(v, 2, 1), rtol=2e-2, atol=2e-2)
    assert not y[:, :, 1].any()


def test_split_and_merge_heads_round_trip():
    x = RNG.standard_normal((2, 5, 12)).astype(np.float32)
    y, ops = _run(lambda c, n: L.merge_heads(c, L.split_heads(c, n, 3, "a", "x"), "a", "y", out="y"), {"x": x})
    np.testing.assert_array_equal(y, x)
    assert ops == {"Reshape": 2, "Transpose": 2}

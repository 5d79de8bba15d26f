"""aten ops of transformer/sequence models: norms, matmul, attention, embedding, indexing.

Everything here keeps PyTorch's own (channel-first) semantics; only the channel norms
(group_norm, instance_norm) run channel-last so that they sit between convolutions without
leaving Transposes behind.  Fused fast-path kernels that ``torch.jit.trace`` records under
``torch.no_grad()`` (``aten::_transformer_encoder_layer_fwd``, ``aten::_native_multi_head_attention``)
are decomposed into the same ops as the slow path.
"""
from __future__ import annotations

import math

import numpy as np

from ....errors import ConversionError
from ....ir import axis_format as af
from ....ir import dtypes as qd
from ....ir.limits import check_fold_shape
from ..context import Ref, TorchContext, axis
from ..registry import aten_op

# ---- helpers -----------------------------------------------------------------------------------

# c10::ScalarType codes (how TorchScript stores dtype arguments) -> numpy
_SCALAR_TYPES = {0: np.uint8, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.int64, 5: np.float16, 6: np.float32,
                 7: np.float64, 11: np.bool_, 15: np.float32}
_TORCH_NAMES = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
                "float16": np.float16, "float32": np.float32, "float64": np.float64, "bool": np.bool_,
                "bfloat16": np.float32}


def torch_dtype(v) -> np.dtype | None:
    """numpy dtype of a TorchScript dtype argument (ScalarType int, torch.dtype or None)."""
    if v is None:
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        if int(v) not in _SCALAR_TYPES:
            raise ConversionError(f"dtype code {int(v)} is not supported")
        return np.dtype(_SCALAR_TYPES[int(v)])
    name = str(v).replace("torch.", "")
    if name in _TORCH_NAMES:
        return np.dtype(_TORCH_NAMES[name])
    raise ConversionError(f"dtype {v} is not supported")


def ir_dtype(dt) -> np.dtype:
    """The dtype a tensor of torch dtype ``dt`` has in the IR (no 64-bit types on QNN targets)."""
    dt = np.dtype(dt)
    return {np.dtype(np.int64): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.float32),
            np.dtype(np.uint64): np.dtype(np.uint32)}.get(dt, dt)


def schema_args(node) -> list[str]:
    """Argument names of the node's operator overload (``aten::to.dtype(Tensor self, ...)``)."""
    try:
        text = node.schema()
    except Exception:  # noqa: BLE001
        return []
    if "(" not in text:
        return []
    inner = text[text.index("(") + 1:text.rindex(") ->") if ") ->" in text else len(text)]
    names = []
    depth = 0
    cur = ""
    for ch in inner + ",":
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            part = cur.strip()
            cur = ""
            if part and part != "*":
                names.append(part.split("=")[0].split()[-1])
            continue
        cur += ch
    return names


def _arg(node, a: list, name: str, default=None):
    names = schema_args(node)
    if name in names and names.index(name) < len(a):
        return a[names.index(name)]
    return default


def _name(ctx: TorchContext, node, suffix: str) -> str:
    return ctx.graph.unique_name(f"{ctx.out_name(node)}.{suffix}")


def _emit(ctx: TorchContext, type_: str, inputs: list, out: str, params: dict | None = None,
          fmt: str | None = None) -> Ref:
    """One op writing tensor ``out`` (a fresh name or the node's output name)."""
    ctx.emit(type_, [ctx.tensor(i) for i in inputs], [out], params, name=out, fmt=fmt)
    return Ref(out)


def _reshape(ctx, x, shape, out: str, fmt: str | None = None) -> Ref:
    return _emit(ctx, "Reshape", [x], out, {"shape": [int(s) for s in shape]}, fmt)


def _as_ref(ctx, v, dtype=None) -> Ref:
    if isinstance(v, Ref):
        return v
    return Ref(ctx.tensor(np.asarray(v), dtype))


def _cast(ctx, x, dt, out: str) -> Ref | np.ndarray:
    dt = ir_dtype(dt)
    if not isinstance(x, Ref):
        return np.asarray(x).astype(dt)
    if np.dtype(ctx.dtype(x)) == dt:
        return x
    return _emit(ctx, "Cast", [x], out, {"to": qd.to_qnn(dt)})


def _resolve_shape(shape, numel: int) -> list[int]:
    shape = [int(s) for s in shape]
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape[shape.index(-1)] = numel // max(known, 1)
    return shape


# ---- normalisation -----------------------------------------------------------------------------

@aten_op("layer_norm")
def layer_norm(ctx: TorchContext, node, a):
    x, shape, w, b, eps = a[:5]
    shape = [int(s) for s in (shape if isinstance(shape, (list, tuple)) else [shape])]
    rank = ctx.rank(x)
    k = len(shape)
    if list(ctx.shape(x)[rank - k:]) != shape:
        raise ConversionError(f"normalized_shape {shape} does not match the input's trailing dims "
                              f"{list(ctx.shape(x))}")
    gamma = np.ones(shape, np.float32) if w is None else w
    ins = [x, _as_ref(ctx, gamma, None if isinstance(gamma, Ref) else np.float32)]
    if b is not None:
        ins.append(_as_ref(ctx, b, None if isinstance(b, Ref) else np.float32))
    return ctx.op("LayerNorm", ins, node, {"epsilon": float(eps), "axes": list(range(rank - k, rank))})


def _channel_last_in(ctx: TorchContext, x) -> tuple[Ref, list[int]]:
    """``x`` ([N, C, *spatial]) in channel-last order, with that order's shape."""
    rank = ctx.rank(x)
    if rank <= 2:
        return _as_ref(ctx, x), list(ctx.shape(x))
    name = ctx.ir_to_channel_last(ctx.tensor(x))
    return Ref(name), list(ctx.graph.tensors[name].shape)


def _cl_fmt(rank: int) -> str:
    return af.TO_SPATIAL_FIRST.get(af.onnx_default(rank), (af.NONTRIVIAL,))[0]


@aten_op("group_norm")
def group_norm(ctx: TorchContext, node, a):
    """Exact decomposition, channel-last: [N,S,G,C/G] -> mean/var over (S, C/G) -> affine per channel."""
    x, groups, w, b, eps = a[:5]
    shape = list(ctx.shape(x))
    rank = len(shape)
    if rank < 2:
        raise ConversionError("group_norm needs an input of rank >= 2")
    n, c = shape[0], shape[1]
    g = int(groups)
    if c % g:
        raise ConversionError(f"group_norm: {c} channels are not divisible into {g} groups")
    xcl, cl_shape = _channel_last_in(ctx, x)
    s = int(np.prod(shape[2:])) if rank > 2 else 1
    nt = af.NONTRIVIAL
    grouped = _reshape(ctx, xcl, [n, s, g, c // g], _name(ctx, node, "grp"), nt)
    red = {"axes": [1, 3], "keep_dims": True}
    mean = _emit(ctx, "ReduceMean", [grouped], _name(ctx, node, "mean"), red, nt)
    d = _emit(ctx, "ElementWiseSubtract", [grouped, mean], _name(ctx, node, "centered"), None, nt)
    sq = _emit(ctx, "ElementWiseMultiply", [d, d], _name(ctx, node, "sq"), None, nt)
    var = _emit(ctx, "ReduceMean", [sq], _name(ctx, node, "var"), red, nt)
    veps = _emit(ctx, "ElementWiseAdd", [var, np.asarray(float(eps), np.float32)], _name(ctx, node, "veps"), None, nt)
    inv = _emit(ctx, "ElementWiseRsqrt", [veps], _name(ctx, node, "inv"), None, nt)
    y = _emit(ctx, "ElementWiseMultiply", [d, inv], _name(ctx, node, "norm"), None, nt)
    fmt = _cl_fmt(rank) if rank > 2 else af.onnx_default(rank)
    steps = [("ungrp", None)] + [(tag, v) for tag, v in (("scale", w), ("shift", b)) if v is not None]
    for i, (tag, v) in enumerate(steps):   # rank 2 has no layout change: the last step is the output
        out = ctx.out_name(node) if rank <= 2 and i == len(steps) - 1 else _name(ctx, node, tag)
        if v is None:
            y = _reshape(ctx, y, cl_shape, out, fmt)
        else:
            y = _emit(ctx, "ElementWiseMultiply" if tag == "scale" else "ElementWiseAdd",
                      [y, _as_ref(ctx, v, None if isinstance(v, Ref) else np.float32)], out, None, fmt)
    return y if rank <= 2 else Ref(ctx.from_channel_last(y.name, ctx.out_name(node)))


@aten_op("instance_norm")
def instance_norm(ctx: TorchContext, node, a):
    x, w, b, mean, var, use_input_stats, _momentum, eps = a[:8]
    shape = ctx.shape(x)
    rank = len(shape)
    if rank < 3:
        raise ConversionError("instance_norm needs an input of rank >= 3 (N, C, spatial...)")
    c = shape[1]
    for v in (w, b):
        if isinstance(v, Ref):
            raise ConversionError("instance_norm weight/bias must be constants")
    gamma = np.ones(c, np.float32) if w is None else np.asarray(w, np.float32)
    beta = np.zeros(c, np.float32) if b is None else np.asarray(b, np.float32)
    if not use_input_stats:
        if mean is None or var is None or isinstance(mean, Ref) or isinstance(var, Ref):
            raise ConversionError("instance_norm without input statistics needs constant running stats")
        scale = gamma.astype(np.float64) / np.sqrt(np.asarray(var, np.float64) + float(eps))
        bias = beta - np.asarray(mean, np.float64) * scale
        return ctx.channel_last("Batchnorm", x, node, {}, [scale.astype(np.float32), bias.astype(np.float32)])
    return ctx.channel_last("InstanceNorm", x, node, {"epsilon": float(eps)}, [gamma, beta])


# ---- matrix products ---------------------------------------------------------------------------

def _matmul(ctx: TorchContext, x, y, out: str, t1: bool = False) -> Ref:
    """torch.matmul semantics (1-D operands promoted and squeezed back)."""
    if not isinstance(y, Ref) and np.ndim(y) == 2 and isinstance(x, Ref) and not t1 \
            and np.issubdtype(ctx.dtype(x), np.floating):
        w = np.ascontiguousarray(np.asarray(y, np.float32).T)
        return _emit(ctx, "FullyConnected", [x, Ref(ctx.add_const(f"{out}.weight", w))], out, {"keep_dims": True})
    sx, sy = list(ctx.shape(x)), list(ctx.shape(y))
    if not sx or not sy:
        raise ConversionError("matmul of a 0-d tensor")
    xx, yy = x, y
    if len(sx) == 1:
        xx = _reshape(ctx, x, [1, sx[0]], ctx.graph.unique_name(f"{out}.a2d")) if isinstance(x, Ref) \
            else np.asarray(x).reshape(1, -1)
    if len(sy) == 1:
        yy = _reshape(ctx, y, [sy[0], 1], ctx.graph.unique_name(f"{out}.b2d")) if isinstance(y, Ref) \
            else np.asarray(y).reshape(-1, 1)
    params = {"transpose_in1": True} if t1 else None
    if len(sx) > 1 and len(sy) > 1:
        return _emit(ctx, "MatMul", [xx, yy], out, params)
    mm = _emit(ctx, "MatMul", [xx, yy], ctx.graph.unique_name(f"{out}.mm"), params)
    s = list(ctx.graph.tensors[mm.name].shape)
    if len(sx) == 1:
        del s[-2]
    if len(sy) == 1:
        del s[-1]
    return _reshape(ctx, mm, s, out)


@aten_op("matmul", "mm", "bmm")
def matmul(ctx, node, a):
    return _matmul(ctx, a[0], a[1], ctx.out_name(node))


@aten_op("baddbmm")
def baddbmm(ctx: TorchContext, node, a):
    inp, b1, b2 = a[:3]
    beta = float(a[3]) if len(a) > 3 and a[3] is not None else 1.0
    alpha = float(a[4]) if len(a) > 4 and a[4] is not None else 1.0
    out = ctx.out_name(node)
    if beta == 0 and alpha == 1:
        return _matmul(ctx, b1, b2, out)
    mm = _matmul(ctx, b1, b2, _name(ctx, node, "mm"))
    if alpha != 1:
        mm = _emit(ctx, "ElementWiseMultiply", [mm, np.asarray(alpha, np.float32)], _name(ctx, node, "alpha"))
    if beta == 0:
        return _reshape(ctx, mm, ctx.shape(mm), out)
    if isinstance(inp, Ref):
        if beta != 1:
            inp = _emit(ctx, "ElementWiseMultiply", [inp, np.asarray(beta, np.float32)], _name(ctx, node, "beta"))
    else:
        inp = np.asarray(inp, np.float32) * np.float32(beta)
    return _emit(ctx, "ElementWiseAdd", [inp, mm], out)


# ---- attention ---------------------------------------------------------------------------------

def attention(ctx: TorchContext, q, k, v, out: str, mask=None, is_causal: bool = False, scale=None,
              masked_where_true: bool = False, weights_out: str | None = None, avg_weights: bool = True):
    """softmax(q k^T * scale + mask) v  (PyTorch's reference math for scaled_dot_product_attention).

    A bool ``mask`` keeps positions where it is True (``masked_where_true`` flips that, as the
    fused MHA kernels do, and then any non-zero float is a masked position too); a float mask is
    added to the scores.  Returns the output Ref (and the attention weights when ``weights_out``).
    """
    sq, sk = ctx.shape(q), ctx.shape(k)
    e, ll, s = sq[-1], sq[-2], sk[-2]
    sc = 1.0 / math.sqrt(e) if scale is None else float(scale)
    scores = _matmul(ctx, q, k, ctx.graph.unique_name(f"{out}.scores"), t1=True)
    scores = _emit(ctx, "ElementWiseMultiply", [scores, np.asarray(sc, np.float32)],
                   ctx.graph.unique_name(f"{out}.scaled"))
    if is_causal:
        if mask is not None:
            raise ConversionError("scaled_dot_product_attention with both attn_mask and is_causal")
        mask = np.tril(np.ones((ll, s), np.bool_))
    if mask is not None:
        mdt = np.dtype(ctx.dtype(mask))
        if masked_where_true:
            if mdt != np.bool_:
                if isinstance(mask, Ref):
                    mask = _emit(ctx, "ElementWiseNotEqual", [mask, np.asarray(0, mdt)],
                                 ctx.graph.unique_name(f"{out}.mask"))
                else:
                    mask = np.asarray(mask) != 0
            # keep where NOT mask: select(mask, -inf, scores)
            neg = np.asarray(-np.inf, np.float32)
            scores = _emit(ctx, "ElementWiseSelect", [mask, neg, scores], ctx.graph.unique_name(f"{out}.masked"))
        elif mdt == np.bool_:
            neg = np.asarray(-np.inf, np.float32)
            scores = _emit(ctx, "ElementWiseSelect", [mask, scores, neg], ctx.graph.unique_name(f"{out}.masked"))
        else:
            m = mask if isinstance(mask, Ref) else np.asarray(mask, np.float32)
            scores = _emit(ctx, "ElementWiseAdd", [scores, m], ctx.graph.unique_name(f"{out}.masked"))
    rank = len(ctx.shape(scores))
    probs = _emit(ctx, "Softmax", [scores], ctx.graph.unique_name(f"{out}.probs"), {"axis": rank - 1})
    res = _matmul(ctx, probs, v, out)
    if weights_out is None:
        return res
    if avg_weights:
        w = _emit(ctx, "ReduceMean", [probs], weights_out, {"axes": [rank - 3], "keep_dims": False})
    else:
        w = _reshape(ctx, probs, ctx.shape(probs), weights_out)
    return res, w


@aten_op("scaled_dot_product_attention")
def sdpa(ctx: TorchContext, node, a):
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
    if len(a) > 7 and a[7] and hq and hk and hq[-1] != hk[-1]:
        if hq[-1] % hk[-1]:
            raise ConversionError(f"enable_gqa: {hq[-1]} query heads are not a multiple of {hk[-1]} key heads")
        k = _repeat_heads(ctx, node, k, hq[-1] // hk[-1], "k")
        v = _repeat_heads(ctx, node, v, hq[-1] // hk[-1], "v")
    return attention(ctx, q, k, v, ctx.out_name(node), mask, is_causal, scale)


def _repeat_heads(ctx: TorchContext, node, t, rep: int, tag: str):
    """repeat_interleave(t, rep, dim=-3) for grouped-query attention."""
    s = list(ctx.shape(t))
    if not isinstance(t, Ref):
        return np.repeat(np.asarray(t), rep, axis=-3)
    lifted = _reshape(ctx, t, s[:-2] + [1] + s[-2:], _name(ctx, node, f"{tag}.lift"))
    mult = [1] * (len(s) - 2) + [rep, 1, 1]
    tiled = _emit(ctx, "Tile", [lifted], _name(ctx, node, f"{tag}.tile"), {"multiples": mult})
    return _reshape(ctx, tiled, s[:-3] + [s[-3] * rep] + s[-2:], _name(ctx, node, f"{tag}.gqa"))


def _fc(ctx, x, w, b, out: str) -> Ref:
    ins = [x, Ref(ctx.add_const(f"{out}.weight", np.asarray(w, np.float32)))]
    if b is not None:
        ins.append(Ref(ctx.add_const(f"{out}.bias", np.asarray(b, np.float32))))
    return _emit(ctx, "FullyConnected", ins, out, {"keep_dims": True})


def _native_mha(ctx: TorchContext, base: str, query, key, value, embed_dim: int, heads: int, qkv_w, qkv_b,
                proj_w, proj_b, mask, mask_type, out: str, weights_out: str | None = None, avg: bool = True):
    """The fused MHA kernel: batch-first [B, L, E] q/k/v, packed in-projection, bool-ish mask."""
    for t in (qkv_w, qkv_b, proj_w, proj_b):
        if isinstance(t, Ref):
            raise ConversionError("attention projection weights must be constants")
    e, h = int(embed_dim), int(heads)
    d = e // h
    qkv_w = np.asarray(qkv_w, np.float32)
    qkv_b = np.zeros(3 * e, np.float32) if qkv_b is None else np.asarray(qkv_b, np.float32)
    heads_out = []
    for i, (t, tag) in enumerate(((query, "q"), (key, "k"), (value, "v"))):
        shape = ctx.shape(t)
        if len(shape) != 3:
            raise ConversionError(f"fused multi-head attention on a rank-{len(shape)} input (expects [B, L, E])")
        p = _fc(ctx, t, qkv_w[i * e:(i + 1) * e], qkv_b[i * e:(i + 1) * e], ctx.graph.unique_name(f"{base}.{tag}"))
        r = _reshape(ctx, p, [shape[0], shape[1], h, d], ctx.graph.unique_name(f"{base}.{tag}.heads"))
        heads_out.append(_emit(ctx, "Transpose", [r], ctx.graph.unique_name(f"{base}.{tag}.bhld"),
                               {"perm": [0, 2, 1, 3]}))
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
            mask = _reshape(ctx, mask, shape4, ctx.graph.unique_name(f"{base}.mask4d")) if isinstance(mask, Ref) \
                else np.asarray(mask).reshape(shape4)
    res = attention(ctx, q, k, v, ctx.graph.unique_name(f"{base}.attn"), mask, False, None,
                    masked_where_true=True, weights_out=weights_out, avg_weights=avg)
    attn = res[0] if weights_out else res
    t = _emit(ctx, "Transpose", [attn], ctx.graph.unique_name(f"{base}.blhd"), {"perm": [0, 2, 1, 3]})
    merged = _reshape(ctx, t, [b, ll, e], ctx.graph.unique_name(f"{base}.merged"))
    o = _fc(ctx, merged, proj_w, proj_b, out)
    return (o, res[1]) if weights_out else o


@aten_op("_native_multi_head_attention")
def native_mha(ctx: TorchContext, node, a):
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
def transformer_encoder_layer_fwd(ctx: TorchContext, node, a):
    """nn.TransformerEncoderLayer's fused eval kernel (batch_first), decomposed."""
    (src, e, h, qkv_w, qkv_b, proj_w, proj_b, use_gelu, norm_first, eps, n1w, n1b, n2w, n2b,
     w1, b1, w2, b2) = a[:18]
    mask = a[18] if len(a) > 18 else None
    mask_type = a[19] if len(a) > 19 else None
    base = ctx.out_name(node)
    eps = float(eps)
    e = int(e)

    def ln(x, w, b, tag, out=None):
        return _emit(ctx, "LayerNorm", [x, _as_ref(ctx, w, np.float32), _as_ref(ctx, b, np.float32)],
                     out or ctx.graph.unique_name(f"{base}.{tag}"),
                     {"epsilon": eps, "axes": [ctx.rank(x) - 1]})

    def tmp(tag):
        return ctx.graph.unique_name(f"{base}.{tag}")

    x = src
    a_in = ln(x, n1w, n1b, "norm1") if norm_first else x
    att = _native_mha(ctx, tmp("sa"), a_in, a_in, a_in, e, h, qkv_w, qkv_b, proj_w, proj_b, mask, mask_type,
                      tmp("sa_out"))
    x = _emit(ctx, "ElementWiseAdd", [x, att], tmp("res1"))
    if not norm_first:
        x = ln(x, n1w, n1b, "norm1")
    f_in = ln(x, n2w, n2b, "norm2") if norm_first else x
    hdn = _fc(ctx, f_in, w1, b1, tmp("ff1"))
    hdn = _emit(ctx, "Gelu" if use_gelu else "Relu", [hdn], tmp("act"))
    f = _fc(ctx, hdn, w2, b2, tmp("ff2"))
    if norm_first:
        return _emit(ctx, "ElementWiseAdd", [x, f], base)
    x = _emit(ctx, "ElementWiseAdd", [x, f], tmp("res2"))
    return ln(x, n2w, n2b, "norm2", out=base)


# ---- embedding and indexing --------------------------------------------------------------------

def _int_indices(ctx: TorchContext, idx, what: str, size: int | None = None):
    """Run-time integer indices as they are; constant ones as int32 (negatives wrapped by ``size``)."""
    if isinstance(idx, Ref):
        dt = np.dtype(ctx.dtype(idx))
        if not np.issubdtype(dt, np.integer):
            raise ConversionError(f"{what} indices are {dt}; feed integer indices (e.g. --input_dtype NAME int32)")
        return idx
    arr = np.asarray(idx).astype(np.int64)
    if size is not None:
        if np.any((arr < -size) | (arr >= size)):
            raise ConversionError(f"{what} index out of range for a dim of size {size}")
        arr = np.where(arr < 0, arr + size, arr)
    return arr.astype(np.int32)


@aten_op("embedding")
def embedding(ctx: TorchContext, node, a):
    w, idx = a[0], a[1]
    idx = _int_indices(ctx, idx, "embedding")
    return ctx.op("Gather", [w, idx], node, {"axis": 0})


@aten_op("index_select")
def index_select(ctx: TorchContext, node, a):
    x, dim, idx = a[:3]
    ax = axis(int(dim), ctx.rank(x))
    idx = _int_indices(ctx, idx, "index_select", ctx.shape(x)[ax])
    if len(ctx.shape(idx)) == 0:
        idx = _reshape(ctx, idx, [1], _name(ctx, node, "idx")) if isinstance(idx, Ref) else idx.reshape(1)
    return ctx.op("Gather", [x, idx], node, {"axis": ax})


@aten_op("gather")
def gather(ctx: TorchContext, node, a):
    x, dim, idx = a[:3]
    ax = axis(int(dim), ctx.rank(x))
    idx = _int_indices(ctx, idx, "gather")
    return ctx.op("GatherElements", [x, idx], node, {"axis": ax})


@aten_op("index")
def index(ctx: TorchContext, node, a):
    """x[..., idx, ...] with one integer index tensor (other positions ':')."""
    x, indices = a[0], list(a[1])
    used = [i for i, t in enumerate(indices) if t is not None]
    if len(used) != 1:
        raise ConversionError("advanced indexing with more than one index tensor is not supported")
    pos = used[0]
    idx = indices[pos]
    if np.dtype(ctx.dtype(idx)) == np.bool_:
        if isinstance(idx, Ref) or np.ndim(idx) != 1:
            raise ConversionError("boolean-mask indexing has a data-dependent shape and cannot be converted")
        idx = np.nonzero(np.asarray(idx))[0]
    idx = _int_indices(ctx, idx, "index", ctx.shape(x)[pos])
    return ctx.op("Gather", [x, idx], node, {"axis": pos})


def _split_sizes(ctx, node, x, sizes, dim) -> list[Ref]:
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    sizes = [int(s) for s in sizes]
    if sum(sizes) != shape[ax] or any(s <= 0 for s in sizes):
        raise ConversionError(f"split sizes {sizes} do not partition dim {ax} of size {shape[ax]} into "
                              "non-empty parts")
    if not isinstance(x, Ref):
        return [np.ascontiguousarray(p) for p in np.split(np.asarray(x), np.cumsum(sizes)[:-1], axis=ax)]
    if len(sizes) == 1:
        return [x]
    base = ctx.out_name(node)
    outs = [ctx.graph.unique_name(f"{base}.{i}") for i in range(len(sizes))]
    ctx.emit("Split", [ctx.tensor(x)], outs, {"axis": ax, "split_index": [int(v) for v in np.cumsum(sizes)[:-1]]},
             name=base)
    return [Ref(o) for o in outs]


def _even_sizes(n: int, size: int) -> list[int]:
    size = max(int(size), 1)
    return [size] * (n // size) + ([n % size] if n % size else [])


@aten_op("split", "unsafe_split", "split_with_sizes", "unsafe_split_with_sizes")
def split(ctx: TorchContext, node, a):
    x, sz = a[0], a[1]
    dim = a[2] if len(a) > 2 else 0
    n = ctx.shape(x)[axis(int(dim), ctx.rank(x))]
    sizes = list(sz) if isinstance(sz, (list, tuple)) else _even_sizes(n, int(sz))
    return _split_sizes(ctx, node, x, sizes, dim)


@aten_op("chunk", "unsafe_chunk")
def chunk(ctx: TorchContext, node, a):
    x, chunks = a[0], int(a[1])
    dim = a[2] if len(a) > 2 else 0
    n = ctx.shape(x)[axis(int(dim), ctx.rank(x))]
    return _split_sizes(ctx, node, x, _even_sizes(n, -(-n // chunks)), dim)


@aten_op("unbind")
def unbind(ctx: TorchContext, node, a):
    x = a[0]
    dim = a[1] if len(a) > 1 else 0
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    parts = _split_sizes(ctx, node, x, [1] * shape[ax], ax)
    sq = shape[:ax] + shape[ax + 1:]
    out = []
    for i, p in enumerate(parts):
        if isinstance(p, Ref):
            out.append(_reshape(ctx, p, sq, _name(ctx, node, f"item{i}")))
        else:
            out.append(np.asarray(p).reshape(sq))
    return out


@aten_op("stack")
def stack(ctx: TorchContext, node, a):
    items, dim = list(a[0]), a[1] if len(a) > 1 else 0
    rank = ctx.rank(items[0])
    ax = axis(int(dim), rank + 1)
    dt = next((ctx.dtype(t) for t in items if isinstance(t, Ref)), np.float32)
    lifted = []
    for i, t in enumerate(items):
        s = list(ctx.shape(t))
        s.insert(ax, 1)
        if isinstance(t, Ref):
            out = ctx.out_name(node) if len(items) == 1 else _name(ctx, node, f"in{i}")
            lifted.append(_reshape(ctx, t, s, out))
        else:
            lifted.append(np.asarray(t, dt).reshape(s))
    if len(items) == 1:
        return lifted[0]
    return ctx.op("Concat", lifted, node, {"axis": ax})


@aten_op("unflatten")
def unflatten(ctx: TorchContext, node, a):
    x, dim, sizes = a[:3]
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    new = _resolve_shape(sizes, shape[ax])
    return ctx.op("Reshape", [x], node, {"shape": shape[:ax] + new + shape[ax + 1:]})


@aten_op("slice")
def slice_(ctx: TorchContext, node, a):
    x = a[0]
    dim = a[1] if len(a) > 1 and a[1] is not None else 0
    start = a[2] if len(a) > 2 else None
    end = a[3] if len(a) > 3 else None
    step = a[4] if len(a) > 4 and a[4] is not None else 1
    for v in (start, end, step):
        if isinstance(v, Ref):
            raise ConversionError("slicing with run-time bounds is not supported")
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    n = shape[ax]
    step = int(step)
    if step <= 0:
        raise ConversionError(f"slice step {step} must be positive")
    s, e, st = slice(None if start is None else int(start), None if end is None else int(end), step).indices(n)
    if s == 0 and e >= n and st == 1:
        return x
    if len(range(s, e, st)) == 0:
        raise ConversionError(f"slice [{start}:{end}:{step}] of dim {ax} (size {n}) is empty")
    ranges = [[0, d, 1] for d in shape]
    ranges[ax] = [s, e, st]
    return ctx.op("StridedSlice", [x], node, {"ranges": np.asarray(ranges, np.int32)})


@aten_op("select")
def select(ctx: TorchContext, node, a):
    x, dim, index = a[:3]
    if isinstance(index, Ref):
        raise ConversionError("select with a run-time index is not supported")
    shape = list(ctx.shape(x))
    ax = axis(int(dim), len(shape))
    i = int(index)
    if not -shape[ax] <= i < shape[ax]:
        raise ConversionError(f"select index {i} is out of range for dim {ax} of size {shape[ax]}")
    i = i % shape[ax]
    ranges = [[0, d, 1] for d in shape]
    ranges[ax] = [i, i + 1, 1]
    return ctx.op("StridedSlice", [x], node, {"ranges": np.asarray(ranges, np.int32), "shrink_axes": 1 << ax})


def _tile_to(ctx: TorchContext, node, x, target: list[int]):
    """Exact broadcasting of ``x`` to ``target`` (leading 1s added, size-1 dims tiled)."""
    src = list(ctx.shape(x))
    n = len(target)
    if len(src) > n:
        raise ConversionError(f"cannot expand a rank-{len(src)} tensor to {target}")
    full = [1] * (n - len(src)) + src
    for sd, td in zip(full, target):
        if sd != td and sd != 1:
            raise ConversionError(f"cannot expand shape {src} to {target}")
    if full == src and full == target:
        return x
    if not isinstance(x, Ref):
        return np.broadcast_to(np.asarray(x).reshape(full), target).copy()
    out = ctx.out_name(node)
    mult = [t // s for s, t in zip(full, target)]
    cur = x
    if full != src:
        cur = _reshape(ctx, x, full, out if all(m == 1 for m in mult) else _name(ctx, node, "rank"))
    if all(m == 1 for m in mult):
        return cur
    return _emit(ctx, "Tile", [cur], out, {"multiples": mult})


@aten_op("expand")
def expand(ctx: TorchContext, node, a):
    x, size = a[0], [int(s) for s in a[1]]
    src = list(ctx.shape(x))
    full = [1] * (len(size) - len(src)) + src
    target = [full[i] if s == -1 else s for i, s in enumerate(size)]
    return _tile_to(ctx, node, x, target)


@aten_op("expand_as")
def expand_as(ctx: TorchContext, node, a):
    return _tile_to(ctx, node, a[0], list(ctx.shape(a[1])))


@aten_op("broadcast_to")
def broadcast_to(ctx: TorchContext, node, a):
    return expand(ctx, node, a)


@aten_op("repeat")
def repeat(ctx: TorchContext, node, a):
    x, reps = a[0], [int(r) for r in a[1]]
    src = list(ctx.shape(x))
    if len(reps) < len(src):
        raise ConversionError(f"repeat with {len(reps)} repeats for a rank-{len(src)} tensor")
    full = [1] * (len(reps) - len(src)) + src
    out = ctx.out_name(node)
    cur = x
    if full != src:
        cur = _reshape(ctx, x, full, out if all(r == 1 for r in reps) else _name(ctx, node, "rank"))
    if all(r == 1 for r in reps):
        return cur
    return _emit(ctx, "Tile", [cur], out, {"multiples": reps})


# ---- selection -----------------------------------------------------------------------------------

def _cond(ctx: TorchContext, node, c):
    if isinstance(c, Ref):
        if np.dtype(ctx.dtype(c)) != np.bool_:
            return _emit(ctx, "Cast", [c], _name(ctx, node, "cond"), {"to": qd.BOOL_8})
        return c
    return np.asarray(c).astype(np.bool_)


@aten_op("masked_fill")
def masked_fill(ctx: TorchContext, node, a):
    x, mask, value = a[:3]
    dt = np.dtype(ir_dtype(ctx.dtype(x)))
    if isinstance(value, Ref):
        if np.dtype(ctx.dtype(value)) != dt:
            value = _emit(ctx, "Cast", [value], _name(ctx, node, "value"), {"to": qd.to_qnn(dt)})
    else:
        value = np.asarray(value).astype(dt)
    if not isinstance(x, Ref):
        x = np.asarray(x).astype(dt)
    return ctx.op("ElementWiseSelect", [_cond(ctx, node, mask), value, x], node)


def _result_dtype(ctx, vals) -> np.dtype:
    tensors = [ctx.dtype(v) for v in vals if isinstance(v, Ref) or np.ndim(v) > 0]
    scalars = [np.asarray(v) for v in vals if not (isinstance(v, Ref) or np.ndim(v) > 0)]
    dt = np.result_type(*tensors) if tensors else np.result_type(*[s.dtype for s in scalars])
    if any(np.issubdtype(s.dtype, np.floating) for s in scalars) and not np.issubdtype(dt, np.floating):
        dt = np.dtype(np.float32)
    if dt == np.bool_ and any(np.issubdtype(s.dtype, np.integer) for s in scalars):
        dt = np.dtype(np.int32)
    return ir_dtype(dt)


@aten_op("where")
def where(ctx: TorchContext, node, a):
    if len(a) == 1:
        raise ConversionError("torch.where(condition) (nonzero) has a data-dependent shape and cannot be converted")
    c, x, y = a[:3]
    dt = _result_dtype(ctx, [x, y])
    x = _cast(ctx, x, dt, _name(ctx, node, "x"))
    y = _cast(ctx, y, dt, _name(ctx, node, "y"))
    return ctx.op("ElementWiseSelect", [_cond(ctx, node, c), x, y], node)


@aten_op("tril", "triu")
def tril(ctx: TorchContext, node, a):
    """Run-time tril/triu (constant ones are folded): select against a constant triangle."""
    x = a[0]
    k = int(a[1]) if len(a) > 1 and a[1] is not None else 0
    shape = ctx.shape(x)
    if len(shape) < 2:
        raise ConversionError(f"{node.kind()} needs a tensor of rank >= 2")
    ones = np.ones(shape[-2:], np.bool_)
    keep = np.tril(ones, k) if node.kind().startswith("aten::tril") else np.triu(ones, k)
    zero = np.zeros((), ir_dtype(ctx.dtype(x)))
    return ctx.op("ElementWiseSelect", [keep, x, zero], node)


# ---- dtype casts and tensor factories --------------------------------------------------------------

@aten_op("to")
def to(ctx: TorchContext, node, a):
    x = a[0]
    names = schema_args(node)
    dt = None
    if "other" in names:
        dt = ctx.dtype(a[names.index("other")])
    elif "dtype" in names:
        dt = torch_dtype(a[names.index("dtype")])
    else:   # no schema: the first dtype-looking argument after the tensor
        for v in a[1:]:
            if isinstance(v, Ref) or isinstance(v, np.ndarray):
                dt = ctx.dtype(v)
                break
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool) or "dtype" in type(v).__name__:
                dt = torch_dtype(v)
                break
    if dt is None:
        return x
    return _cast(ctx, x, dt, ctx.out_name(node))


@aten_op("type_as")
def type_as(ctx, node, a):
    return _cast(ctx, a[0], ctx.dtype(a[1]), ctx.out_name(node))


def _filled(ctx, shape, fill, dt) -> np.ndarray:
    if isinstance(fill, Ref):
        raise ConversionError("a tensor fill value computed at run time is not supported")
    fill = np.asarray(fill)
    if dt is None:
        dt = fill.dtype if fill.dtype != np.float64 else np.float32
    check_fold_shape([int(s) for s in shape], ir_dtype(dt), "a constant-filled tensor")
    return np.full([int(s) for s in shape], fill, dtype=ir_dtype(dt))


@aten_op("zeros_like", "ones_like", "full_like", "empty_like")
def like(ctx: TorchContext, node, a):
    kind = node.kind().split("::")[1].rstrip("_")
    x = a[0]
    if kind == "full_like":
        fill, dt = a[1], _arg(node, a, "dtype", a[2] if len(a) > 2 else None)
    else:
        fill, dt = (1 if kind == "ones_like" else 0), _arg(node, a, "dtype", a[1] if len(a) > 1 else None)
    dt = torch_dtype(dt) or ctx.dtype(x)
    return _filled(ctx, ctx.shape(x), fill, dt)


def _schema_kwonly(node) -> int | None:
    try:
        text = node.schema()
        inner = text[text.index("(") + 1:text.rindex(") ->")]
    except Exception:  # noqa: BLE001
        return None
    parts = [p.strip() for p in inner.split(",")]
    return parts.index("*") if "*" in parts else None


@aten_op("arange")
def arange(ctx: TorchContext, node, a):
    """Static ``arange`` (its dtype/layout/device arguments are keyword-only in the schema)."""
    if any(isinstance(v, Ref) for v in a):
        raise ConversionError("arange with run-time bounds is not supported")
    import torch

    names = schema_args(node)
    kw = _schema_kwonly(node)
    pos = a if kw is None else a[:kw]
    kwargs = {} if kw is None else {n: v for n, v in zip(names[kw:], a[kw:]) if v is not None and n == "dtype"}
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, str(torch_dtype(kwargs["dtype"])))
    pos = [v.item() if isinstance(v, np.ndarray) else v for v in pos]
    return torch.arange(*pos, **kwargs).numpy()


@aten_op("new_zeros", "new_ones", "new_full", "new_empty")
def new_filled(ctx: TorchContext, node, a):
    kind = node.kind().split("::")[1].rstrip("_")
    x, size = a[0], a[1]
    size = list(size) if isinstance(size, (list, tuple)) else [size]
    if kind == "new_full":
        fill, dt = a[2], _arg(node, a, "dtype", a[3] if len(a) > 3 else None)
    else:
        fill, dt = (1 if kind == "new_ones" else 0), _arg(node, a, "dtype", a[2] if len(a) > 2 else None)
    dt = torch_dtype(dt) or ctx.dtype(x)
    return _filled(ctx, size, fill, dt)

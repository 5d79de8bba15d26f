"""ONNX Gemm / MatMul -> QNN FullyConnected (constant weights) or MatMul."""
from __future__ import annotations

import numpy as np

from ..context import OnnxContext, attrs
from ..registry import onnx_op


# FullyConnected wants weights [n, k]; re-laying out a weight costs a full copy, so weights at least this
# large that would need it stay [k, n] under MatMul (a copy of a multi-GiB weight doubles peak memory)
LARGE_WEIGHT = 256 << 20


def _name(node) -> str:
    return node.name or node.output[0]


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
        wq = ctx.add_const(f"{node.input[1]}.fc", np.ascontiguousarray(w, dtype=np.float32))
        n = w.shape[0]
        ins = [x, wq]
        late_c = None
        if has_c:
            if c is not None and c.size in (1, n) and (c.ndim <= 1 or c.shape[0] == 1):
                ins.append(ctx.add_const(f"{node.input[2]}.fc",
                                         np.broadcast_to(c.reshape(-1) * beta, (n,)).astype(np.float32)))
            else:
                late_c = node.input[2]
        tmp = out if late_c is None else ctx.graph.unique_name(f"{out}.fc")
        ctx.emit("FullyConnected", ins, [tmp], {}, name=_name(node))
        if late_c is not None:
            cc = ctx.tensor(late_c) if beta == 1.0 else ctx.add_const(f"{late_c}.beta", ctx.const(late_c) * beta)
            ctx.emit("ElementWiseAdd", [tmp, cc], [out], name=f"{_name(node)}.bias")
        return
    tmp = ctx.graph.unique_name(f"{out}.mm")
    cur = ctx.emit("MatMul", [x, ctx.tensor(node.input[1])], [tmp], {"transpose_in1": bool(trans_b)},
                   name=_name(node))[0]
    if alpha != 1.0:
        al = ctx.add_const(f"{_name(node)}.alpha", np.array(alpha, np.float32))
        t2 = ctx.graph.unique_name(f"{out}.alpha")
        cur = ctx.emit("ElementWiseMultiply", [cur, al], [t2 if has_c else out], name=t2)[0]
    if has_c:
        cc = ctx.tensor(node.input[2]) if beta == 1.0 else ctx.add_const(
            f"{node.input[2]}.beta", ctx.require_const(node, 2, "C") * beta)
        ctx.emit("ElementWiseAdd", [cur, cc], [out], name=f"{_name(node)}.bias")
    elif cur != out:
        ctx.emit("Reshape", [cur], [out], {"shape": list(ctx.graph.tensors[cur].shape)}, name=f"{out}.id")


@onnx_op("MatMul")
def matmul(ctx: OnnxContext, node) -> None:
    b = ctx.const(node.input[1])
    a_shape = ctx.shape(node.input[0])
    x = ctx.tensor(node.input[0])
    if b is not None and b.ndim == 2 and len(a_shape) >= 2 and b.dtype.kind == "f" and b.nbytes < LARGE_WEIGHT:
        w = ctx.add_const(f"{node.input[1]}.fc", np.ascontiguousarray(b.T, dtype=np.float32))
        ctx.emit("FullyConnected", [x, w], [node.output[0]], {"keep_dims": True}, name=_name(node))
        return
    ctx.emit("MatMul", [x, ctx.tensor(node.input[1])], [node.output[0]], name=_name(node))

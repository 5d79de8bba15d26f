"""aten linear/addmm/matmul/mm/bmm/baddbmm -> QNN FullyConnected / MatMul."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext
from ..registry import aten_op


@aten_op("linear")
def linear(ctx: TorchContext, node):
    a = node.args
    x, w, b = a
    if isinstance(w, Ref):
        t = ctx.op_tmp("Transpose", [w], f"{ctx.out_name(node)}.wT", {"perm": [1, 0]})
        mm = ctx.op("MatMul", [x, t], node) if b is None else ctx.op_tmp("MatMul", [x, t], ctx.out_name(node))
        return mm if b is None else ctx.op("ElementWiseAdd", [mm, b], node)
    ins = [x, Ref(ctx.add_const(f"{ctx.out_name(node)}.weight", np.asarray(w, np.float32)))]
    if b is not None:
        ins.append(Ref(ctx.tensor(np.asarray(b, np.float32))) if not isinstance(b, Ref) else b)
    return ctx.op("FullyConnected", ins, node, {"keep_dims": True})


@aten_op("addmm")
def addmm(ctx: TorchContext, node):
    a = node.args
    bias, x, w, beta, alpha = a
    if isinstance(w, Ref) or isinstance(bias, Ref) or float(beta) != 1 or float(alpha) != 1:
        raise ConversionError("addmm is supported with constant weight/bias and alpha = beta = 1")
    ins = [x, Ref(ctx.add_const(f"{ctx.out_name(node)}.weight", np.asarray(w, np.float32).T.copy())),
           Ref(ctx.tensor(np.asarray(bias, np.float32).reshape(-1)))]
    return ctx.op("FullyConnected", ins, node)


def torch_matmul(ctx: TorchContext, x, y, out: str, t1: bool = False) -> Ref:
    """torch.matmul semantics (1-D operands promoted and squeezed back)."""
    if not isinstance(y, Ref) and np.ndim(y) == 2 and isinstance(x, Ref) and not t1 \
            and np.issubdtype(ctx.dtype(x), np.floating):
        w = np.ascontiguousarray(np.asarray(y, np.float32).T)
        return ctx.emit_to("FullyConnected", [x, Ref(ctx.add_const(f"{out}.weight", w))], out, {"keep_dims": True})
    sx, sy = list(ctx.shape(x)), list(ctx.shape(y))
    if not sx or not sy:
        raise ConversionError("matmul of a 0-d tensor")
    xx, yy = x, y
    if len(sx) == 1:
        xx = ctx.reshape_to(x, [1, sx[0]], ctx.graph.unique_name(f"{out}.a2d")) if isinstance(x, Ref) \
            else np.asarray(x).reshape(1, -1)
    if len(sy) == 1:
        yy = ctx.reshape_to(y, [sy[0], 1], ctx.graph.unique_name(f"{out}.b2d")) if isinstance(y, Ref) \
            else np.asarray(y).reshape(-1, 1)
    params = {"transpose_in1": True} if t1 else None
    if len(sx) > 1 and len(sy) > 1:
        return ctx.emit_to("MatMul", [xx, yy], out, params)
    mm = ctx.emit_to("MatMul", [xx, yy], ctx.graph.unique_name(f"{out}.mm"), params)
    s = list(ctx.graph.tensors[mm.name].shape)
    if len(sx) == 1:
        del s[-2]
    if len(sy) == 1:
        del s[-1]
    return ctx.reshape_to(mm, s, out)


@aten_op("matmul", "mm", "bmm")
def matmul(ctx, node):
    a = node.args
    return torch_matmul(ctx, a[0], a[1], ctx.out_name(node))


@aten_op("baddbmm")
def baddbmm(ctx: TorchContext, node):
    a = node.args
    inp, b1, b2 = a[:3]
    beta = float(a[3]) if len(a) > 3 and a[3] is not None else 1.0
    alpha = float(a[4]) if len(a) > 4 and a[4] is not None else 1.0
    out = ctx.out_name(node)
    if beta == 0 and alpha == 1:
        return torch_matmul(ctx, b1, b2, out)
    mm = torch_matmul(ctx, b1, b2, ctx.tmp_name(node, "mm"))
    if alpha != 1:
        mm = ctx.emit_to("ElementWiseMultiply", [mm, np.asarray(alpha, np.float32)], ctx.tmp_name(node, "alpha"))
    if beta == 0:
        return ctx.reshape_to(mm, ctx.shape(mm), out)
    if isinstance(inp, Ref):
        if beta != 1:
            inp = ctx.emit_to("ElementWiseMultiply", [inp, np.asarray(beta, np.float32)], ctx.tmp_name(node, "beta"))
    else:
        inp = np.asarray(inp, np.float32) * np.float32(beta)
    return ctx.emit_to("ElementWiseAdd", [inp, mm], out)

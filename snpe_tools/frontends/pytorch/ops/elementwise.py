"""aten elementwise arithmetic, comparisons and selection -> QNN ElementWise* ops."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import Ref, TorchContext
from ..registry import aten_op


def _operand(ctx: TorchContext, v, like):
    """Scalars join a tensor's dtype (PyTorch type promotion for tensor op scalar)."""
    if isinstance(v, Ref):
        return v
    dt = ctx.dtype(like) if isinstance(like, Ref) else np.asarray(v).dtype
    arr = np.asarray(v)
    if arr.ndim == 0 and np.issubdtype(dt, np.integer) and isinstance(v, float):
        dt = np.float32
    return Ref(ctx.tensor(arr.astype(dt if arr.ndim == 0 else arr.dtype)))


_BINARY = {"add": "ElementWiseAdd", "sub": "ElementWiseSubtract", "mul": "ElementWiseMultiply",
           "div": "ElementWiseDivide", "maximum": "ElementWiseMaximum", "minimum": "ElementWiseMinimum",
           "pow": "ElementWisePower", "eq": "ElementWiseEqual", "ne": "ElementWiseNotEqual",
           "gt": "ElementWiseGreater", "ge": "ElementWiseGreaterEqual", "lt": "ElementWiseLess",
           "le": "ElementWiseLessEqual", "logical_and": "ElementWiseAnd", "logical_or": "ElementWiseOr",
           "__and__": "ElementWiseAnd", "__or__": "ElementWiseOr", "floor_divide": "ElementWiseFloorDiv",
           "remainder": "ElementWiseMod", "fmod": "ElementWiseFmod"}


def _binary(ctx: TorchContext, node):
    a = node.args
    kind = node.kind().split("::")[1].rstrip("_")
    x, y = a[0], a[1]
    like = x if isinstance(x, Ref) else y
    if kind in ("add", "sub") and len(a) > 2 and a[2] is not None and a[2] != 1:
        y = Ref(ctx.tensor(np.asarray(y) * a[2])) if not isinstance(y, Ref) else \
            ctx.op_tmp("ElementWiseMultiply", [y, _operand(ctx, a[2], y)], ctx.out_name(node) + ".alpha")
    if kind == "div" and len(a) > 2 and a[2] is not None:
        mode = a[2]
        q = ctx.op_tmp("ElementWiseDivide", [_operand(ctx, x, like), _operand(ctx, y, like)],
                       ctx.out_name(node) + ".q")
        if mode == "floor":
            return ctx.op("ElementWiseFloor", [q], node)
        if mode == "trunc":
            s = ctx.op_tmp("ElementWiseSign", [q], ctx.out_name(node) + ".s")
            f = ctx.op_tmp("ElementWiseFloor", [ctx.op_tmp("ElementWiseAbs", [q], ctx.out_name(node) + ".a")],
                           ctx.out_name(node) + ".f")
            return ctx.op("ElementWiseMultiply", [s, f], node)
    return ctx.op(_BINARY[kind], [_operand(ctx, x, like), _operand(ctx, y, like)], node)


for _k in _BINARY:
    aten_op(_k)(_binary)


@aten_op("rsub")
def rsub(ctx: TorchContext, node):
    """rsub(x, other, alpha) = other - alpha * x."""
    a = node.args
    x, other = a[0], a[1]
    alpha = a[2] if len(a) > 2 and a[2] is not None else 1
    like = x if isinstance(x, Ref) else other
    if alpha != 1:
        x = (ctx.op_tmp("ElementWiseMultiply", [x, _operand(ctx, alpha, x)], ctx.out_name(node) + ".alpha")
             if isinstance(x, Ref) else np.asarray(x) * alpha)
    return ctx.op("ElementWiseSubtract", [_operand(ctx, other, like), _operand(ctx, x, like)], node)


_UNARY = {"abs": "ElementWiseAbs", "exp": "ElementWiseExp", "log": "ElementWiseLog",
          "sqrt": "ElementWiseSquareRoot", "rsqrt": "ElementWiseRsqrt", "neg": "ElementWiseNeg",
          "floor": "ElementWiseFloor", "ceil": "ElementWiseCeil", "sin": "ElementWiseSin", "cos": "ElementWiseCos",
          "sign": "ElementWiseSign", "round": "ElementWiseRound", "logical_not": "ElementWiseNot", "reciprocal": None}


@aten_op(*_UNARY)
def unary(ctx: TorchContext, node):
    a = node.args
    kind = node.kind().split("::")[1].rstrip("_")
    if kind == "reciprocal":
        return ctx.op("ElementWiseDivide", [np.asarray(1.0, np.float32), a[0]], node)
    return ctx.op(_UNARY[kind], [a[0]], node)


# ---- selection -----------------------------------------------------------------------------------

def _cond(ctx: TorchContext, node, c):
    if isinstance(c, Ref):
        if np.dtype(ctx.dtype(c)) != np.bool_:
            return ctx.emit_to("Cast", [c], ctx.tmp_name(node, "cond"), {"to": qd.BOOL_8})
        return c
    return np.asarray(c).astype(np.bool_)


@aten_op("masked_fill")
def masked_fill(ctx: TorchContext, node):
    a = node.args
    x, mask, value = a[:3]
    dt = np.dtype(qd.narrow(ctx.dtype(x)))
    if isinstance(value, Ref):
        if np.dtype(ctx.dtype(value)) != dt:
            value = ctx.emit_to("Cast", [value], ctx.tmp_name(node, "value"), {"to": qd.to_qnn(dt)})
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
    return qd.narrow(dt)


@aten_op("where")
def where(ctx: TorchContext, node):
    a = node.args
    if len(a) == 1:
        raise ConversionError("torch.where(condition) (nonzero) has a data-dependent shape and cannot be converted")
    c, x, y = a[:3]
    dt = _result_dtype(ctx, [x, y])
    x = ctx.cast_to(x, dt, ctx.tmp_name(node, "x"))
    y = ctx.cast_to(y, dt, ctx.tmp_name(node, "y"))
    return ctx.op("ElementWiseSelect", [_cond(ctx, node, c), x, y], node)


@aten_op("tril", "triu")
def tril(ctx: TorchContext, node):
    """Run-time tril/triu (constant ones are folded): select against a constant triangle."""
    a = node.args
    x = a[0]
    k = int(a[1]) if len(a) > 1 and a[1] is not None else 0
    shape = ctx.shape(x)
    if len(shape) < 2:
        raise ConversionError(f"{node.kind()} needs a tensor of rank >= 2")
    ones = np.ones(shape[-2:], np.bool_)
    keep = np.tril(ones, k) if node.kind().startswith("aten::tril") else np.triu(ones, k)
    zero = np.zeros((), qd.narrow(ctx.dtype(x)))
    return ctx.op("ElementWiseSelect", [keep, x, zero], node)

"""ONNX Cast/CastLike, Where, Expand, GatherElements, Mod, Mean, LayerNormalization, and ops QNN has no
single op for (Selu, ThresholdedRelu, Mish, Softsign, Swish, Celu, Hardmax, Erf), written as exact
compositions of QNN ops."""
from __future__ import annotations

import math

import numpy as np
import onnx

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import OnnxContext, attrs
from ..registry import onnx_op

# ONNX TensorProto element types that QNN targets can hold (64-bit ones are narrowed).
_ONNX_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
                7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
_NARROW = {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.int64): np.dtype(np.int32),
           np.dtype(np.uint64): np.dtype(np.uint32)}


def _name(node) -> str:
    return node.name or node.output[0]


def _tmp(ctx: OnnxContext, node, tag: str) -> str:
    return ctx.graph.unique_name(f"{node.output[0]}.{tag}")


def _dtype(ctx: OnnxContext, name: str) -> np.dtype:
    return ctx.graph.tensors[ctx.tensor(name)].dtype


def _scalar(ctx: OnnxContext, node, tag: str, value, dtype) -> str:
    return ctx.add_const(f"{_name(node)}.{tag}", np.asarray(value, dtype=dtype))


def _require_float(ctx: OnnxContext, node) -> np.dtype:
    dt = _dtype(ctx, node.input[0])
    if not np.issubdtype(dt, np.floating):
        raise ConversionError(f"{node.op_type} node '{_name(node)}': input type {dt} is not supported "
                              "(float only)")
    return dt


# ---- Cast ------------------------------------------------------------------------------
@onnx_op("Cast", "CastLike")
def cast(ctx: OnnxContext, node) -> None:
    """QNN Cast; the target is the output dtype (int64 -> int32, float64 -> float32 on QNN targets)."""
    if node.op_type == "Cast":
        to = int(attrs(node)["to"])
        if to not in _ONNX_DTYPES:
            raise ConversionError(f"Cast node '{_name(node)}': target type "
                                  f"{onnx.TensorProto.DataType.Name(to)} has no QNN equivalent")
        target = np.dtype(_ONNX_DTYPES[to])
    else:
        like = node.input[1]
        target = np.dtype(ctx.const(like).dtype) if ctx.is_const(like) else _dtype(ctx, like)
        if target not in (np.dtype(t) for t in _ONNX_DTYPES.values()):
            raise ConversionError(f"CastLike node '{_name(node)}': target type {target} has no QNN equivalent")
    target = _NARROW.get(target, target)
    ctx.emit("Cast", [ctx.tensor(node.input[0])], [node.output[0]], {"to": qd.to_qnn(target)}, name=_name(node))


# ---- selection / broadcasting ----------------------------------------------------------------
@onnx_op("Where")
def where(ctx: OnnxContext, node) -> None:
    c, x, y = (ctx.tensor(i) for i in node.input[:3])
    if ctx.graph.tensors[c].dtype != np.bool_:
        raise ConversionError(f"Where node '{_name(node)}': the condition must be bool")
    ctx.emit("ElementWiseSelect", [c, x, y], [node.output[0]], name=_name(node))


@onnx_op("Expand")
def expand(ctx: OnnxContext, node) -> None:
    """numpy broadcast to ``shape``: Reshape to the output rank, then Tile the size-1 dims."""
    target = [int(d) for d in np.atleast_1d(ctx.require_const(node, 1, "shape"))]
    src = list(ctx.shape(node.input[0]))
    try:
        out_shape = list(np.broadcast_shapes(tuple(src), tuple(target)))
    except ValueError:
        raise ConversionError(f"Expand node '{_name(node)}': shape {target} does not broadcast with the "
                              f"input shape {src}") from None
    aligned = [1] * (len(out_shape) - len(src)) + src
    mult = [o // a if a != o else 1 for a, o in zip(aligned, out_shape)]
    x = ctx.tensor(node.input[0])
    out = node.output[0]
    if all(m == 1 for m in mult):
        if aligned == src:
            ctx.alias(out, node.input[0])
        else:
            ctx.emit("Reshape", [x], [out], {"shape": aligned}, name=_name(node))
        return
    if aligned != src:
        x = ctx.emit("Reshape", [x], [_tmp(ctx, node, "rank")], {"shape": aligned}, name=f"{_name(node)}.rank")[0]
    ctx.emit("Tile", [x], [out], {"multiples": mult}, name=_name(node))


@onnx_op("GatherElements")
def gather_elements(ctx: OnnxContext, node) -> None:
    data, idx = list(ctx.shape(node.input[0])), list(ctx.shape(node.input[1]))
    rank = len(data)
    axis = int(attrs(node).get("axis", 0))
    if not -rank <= axis < rank:
        raise ConversionError(f"GatherElements node '{_name(node)}': axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    if len(idx) != rank or any(i > d for k, (i, d) in enumerate(zip(idx, data)) if k != axis):
        raise ConversionError(f"GatherElements node '{_name(node)}': indices shape {idx} does not fit data "
                              f"shape {data}")
    ctx.emit("GatherElements", [ctx.tensor(node.input[0]), ctx.tensor(node.input[1])], [node.output[0]],
             {"axis": axis}, name=_name(node))


# ---- arithmetic ----------------------------------------------------------------------------
@onnx_op("Mod")
def mod(ctx: OnnxContext, node) -> None:
    """fmod=0: result takes the divisor's sign (ElementWiseMod); fmod=1: the dividend's (ElementWiseFmod)."""
    qnn = "ElementWiseFmod" if int(attrs(node).get("fmod", 0)) else "ElementWiseMod"
    ctx.emit(qnn, [ctx.tensor(node.input[0]), ctx.tensor(node.input[1])], [node.output[0]], name=_name(node))


@onnx_op("Mean")
def mean(ctx: OnnxContext, node) -> None:
    """Sum of the inputs (broadcasting), divided by their count."""
    ins = [i for i in node.input if i]
    if len(ins) == 1:
        ctx.alias(node.output[0], ins[0])
        return
    acc = ctx.tensor(ins[0])
    for k, other in enumerate(ins[1:]):
        acc = ctx.emit("ElementWiseAdd", [acc, ctx.tensor(other)], [_tmp(ctx, node, f"sum{k}")],
                       name=f"{_name(node)}.sum{k}")[0]
    n = _scalar(ctx, node, "count", len(ins), ctx.graph.tensors[acc].dtype)
    ctx.emit("ElementWiseDivide", [acc, n], [node.output[0]], name=_name(node))


# ---- activations ---------------------------------------------------------------------------
@onnx_op("Selu")
def selu(ctx: OnnxContext, node) -> None:
    """gamma * Elu_alpha(x)."""
    a = attrs(node)
    dt = _require_float(ctx, node)
    alpha = float(a.get("alpha", 1.67326319217681884765625))
    gamma = float(a.get("gamma", 1.05070102214813232421875))
    e = ctx.emit("Elu", [ctx.tensor(node.input[0])], [_tmp(ctx, node, "elu")], {"alpha": alpha},
                 name=f"{_name(node)}.elu")[0]
    ctx.emit("ElementWiseMultiply", [e, _scalar(ctx, node, "gamma", gamma, dt)], [node.output[0]],
             name=_name(node))


@onnx_op("ThresholdedRelu")
def thresholded_relu(ctx: OnnxContext, node) -> None:
    """x where x > alpha, else 0."""
    dt = _require_float(ctx, node)
    alpha = float(attrs(node).get("alpha", 1.0))
    x = ctx.tensor(node.input[0])
    gt = ctx.emit("ElementWiseGreater", [x, _scalar(ctx, node, "alpha", alpha, dt)], [_tmp(ctx, node, "gt")],
                  name=f"{_name(node)}.gt")[0]
    ctx.emit("ElementWiseSelect", [gt, x, _scalar(ctx, node, "zero", 0, dt)], [node.output[0]], name=_name(node))


@onnx_op("Mish")
def mish(ctx: OnnxContext, node) -> None:
    """x * tanh(softplus(x)) with softplus as ElementWiseNeuron SOFTPLUS."""
    _require_float(ctx, node)
    x = ctx.tensor(node.input[0])
    sp = ctx.emit("ElementWiseNeuron", [x], [_tmp(ctx, node, "softplus")], {"operation": 7},
                  name=f"{_name(node)}.softplus")[0]
    th = ctx.emit("Tanh", [sp], [_tmp(ctx, node, "tanh")], name=f"{_name(node)}.tanh")[0]
    ctx.emit("ElementWiseMultiply", [x, th], [node.output[0]], name=_name(node))


@onnx_op("Softsign")
def softsign(ctx: OnnxContext, node) -> None:
    """x / (1 + |x|)."""
    dt = _require_float(ctx, node)
    x = ctx.tensor(node.input[0])
    ab = ctx.emit("ElementWiseAbs", [x], [_tmp(ctx, node, "abs")], name=f"{_name(node)}.abs")[0]
    den = ctx.emit("ElementWiseAdd", [ab, _scalar(ctx, node, "one", 1, dt)], [_tmp(ctx, node, "den")],
                   name=f"{_name(node)}.den")[0]
    ctx.emit("ElementWiseDivide", [x, den], [node.output[0]], name=_name(node))


@onnx_op("Swish")
def swish(ctx: OnnxContext, node) -> None:
    """x * sigmoid(alpha * x)."""
    dt = _require_float(ctx, node)
    alpha = float(attrs(node).get("alpha", 1.0))
    x = ctx.tensor(node.input[0])
    z = x if alpha == 1.0 else ctx.emit("ElementWiseMultiply", [x, _scalar(ctx, node, "alpha", alpha, dt)],
                                        [_tmp(ctx, node, "ax")], name=f"{_name(node)}.ax")[0]
    sg = ctx.emit("Sigmoid", [z], [_tmp(ctx, node, "sigmoid")], name=f"{_name(node)}.sigmoid")[0]
    ctx.emit("ElementWiseMultiply", [x, sg], [node.output[0]], name=_name(node))


@onnx_op("Celu")
def celu(ctx: OnnxContext, node) -> None:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    dt = _require_float(ctx, node)
    alpha = float(attrs(node).get("alpha", 1.0))
    n = _name(node)
    x = ctx.tensor(node.input[0])

    def op(qnn, ins, tag):
        return ctx.emit(qnn, ins, [_tmp(ctx, node, tag)], name=f"{n}.{tag}")[0]

    zero = _scalar(ctx, node, "zero", 0, dt)
    e = op("ElementWiseExp", [op("ElementWiseDivide", [x, _scalar(ctx, node, "alpha", alpha, dt)], "scaled")], "exp")
    em1 = op("ElementWiseSubtract", [e, _scalar(ctx, node, "one", 1, dt)], "expm1")
    neg = op("ElementWiseMinimum", [op("ElementWiseMultiply", [em1, _scalar(ctx, node, "alpha", alpha, dt)], "neg"),
                                    zero], "negpart")
    ctx.emit("ElementWiseAdd", [op("ElementWiseMaximum", [x, zero], "pospart"), neg], [node.output[0]], name=n)


@onnx_op("Hardmax")
def hardmax(ctx: OnnxContext, node) -> None:
    """1 at the first maximum along the axis, 0 elsewhere: Argmax, then Equal against an index ramp.
    Before opset 13 the input is coerced to 2-D at ``axis`` (as Softmax)."""
    dt = _require_float(ctx, node)
    n = _name(node)
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    axis = int(attrs(node).get("axis", -1 if ctx.opset >= 13 else 1))
    if not -rank <= axis < rank:
        raise ConversionError(f"Hardmax node '{n}': axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    work = shape
    if ctx.opset < 13 and axis != rank - 1 and any(d != 1 for d in shape[axis + 1:]):
        work = [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))]
        x = ctx.emit("Reshape", [x], [_tmp(ctx, node, "2d")], {"shape": work}, name=f"{n}.2d")[0]
        axis = 1
    idx = ctx.emit("Argmax", [x], [_tmp(ctx, node, "argmax")], {"axis": axis, "keep_dims": True},
                   name=f"{n}.argmax")[0]
    ramp = np.arange(work[axis], dtype=np.int32).reshape([-1 if i == axis else 1 for i in range(len(work))])
    hit = ctx.emit("ElementWiseEqual", [ctx.add_const(f"{n}.ramp", ramp), idx], [_tmp(ctx, node, "hit")],
                   name=f"{n}.hit")[0]
    if work == shape:
        ctx.emit("Cast", [hit], [node.output[0]], {"to": qd.to_qnn(dt)}, name=n)
        return
    y = ctx.emit("Cast", [hit], [_tmp(ctx, node, "onehot")], {"to": qd.to_qnn(dt)}, name=f"{n}.cast")[0]
    ctx.emit("Reshape", [y], [node.output[0]], {"shape": shape}, name=n)


# Abramowitz & Stegun 7.1.26: erf(x) = 1 - t*(a1 + t*(a2 + ... a5)) * exp(-x^2), t = 1/(1 + p|x|);
# |error| <= 1.5e-7, made odd with sign(x).  Near 0 that form loses relative precision (1 - tail
# cancels), so |x| < 1 uses the Maclaurin series 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)),
# n <= 10 (alternating: truncation error < 1.3e-9 there).
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_ERF_TAYLOR = tuple((-1) ** k * 2 / math.sqrt(math.pi) / (math.factorial(k) * (2 * k + 1)) for k in range(11))


@onnx_op("Erf")
def erf(ctx: OnnxContext, node) -> None:
    """erf as a QNN composition (QNN has no Erf op): absolute error below 1e-6 over all of float32."""
    dt = _require_float(ctx, node)
    if dt != np.float32:
        raise ConversionError(f"Erf node '{_name(node)}': input type {dt} is not supported (float32 only)")
    n = _name(node)
    x = ctx.tensor(node.input[0])

    def op(qnn, ins, tag):
        return ctx.emit(qnn, ins, [_tmp(ctx, node, tag)], name=f"{n}.{tag}")[0]

    def c(tag, v):
        return _scalar(ctx, node, tag, v, dt)

    ab = op("ElementWiseAbs", [x], "abs")
    den = op("ElementWiseAdd", [op("ElementWiseMultiply", [ab, c("p", _ERF_P)], "px"), c("one", 1.0)], "den")
    t = op("ElementWiseDivide", [c("one", 1.0), den], "t")
    poly = c("a5", _ERF_A[4])
    for k in (3, 2, 1, 0):
        poly = op("ElementWiseAdd", [op("ElementWiseMultiply", [poly, t], f"h{k}"), c(f"a{k + 1}", _ERF_A[k])],
                  f"p{k}")
    poly = op("ElementWiseMultiply", [poly, t], "poly")
    sq = op("ElementWiseMultiply", [x, x], "sq")
    ex = op("ElementWiseExp", [op("ElementWiseNeg", [sq], "negsq")], "exp")
    mag = op("ElementWiseSubtract", [c("one", 1.0), op("ElementWiseMultiply", [poly, ex], "tail")], "mag")
    large = op("ElementWiseMultiply", [op("ElementWiseSign", [x], "sign"), mag], "large")
    series = c("c10", _ERF_TAYLOR[10])
    for k in range(9, -1, -1):
        series = op("ElementWiseAdd", [op("ElementWiseMultiply", [series, sq], f"s{k}"), c(f"c{k}", _ERF_TAYLOR[k])],
                    f"q{k}")
    small = op("ElementWiseMultiply", [series, x], "small")
    near0 = op("ElementWiseLess", [ab, c("one", 1.0)], "near0")
    ctx.emit("ElementWiseSelect", [near0, small, large], [node.output[0]], name=n)


# ---- normalisation -------------------------------------------------------------------------
@onnx_op("LayerNormalization")
def layer_norm(ctx: OnnxContext, node) -> None:
    """QNN LayerNorm over axes [axis, rank); the optional Mean / InvStdDev outputs are computed with
    ReduceMean, Subtract, Multiply, Add and Rsqrt (their ONNX definition)."""
    a = attrs(node)
    n = _name(node)
    if int(a.get("stash_type", 1)) != 1:
        raise ConversionError(f"LayerNormalization node '{n}': stash_type {a['stash_type']} is not supported")
    dt = _require_float(ctx, node)
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    axis = int(a.get("axis", -1))
    if not -rank <= axis < rank:
        raise ConversionError(f"LayerNormalization node '{n}': axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    axes = list(range(axis, rank))
    eps = float(a.get("epsilon", 1e-5))
    norm_shape = shape[axis:]
    if len(node.input) < 2 or not node.input[1]:
        raise ConversionError(f"LayerNormalization node '{n}': the Scale input is missing")
    extra = []
    for k, what in ((1, "Scale"), (2, "B")):
        if len(node.input) <= k or not node.input[k]:
            continue
        name = node.input[k]
        s = list(ctx.shape(name))
        if s == norm_shape:
            extra.append(ctx.tensor(name))
        elif ctx.is_const(name):
            try:
                full = np.broadcast_to(ctx.const(name), norm_shape)
            except ValueError:
                raise ConversionError(f"LayerNormalization node '{n}': {what} shape {s} does not broadcast to "
                                      f"the normalised shape {norm_shape}") from None
            extra.append(ctx.add_const(f"{name}.full", np.ascontiguousarray(full)))
        else:
            raise ConversionError(f"LayerNormalization node '{n}': {what} shape {s} differs from the normalised "
                                  f"shape {norm_shape} and is not constant")
    x = ctx.tensor(node.input[0])
    outs = list(node.output) + ["", ""]
    ctx.emit("LayerNorm", [x] + extra, [outs[0]], {"epsilon": eps, "axes": axes}, name=n)
    if not outs[1] and not outs[2]:
        return
    mean_out = outs[1] or _tmp(ctx, node, "mean")
    m = ctx.emit("ReduceMean", [x], [mean_out], {"axes": axes, "keep_dims": True}, name=f"{n}.mean")[0]
    if not outs[2]:
        return
    d = ctx.emit("ElementWiseSubtract", [x, m], [_tmp(ctx, node, "diff")], name=f"{n}.diff")[0]
    sq = ctx.emit("ElementWiseMultiply", [d, d], [_tmp(ctx, node, "sq")], name=f"{n}.sq")[0]
    var = ctx.emit("ReduceMean", [sq], [_tmp(ctx, node, "var")], {"axes": axes, "keep_dims": True},
                   name=f"{n}.var")[0]
    ve = ctx.emit("ElementWiseAdd", [var, _scalar(ctx, node, "eps", eps, dt)], [_tmp(ctx, node, "veps")],
                  name=f"{n}.veps")[0]
    ctx.emit("ElementWiseRsqrt", [ve], [outs[2]], name=f"{n}.invstd")

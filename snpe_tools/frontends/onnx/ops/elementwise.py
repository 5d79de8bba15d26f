"""ONNX elementwise arithmetic, comparison, logic and selection -> QNN ElementWise* ops
(``snpe_tools/ops/elementwise.py``), and the elementwise functions QNN has no op for as compositions:

* Tan / Sinh / Cosh / Asinh / Acosh / Atanh / Acos: exact identities over Sin/Cos/Exp/Log/Sqrt/Asin;
* Erf: a float32 composition with absolute error below 1e-6 (see :func:`erf`);
* Mod, Mean, Reciprocal, Where, IsNaN / IsInf;
* Trilu: ElementWiseSelect against a static column-minus-row ramp (``k`` may be a run-time scalar);
* BitShift: multiplication / floor division by powers of two, with the shift split as
  ``min(y, w-2) + (0 or 1)`` so ``2**shift`` never overflows, and Select for shifts outside [0, w);
  BitwiseNot as ``-1 - x`` (signed) / ``MAX - x`` (unsigned);
"""
from __future__ import annotations

import math

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import (NodeBuilder, OnnxContext, attrs, has_input, node_error, node_name, require_float,
                      scalar_const, str_attr, tmp_name)
from ..registry import onnx_op

_BINARY = {
    "Add": "ElementWiseAdd", "Sub": "ElementWiseSubtract", "Mul": "ElementWiseMultiply",
    "Div": "ElementWiseDivide", "Pow": "ElementWisePower", "Max": "ElementWiseMaximum",
    "Min": "ElementWiseMinimum", "Sum": "ElementWiseAdd", "Equal": "ElementWiseEqual",
    "Greater": "ElementWiseGreater", "GreaterOrEqual": "ElementWiseGreaterEqual",
    "Less": "ElementWiseLess", "LessOrEqual": "ElementWiseLessEqual", "And": "ElementWiseAnd",
    "Or": "ElementWiseOr", "Xor": "ElementWiseXor",
}


def _legacy_broadcast(ctx: OnnxContext, node, b: str) -> str:
    """Opset < 7 ``broadcast=1, axis=k``: reshape the second input so numpy broadcasting applies."""
    a = attrs(node)
    if ctx.opset >= 7 or not a.get("broadcast", 0):
        return b
    rank_a, shp_b = ctx.rank(node.input[0]), ctx.shape(b)
    axis = a.get("axis", rank_a - len(shp_b))
    axis = axis + rank_a if axis < 0 else axis
    new = [1] * axis + list(shp_b) + [1] * (rank_a - axis - len(shp_b))
    if ctx.is_const(b):
        return ctx.add_const(f"{b}.bcast", ctx.const(b).reshape(new))
    out = ctx.graph.unique_name(f"{b}.bcast")
    return ctx.emit("Reshape", [ctx.tensor(b)], [out], {"shape": new}, name=out)[0]


@onnx_op(*_BINARY)
def binary(ctx: OnnxContext, node) -> None:
    qnn = _BINARY[node.op_type]
    ins = [i for i in node.input if i]
    if len(ins) == 1:
        ctx.alias(node.output[0], ins[0])
        return
    if len(ins) > 2 and node.op_type not in ("Sum", "Max", "Min"):
        raise ConversionError(f"{node.op_type} node '{node_name(node)}' has {len(ins)} inputs")
    acc = ctx.tensor(ins[0])
    second = _legacy_broadcast(ctx, node, ins[1]) if len(ins) == 2 else ins[1]
    for k, other in enumerate(ins[1:]):
        last = k == len(ins) - 2
        out = node.output[0] if last else ctx.graph.unique_name(f"{node.output[0]}.part{k}")
        rhs = ctx.tensor(second if k == 0 else other)
        acc = ctx.emit(qnn, [acc, rhs], [out], name=node_name(node) if last else out)[0]


_UNARY = {
    "Abs": "ElementWiseAbs", "Ceil": "ElementWiseCeil", "Cos": "ElementWiseCos", "Exp": "ElementWiseExp",
    "Floor": "ElementWiseFloor", "Log": "ElementWiseLog", "Neg": "ElementWiseNeg", "Not": "ElementWiseNot",
    "Round": "ElementWiseRound", "Sign": "ElementWiseSign", "Sin": "ElementWiseSin",
    "Sqrt": "ElementWiseSquareRoot", "Asin": "ElementWiseAsin", "Atan": "ElementWiseAtan",
}


@onnx_op(*_UNARY)
def unary(ctx: OnnxContext, node) -> None:
    ctx.emit(_UNARY[node.op_type], [ctx.tensor(node.input[0])], [node.output[0]], name=node_name(node))


@onnx_op("Reciprocal")
def reciprocal(ctx: OnnxContext, node) -> None:
    one = ctx.add_const(f"{node_name(node)}.one", np.array(1.0, np.float32))
    ctx.emit("ElementWiseDivide", [one, ctx.tensor(node.input[0])], [node.output[0]], name=node_name(node))


@onnx_op("IsNaN")
def is_nan(ctx: OnnxContext, node) -> None:
    ctx.emit("IsNan", [ctx.tensor(node.input[0])], [node.output[0]], name=node_name(node))


@onnx_op("IsInf")
def is_inf(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    ctx.emit("IsInf", [ctx.tensor(node.input[0])], [node.output[0]],
             {"detect_negative": bool(a.get("detect_negative", 1)),
              "detect_positive": bool(a.get("detect_positive", 1))},
             name=node_name(node))


@onnx_op("Tan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Acos")
def trig(ctx: OnnxContext, node) -> None:
    """Trigonometric/hyperbolic functions QNN lacks, as exact identities over Sin/Cos/Exp/Log/Sqrt/Asin."""
    b = NodeBuilder(ctx, node)
    x, out, t = ctx.tensor(node.input[0]), node.output[0], node.op_type
    dt = b.dtype(x)

    def c(value: float) -> str:
        return b.const("c", value, dt)

    if t == "Tan":
        b.op("ElementWiseDivide", [b.op("ElementWiseSin", [x]), b.op("ElementWiseCos", [x])], out=out)
    elif t in ("Sinh", "Cosh"):
        e, en = b.op("ElementWiseExp", [x]), b.op("ElementWiseExp", [b.op("ElementWiseNeg", [x])])
        s = b.op("ElementWiseSubtract" if t == "Sinh" else "ElementWiseAdd", [e, en])
        b.op("ElementWiseMultiply", [s, c(0.5)], out=out)
    elif t in ("Asinh", "Acosh"):
        sq = b.op("ElementWiseMultiply", [x, x])
        r = b.op("ElementWiseSquareRoot", [b.op("ElementWiseAdd" if t == "Asinh" else "ElementWiseSubtract",
                                                [sq, c(1.0)])])
        b.op("ElementWiseLog", [b.op("ElementWiseAdd", [x, r])], out=out)
    elif t == "Atanh":
        q = b.op("ElementWiseDivide", [b.op("ElementWiseAdd", [c(1.0), x]), b.op("ElementWiseSubtract", [c(1.0), x])])
        b.op("ElementWiseMultiply", [b.op("ElementWiseLog", [q]), c(0.5)], out=out)
    else:  # Acos = pi/2 - asin(x)
        b.op("ElementWiseSubtract", [c(np.pi / 2), b.op("ElementWiseAsin", [x])], out=out)


# ---- selection ---------------------------------------------------------------------------------
@onnx_op("Where")
def where(ctx: OnnxContext, node) -> None:
    c, x, y = (ctx.tensor(i) for i in node.input[:3])
    if ctx.graph.tensors[c].dtype != np.bool_:
        raise node_error(node, "the condition must be bool")
    ctx.emit("ElementWiseSelect", [c, x, y], [node.output[0]], name=node_name(node))


# ---- arithmetic ----------------------------------------------------------------------------
@onnx_op("Mod")
def mod(ctx: OnnxContext, node) -> None:
    """fmod=0: result takes the divisor's sign (ElementWiseMod); fmod=1: the dividend's (ElementWiseFmod)."""
    qnn = "ElementWiseFmod" if int(attrs(node).get("fmod", 0)) else "ElementWiseMod"
    ctx.emit(qnn, [ctx.tensor(node.input[0]), ctx.tensor(node.input[1])], [node.output[0]], name=node_name(node))


@onnx_op("Mean")
def mean(ctx: OnnxContext, node) -> None:
    """Sum of the inputs (broadcasting), divided by their count."""
    ins = [i for i in node.input if i]
    if len(ins) == 1:
        ctx.alias(node.output[0], ins[0])
        return
    acc = ctx.tensor(ins[0])
    for k, other in enumerate(ins[1:]):
        acc = ctx.emit("ElementWiseAdd", [acc, ctx.tensor(other)], [tmp_name(ctx, node, f"sum{k}")],
                       name=f"{node_name(node)}.sum{k}")[0]
    n = scalar_const(ctx, node, "count", len(ins), ctx.graph.tensors[acc].dtype)
    ctx.emit("ElementWiseDivide", [acc, n], [node.output[0]], name=node_name(node))


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
    dt = require_float(ctx, node)
    if dt != np.float32:
        raise node_error(node, f"input type {dt} is not supported (float32 only)")
    n = node_name(node)
    x = ctx.tensor(node.input[0])

    def op(qnn, ins, tag):
        return ctx.emit(qnn, ins, [tmp_name(ctx, node, tag)], name=f"{n}.{tag}")[0]

    def c(tag, v):
        return scalar_const(ctx, node, tag, v, dt)

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


@onnx_op("Trilu")
def trilu(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    if len(shape) < 2:
        raise node_error(node, "the input must have rank >= 2")
    upper = bool(int(attrs(node).get("upper", 1)))
    rows, cols = shape[-2], shape[-1]
    diff = np.arange(cols)[None, :] - np.arange(rows)[:, None]   # column - row
    if not has_input(node, 1) or ctx.is_const(node.input[1]):
        k = int(np.asarray(ctx.const(node.input[1])).reshape(-1)[0]) if has_input(node, 1) else 0
        mask = diff >= k if upper else diff <= k
        if mask.all():
            b.finish(x)
            return
        b.op("ElementWiseSelect", [b.const("mask", mask), x, b.const("zero", 0, b.dtype(x))], out=node.output[0])
        return
    zero = b.const("zero", 0, b.dtype(x))
    kt = ctx.tensor(node.input[1])
    if int(np.prod(b.shape(kt))) != 1:
        raise node_error(node, "k must be a scalar")
    kt = b.reshape(kt, [], "k")
    if not np.issubdtype(b.dtype(kt), np.signedinteger):
        kt = b.op("Cast", [kt], {"to": qd.INT_32}, "k_cast")
    ramp = b.const("diff", diff, b.dtype(kt))
    mask = b.op("ElementWiseGreaterEqual" if upper else "ElementWiseLessEqual", [ramp, kt], tag="mask")
    b.op("ElementWiseSelect", [mask, x, zero], out=node.output[0])


# ---- bitwise ------------------------------------------------------------------------------------
def _require_int(b: NodeBuilder, x: str) -> np.dtype:
    dt = b.dtype(x)
    if not np.issubdtype(dt, np.integer):
        raise node_error(b.node, f"input type {dt} is not supported (integer types only)")
    return dt


@onnx_op("BitwiseNot")
def bitwise_not(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    dt = _require_int(b, x)
    c = -1 if np.issubdtype(dt, np.signedinteger) else np.iinfo(dt).max
    b.op("ElementWiseSubtract", [b.const("ones", c, dt), x], out=node.output[0])


@onnx_op("BitShift")
def bit_shift(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    direction = str_attr(attrs(node).get("direction"), "")
    if direction not in ("LEFT", "RIGHT"):
        raise node_error(node, f"direction '{direction}' must be LEFT or RIGHT")
    x, y = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    dt = _require_int(b, x)
    if b.dtype(y) != dt:
        y = b.op("Cast", [y], {"to": qd.to_qnn(dt)}, "y_cast")
    signed = np.issubdtype(dt, np.signedinteger)
    w = dt.itemsize * 8

    def c(tag, v):
        return b.const(tag, v, dt)

    # shift = y1 + y2 with y1 = clamp(y, 0, w-2) and y2 in {0, 1}: 2**y1 and 2**y2 both fit in dt
    y0 = b.op("ElementWiseMaximum", [y, c("zero", 0)], tag="ypos") if signed else y
    y1 = b.op("ElementWiseMinimum", [y0, c("wm2", w - 2)], tag="y1")
    y2 = b.op("ElementWiseMinimum", [b.op("ElementWiseSubtract", [y0, y1], tag="yrest"), c("one", 1)], tag="y2")
    p1 = b.op("ElementWisePower", [c("two", 2), y1], tag="p1")
    p2 = b.op("ElementWisePower", [c("two", 2), y2], tag="p2")
    qnn = "ElementWiseMultiply" if direction == "LEFT" else "ElementWiseFloorDiv"
    r = b.op(qnn, [b.op(qnn, [x, p1], tag="step1"), p2], tag="shifted")
    valid = b.op("ElementWiseLess", [y, c("w", w)], tag="inrange")
    if signed:
        valid = b.op("ElementWiseAnd", [valid, b.op("ElementWiseGreaterEqual", [y, c("zero", 0)], tag="nonneg")],
                     tag="valid")
    if direction == "RIGHT" and signed:   # sign fill: -1 for negative x, 0 otherwise
        fill = b.op("ElementWiseSelect", [b.op("ElementWiseLess", [x, c("zero", 0)], tag="xneg"), c("m1", -1),
                                          c("zero", 0)], tag="fill")
    else:
        fill = c("zero", 0)
    b.op("ElementWiseSelect", [valid, r, fill], out=node.output[0])

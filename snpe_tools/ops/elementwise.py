"""Elementwise binary and unary ops (numpy broadcasting semantics, as QNN's).

Each QNN type is one small class generated from a table row: the QNN name and the
numpy function that is its reference kernel.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import DlcAttr, OpDef, Param, broadcast_shape, register


def _fmod(a, b):
    return np.fmod(a, b)


def _floor_div(a, b):
    return np.floor_divide(a, b) if np.issubdtype(np.result_type(a, b), np.integer) else np.floor(a / b)


BINARY = {
    "ElementWiseAdd": np.add,
    "ElementWiseSubtract": np.subtract,
    "ElementWiseMultiply": np.multiply,
    "ElementWiseDivide": lambda a, b: np.divide(a, b) if not np.issubdtype(np.result_type(a, b), np.integer)
    else np.trunc(a / b).astype(np.result_type(a, b)),
    "ElementWiseMaximum": np.maximum,
    "ElementWiseMinimum": np.minimum,
    "ElementWisePower": np.power,
    "ElementWiseFloorDiv": _floor_div,
    "ElementWiseFmod": _fmod,
    "ElementWiseMod": np.mod,
    "ElementWiseSquaredDifference": lambda a, b: np.square(a - b),
    "ElementWiseEqual": np.equal,
    "ElementWiseNotEqual": np.not_equal,
    "ElementWiseGreater": np.greater,
    "ElementWiseGreaterEqual": np.greater_equal,
    "ElementWiseLess": np.less,
    "ElementWiseLessEqual": np.less_equal,
    "ElementWiseAnd": np.logical_and,
    "ElementWiseOr": np.logical_or,
    "ElementWiseXor": np.logical_xor,
}
_BOOL_OUT = {"ElementWiseEqual", "ElementWiseNotEqual", "ElementWiseGreater", "ElementWiseGreaterEqual",
             "ElementWiseLess", "ElementWiseLessEqual", "ElementWiseAnd", "ElementWiseOr", "ElementWiseXor"}

UNARY = {
    "ElementWiseAbs": np.abs,
    "ElementWiseAsin": np.arcsin,
    "ElementWiseAtan": np.arctan,
    "ElementWiseCeil": np.ceil,
    "ElementWiseCos": np.cos,
    "ElementWiseExp": np.exp,
    "ElementWiseFloor": np.floor,
    "ElementWiseLog": np.log,
    "ElementWiseNeg": np.negative,
    "ElementWiseNot": np.logical_not,
    "ElementWiseRound": np.round,       # round half to even, as ONNX Round
    "ElementWiseRsqrt": lambda x: 1.0 / np.sqrt(x),
    "ElementWiseSign": np.sign,
    "ElementWiseSin": np.sin,
    "ElementWiseSquareRoot": np.sqrt,
}


# QNN ElementWiseBinary / ElementWiseUnary ``operation`` codes.  Qualcomm's 2.25 converter writes every
# elementwise op as ``Eltwise_Binary`` / ``Eltwise_Unary`` with this code (flag 1), and its reader rejects
# some of the one-op names (ElementWiseAsin, -Fmod, -Mod, -Sign, -Xor), so this is the DLC form of all.
BINARY_OPERATION = {
    "ElementWiseAdd": 0, "ElementWiseAnd": 1, "ElementWiseDivide": 2, "ElementWiseEqual": 3,
    "ElementWiseFloorDiv": 4, "ElementWiseFmod": 5, "ElementWiseGreater": 6, "ElementWiseGreaterEqual": 7,
    "ElementWiseLess": 8, "ElementWiseLessEqual": 9, "ElementWiseMaximum": 10, "ElementWiseMinimum": 11,
    "ElementWiseMod": 12, "ElementWiseMultiply": 13, "ElementWiseNotEqual": 14, "ElementWiseOr": 15,
    "ElementWisePower": 16, "ElementWiseSquaredDifference": 17, "ElementWiseSubtract": 18, "ElementWiseXor": 19,
}
UNARY_OPERATION = {
    "ElementWiseAbs": 0, "ElementWiseAsin": 1, "ElementWiseAtan": 2, "ElementWiseCeil": 3, "ElementWiseCos": 4,
    "ElementWiseExp": 5, "ElementWiseFloor": 6, "ElementWiseLog": 7, "ElementWiseNeg": 8, "ElementWiseNot": 9,
    "ElementWiseRound": 11, "ElementWiseRsqrt": 12, "ElementWiseSign": 13, "ElementWiseSin": 14,
    "ElementWiseSquareRoot": 15,
}


def _operation(code: int) -> tuple[DlcAttr, ...]:
    return (DlcAttr("operation", qd.UINT_32, code, 1),)


class ElementWiseBinaryBase(OpDef):
    layout_agnostic = "all_inputs"
    """Two broadcastable inputs, one output."""

    fn = staticmethod(np.add)
    bool_out = False

    def infer(self, op, ins):
        dtype = np.dtype(np.bool_) if self.bool_out else ins[0].dtype
        return [(broadcast_shape(ins[0].shape, ins[1].shape), dtype)]

    def compute(self, op, xs):
        with np.errstate(all="ignore"):
            y = self.fn(xs[0], xs[1])
        return [np.asarray(y).astype(np.bool_ if self.bool_out else xs[0].dtype, copy=False)]

    def macs(self, op, ins, outs):
        return int(np.prod(outs[0].shape))


class ElementWiseUnaryBase(OpDef):
    layout_agnostic = "first_input"
    fn = staticmethod(np.abs)

    def compute(self, op, xs):
        with np.errstate(all="ignore"):
            return [np.asarray(self.fn(xs[0])).astype(xs[0].dtype, copy=False)]


# integer operands give integer results (the quantizer's integer grid, OpDef.keeps_integers)
_KEEP_INTEGERS = {"ElementWiseAdd", "ElementWiseSubtract", "ElementWiseMultiply", "ElementWiseMaximum",
                  "ElementWiseMinimum"}

for _name, _fn in BINARY.items():
    register(type(_name, (ElementWiseBinaryBase,),
                  {"type": _name, "fn": staticmethod(_fn), "bool_out": _name in _BOOL_OUT,
                   "keeps_integers": _name in _KEEP_INTEGERS,
                   "dlc_type": "Eltwise_Binary", "dlc_selector": _operation(BINARY_OPERATION[_name]),
                   "__doc__": f"QNN {_name}: numpy {_fn.__name__ if hasattr(_fn, '__name__') else 'lambda'}"}))

for _name, _fn in UNARY.items():
    register(type(_name, (ElementWiseUnaryBase,), {"type": _name, "fn": staticmethod(_fn), "dlc_type": "Eltwise_Unary",
                                                   "dlc_selector": _operation(UNARY_OPERATION[_name])}))


@register
class ElementWiseSelect(OpDef):
    """Where: inputs (condition, if_true, if_false)."""

    type = "ElementWiseSelect"
    layout_agnostic = "all_inputs"
    dlc_type = "Eltwise_Ternary"
    dlc_selector = (DlcAttr("eltwise_type", qd.UNDEFINED, "ElementWiseSelect", 2),)

    def infer(self, op, ins):
        return [(broadcast_shape(*(t.shape for t in ins)), ins[1].dtype)]

    def compute(self, op, xs):
        return [np.where(xs[0].astype(bool), xs[1], xs[2]).astype(xs[1].dtype, copy=False)]


class _Predicate(OpDef):
    """Float -> bool elementwise test."""

    fn = staticmethod(np.isnan)

    def infer(self, op, ins):
        return [(ins[0].shape, np.bool_)]


@register
class IsNan(_Predicate):
    """QNN IsNan: true where the input is NaN."""

    type = "IsNan"
    lowers_for_dlc = True

    def lower_for_dlc(self, graph, op):
        """x != x: true exactly where x is NaN."""
        idx = graph.ops.index(op)
        graph.remove_op(op)
        graph.add_op("ElementWiseNotEqual", [op.inputs[0], op.inputs[0]], [op.outputs[0]], name=op.name, index=idx)

    def compute(self, op, xs):
        return [np.isnan(xs[0])]


@register
class IsInf(_Predicate):
    """QNN IsInf: true where the input is +inf (detect_positive) or -inf (detect_negative)."""

    type = "IsInf"
    lowers_for_dlc = True

    def lower_for_dlc(self, graph, op):
        """x == +inf, x == -inf or |x| == inf (never true for NaN, as IsInf)."""
        idx = graph.ops.index(op)
        graph.remove_op(op)
        pos, neg = op.params["detect_positive"], op.params["detect_negative"]
        x = op.inputs[0]
        if pos and neg:
            x = graph.add_op("ElementWiseAbs", [x], name=f"{op.name}_abs", index=idx).outputs[0]
            idx += 1
        ref = np.inf if pos else -np.inf if neg else np.nan
        const = graph.add_const(f"{op.name}_ref", np.full((1,), ref, dtype=graph.tensors[op.inputs[0]].dtype))
        graph.add_op("ElementWiseEqual", [x, const], [op.outputs[0]], name=op.name, index=idx)
    params = {"detect_negative": Param(qd.BOOL_8, default=True), "detect_positive": Param(qd.BOOL_8, default=True)}

    def compute(self, op, xs):
        x = xs[0]
        return [(np.isposinf(x) & op.params["detect_positive"]) | (np.isneginf(x) & op.params["detect_negative"])]

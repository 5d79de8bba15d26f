"""snpe_tools/ops/elementwise.py: broadcasting shape rule, kernels against onnx.reference."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, ints, onnx_ref, positive, rand, run_op

A, B = rand(2, 3, 4), rand(3, 1)          # broadcast [2,3,4] x [3,1]
PA, PB = positive(2, 3, 4), positive(4)
BA, BB = rand(2, 3, 4) > 0, rand(4) > 0

# op -> (inputs, ONNX op, attrs); None: numpy reference below
BINARY = {
    "ElementWiseAdd": ((A, B), "Add", {}),
    "ElementWiseSubtract": ((A, B), "Sub", {}),
    "ElementWiseMultiply": ((A, B), "Mul", {}),
    "ElementWiseDivide": ((A, PB), "Div", {}),
    "ElementWiseMaximum": ((A, B), "Max", {}),
    "ElementWiseMinimum": ((A, B), "Min", {}),
    "ElementWisePower": ((PA, rand(4)), "Pow", {}),
    "ElementWiseFmod": ((A * 3, PB), "Mod", {"fmod": 1}),
    "ElementWiseEqual": ((ints(2, 3, 4, hi=3), ints(4, hi=3)), "Equal", {}),
    "ElementWiseGreater": ((A, B), "Greater", {}),
    "ElementWiseGreaterEqual": ((np.round(A), np.round(B)), "GreaterOrEqual", {}),
    "ElementWiseLess": ((A, B), "Less", {}),
    "ElementWiseLessEqual": ((np.round(A), np.round(B)), "LessOrEqual", {}),
    "ElementWiseAnd": ((BA, BB), "And", {}),
    "ElementWiseOr": ((BA, BB), "Or", {}),
    "ElementWiseXor": ((BA, BB), "Xor", {}),
}
NUMPY_BINARY = {
    "ElementWiseFloorDiv": ((A * 3, B), lambda a, b: np.floor(a / b)),
    "ElementWiseMod": ((ints(2, 3, 4, lo=-9, hi=9), np.asarray([3, -4, 5, -2], np.int32)),
                       lambda a, b: np.asarray([[[int(u) % int(v) for u, v in zip(r, b)] for r in m] for m in a])),
    "ElementWiseSquaredDifference": ((A, B), lambda a, b: (a - b) ** 2),
    "ElementWiseNotEqual": ((ints(2, 3, 4, hi=3), ints(4, hi=3)), lambda a, b: a != b),
}
X = rand(2, 3, 4)
UNARY = {
    "ElementWiseAbs": (X, "Abs"),
    "ElementWiseAsin": (X / 2.5, "Asin"),
    "ElementWiseAtan": (X, "Atan"),
    "ElementWiseCeil": (X, "Ceil"),
    "ElementWiseCos": (X, "Cos"),
    "ElementWiseExp": (X, "Exp"),
    "ElementWiseFloor": (X, "Floor"),
    "ElementWiseLog": (PA, "Log"),
    "ElementWiseNeg": (X, "Neg"),
    "ElementWiseNot": (BA, "Not"),
    "ElementWiseRound": (np.asarray([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6], np.float32), "Round"),
    "ElementWiseSign": (np.concatenate([X.ravel(), [0.0]]).astype(np.float32), "Sign"),
    "ElementWiseSin": (X, "Sin"),
    "ElementWiseSquareRoot": (PA, "Sqrt"),
}
COVERED = set(BINARY) | set(NUMPY_BINARY) | set(UNARY) | {"ElementWiseRsqrt", "ElementWiseSelect", "IsNan", "IsInf"}


@pytest.mark.parametrize("type_", sorted(BINARY))
def test_binary_matches_onnx(type_):
    (a, b), onnx_op, attrs = BINARY[type_]
    (y,) = run_op(type_, [a, b])
    assert_close(y, onnx_ref(onnx_op, [a, b], **attrs)[0])


@pytest.mark.parametrize("type_", sorted(NUMPY_BINARY))
def test_binary_matches_numpy_formula(type_):
    (a, b), ref = NUMPY_BINARY[type_]
    (y,) = run_op(type_, [a, b])
    assert_close(y, ref(a, b))


@pytest.mark.parametrize("type_", sorted(UNARY))
def test_unary_matches_onnx(type_):
    x, onnx_op = UNARY[type_]
    (y,) = run_op(type_, [x])
    assert_close(y, onnx_ref(onnx_op, [x])[0])


def test_rsqrt_is_reciprocal_square_root():
    (y,) = run_op("ElementWiseRsqrt", [PA])
    assert_close(y, onnx_ref("Reciprocal", [onnx_ref("Sqrt", [PA])[0]])[0])


def test_integer_divide_truncates_toward_zero():
    (y,) = run_op("ElementWiseDivide", [np.asarray([-7, 7, -6, 5], np.int32), np.asarray([2, -2, 4, 5], np.int32)])
    assert y.dtype == np.int32 and y.tolist() == [-3, -3, -1, 1]


def test_integer_floor_div_floors():
    (y,) = run_op("ElementWiseFloorDiv", [np.asarray([-7, 7], np.int32), np.asarray([2, -2], np.int32)])
    assert y.tolist() == [-4, -4]


def test_broadcast_both_ways():
    (y,) = run_op("ElementWiseAdd", [rand(3, 1, 5), rand(1, 4, 1)])
    assert y.shape == (3, 4, 5)


def test_select_matches_where_with_broadcast():
    c, t, f = rand(2, 1, 4) > 0, rand(2, 3, 4), rand(4)
    (y,) = run_op("ElementWiseSelect", [c, t, f])
    assert_close(y, onnx_ref("Where", [c, t, f])[0])


@pytest.mark.parametrize("pos,neg", [(True, True), (True, False), (False, True)])
def test_isinf_matches_onnx(pos, neg):
    x = np.asarray([np.inf, -np.inf, np.nan, 0.0, 3.0], np.float32)
    (y,) = run_op("IsInf", [x], {"detect_positive": pos, "detect_negative": neg})
    assert_close(y, onnx_ref("IsInf", [x], detect_positive=int(pos), detect_negative=int(neg))[0])


def test_isnan_matches_onnx():
    x = np.asarray([np.inf, np.nan, 0.0, -1.0], np.float32)
    (y,) = run_op("IsNan", [x])
    assert_close(y, onnx_ref("IsNaN", [x])[0])


def test_table_covers_the_family():
    assert COVERED == family_ops("elementwise")

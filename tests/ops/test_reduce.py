"""snpe_tools/ops/reduce.py: reductions over several axes with and without keep_dims, Argmax/Argmin."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op

X = rand(2, 3, 4, 5, lo=0.5, hi=1.5)
ONNX = {"ReduceMax": "ReduceMax", "ReduceMin": "ReduceMin", "ReduceMean": "ReduceMean", "ReduceSum": "ReduceSum",
        "ReduceProd": "ReduceProd", "ReduceSumSquare": "ReduceSumSquare"}
ARG = {"Argmax": "ArgMax", "Argmin": "ArgMin"}
COVERED = set(ONNX) | set(ARG)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("axes", [[1], [1, 3], [0, 1, 2, 3]])
@pytest.mark.parametrize("type_", sorted(ONNX))
def test_reduce_matches_onnx(type_, axes, keep):
    (y,) = run_op(type_, [X], {"axes": axes, "keep_dims": keep})
    ref = onnx_ref(ONNX[type_], [X, np.asarray(axes, np.int64)], keepdims=int(keep))[0]
    assert_close(y, ref, rtol=1e-4)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("axis", [0, 2, 3])
@pytest.mark.parametrize("type_", sorted(ARG))
def test_arg_matches_onnx(type_, axis, keep):
    (y,) = run_op(type_, [X], {"axis": axis, "keep_dims": keep})
    assert y.dtype == np.int32
    assert_close(y, onnx_ref(ARG[type_], [X], axis=axis, keepdims=int(keep))[0])


def test_argmax_takes_the_first_of_equal_values():
    (y,) = run_op("Argmax", [np.asarray([[1.0, 3.0, 3.0, 0.0]], np.float32)], {"axis": 1})
    assert y.tolist() == [1]


def test_table_covers_the_family():
    assert COVERED == family_ops("reduce")

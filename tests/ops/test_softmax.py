"""snpe_tools/ops/softmax.py: Softmax/LogSoftmax over any axis with QNN's beta scaling."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op

X = rand(2, 3, 4, 5, lo=-4, hi=4)
ONNX = {"Softmax": "Softmax", "LogSoftmax": "LogSoftmax"}


@pytest.mark.parametrize("beta", [1.0, 0.5])
@pytest.mark.parametrize("axis", [0, 2, 3])
@pytest.mark.parametrize("type_", sorted(ONNX))
def test_matches_onnx_of_scaled_input(type_, axis, beta):
    (y,) = run_op(type_, [X], {"axis": axis, "beta": beta})
    assert_close(y, onnx_ref(ONNX[type_], [X * np.float32(beta)], axis=axis)[0])


def test_softmax_is_stable_for_large_inputs():
    (y,) = run_op("Softmax", [np.asarray([[1000.0, 1000.0]], np.float32)], {"axis": 1})
    assert y.tolist() == [[0.5, 0.5]]


def test_table_covers_the_family():
    assert set(ONNX) == family_ops("softmax")

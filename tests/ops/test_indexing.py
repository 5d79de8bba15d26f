"""snpe_tools/ops/indexing.py: GatherElements against onnx.reference."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, ints, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements_matches_onnx(axis):
    data = rand(3, 4, 5)
    n = data.shape[axis]
    idx = ints(3, 4, 5, lo=-n, hi=n)
    (y,) = run_op("GatherElements", [data, idx], {"axis": axis}, static=[1])
    assert_close(y, onnx_ref("GatherElements", [data, idx.astype(np.int64)], axis=axis)[0])


def test_indices_smaller_than_data_on_other_axes():
    data = rand(4, 6)
    idx = ints(2, 3, hi=6)
    (y,) = run_op("GatherElements", [data, idx], {"axis": 1}, static=[1])
    # onnx.reference refuses this shape; the definition out[i, j] = data[i, idx[i, j]]
    assert_close(y, np.asarray([[data[i, idx[i, j]] for j in range(3)] for i in range(2)]))


def test_indices_larger_than_data_are_rejected():
    with pytest.raises(ConversionError, match="do not fit"):
        run_op("GatherElements", [rand(2, 3), ints(3, 3, hi=2)], {"axis": 1}, static=[1])


def test_table_covers_the_family():
    assert family_ops("indexing") == {"GatherElements"}

"""snpe_tools/ops/scatter.py: ScatterElements, ScatterNd, GatherNd, TopK, CumulativeSum, OneHot against
onnx.reference (reductions, negative indices, batch_dims, exclusive/reverse, axis)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError
from snpe_tools.ir import dtypes as qd

I64 = np.int64
REDUCTIONS = {0: "none", 1: "add", 2: "mul", 3: "max"}


@pytest.mark.parametrize("reduction", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", [0, -1])
def test_scatter_elements_matches_onnx(axis, reduction):
    data = rand(3, 4)
    n = data.shape[axis]
    # distinct targets along the axis for "none" (ONNX leaves duplicates' order unspecified)
    idx = (np.stack([np.random.default_rng(i).permutation(n)[:2] for i in range(3)]) if axis == -1
           else np.asarray([[0, 1, 2, -1], [-2, 0, 1, 2]])).astype(np.int32)
    if axis == 0 and reduction:
        idx[1] = idx[0]          # duplicates accumulate under a reduction
    upd = rand(*idx.shape)
    (y,) = run_op("ScatterElements", [data, idx, upd], {"axis": axis, "reduction": reduction}, static=[1])
    ref = onnx_ref("ScatterElements", [data, idx.astype(I64), upd], axis=axis, reduction=REDUCTIONS[reduction])[0]
    assert_close(y, ref)


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_scatter_nd_matches_onnx(reduction):
    data = rand(4, 3, 2)
    idx = np.asarray([[0, 1], [-1, 2], [2, 0]] if reduction == 0 else [[0, 1], [0, 1], [3, 2]], np.int32)
    upd = rand(3, 2)
    (y,) = run_op("ScatterNd", [data, idx, upd], {"reduction": reduction}, static=[1])
    wrapped = np.where(idx < 0, idx + 4, idx).astype(I64)
    assert_close(y, onnx_ref("ScatterND", [data, wrapped, upd], reduction=REDUCTIONS[reduction])[0])


def test_scatter_nd_rejects_updates_of_the_wrong_shape():
    with pytest.raises(ConversionError, match="do not fit"):
        run_op("ScatterNd", [rand(4, 3), np.zeros((2, 1), np.int32), rand(2, 4)], static=[1])


@pytest.mark.parametrize("batch_dims,data_shape,idx", [
    (0, (3, 4, 2), [[0, 1], [2, 3]]),
    (0, (3, 4), [[[1], [2]], [[0], [-1]]]),
    (1, (2, 3, 4), [[[1], [2]], [[0], [1]]]),
])
def test_gather_nd_matches_onnx(batch_dims, data_shape, idx):
    data = rand(*data_shape)
    idx = np.asarray(idx, np.int32)
    (y,) = run_op("GatherNd", [data, idx], {"batch_dims": batch_dims}, static=[1])
    wrapped = np.where(idx < 0, idx + data_shape[batch_dims], idx).astype(I64)
    assert_close(y, onnx_ref("GatherND", [data, wrapped], batch_dims=batch_dims)[0])


@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_onnx_with_ties(largest):
    x = np.round(rand(3, 6) * 2) / 2          # ties on purpose: lower index first, as ONNX
    vals, idx = run_op("TopK", [x], {"k": 3, "largest": largest})
    rv, ri = onnx_ref("TopK", [x, np.asarray([3], I64)], n_out=2, largest=int(largest), sorted=1)
    assert_close(vals, rv)
    assert idx.dtype == np.int32
    assert_close(idx, ri)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 2])
def test_cumulative_sum_matches_onnx(axis, exclusive, reverse):
    x = rand(3, 2, 4)
    (y,) = run_op("CumulativeSum", [x], {"axis": axis, "exclusive": exclusive, "reverse": reverse})
    ref = onnx_ref("CumSum", [x, np.asarray(axis, I64)], exclusive=int(exclusive), reverse=int(reverse))[0]
    assert_close(y, ref)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_matches_onnx(axis):
    idx = np.asarray([[0, 2, 4], [1, 5, 3]], np.int32)      # 5 is outside depth 5: an all-off row
    (y,) = run_op("OneHot", [idx], {"depth": 5, "axis": axis, "on_value": 3.0, "off_value": -1.0}, static=[0])
    ref = onnx_ref("OneHot", [idx.astype(I64), np.asarray(5, I64), np.asarray([-1.0, 3.0], np.float32)], axis=axis)[0]
    assert_close(y, ref)


def test_one_hot_negative_index_is_all_off():
    # QNN: an index outside [0, depth) gives an all-off row (the ONNX frontend wraps in-range negatives first)
    (y,) = run_op("OneHot", [np.asarray([-1, 1], np.int32)], {"depth": 3}, static=[0])
    assert y.tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_scatter_elements_indices_smaller_than_data():
    data, idx, upd = rand(3, 5), np.asarray([[4, -1], [0, 2]], np.int32), rand(2, 2)
    (y,) = run_op("ScatterElements", [data, idx, upd], {"axis": 1}, static=[1])
    ref = data.copy()
    for i in range(2):
        for j in range(2):
            ref[i, idx[i, j]] = upd[i, j]
    assert_close(y, ref)


def test_one_hot_output_dtype_is_out_dtype():
    (y,) = run_op("OneHot", [np.asarray([1, 0], np.int32)], {"depth": 2, "out_dtype": qd.INT_32}, static=[0])
    assert y.dtype == np.int32 and y.tolist() == [[0, 1], [1, 0]]


def test_table_covers_the_family():
    assert family_ops("scatter") == {"ScatterElements", "ScatterNd", "GatherNd", "TopK", "CumulativeSum", "OneHot"}

"""snpe_tools/ops/shape.py: data movement ops against onnx.reference (Reshape, Transpose, Concat, Split, Pad,
StridedSlice, Tile, Gather, Cast)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from ir_harness import assert_close, family_ops, ints, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError
from snpe_tools.ir import dtypes as qd

X = rand(2, 3, 4, 5)
I64 = np.int64


def test_reshape_matches_onnx():
    (y,) = run_op("Reshape", [X], {"shape": [6, 20]})
    assert_close(y, onnx_ref("Reshape", [X, np.asarray([6, 20], I64)])[0])


def test_reshape_rejects_a_different_size():
    with pytest.raises(ConversionError, match="cannot reshape"):
        run_op("Reshape", [X], {"shape": [7, 20]})


@pytest.mark.parametrize("perm", [[0, 2, 3, 1], [3, 2, 1, 0]])
def test_transpose_matches_onnx(perm):
    (y,) = run_op("Transpose", [X], {"perm": perm})
    assert_close(y, onnx_ref("Transpose", [X], perm=perm)[0])


@pytest.mark.parametrize("axis", [0, 3])
def test_concat_matches_onnx(axis):
    b = rand(*[d + 2 if i == axis else d for i, d in enumerate(X.shape)])
    (y,) = run_op("Concat", [X, b], {"axis": axis})
    assert_close(y, onnx_ref("Concat", [X, b], axis=axis)[0])


def test_split_matches_onnx():
    ys = run_op("Split", [X], {"axis": 3, "split_index": [1, 3]})
    refs = onnx_ref("Split", [X, np.asarray([1, 2, 2], I64)], n_out=3, axis=3)
    assert len(ys) == 3
    for y, r in zip(ys, refs):
        assert_close(y, r)


@pytest.mark.parametrize("scheme,mode", [(0, "constant"), (2, "reflect"), (3, "edge")])
def test_pad_matches_onnx(scheme, mode):
    pads = [[0, 0], [1, 2], [2, 1], [0, 1]]
    (y,) = run_op("Pad", [X], {"scheme": scheme, "pad_amount": pads, "pad_constant_value": 1.5})
    onnx_pads = np.asarray([p[0] for p in pads] + [p[1] for p in pads], I64)
    extra = [np.float32(1.5)] if mode == "constant" else []
    assert_close(y, onnx_ref("Pad", [X, onnx_pads] + extra, mode=mode)[0])


def test_pad_symmetric_repeats_the_edge_value():
    (y,) = run_op("Pad", [np.asarray([1.0, 2.0, 3.0], np.float32)], {"scheme": 1, "pad_amount": [[2, 1]]})
    assert y.tolist() == [2.0, 1.0, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("ranges", [
    [[0, 2, 1], [1, 3, 1], [0, 4, 2], [4, 0, -1]],
    [[1, 2, 1], [-1, -4, -1], [-3, 100, 1], [0, 5, 3]],
])
def test_strided_slice_matches_onnx(ranges):
    (y,) = run_op("StridedSlice", [X], {"ranges": ranges})
    r = np.asarray(ranges, I64)
    ref = onnx_ref("Slice", [X, r[:, 0], r[:, 1], np.arange(4, dtype=I64), r[:, 2]])[0]
    assert_close(y, ref)


def test_strided_slice_masks_and_shrink():
    ranges = [[1, 2, 1], [2, 0, 1], [1, 3, 1], [0, 2, 1]]
    # begin_mask bit 1, end_mask bit 3, shrink axis 0
    (y,) = run_op("StridedSlice", [X], {"ranges": ranges, "begin_mask": 0b10, "end_mask": 0b1000,
                                        "shrink_axes": 0b1})
    assert_close(y, X[1, :0, 1:3, 0:])
    (y,) = run_op("StridedSlice", [X], {"ranges": [[0, 1, 1], [1, 3, 1], [0, 4, 1], [0, 5, 2]],
                                        "begin_mask": 0b1000, "end_mask": 0b10})
    assert_close(y, X[0:1, 1:, 0:4, ::2])


def test_strided_slice_backwards_to_the_start():
    (y,) = run_op("StridedSlice", [np.arange(5, dtype=np.float32)], {"ranges": [[3, -100, -1]]})
    assert y.tolist() == [3.0, 2.0, 1.0, 0.0]


def test_tile_matches_onnx():
    (y,) = run_op("Tile", [X], {"multiples": [1, 2, 1, 3]})
    assert_close(y, onnx_ref("Tile", [X, np.asarray([1, 2, 1, 3], I64)])[0])


@pytest.mark.parametrize("axis,idx_shape", [(0, (3,)), (-1, (2, 3)), (2, ())])
def test_gather_matches_onnx_with_negative_indices(axis, idx_shape):
    n = X.shape[axis]
    idx = ints(*idx_shape, lo=-n, hi=n)
    (y,) = run_op("Gather", [X, idx], {"axis": axis}, static=[1])
    assert_close(y, onnx_ref("Gather", [X, idx.astype(I64)], axis=axis)[0])


@pytest.mark.parametrize("to,np_to", [(qd.INT_32, np.int32), (qd.FLOAT_16, np.float16), (qd.BOOL_8, np.bool_)])
def test_cast_matches_onnx(to, np_to):
    x = X * 3
    (y,) = run_op("Cast", [x], {"to": to})
    assert y.dtype == np.dtype(np_to)
    assert_close(y, onnx_ref("Cast", [x], to=helper.np_dtype_to_tensor_dtype(np.dtype(np_to)))[0])


def test_table_covers_the_family():
    assert family_ops("shape") == {"Reshape", "Transpose", "Concat", "Split", "Pad", "StridedSlice", "Tile",
                                   "Gather", "Cast"}

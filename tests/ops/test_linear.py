"""snpe_tools/ops/linear.py: FullyConnected (weights [n_out, k]) against ONNX Gemm, MatMul against ONNX MatMul
(batch broadcasting, rank 1 operands, transpose flags)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, op_macs, rand, run_op
from snpe_tools.errors import ConversionError


def test_fully_connected_matches_gemm():
    x, w, b = rand(3, 7), rand(5, 7), rand(5)
    (y,) = run_op("FullyConnected", [x, w, b], static=[1, 2])
    assert_close(y, onnx_ref("Gemm", [x, w, b], transB=1)[0], rtol=1e-5, atol=1e-5)


def test_fully_connected_flattens_without_keep_dims():
    x, w = rand(2, 3, 7), rand(5, 7)
    (y,) = run_op("FullyConnected", [x, w], static=[1])
    assert y.shape == (6, 5)
    (k,) = run_op("FullyConnected", [x, w], {"keep_dims": True}, static=[1])
    assert k.shape == (2, 3, 5)
    assert_close(k, onnx_ref("MatMul", [x, w.T.copy()])[0])
    assert_close(y, k.reshape(6, 5), rtol=0, atol=0)


def test_fully_connected_rejects_weights_that_do_not_fit():
    with pytest.raises(ConversionError, match="does not fit"):
        run_op("FullyConnected", [rand(2, 3, 7), rand(5, 4)], {"keep_dims": True}, static=[1])


MATMUL = {   # id -> (a shape, b shape, params)
    "batched": ((2, 3, 4), (4, 5), {}),
    "broadcast": ((2, 1, 3, 4), (3, 4, 5), {}),
    "vec_left": ((4,), (2, 4, 5), {}),
    "vec_right": ((2, 3, 4), (4,), {}),
    "transposed": ((2, 4, 3), (2, 5, 4), {"transpose_in0": True, "transpose_in1": True}),
}


@pytest.mark.parametrize("case", sorted(MATMUL))
def test_matmul_matches_onnx(case):
    sa, sb, params = MATMUL[case]
    a, b = rand(*sa), rand(*sb)
    (y,) = run_op("MatMul", [a, b], params)
    ra = np.swapaxes(a, -1, -2) if params.get("transpose_in0") else a
    rb = np.swapaxes(b, -1, -2) if params.get("transpose_in1") else b
    assert_close(y, onnx_ref("MatMul", [ra.copy(), rb.copy()])[0])


def test_macs_are_outputs_times_inner_dimension():
    assert op_macs("FullyConnected", [rand(3, 7), rand(5, 7)], {}, [1]) == 3 * 5 * 7
    assert op_macs("MatMul", [rand(2, 4, 3), rand(2, 5, 4)], {"transpose_in0": True, "transpose_in1": True}) == 2 * 3 * 5 * 4


def test_matmul_rejects_mismatched_inner_dims():
    with pytest.raises(ConversionError, match="inner dimensions"):
        run_op("MatMul", [rand(2, 3), rand(4, 5)])


def test_table_covers_the_family():
    assert family_ops("linear") == {"FullyConnected", "MatMul"}

"""snpe_tools/ops/volumetric.py: Conv3d (NDHWC, DHWIO weights), PoolMax3d/PoolAvg3d against ONNX Conv /
MaxPool / AveragePool on NCDHW under onnx.reference."""
from __future__ import annotations

import pytest

from ir_harness import assert_close, check_pool_against_onnx, family_ops, nchw, nhwc, oihw, onnx_pads, onnx_ref, rand, run_op


CONV = {
    "plain": ((1, 4, 4, 4, 2), (2, 2, 2, 2, 3), {}),
    "stride_pad_dilation": ((1, 5, 6, 5, 2), (2, 3, 2, 2, 3), {"stride": [2, 1, 2], "dilation": [1, 2, 1],
                                                                "pad_amount": [[1, 0], [0, 1], [1, 1]]}),
    "group": ((2, 3, 3, 3, 4), (2, 2, 2, 2, 6), {"group": 2}),
}


@pytest.mark.parametrize("case", sorted(CONV))
def test_conv3d_matches_onnx(case):
    xs, ws, params = CONV[case]
    x, w, b = rand(*xs), rand(*ws), rand(ws[-1])
    (y,) = run_op("Conv3d", [x, w, b], params, static=[1, 2])
    ref = onnx_ref("Conv", [nchw(x), oihw(w), b], strides=params.get("stride", [1, 1, 1]),
                   dilations=params.get("dilation", [1, 1, 1]), group=params.get("group", 1),
                   pads=onnx_pads(params.get("pad_amount", [[0, 0]] * 3)))[0]
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-4)


POOL = {
    "plain": ((1, 4, 4, 4, 2), {"filter_size": [2, 2, 2], "stride": [2, 2, 2]}),
    "pad_ceil": ((1, 5, 4, 6, 1), {"filter_size": [2, 3, 2], "stride": [2, 2, 2], "rounding_mode": 1,
                                   "pad_amount": [[1, 0], [1, 1], [0, 1]]}),
}


@pytest.mark.parametrize("ir_type,onnx_type,count_pad", [("PoolMax3d", "MaxPool", None),
                                                          ("PoolAvg3d", "AveragePool", False),
                                                          ("PoolAvg3d", "AveragePool", True)])
@pytest.mark.parametrize("case", sorted(POOL))
def test_pool3d_matches_onnx(case, ir_type, onnx_type, count_pad):
    shape, params = POOL[case]
    if count_pad is None:
        check_pool_against_onnx(ir_type, onnx_type, rand(*shape), params)
    else:
        check_pool_against_onnx(ir_type, onnx_type, rand(*shape), dict(params, count_pad_for_edges=count_pad),
                                count_include_pad=int(count_pad))


def test_table_covers_the_family():
    assert family_ops("volumetric") == {"Conv3d", "PoolMax3d", "PoolAvg3d"}

"""snpe_tools/ops/pool.py: PoolMax2d/PoolAvg2d (NHWC) against ONNX MaxPool/AveragePool under onnx.reference,
over stride, padding, ceil rounding and count_include_pad."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pool_against_onnx, family_ops, op_macs, rand, run_op
from snpe_tools.errors import ConversionError

CASES = {   # id -> (x shape, params)
    "plain": ((2, 6, 6, 3), {"filter_size": [2, 2], "stride": [2, 2]}),
    "pad": ((1, 5, 7, 2), {"filter_size": [3, 3], "stride": [2, 2], "pad_amount": [[1, 1], [1, 0]]}),
    "ceil": ((1, 7, 6, 2), {"filter_size": [3, 2], "stride": [2, 2], "rounding_mode": 1}),
    "ceil_pad": ((1, 6, 6, 1), {"filter_size": [3, 3], "stride": [2, 2], "pad_amount": [[1, 1], [1, 1]],
                                "rounding_mode": 1}),
    "rect_stride": ((1, 8, 5, 2), {"filter_size": [2, 3], "stride": [3, 1], "pad_amount": [[0, 1], [1, 1]]}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_max_pool_matches_onnx(case):
    shape, params = CASES[case]
    check_pool_against_onnx("PoolMax2d", "MaxPool", rand(*shape), params)


@pytest.mark.parametrize("count_pad", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_avg_pool_matches_onnx(case, count_pad):
    shape, params = CASES[case]
    check_pool_against_onnx("PoolAvg2d", "AveragePool", rand(*shape), dict(params, count_pad_for_edges=count_pad),
                            count_include_pad=int(count_pad))


def test_max_pool_padding_never_wins():
    x = -np.ones((1, 2, 2, 1), np.float32)
    (y,) = run_op("PoolMax2d", [x], {"filter_size": [2, 2], "pad_amount": [[1, 1], [1, 1]]})
    assert (y == -1).all()


def test_macs_are_outputs_times_window():
    assert op_macs("PoolAvg2d", [rand(2, 6, 6, 3)], {"filter_size": [2, 3], "stride": [2, 3]}) == 2 * 3 * 2 * 3 * 6


def test_window_larger_than_input_is_rejected():
    with pytest.raises(ConversionError, match="does not fit"):
        run_op("PoolMax2d", [rand(1, 2, 2, 1)], {"filter_size": [3, 3]})


def test_table_covers_the_family():
    assert family_ops("pool") == {"PoolMax2d", "PoolAvg2d"}

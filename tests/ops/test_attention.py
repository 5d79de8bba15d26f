"""snpe_tools/ops/attention.py: RmsNorm against its formula (ONNX RMSNormalization's definition)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, positive, rand, run_op
from snpe_tools.errors import ConversionError


def _rms(x, g, b, axes, eps):
    y = x / np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=tuple(axes), keepdims=True) + eps) * g
    return y if b is None else y + b


@pytest.mark.parametrize("axes,gshape,beta", [([2], (5,), False), ([1, 2], (4, 5), True)])
def test_rmsnorm_matches_formula(axes, gshape, beta):
    x, g = rand(2, 4, 5), positive(*gshape)
    b = rand(*gshape) if beta else None
    (y,) = run_op("RmsNorm", [x, g] + ([b] if beta else []), {"axes": axes, "epsilon": 1e-3}, static=[1, 2])
    assert_close(y, _rms(x, g, b, axes, 1e-3))


def test_rmsnorm_hand_value():
    (y,) = run_op("RmsNorm", [np.asarray([[3.0, 4.0]], np.float32), np.ones(2, np.float32)],
                  {"axes": [1], "epsilon": 0.0}, static=[1])
    assert_close(y, np.asarray([[3.0, 4.0]]) / np.sqrt(12.5))


def test_rmsnorm_rejects_an_axis_out_of_range():
    with pytest.raises(ConversionError, match="out of range"):
        run_op("RmsNorm", [rand(2, 3), np.ones(3, np.float32)], {"axes": [2]}, static=[1])


def test_table_covers_the_family():
    assert family_ops("attention") == {"RmsNorm"}

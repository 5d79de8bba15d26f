"""snpe_tools/ops/sampling.py: GridSample (channel-last input) against ONNX GridSample under onnx.reference,
over modes, padding modes, align_corners and the 3-D form."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, nchw, nhwc, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError

MODES = {0: "linear", 1: "nearest"}
PADDING = {0: "zeros", 1: "border", 2: "reflection"}


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", sorted(PADDING))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_grid_sample_2d_matches_onnx(mode, padding, align):
    x = rand(2, 4, 5, 3)
    grid = rand(2, 3, 6, 2, lo=-1.4, hi=1.4)      # some coordinates outside [-1, 1]
    params = {"mode": mode, "padding_mode": padding, "align_corners": align}
    (y,) = run_op("GridSample", [x, grid], params)
    ref = onnx_ref("GridSample", [nchw(x), grid], mode=MODES[mode], padding_mode=PADDING[padding],
                   align_corners=int(align))[0]
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("padding", sorted(PADDING))
def test_grid_sample_3d_matches_onnx(padding, mode):
    x = rand(1, 3, 4, 5, 2)
    grid = rand(1, 2, 3, 2, 3, lo=-1.3, hi=1.3)
    (y,) = run_op("GridSample", [x, grid], {"padding_mode": padding, "mode": mode})
    ref = onnx_ref("GridSample", [nchw(x), grid], mode=MODES[mode], padding_mode=PADDING[padding])[0]
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-5)


def test_grid_corners_with_align_corners_read_the_corner_pixels():
    x = rand(1, 3, 4, 1)
    grid = np.asarray([[[[-1, -1], [1, -1]], [[-1, 1], [1, 1]]]], np.float32)
    (y,) = run_op("GridSample", [x, grid], {"align_corners": True})
    assert_close(y[0, :, :, 0], x[0, [[0, 0], [2, 2]], [[0, 3], [0, 3]], 0])


def test_grid_of_the_wrong_rank_is_rejected():
    with pytest.raises(ConversionError, match="does not fit"):
        run_op("GridSample", [rand(1, 3, 4, 1), rand(1, 2, 2, 3)])


def test_table_covers_the_family():
    assert family_ops("sampling") == {"GridSample"}

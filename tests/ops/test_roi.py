"""snpe_tools/ops/roi.py: RoiAlign (channel-last) against ONNX RoiAlign (avg mode) under onnx.reference."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, nchw, nhwc, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError

ROIS = np.asarray([[0.0, 0.0, 9.0, 7.0], [2.5, 1.0, 6.0, 11.5], [4.0, 4.0, 4.5, 4.2], [-3.0, 1.0, 30.0, 8.0]],
                  np.float32)
BATCH = np.asarray([0, 1, 1, 0], np.int32)


@pytest.mark.parametrize("samples", [2, 0])
@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_matches_onnx(aligned, samples):
    x = rand(2, 6, 8, 3)
    params = {"img_size_ratio": [2.0, 2.0], "output_size": [3, 2], "aligned": aligned,
              "allow_invalid_roi": aligned, "num_samples_y": samples, "num_samples_x": samples}
    (y,) = run_op("RoiAlign", [x, ROIS, BATCH], params, static=[2])
    ref = onnx_ref("RoiAlign", [nchw(x), ROIS, BATCH.astype(np.int64)], mode="avg", output_height=3, output_width=2,
                   sampling_ratio=samples, spatial_scale=0.5,
                   coordinate_transformation_mode="half_pixel" if aligned else "output_half_pixel")[0]
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-5)


def test_roi_covering_one_constant_map_gives_that_constant():
    x = np.full((1, 5, 5, 2), 3.5, np.float32)
    (y,) = run_op("RoiAlign", [x, np.asarray([[1.0, 1.0, 3.0, 3.0]], np.float32), np.zeros(1, np.int32)],
                  {"img_size_ratio": [1.0, 1.0], "output_size": [2, 2]}, static=[2])
    assert_close(y, np.full((1, 2, 2, 2), 3.5))


def test_rois_must_be_n_by_4():
    with pytest.raises(ConversionError, match="do not fit"):
        run_op("RoiAlign", [rand(1, 4, 4, 1), rand(2, 5), np.zeros(2, np.int32)],
               {"img_size_ratio": [1.0, 1.0], "output_size": [2, 2]}, static=[2])


def test_table_covers_the_family():
    assert family_ops("roi") == {"RoiAlign"}

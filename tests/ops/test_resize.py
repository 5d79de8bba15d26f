"""snpe_tools/ops/resize.py: Resize (every transformation / interpolation / nearest mode) against ONNX Resize
under onnx.reference; ResizeBilinear / ResizeNearestNeighbor (TF conventions) against ONNX Resize or TF's
index formula."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError

X = rand(2, 4, 5, 3)
TRANSFORM = {0: "half_pixel", 1: "pytorch_half_pixel", 2: "align_corners", 3: "asymmetric"}
NEAREST = {0: "round_prefer_floor", 1: "round_prefer_ceil", 2: "floor", 3: "ceil"}
SIZES = [(2, 7, 3, 3), (2, 8, 10, 3), (2, 1, 5, 3)]


def _ref(x, size, **attrs):
    empty = np.zeros(0, np.float32)
    return onnx_ref("Resize", [x, empty, empty, np.asarray(size, np.int64)], **attrs)[0]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("transform", sorted(TRANSFORM))
@pytest.mark.parametrize("interp,mode", [(1, "linear"), (2, "cubic")])
def test_resize_linear_and_cubic_match_onnx(interp, mode, transform, size):
    if transform == 2 and size[1] == 1:
        pytest.skip("onnx.reference divides by out - 1: test_single_output_row_reads_the_first_row checks it")
    if transform == 1 and size[1] == 1 and interp == 2:
        pytest.skip("onnx.reference's cubic path reads -0.5, not the 0 its spec gives pytorch_half_pixel at "
                    "out == 1: test_single_output_row_reads_the_first_row checks the spec")
    params = {"shape": size, "transformation_mode": transform, "interpolation_mode": interp, "cubic_coeff": -0.5}
    (y,) = run_op("Resize", [X], params)
    ref = _ref(X, size, mode=mode, coordinate_transformation_mode=TRANSFORM[transform], cubic_coeff_a=-0.5)
    assert_close(y, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("nearest", sorted(NEAREST))
@pytest.mark.parametrize("transform", sorted(TRANSFORM))
def test_resize_nearest_matches_onnx(transform, nearest):
    size = (2, 7, 3, 3)
    (y,) = run_op("Resize", [X], {"shape": size, "transformation_mode": transform, "nearest_mode": nearest})
    ref = _ref(X, size, mode="nearest", coordinate_transformation_mode=TRANSFORM[transform],
               nearest_mode=NEAREST[nearest])
    assert_close(y, ref, rtol=0, atol=0)


@pytest.mark.parametrize("transform", [1, 2])
@pytest.mark.parametrize("interp", [0, 1, 2])
def test_single_output_row_reads_the_first_row(interp, transform):
    # pytorch_half_pixel and align_corners both read source coordinate 0 when the output has one row
    (y,) = run_op("Resize", [X], {"shape": (2, 1, 5, 3), "transformation_mode": transform,
                                  "interpolation_mode": interp})
    assert_close(y, X[:, :1], rtol=1e-6)


def test_resize_cubic_exclude_outside_matches_onnx():
    size = (2, 9, 8, 3)
    (y,) = run_op("Resize", [X], {"shape": size, "interpolation_mode": 2, "exclude_outside": True})
    assert_close(y, _ref(X, size, mode="cubic", exclude_outside=1), rtol=1e-4, atol=1e-5)


def test_resize_rank3_and_rank5():
    x3 = rand(1, 4, 2)
    (y,) = run_op("Resize", [x3], {"shape": [1, 6, 2], "interpolation_mode": 1})
    assert_close(y, _ref(x3, (1, 6, 2), mode="linear"), rtol=1e-5)
    x5 = rand(1, 2, 3, 2, 2)
    (y,) = run_op("Resize", [x5], {"shape": [1, 4, 3, 5, 2], "interpolation_mode": 1})
    assert_close(y, _ref(x5, (1, 4, 3, 5, 2), mode="linear"), rtol=1e-5)


def test_resize_may_not_change_batch_or_channels():
    with pytest.raises(ConversionError, match="batch and channel unchanged"):
        run_op("Resize", [X], {"shape": [2, 8, 10, 4]})


@pytest.mark.parametrize("size", [(2, 7, 9, 3), (2, 3, 2, 3)])
@pytest.mark.parametrize("ac,hp,transform", [(False, False, "asymmetric"), (True, False, "align_corners"),
                                             (False, True, "half_pixel")])
def test_resize_bilinear_matches_onnx_linear(ac, hp, transform, size):
    (y,) = run_op("ResizeBilinear", [X], {"shape": size, "align_corners": ac, "half_pixel_centers": hp})
    assert_close(y, _ref(X, size, mode="linear", coordinate_transformation_mode=transform), rtol=1e-5)


def _tf_nearest_index(n_in, n_out, ac, hp):
    """TF resize_nearest_neighbor: align_corners rounds x*(in-1)/(out-1); half_pixel floors (x+0.5)*in/out;
    otherwise floor(x*in/out); clamped to the input."""
    x = np.arange(n_out)
    if ac:
        src = np.floor(x * (n_in - 1) / max(n_out - 1, 1) + 0.5)
    elif hp:
        src = np.floor((x + 0.5) * n_in / n_out)
    else:
        src = np.floor(x * n_in / n_out)
    return np.minimum(src, n_in - 1).astype(int)


@pytest.mark.parametrize("ac,hp", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("size", [(2, 7, 9, 3), (2, 3, 2, 3)])
def test_resize_nearest_neighbor_matches_tf_index_rule(size, ac, hp):
    (y,) = run_op("ResizeNearestNeighbor", [X], {"shape": size, "align_corners": ac, "half_pixel_centers": hp})
    ih = _tf_nearest_index(X.shape[1], size[1], ac, hp)
    iw = _tf_nearest_index(X.shape[2], size[2], ac, hp)
    assert_close(y, X[:, ih][:, :, iw], rtol=0, atol=0)


def test_legacy_resize_rejects_both_conventions():
    with pytest.raises(ConversionError, match="cannot both be true"):
        run_op("ResizeBilinear", [X], {"shape": [2, 8, 10, 3], "align_corners": True, "half_pixel_centers": True})


def test_table_covers_the_family():
    assert family_ops("resize") == {"Resize", "ResizeBilinear", "ResizeNearestNeighbor"}

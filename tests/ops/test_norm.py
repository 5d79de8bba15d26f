"""snpe_tools/ops/norm.py: Batchnorm, Lrn, InstanceNorm, LayerNorm (channel-last) against onnx.reference."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, nchw, nhwc, onnx_ref, positive, rand, run_op
from snpe_tools.errors import ConversionError

X = rand(2, 4, 5, 6)


def test_batchnorm_is_scale_and_shift_per_channel():
    w, b = rand(6), rand(6)
    (y,) = run_op("Batchnorm", [X, w, b], static=[1, 2])
    mean, var = np.zeros(6, np.float32), np.ones(6, np.float32)
    ref = onnx_ref("BatchNormalization", [nchw(X), w, b, mean, var], epsilon=0.0)[0]
    assert_close(y, nhwc(ref))


@pytest.mark.parametrize("radius,alpha,beta,bias", [(1, 0.3, 0.75, 2.0), (2, 1e-2, 0.5, 1.0)])
def test_lrn_matches_onnx(radius, alpha, beta, bias):
    size = 2 * radius + 1
    (y,) = run_op("Lrn", [X], {"radius": radius, "alpha": alpha, "beta": beta, "bias": bias})
    # ONNX LRN's definition (its reference kernel loops over the batch instead of the channels, so the
    # formula is spelled out here): alpha / size * sum of squares over the clipped channel window; QNN's
    # alpha is per element
    c = X.shape[-1]
    sq = np.stack([np.sum(X[..., max(0, k - radius):min(c, k + radius + 1)] ** 2, axis=-1) for k in range(c)], -1)
    assert size == 2 * radius + 1
    assert_close(y, X / (bias + alpha * sq) ** beta, rtol=1e-4)


def test_instance_norm_matches_onnx():
    g, b = positive(6), rand(6)
    (y,) = run_op("InstanceNorm", [X, g, b], {"epsilon": 1e-5}, static=[1, 2])
    assert_close(y, nhwc(onnx_ref("InstanceNormalization", [nchw(X), g, b], epsilon=1e-5)[0]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("axes,with_beta", [([3], True), ([1, 2, 3], False)])
def test_layer_norm_matches_onnx(axes, with_beta):
    shape = tuple(X.shape[a] for a in axes)
    g, b = positive(*shape), rand(*shape)
    ins = [X, g] + ([b] if with_beta else [])
    (y,) = run_op("LayerNorm", ins, {"axes": axes, "epsilon": 1e-5}, static=[1, 2])
    ref = onnx_ref("LayerNormalization", ins, axis=axes[0], epsilon=1e-5)[0]
    assert_close(y, ref, rtol=1e-4, atol=1e-4)


def _differs_or_refused(type_, inputs, params, other_params, static):
    """True when ``params`` are refused (one-line error at add_op) or change the result against
    ``other_params``: a parameter QNN defines must not be accepted and then ignored."""
    try:
        (y,) = run_op(type_, inputs, params, static=static)
    except ConversionError:
        return True
    (z,) = run_op(type_, inputs, other_params, static=static)
    return not np.allclose(y, z)


def test_lrn_within_channel_is_not_silently_across_channel():
    assert _differs_or_refused("Lrn", [X], {"radius": 1, "region": 1}, {"radius": 1, "region": 0}, [])


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_lrn_within_channel_sums_the_spatial_square(radius):
    """WITHIN_CHANNEL: the (2r+1) x (2r+1) spatial window of the same channel, clipped at the edges (a loop
    over the positions as the independent reference)."""
    p = {"radius": radius, "region": 1, "alpha": 0.3, "beta": 0.75, "bias": 2.0}
    (y,) = run_op("Lrn", [X], p)
    _, h, w, _ = X.shape
    sq = np.zeros(X.shape)
    for i in range(h):
        for j in range(w):
            win = X[:, max(0, i - radius):i + radius + 1, max(0, j - radius):j + radius + 1, :]
            sq[:, i, j, :] = np.sum(win.astype(np.float64) ** 2, axis=(1, 2))
    assert_close(y, X / (p["bias"] + p["alpha"] * sq) ** p["beta"], rtol=1e-4)


@pytest.mark.parametrize("params", [{"region": 2}, {"radius": -1}])
def test_lrn_refuses_unknown_region_and_negative_radius(params):
    with pytest.raises(ConversionError, match="Lrn op .*(region 2 is not supported|radius -1 is negative)"):
        run_op("Lrn", [X], {"radius": 1, **params})


def test_instance_norm_without_variance_normalisation_only_subtracts_the_mean():
    g, b = positive(6), rand(6)
    (y,) = run_op("InstanceNorm", [X, g, b], {"normalize_variance": False}, static=[1, 2])
    assert_close(y, (X - X.mean(axis=(1, 2), keepdims=True)) * g + b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("params", [{"mode": 1}, {"region": 1}, {"region": 2}])
def test_instance_norm_mode_and_region_are_not_ignored(params):
    g, b = positive(6), rand(6)
    assert _differs_or_refused("InstanceNorm", [X, g, b], params, {}, [1, 2])


def test_table_covers_the_family():
    assert family_ops("norm") == {"Batchnorm", "Lrn", "InstanceNorm", "LayerNorm"}

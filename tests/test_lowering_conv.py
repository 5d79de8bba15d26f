"""Shared channel-first conv/pool lowering (snpe_tools/frontends/lowering/conv.py) against PyTorch.

The ONNX node backend and the PyTorch model tests check it end to end through each frontend; these call
each entry point directly (1-D / 2-D / 3-D, grouped, depthwise, run-time weights, transposed with dilation
and output padding, dilated max pooling) and compare with torch.nn.functional on explicitly padded input.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ir_harness import run_lowering as _run

from snpe_tools.errors import ConversionError
from snpe_tools.frontends.lowering import conv as L

RNG = np.random.default_rng(11)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _padded(x: np.ndarray, pads, value: float = 0.0) -> torch.Tensor:
    """``x`` with (begin, end) padding on each spatial axis (torch pads only symmetrically in conv)."""
    flat = [p for pair in reversed(pads) for p in pair]   # F.pad wants the last axis first
    return F.pad(torch.from_numpy(x), flat, value=value)


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.mark.parametrize("x_shape,w_shape,groups,stride,dilation,pads", [
    ((1, 4, 9, 8), (6, 2, 3, 3), 2, (2, 1), (1, 2), ((1, 0), (2, 1))),      # grouped, asymmetric pads
    ((2, 3, 11), (5, 3, 4), 1, (2,), (1,), ((1, 2),)),                       # 1-D: runs as 2-D on [N,C,1,L]
    ((1, 2, 5, 6, 7), (4, 2, 3, 3, 3), 1, (1, 2, 1), (1, 1, 2), ((1, 1), (0, 1), (2, 0))),   # 3-D
])
def test_conv_matches_torch(x_shape, w_shape, groups, stride, dilation, pads):
    x, w, b = _f32(*x_shape), _f32(*w_shape), _f32(w_shape[0])

    def build(ctx, xn):
        return L.conv(ctx, xn, w, ctx.add_const("b", b), "y", stride=stride, dilation=dilation, pads=pads,
                      groups=groups, weight_name="w.hwio", name="conv")

    y, ops = _run(build, {"x": x})
    ref = CONV[len(x_shape) - 2](_padded(x, pads), torch.from_numpy(w), torch.from_numpy(b), stride=stride,
                                 dilation=dilation, groups=groups).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    assert ops[{3: "Conv2d", 4: "Conv2d", 5: "Conv3d"}[len(x_shape)]] == 1
    assert ops["Reshape"] == (2 if len(x_shape) == 3 else 0)   # lift to 2-D and back, 1-D only


def test_depthwise_and_forced_depthwise():
    x = _f32(1, 4, 7, 7)
    w = _f32(4, 1, 3, 3)
    kw = dict(stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1)), groups=4, weight_name="w")
    y, ops = _run(lambda c, xn: L.conv(c, xn, w, None, "y", **kw), {"x": x})
    np.testing.assert_allclose(y, F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1, groups=4).numpy(),
                               rtol=1e-4, atol=1e-4)
    assert ops["DepthWiseConv2d"] == 1 and ops["Conv2d"] == 0
    # one channel: groups == C == 1 is a plain Conv2d unless the caller says the composition is depthwise
    x1, w1 = x[:, :1], w[:1]
    kw1 = dict(kw, groups=1)
    _, plain = _run(lambda c, xn: L.conv(c, xn, w1, None, "y", **kw1), {"x": x1})
    y1, forced = _run(lambda c, xn: L.conv(c, xn, w1, None, "y", depthwise=True, **kw1), {"x": x1})
    assert plain["Conv2d"] == 1 and forced["DepthWiseConv2d"] == 1
    np.testing.assert_allclose(y1, F.conv2d(torch.from_numpy(x1), torch.from_numpy(w1), padding=1).numpy(),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x_shape,w_shape", [((1, 3, 6, 5), (4, 3, 3, 2)), ((2, 3, 9), (4, 3, 3))])
def test_run_time_weights_are_transposed_in_the_graph(x_shape, w_shape):
    x, w = _f32(*x_shape), _f32(*w_shape)
    n = len(x_shape) - 2
    kw = dict(stride=(1,) * n, dilation=(1,) * n, pads=((1, 1),) * n, groups=1, weight_name="unused")
    y, ops = _run(lambda c, xn, wn: L.conv(c, xn, wn, None, "y", **kw), {"x": x, "w": w})
    ref = CONV[n](torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    # x to channel-last, weights to HWIO, output back (1-D: the weights are lifted to 4-D first)
    assert ops["Transpose"] == 3 and ops["Reshape"] == (3 if n == 1 else 0)


@pytest.mark.parametrize("x_shape,w_shape,groups,stride,dilation,pads,opad", [
    ((1, 4, 5, 4), (4, 3, 3, 2), 1, (2, 2), (2, 1), ((1, 1), (0, 1)), (1, 0)),
    ((1, 4, 5, 5), (4, 2, 3, 3), 2, (2, 1), (1, 1), ((0, 0), (1, 1)), (0, 0)),
    ((2, 2, 7), (2, 3, 4), 1, (3,), (1,), ((1, 2),), (2,)),
])
def test_transpose_conv_matches_torch(x_shape, w_shape, groups, stride, dilation, pads, opad):
    x, w, b = _f32(*x_shape), _f32(*w_shape), _f32(w_shape[1] * groups)

    def build(ctx, xn):
        return L.transpose_conv(ctx, xn, w, ctx.add_const("b", b), "y", stride=stride, dilation=dilation,
                                pads=pads, output_padding=opad, groups=groups, weight_name="w")

    y, ops = _run(build, {"x": x})
    fn = F.conv_transpose1d if len(x_shape) == 3 else F.conv_transpose2d
    full = fn(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=stride, output_padding=opad,
              groups=groups, dilation=dilation).numpy()
    crop = tuple(slice(None) for _ in range(2)) + tuple(slice(pb, full.shape[2 + i] - pe)
                                                        for i, (pb, pe) in enumerate(pads))
    np.testing.assert_allclose(y, full[crop], rtol=1e-4, atol=1e-4)
    assert ops["TransposeConv2d"] == 1


def test_transpose_conv_refuses_dilated_run_time_weights():
    x, w = _f32(1, 2, 4, 4), _f32(2, 2, 3, 3)
    with pytest.raises(ConversionError, match="needs constant weights"):
        _run(lambda c, xn, wn: L.transpose_conv(c, xn, wn, None, "y", stride=(1, 1), dilation=(2, 2),
                                                 pads=((0, 0), (0, 0)), output_padding=(0, 0), groups=1,
                                                 weight_name="w"), {"x": x, "w": w})


@pytest.mark.parametrize("kind,x_shape,kernel,stride,pads,count_pad", [
    ("max", (1, 3, 9, 8), (3, 2), (2, 2), ((1, 1), (0, 0)), False),
    ("avg", (2, 3, 8, 8), (3, 3), (2, 1), ((1, 1), (1, 1)), True),
    ("avg", (2, 3, 8, 8), (3, 3), (2, 1), ((1, 1), (1, 1)), False),
    ("max", (2, 3, 10), (3,), (2,), ((1, 1),), False),
    ("avg", (1, 2, 4, 6, 6), (2, 2, 3), (2, 2, 3), ((0, 0), (0, 0), (0, 0)), False),
])
def test_pool_matches_torch(kind, x_shape, kernel, stride, pads, count_pad):
    x = _f32(*x_shape)
    y, ops = _run(lambda c, xn: L.pool(c, kind, xn, "y", kernel=kernel, stride=stride, pads=pads,
                                       count_pad=count_pad), {"x": x})
    n = len(x_shape) - 2
    t, sym = torch.from_numpy(x), tuple(p[0] for p in pads)
    if kind == "max":
        ref = getattr(F, f"max_pool{n}d")(_padded(x, pads, float("-inf")), kernel, stride)
    else:
        assert all(b == e for b, e in pads)   # torch's average pools pad symmetrically
        ref = getattr(F, f"avg_pool{n}d")(t, kernel, stride, padding=sym, count_include_pad=count_pad)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-5, atol=1e-5)
    assert ops[f"Pool{kind.capitalize()}{3 if n == 3 else 2}d"] == 1


def test_dilated_max_pool_is_exact_without_a_pool_op():
    x = _f32(1, 2, 11, 10)
    y, ops = _run(lambda c, xn: L.pool(c, "max", xn, "y", kernel=(3, 2), stride=(2, 1), pads=((1, 1), (1, 1)),
                                       dilation=(2, 3)), {"x": x})
    ref = F.max_pool2d(torch.from_numpy(x), (3, 2), (2, 1), padding=1, dilation=(2, 3)).numpy()
    np.testing.assert_array_equal(y, ref)
    assert ops["PoolMax2d"] == 0 and ops["StridedSlice"] == 6


def test_dilated_average_pool_is_refused():
    with pytest.raises(ConversionError, match="dilated pooling"):
        _run(lambda c, xn: L.pool(c, "avg", xn, "y", kernel=(2, 2), stride=(1, 1), pads=((0, 0), (0, 0)),
                                  dilation=(2, 2)), {"x": _f32(1, 1, 6, 6)})

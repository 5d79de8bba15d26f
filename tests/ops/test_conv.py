"""snpe_tools/ops/conv.py: Conv2d, DepthWiseConv2d, TransposeConv2d (NHWC activations, HWIO weights) against
ONNX Conv/ConvTranspose (NCHW, OIHW) under onnx.reference, over stride/dilation/padding/group."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, nchw, nhwc, oihw, onnx_pads, onnx_ref, op_macs, rand, run_op
from snpe_tools.errors import ConversionError


CONV = {   # id -> (x shape, w shape HWIO, params)
    "plain": ((1, 5, 6, 3), (3, 3, 3, 4), {}),
    "stride_pad": ((2, 7, 6, 3), (3, 2, 3, 4), {"stride": [2, 1], "pad_amount": [[1, 2], [0, 1]]}),
    "dilation": ((1, 8, 8, 2), (3, 3, 2, 3), {"dilation": [2, 3], "pad_amount": [[2, 2], [1, 1]]}),
    "group": ((1, 5, 5, 4), (3, 3, 2, 6), {"group": 2, "stride": [2, 2]}),
    "pointwise": ((2, 4, 4, 5), (1, 1, 5, 3), {}),
    "pointwise_stride": ((1, 5, 5, 2), (1, 1, 2, 3), {"stride": [2, 2]}),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", sorted(CONV))
def test_conv2d_matches_onnx(case, bias):
    xs, ws, params = CONV[case]
    x, w, b = rand(*xs), rand(*ws), rand(ws[-1])
    (y,) = run_op("Conv2d", [x, w] + ([b] if bias else []), params, static=[1, 2])
    p = {"strides": params.get("stride", [1, 1]), "dilations": params.get("dilation", [1, 1]),
         "pads": onnx_pads(params.get("pad_amount", [[0, 0], [0, 0]])), "group": params.get("group", 1)}
    ref = onnx_ref("Conv", [nchw(x), oihw(w)] + ([b] if bias else []), **p)[0]
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mult,params", [(1, {"stride": [2, 1], "pad_amount": [[1, 1], [1, 0]]}),
                                         (3, {"dilation": [2, 1]})])
def test_depthwise_matches_onnx_grouped_conv(mult, params):
    c = 3
    x, w, b = rand(1, 7, 6, c), rand(3, 2, 1, c * mult), rand(c * mult)
    (y,) = run_op("DepthWiseConv2d", [x, w, b], params, static=[1, 2])
    ref = onnx_ref("Conv", [nchw(x), oihw(w), b], group=c, strides=params.get("stride", [1, 1]),
                   dilations=params.get("dilation", [1, 1]),
                   pads=onnx_pads(params.get("pad_amount", [[0, 0], [0, 0]])))[0]
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-4)


def test_depthwise_float16_path_matches_float32():
    x, w = rand(1, 5, 5, 2), rand(3, 3, 1, 2)
    (y32,) = run_op("DepthWiseConv2d", [x, w], static=[1])
    (y16,) = run_op("DepthWiseConv2d", [x.astype(np.float16), w.astype(np.float16)], static=[1])
    assert y16.dtype == np.float16
    assert_close(y16.astype(np.float32), y32, rtol=1e-2, atol=2e-2)


TRANSPOSE = {   # id -> (x shape, w shape [kh,kw,cin,cout/group], params)
    "stride": ((1, 3, 4, 3), (2, 3, 3, 5), {"stride": [2, 2]}),
    "pad_outpad": ((2, 3, 3, 2), (3, 3, 2, 4), {"stride": [2, 3], "pad_amount": [[1, 1], [0, 2]],
                                                 "output_padding": [1, 2]}),
    "group": ((1, 3, 3, 4), (2, 2, 4, 3), {"group": 2, "stride": [2, 1]}),
}


@pytest.mark.parametrize("case", sorted(TRANSPOSE))
def test_transpose_conv_matches_onnx(case):
    xs, ws, params = TRANSPOSE[case]
    g = params.get("group", 1)
    x, w, b = rand(*xs), rand(*ws), rand(ws[-1] * g)
    (y,) = run_op("TransposeConv2d", [x, w, b], params, static=[1, 2])
    # IR [kh,kw,cin,cout/g] -> ONNX [cin, cout/g, kh, kw]; onnx.reference's ConvTranspose has no groups, so
    # a grouped one is the concatenation of one ConvTranspose per group
    cig, cog = xs[-1] // g, ws[-1]
    attrs = {"strides": params.get("stride", [1, 1]), "pads": onnx_pads(params.get("pad_amount", [[0, 0], [0, 0]])),
             "output_padding": params.get("output_padding", [0, 0])}
    ref = np.concatenate([
        onnx_ref("ConvTranspose", [nchw(x[..., gi * cig:(gi + 1) * cig]),
                                   np.ascontiguousarray(w[:, :, gi * cig:(gi + 1) * cig].transpose(2, 3, 0, 1)),
                                   b[gi * cog:(gi + 1) * cog]], **attrs)[0] for gi in range(g)], axis=1)
    assert_close(y, nhwc(ref), rtol=1e-4, atol=1e-4)


def test_conv_hand_value():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    (y,) = run_op("Conv2d", [x, np.ones((2, 2, 1, 1), np.float32)], {"stride": [2, 2], "pad_amount": [[0, 1], [0, 1]]},
                  static=[1])
    assert y[0, :, :, 0].tolist() == [[8.0, 7.0], [13.0, 8.0]]


def test_macs_count_one_multiply_per_tap_and_input_channel():
    # Conv2d: 1x5x6x4 outputs x 3x3 taps x 3 input channels; grouped: 1x2x2x6 outputs x 9 taps x 2 channels
    assert op_macs("Conv2d", [rand(1, 5, 6, 3), rand(3, 3, 3, 4)], {"pad_amount": [[1, 1], [1, 1]]}, [1]) == 3240
    assert op_macs("Conv2d", [rand(1, 5, 5, 4), rand(3, 3, 2, 6)], {"group": 2, "stride": [2, 2]}, [1]) == 432
    # depthwise: one tap product per output; transposed: every input pixel x taps x output channels
    assert op_macs("DepthWiseConv2d", [rand(1, 5, 5, 2), rand(3, 3, 1, 2)], {}, [1]) == 1 * 3 * 3 * 2 * 9
    assert op_macs("TransposeConv2d", [rand(1, 3, 4, 3), rand(2, 3, 3, 5)], {"stride": [2, 2]}, [1]) == 12 * 6 * 15


def test_kernel_larger_than_padded_input_is_rejected():
    with pytest.raises(ConversionError, match="does not fit"):
        run_op("Conv2d", [rand(1, 2, 2, 1), rand(3, 3, 1, 1)], static=[1])


def test_table_covers_the_family():
    assert family_ops("conv") == {"Conv2d", "DepthWiseConv2d", "TransposeConv2d"}

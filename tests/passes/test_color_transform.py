"""passes/color_transform.py (``insert_color_transform``): ``--input_encoding`` puts the colour op between the
camera-format DLC input and the model, which reads exactly what it read before."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pass, ints, op_types, rand, run_op
from snpe_tools.errors import ConversionError
from snpe_tools.ir import axis_format as af
from snpe_tools.ir.graph import Graph, InputInfo
from snpe_tools.passes.registry import get_pass

N, H, W = 1, 4, 6


def _graph(enc_in, enc_out, shape=(N, H, W, 3), fmt=af.NSC):
    g = Graph()
    g.add_input("img", shape, axis_format=fmt, info=InputInfo(encoding_in=enc_in, encoding_out=enc_out))
    scale = g.add_const("scale", np.asarray([1.0, 2.0, -3.0], np.float32))
    g.outputs = g.add_op("ElementWiseMultiply", ["img", scale], ["y"]).outputs     # channel order matters
    return g


def _model_input(post):
    return lambda g: g.ops[0].outputs == ["img_post_transform"] and g.ops[1].inputs[0] == "img_post_transform" \
        and g.tensors["img_post_transform"].shape == (N, H, W, 3) and post(g)


@pytest.mark.parametrize("enc_in,order", [("rgba", [0, 1, 2]), ("argb32", [1, 2, 3])])
@pytest.mark.parametrize("enc_out", ["rgb", "bgr"])
def test_four_channel_input_feeds_argb_to_rgb(enc_in, order, enc_out):
    x = rand(N, H, W, 3, lo=0, hi=255)
    frame = rand(N, H, W, 4, lo=0, hi=255)                      # alpha (or the unused channel) random
    rgb = x if enc_out == "rgb" else x[..., ::-1]
    frame[..., order] = rgb
    check_pass("insert_color_transform", _graph(enc_in, enc_out), {"img": x},
               pre=lambda g: op_types(g) == ["ElementWiseMultiply"],
               post=_model_input(lambda g: op_types(g) == ["ArgbToRgb", "ElementWiseMultiply"]
                                 and g.tensors["img"].shape == (N, H, W, 4) and g.inputs == ["img"]),
               feeds_after=lambda f: {"img": frame})


@pytest.mark.parametrize("enc_in,op", [("nv21", "Nv21ToRgb"), ("nv12", "Nv12ToRgb")])
def test_yuv_input_feeds_the_yuv_op(enc_in, op):
    frame = ints(N, H * W * 3 // 2, lo=0, hi=256).astype(np.float32)
    (rgb,) = run_op(op, [frame], {"height": H, "width": W})      # what the camera frame is to the model
    check_pass("insert_color_transform", _graph(enc_in, "rgb"), {"img": rgb},
               pre=lambda g: len(g.ops) == 1,
               post=_model_input(lambda g: op_types(g) == [op, "ElementWiseMultiply"]
                                 and g.tensors["img"].shape == (N, H * W * 3 // 2)
                                 and g.tensors["img"].axis_format == af.NONTRIVIAL),
               feeds_after=lambda f: {"img": frame})


def test_bgr_to_rgb_reverses_the_channels():
    x = rand(N, H, W, 3)
    check_pass("insert_color_transform", _graph("bgr", "rgb"), {"img": x},
               pre=lambda g: len(g.ops) == 1, post=_model_input(lambda g: op_types(g) == ["Gather",
                                                                                           "ElementWiseMultiply"]),
               feeds_after=lambda f: {"img": x[..., ::-1].copy()})


@pytest.mark.parametrize("enc_in,enc_out", [("bgr", "bgr"), ("other", "bgr"), ("time_series", "time_series")])
def test_no_conversion_leaves_the_graph_alone(enc_in, enc_out):
    shape = (N, 5, 3) if enc_in == "time_series" else (N, H, W, 3)
    check_pass("insert_color_transform", _graph(enc_in, enc_out, shape), {"img": rand(*shape)},
               pre=lambda g: len(g.ops) == 1, post=lambda g: op_types(g) == ["ElementWiseMultiply"]
               and g.tensors["img"].shape == shape, expect_change=False)


@pytest.mark.parametrize("shape,fmt,enc_in,match", [
    ((N, H, W, 2), af.NSC, "rgba", "3-channel image"),
    ((N, 3, H, W), af.NCS, "rgba", "3-channel image"),
    ((N, 3, W, 3), af.NSC, "nv21", "even height"),
    ((N, H, W, 3), af.NSC, "rgb565", "no colour conversion"),
])
def test_inputs_that_cannot_take_the_encoding_are_refused(shape, fmt, enc_in, match):
    g = _graph(enc_in, "bgr", shape, fmt) if shape[-1] == 3 else None
    if g is None:
        g = Graph()
        g.add_input("img", shape, axis_format=fmt, info=InputInfo(encoding_in=enc_in, encoding_out="bgr"))
        g.outputs = g.add_op("Relu", ["img"], ["y"]).outputs
    with pytest.raises(ConversionError, match=match):
        get_pass("insert_color_transform")(g, {})

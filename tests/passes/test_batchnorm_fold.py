"""passes/batchnorm_fold.py (``fold_batchnorm``): a Batchnorm after a weighted op folds into its weights."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pass, op_types, rand
from snpe_tools.ir import axis_format as af
from snpe_tools.ir.graph import Encoding, Graph
from snpe_tools.quantization.source import SourceEncoding

# producer -> (input shape, weight shape, params, output channels)
PRODUCERS = {
    "Conv2d": ((1, 5, 5, 3), (3, 3, 3, 4), {"pad_amount": [[1, 1], [1, 1]]}, 4),
    "DepthWiseConv2d": ((1, 5, 5, 3), (3, 3, 1, 6), {}, 6),
    "TransposeConv2d": ((1, 3, 3, 4), (2, 2, 4, 3), {"stride": [2, 2], "group": 2}, 6),
    "FullyConnected": ((2, 7), (5, 7), {}, 5),
}


def _graph(type_, with_bias=True, second_consumer=False):
    xs, ws, params, cout = PRODUCERS[type_]
    g = Graph()
    g.add_input("x", xs, axis_format=af.NSC if len(xs) == 4 else af.NF)
    ins = ["x", g.add_const("w", rand(*ws))] + ([g.add_const("b", rand(cout))] if with_bias else [])
    conv = g.add_op(type_, ins, ["conv"], params)
    g.tensors["conv"].axis_format = g.tensors["x"].axis_format
    bn = g.add_op("Batchnorm", ["conv", g.add_const("bn_w", rand(cout)), g.add_const("bn_b", rand(cout))], ["bn"])
    g.tensors["bn"].axis_format = g.tensors["x"].axis_format
    g.outputs = bn.outputs
    if second_consumer:
        g.outputs = g.outputs + g.add_op("Relu", [conv.outputs[0]], ["relu"]).outputs
    return g, {"x": rand(*xs)}


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("type_", sorted(PRODUCERS))
def test_batchnorm_folds_into_the_producer(type_, with_bias):
    g, feeds = _graph(type_, with_bias)
    check_pass("fold_batchnorm", g, feeds,
               pre=lambda g: op_types(g) == [type_, "Batchnorm"],
               post=lambda g: op_types(g) == [type_] and g.ops[0].outputs == ["bn"] and len(g.ops[0].inputs) == 3
               and g.tensors["bn"].axis_format == g.tensors["x"].axis_format,
               rtol=1e-4, atol=1e-5)


def test_producer_with_a_second_consumer_is_left_alone():
    g, feeds = _graph("Conv2d", second_consumer=True)
    check_pass("fold_batchnorm", g, feeds, pre=lambda g: "Batchnorm" in op_types(g),
               post=lambda g: op_types(g) == ["Conv2d", "Batchnorm", "Relu"], expect_change=False)


def test_dynamic_weights_and_source_encodings_are_left_alone():
    g, feeds = _graph("Conv2d")
    g.source_encodings["conv"] = SourceEncoding(Encoding(8, 0.1, -128, -12.8, 12.7))
    check_pass("fold_batchnorm", g, feeds, pre=lambda g: "Batchnorm" in op_types(g),
               post=lambda g: op_types(g) == ["Conv2d", "Batchnorm"], expect_change=False)
    g = Graph()
    g.add_input("x", (2, 7))
    g.add_input("w", (5, 7))
    g.add_op("FullyConnected", ["x", "w"], ["fc"])
    g.outputs = g.add_op("Batchnorm", ["fc", g.add_const("s", rand(5)), g.add_const("t", rand(5))], ["bn"]).outputs
    check_pass("fold_batchnorm", g, {"x": rand(2, 7), "w": rand(5, 7)}, pre=lambda g: "Batchnorm" in op_types(g),
               post=lambda g: op_types(g) == ["FullyConnected", "Batchnorm"], expect_change=False)


def test_scalar_batchnorm_parameters_broadcast_over_channels():
    g, feeds = _graph("Conv2d")
    g.tensors["bn_w"].data = np.asarray([1.5], np.float32)
    g.tensors["bn_w"].shape = (1,)
    check_pass("fold_batchnorm", g, feeds, pre=lambda g: "Batchnorm" in op_types(g),
               post=lambda g: op_types(g) == ["Conv2d"], rtol=1e-4, atol=1e-5)

"""passes/pad_squash.py (``squash_pad``): a zero constant spatial Pad before a convolution becomes its padding."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pass, op_types, rand
from snpe_tools.ir.graph import Graph


def _graph(pads, consumer="Conv2d", scheme=0, value=0.0, pad_is_output=False):
    g = Graph()
    g.add_input("x", (1, 5, 6, 2))
    g.add_op("Pad", ["x"], ["p"], {"pad_amount": pads, "scheme": scheme, "pad_constant_value": value})
    if consumer == "Conv2d":
        g.add_op("Conv2d", ["p", g.add_const("w", rand(3, 3, 2, 3))], ["y"], {"pad_amount": [[1, 0], [0, 1]]})
    elif consumer == "DepthWiseConv2d":
        g.add_op("DepthWiseConv2d", ["p", g.add_const("w", rand(3, 3, 1, 2))], ["y"], {"stride": [2, 2]})
    else:
        g.add_op(consumer, ["p"], ["y"], {"filter_size": [2, 2]})
    g.outputs = ["y"] + (["p"] if pad_is_output else [])
    return g, {"x": rand(1, 5, 6, 2)}


@pytest.mark.parametrize("consumer", ["Conv2d", "DepthWiseConv2d"])
def test_spatial_zero_pad_is_squashed_into_the_convolution(consumer):
    g, feeds = _graph([[0, 0], [2, 1], [0, 3], [0, 0]], consumer)
    before = np.asarray(g.ops[1].params["pad_amount"]).copy()
    check_pass("squash_pad", g, feeds, pre=lambda g: op_types(g) == ["Pad", consumer],
               post=lambda g: op_types(g) == [consumer] and g.ops[0].inputs[0] == "x"
               and (np.asarray(g.ops[0].params["pad_amount"]) == before + [[2, 1], [0, 3]]).all()
               and g.tensors["y"].shape == (1,) + g.tensors["y"].shape[1:])


@pytest.mark.parametrize("pads,scheme,value,consumer,pad_is_output", [
    ([[0, 0], [1, 1], [1, 1], [0, 1]], 0, 0.0, "Conv2d", False),      # channels padded
    ([[0, 0], [1, 1], [1, 1], [0, 0]], 0, 1.0, "Conv2d", False),      # non-zero constant
    ([[0, 0], [1, 1], [1, 1], [0, 0]], 2, 0.0, "Conv2d", False),      # reflect
    ([[0, 0], [1, 1], [1, 1], [0, 0]], 0, 0.0, "PoolMax2d", False),   # max pool: padding would change results
    ([[0, 0], [1, 1], [1, 1], [0, 0]], 0, 0.0, "Conv2d", True),       # the padded tensor is a graph output
])
def test_pads_the_convolution_cannot_take_are_left_alone(pads, scheme, value, consumer, pad_is_output):
    if consumer == "Conv2d" and pads[3] != [0, 0]:
        g = Graph()
        g.add_input("x", (1, 5, 6, 2))
        g.add_op("Pad", ["x"], ["p"], {"pad_amount": pads})
        g.outputs = g.add_op("Conv2d", ["p", g.add_const("w", rand(3, 3, 3, 3))], ["y"]).outputs
        feeds = {"x": rand(1, 5, 6, 2)}
    else:
        g, feeds = _graph(pads, consumer, scheme, value, pad_is_output)
    check_pass("squash_pad", g, feeds, pre=lambda g: op_types(g)[0] == "Pad",
               post=lambda g: op_types(g) == ["Pad", consumer], expect_change=False)

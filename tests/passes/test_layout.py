"""passes/layout.py: ``spatial_first_layout`` (the legacy spatial-first rewrite: channel-first inputs become
NHWC, Transposes sink through layout-agnostic ops and vanish, outputs stay NHWC) and ``io_layouts`` (one
Transpose at a boundary asked to keep the source layout)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pass, nchw, nhwc, op_types, rand
from snpe_tools.ir import axis_format as af
from snpe_tools.errors import ConversionError
from snpe_tools.ir.graph import Graph
from snpe_tools.passes.registry import get_pass

TO_NHWC, TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _wrapped_conv_graph():
    """What a channel-first frontend emits: Transpose -> Conv2d -> Transpose around the NHWC op, then
    channel-first elementwise / softmax / concat work."""
    g = Graph()
    g.add_input("x", (1, 3, 6, 5), axis_format=af.NCS)
    g.add_op("Transpose", ["x"], ["x_t"], {"perm": TO_NHWC})
    g.add_op("Conv2d", ["x_t", g.add_const("w", rand(3, 3, 3, 4))], ["c"], {"pad_amount": [[1, 1], [1, 1]]})
    g.add_op("Transpose", ["c"], ["c_cf"], {"perm": TO_NCHW})
    g.tensors["x_t"].axis_format = g.tensors["c"].axis_format = af.NSC
    g.tensors["c_cf"].axis_format = af.NCS
    g.add_op("Relu", ["c_cf"], ["r"])
    g.add_op("ElementWiseAdd", ["r", g.add_const("bias", rand(1, 4, 1, 1))], ["a"])   # channel-first constant
    g.add_op("Softmax", ["a"], ["s"], {"axis": 1})                                   # over the channels
    g.add_op("Concat", ["s", "r"], ["y"], {"axis": 1})
    for n in ("r", "a", "s", "y"):
        g.tensors[n].axis_format = af.NCS
    g.outputs = ["y"]
    return g


def test_transposes_vanish_and_io_becomes_spatial_first():
    check_pass("spatial_first_layout", _wrapped_conv_graph(), {"x": rand(1, 3, 6, 5)},
               pre=lambda g: op_types(g).count("Transpose") == 2,
               post=lambda g: "Transpose" not in op_types(g)
               and g.tensors["x"].shape == (1, 6, 5, 3) and g.tensors["x"].axis_format == af.NSC
               and g.outputs == ["y"] and g.tensors["y"].shape == (1, 6, 5, 8)
               and [op.params["axis"] for op in g.ops if op.type in ("Softmax", "Concat")] == [3, 3]
               and g.source_channel_first,
               feeds_after=lambda f: {"x": nhwc(f["x"])}, outputs_after=lambda outs: [nchw(o) for o in outs])


def test_global_average_through_reduce_mean_needs_no_transpose():
    g = Graph()
    g.add_input("x", (2, 3, 4, 5), axis_format=af.NCS)
    g.add_op("Transpose", ["x"], ["x_t"], {"perm": TO_NHWC})
    g.add_op("Conv2d", ["x_t", g.add_const("w", rand(1, 1, 3, 6))], ["c"])
    g.add_op("Transpose", ["c"], ["c_cf"], {"perm": TO_NCHW})
    g.tensors["x_t"].axis_format = g.tensors["c"].axis_format = af.NSC
    g.tensors["c_cf"].axis_format = af.NCS
    g.outputs = g.add_op("ReduceMean", ["c_cf"], ["y"], {"axes": [2, 3]}).outputs       # [2, 6]
    check_pass("spatial_first_layout", g, {"x": rand(2, 3, 4, 5)},
               pre=lambda g: op_types(g).count("Transpose") == 2,
               post=lambda g: op_types(g) == ["Conv2d", "ReduceMean"] and g.ops[1].params["axes"].tolist() == [1, 2]
               and g.tensors["y"].shape == (2, 6),
               feeds_after=lambda f: {"x": nhwc(f["x"])})


def test_flatten_of_a_spatial_map_keeps_its_transpose():
    g = Graph()
    g.add_input("x", (1, 2, 3, 3), axis_format=af.NCS)
    g.add_op("Transpose", ["x"], ["x_t"], {"perm": TO_NHWC})
    g.add_op("PoolMax2d", ["x_t"], ["p"], {"filter_size": [2, 2]})
    g.add_op("Transpose", ["p"], ["p_cf"], {"perm": TO_NCHW})
    g.tensors["x_t"].axis_format = g.tensors["p"].axis_format = af.NSC
    g.tensors["p_cf"].axis_format = af.NCS
    g.add_op("Reshape", ["p_cf"], ["flat"], {"shape": [1, 8]})          # channel-first flattening order
    g.outputs = g.add_op("FullyConnected", ["flat", g.add_const("w", rand(3, 8))], ["y"]).outputs
    check_pass("spatial_first_layout", g, {"x": rand(1, 2, 3, 3)},
               pre=lambda g: op_types(g).count("Transpose") == 2,
               post=lambda g: op_types(g) == ["PoolMax2d", "Transpose", "Reshape", "FullyConnected"]
               and g.tensors["x"].axis_format == af.NSC,
               feeds_after=lambda f: {"x": nhwc(f["x"])})


def test_graph_without_channel_first_tensors_is_left_alone():
    g = Graph()
    g.add_input("x", (2, 5))
    g.add_op("Relu", ["x"], ["r"])
    g.outputs = g.add_op("Softmax", ["r"], ["y"], {"axis": 1}).outputs
    check_pass("spatial_first_layout", g, {"x": rand(2, 5)}, pre=lambda g: True,
               post=lambda g: op_types(g) == ["Relu", "Softmax"] and g.tensors["x"].shape == (2, 5),
               expect_change=False)


def test_io_layouts_give_back_the_source_layout_at_the_boundary():
    g = _wrapped_conv_graph()
    x = rand(1, 3, 6, 5)
    check_pass("spatial_first_layout", g, {"x": x}, pre=lambda g: True, post=lambda g: True,
               feeds_after=lambda f: {"x": nhwc(f["x"])}, outputs_after=lambda outs: [nchw(o) for o in outs])
    check_pass("io_layouts", g, {"x": nhwc(x)}, options={"io_layouts": {"x": af.NCS, "y": af.NCS}},
               pre=lambda g: "Transpose" not in op_types(g),
               post=lambda g: op_types(g).count("Transpose") == 2 and g.tensors["x"].shape == (1, 3, 6, 5)
               and g.tensors["y"].shape == (1, 8, 6, 5) and g.tensors["y"].axis_format == af.NCS,
               feeds_after=lambda f: {"x": nchw(f["x"])}, outputs_after=lambda outs: [nhwc(o) for o in outs])


def test_io_layouts_refuses_a_layout_the_tensor_cannot_take():
    g = Graph()
    g.add_input("x", (2, 5), axis_format=af.NF)
    g.outputs = g.add_op("Relu", ["x"], ["y"]).outputs
    with pytest.raises(ConversionError, match="cannot be given layout NCHW"):
        get_pass("io_layouts")(g, {"io_layouts": {"x": af.NCS}})
    assert np.array_equal(g.tensors["x"].shape, (2, 5))

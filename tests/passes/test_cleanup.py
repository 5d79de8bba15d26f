"""passes/cleanup.py: ``remove_identities`` (OpDef.is_identity, Reshape chains), ``remove_dead_nodes`` and
``restore_source_names``."""
from __future__ import annotations

import numpy as np

from ir_harness import check_pass, op_types, rand
from snpe_tools.ir import dtypes as qd
from snpe_tools.ir.graph import Graph


def _identities_graph():
    g = Graph()
    g.add_input("x", (2, 3, 4))
    g.add_op("Reshape", ["x"], ["r1"], {"shape": [2, 3, 4]})                # same shape
    g.add_op("Transpose", ["r1"], ["t"], {"perm": [0, 1, 2]})                # identity perm
    g.add_op("Cast", ["t"], ["c"], {"to": qd.FLOAT_32})                      # same type
    g.add_op("Relu", ["c"], ["y"])
    g.outputs = ["y"]
    return g


def test_identities_are_removed():
    check_pass("remove_identities", _identities_graph(), {"x": rand(2, 3, 4)},
               pre=lambda g: op_types(g) == ["Reshape", "Transpose", "Cast", "Relu"],
               post=lambda g: op_types(g) == ["Relu"] and g.ops[0].inputs == ["x"])


def test_reshape_chain_reads_the_first_input():
    g = Graph()
    g.add_input("x", (2, 3, 4))
    g.add_op("Reshape", ["x"], ["r1"], {"shape": [6, 4]})
    g.add_op("Reshape", ["r1"], ["r2"], {"shape": [4, 6]})
    g.outputs = g.add_op("Relu", ["r2"], ["y"]).outputs
    check_pass("remove_identities", g, {"x": rand(2, 3, 4)}, pre=lambda g: op_types(g).count("Reshape") == 2,
               post=lambda g: op_types(g) == ["Reshape", "Relu"] and g.ops[0].inputs == ["x"]
               and g.tensors["y"].shape == (4, 6))


def test_an_identity_writing_a_graph_output_keeps_the_output_name():
    g = Graph()
    g.add_input("x", (2, 3))
    g.add_op("Relu", ["x"], ["r"])
    g.outputs = g.add_op("Transpose", ["r"], ["y"], {"perm": [0, 1]}).outputs
    check_pass("remove_identities", g, {"x": rand(2, 3)}, pre=lambda g: "Transpose" in op_types(g),
               post=lambda g: op_types(g) == ["Relu"] and g.ops[0].outputs == ["y"] and g.outputs == ["y"])


def test_real_reshapes_transposes_and_casts_are_left_alone():
    g = Graph()
    g.add_input("x", (2, 3, 4))
    g.add_op("Reshape", ["x"], ["r"], {"shape": [6, 4]})
    g.add_op("Transpose", ["r"], ["t"], {"perm": [1, 0]})
    g.outputs = g.add_op("Cast", ["t"], ["y"], {"to": qd.INT_32}).outputs
    check_pass("remove_identities", g, {"x": rand(2, 3, 4) * 4}, pre=lambda g: len(g.ops) == 3,
               post=lambda g: op_types(g) == ["Reshape", "Transpose", "Cast"], expect_change=False)


def _dead_graph():
    g = Graph()
    g.add_input("x", (2, 3))
    g.add_op("Relu", ["x"], ["a"])
    g.add_op("Sigmoid", ["a"], ["dead1"])             # feeds nothing
    g.add_op("Tanh", ["dead1"], ["dead2"])
    g.outputs = g.add_op("ElementWiseExp", ["a"], ["y"]).outputs
    return g


def test_dead_nodes_are_removed():
    check_pass("remove_dead_nodes", _dead_graph(), {"x": rand(2, 3)},
               pre=lambda g: op_types(g) == ["Relu", "Sigmoid", "Tanh", "ElementWiseExp"],
               post=lambda g: op_types(g) == ["Relu", "ElementWiseExp"])


def test_an_op_feeding_an_output_is_kept():
    g = _dead_graph()
    g.outputs.append("dead2")
    check_pass("remove_dead_nodes", g, {"x": rand(2, 3)}, pre=lambda g: len(g.ops) == 4,
               post=lambda g: len(g.ops) == 4, expect_change=False)


def _derived_names_graph(taken: bool):
    g = Graph()
    g.add_input("x", (1, 4, 4, 2))
    w = g.derived_const("conv_w", "hwio", rand(1, 1, 2, 3))
    g.add_op("Conv2d", ["x", w], [g.derived_name(g.derived_name("conv", "nhwc"), "bn")])
    if taken:
        g.add_op("Relu", ["conv.nhwc.bn"], ["conv"])         # the source name is in use
        g.add_op("Relu", ["conv"], ["y"])
    else:
        g.add_op("Relu", ["conv.nhwc.bn"], ["y"])
    g.outputs = ["y"]
    return g


def test_derived_tensors_get_their_source_names_back():
    check_pass("restore_source_names", _derived_names_graph(False), {"x": rand(1, 4, 4, 2)},
               pre=lambda g: "conv.nhwc.bn" in g.tensors,
               post=lambda g: {"conv", "conv_w"} <= set(g.tensors) and "conv.nhwc.bn" not in g.tensors
               and g.ops[0].outputs == ["conv"] and g.ops[0].inputs[1] == "conv_w")


def test_a_name_in_use_is_not_taken_but_an_intermediate_one_is():
    g = _derived_names_graph(True)
    check_pass("restore_source_names", g, {"x": rand(1, 4, 4, 2)}, pre=lambda g: "conv" in g.tensors,
               post=lambda g: g.ops[0].outputs == ["conv.nhwc"] and g.ops[1].outputs == ["conv"]
               and np.array_equal(g.ops[0].inputs, ["x", "conv_w"]))


def test_a_derivation_is_read_from_the_record_not_from_the_name():
    """Any role name works (the record says where a tensor came from); a source tensor whose name merely
    ends like a derived one (``feat.bn``, ``x.nhwc``) keeps it."""
    g = Graph()
    g.add_input("x", (1, 4, 4, 2))
    w = g.derived_const("conv_w", "kernel_last", rand(1, 1, 2, 3))
    conv = g.derived_name(g.derived_name("conv", "channels_last"), "folded")
    g.add_op("Conv2d", ["x", w], [conv])
    g.add_op("Relu", [conv], ["feat.bn"])                     # a source name, not derived: "feat" is free
    g.add_op("Sigmoid", ["feat.bn"], ["x2.nhwc"])
    g.add_op("Relu", ["x2.nhwc"], ["y"])
    g.outputs = ["y"]
    check_pass("restore_source_names", g, {"x": rand(1, 4, 4, 2)},
               pre=lambda g: conv == "conv.channels_last.folded" and w == "conv_w.kernel_last",
               post=lambda g: [op.outputs[0] for op in g.ops] == ["conv", "feat.bn", "x2.nhwc", "y"]
               and g.ops[0].inputs == ["x", "conv_w"])


def test_derivation_records_follow_copies_and_released_names():
    g = Graph()
    d = g.derived_name("a", "nhwc")
    assert g.source_chain(g.derived_name(d, "sf")) == ["a.nhwc", "a"] and g.source_chain("a") == []
    copy = g.structure_copy()
    g.release_name(d)                      # the name may be handed out again: its record goes with it
    assert g.source_chain("a.nhwc.sf") == ["a.nhwc"] and copy.source_chain("a.nhwc.sf") == ["a.nhwc", "a"]

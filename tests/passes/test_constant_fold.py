"""passes/constant_fold.py (``fold_constants``): ops whose inputs are all static become static tensors."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pass, op_types, rand
from snpe_tools.errors import SnpeToolsError
from snpe_tools.ir.graph import Graph


def _graph():
    g = Graph()
    g.add_input("x", (2, 3))
    a, b = g.add_const("a", rand(2, 3)), g.add_const("b", rand(3))
    g.add_op("ElementWiseAdd", [a, b], ["ab"])
    g.add_op("Reshape", ["ab"], ["ab6"], {"shape": [3, 2]})
    g.add_op("Transpose", ["ab6"], ["abt"], {"perm": [1, 0]})           # a chain of static ops
    g.outputs = g.add_op("ElementWiseMultiply", ["x", "abt"], ["y"]).outputs
    return g


def test_static_chain_is_folded():
    g = _graph()
    expect = (g.tensors["a"].data + g.tensors["b"].data).reshape(3, 2).T
    check_pass("fold_constants", g, {"x": rand(2, 3)},
               pre=lambda g: op_types(g) == ["ElementWiseAdd", "Reshape", "Transpose", "ElementWiseMultiply"],
               post=lambda g: op_types(g) == ["ElementWiseMultiply"] and g.tensors["abt"].is_static
               and np.allclose(g.tensors["abt"].data, expect) and g.tensors["abt"].data.dtype == np.float32)


def test_multi_output_static_op_folds_every_output():
    g = Graph()
    g.add_input("x", (2, 2))
    g.add_op("Split", [g.add_const("c", rand(2, 5))], ["s0", "s1"], {"axis": 1, "split_index": [2]})
    g.add_op("Concat", ["x", "s0"], ["cat"], {"axis": 0})
    g.outputs = ["cat"]
    check_pass("fold_constants", g, {"x": rand(2, 2)}, pre=lambda g: op_types(g) == ["Split", "Concat"],
               post=lambda g: op_types(g) == ["Concat"] and g.tensors["s0"].is_static
               and g.tensors["s1"].data.shape == (2, 3))


def test_dynamic_ops_and_static_graph_outputs_are_left_alone():
    g = Graph()
    g.add_input("x", (3,))
    g.add_op("Relu", ["x"], ["r"])
    g.add_op("ElementWiseNeg", [g.add_const("c", rand(3))], ["y2"])      # static, but a graph output
    g.outputs = ["r", "y2"]
    check_pass("fold_constants", g, {"x": rand(3)}, pre=lambda g: len(g.ops) == 2,
               post=lambda g: op_types(g) == ["Relu", "ElementWiseNeg"], expect_change=False)


def test_fold_limit_is_checked_before_evaluating(monkeypatch):
    monkeypatch.setenv("SNPE_TOOLS_FOLD_LIMIT_BYTES", "64")
    g = Graph()
    g.add_input("x", (100,))
    g.add_op("Tile", [g.add_const("c", rand(10))], ["big"], {"multiples": [10]})
    g.outputs = g.add_op("ElementWiseAdd", ["x", "big"], ["y"]).outputs
    with pytest.raises(SnpeToolsError, match="Tile"):
        check_pass("fold_constants", g, {"x": rand(100)}, pre=lambda g: True, post=lambda g: True)

"""passes/input_splice.py: the shared step of the input conversions - one op between a graph input (which keeps
its name) and the model (which reads ``<name><suffix>``, with its old shape, type and axis format)."""
from __future__ import annotations

import numpy as np

from ir_harness import rand, run_graph
from snpe_tools.ir import axis_format as af
from snpe_tools.ir import dtypes as qd
from snpe_tools.ir.graph import Graph
from snpe_tools.passes.input_splice import splice_input


def _graph():
    g = Graph()
    g.add_input("x", (1, 2, 3, 4), np.float32, axis_format=af.NSC)
    g.outputs = g.add_op("ElementWiseExp", ["x"], ["y"]).outputs
    return g


def test_splice_keeps_the_input_name_and_what_the_model_reads():
    g = _graph()
    x = rand(1, 2, 3, 4)
    (before,) = run_graph(g, {"x": x})
    out = splice_input(g, "x", (1, 2, 3, 4), np.float16, af.NSC, "Cast", {"to": qd.FLOAT_32}, "_cast")
    assert out == "x_cast" and g.inputs == ["x"] and list(g.input_info) == ["x"]
    assert [op.type for op in g.ops] == ["Cast", "ElementWiseExp"] and g.ops[0].name == "x_cast"
    assert g.tensors["x"].dtype == np.float16 and g.tensors["x_cast"].dtype == np.float32
    assert g.tensors["x_cast"].axis_format == af.NSC and g.ops[1].inputs == ["x_cast"]
    (after,) = run_graph(g, {"x": x.astype(np.float16)})
    np.testing.assert_allclose(after, np.exp(x.astype(np.float16).astype(np.float32)), rtol=1e-6)
    np.testing.assert_allclose(after, before, rtol=2e-3)


def test_second_splice_sits_next_to_the_input():
    g = _graph()
    splice_input(g, "x", (1, 2, 3, 4), np.float16, af.NSC, "Cast", {"to": qd.FLOAT_32}, "_cast")
    order = g.add_const("order", np.asarray([3, 2, 1, 0], np.int32))
    out = splice_input(g, "x", (1, 2, 3, 4), np.float16, af.NSC, "Gather", {"axis": 3}, "_rev", [order])
    assert out == "x_rev" and [op.type for op in g.ops] == ["Gather", "Cast", "ElementWiseExp"]
    assert g.ops[1].inputs == ["x_rev"] and g.ops[0].inputs == ["x", "order"]
    x = rand(1, 2, 3, 4).astype(np.float16)
    (after,) = run_graph(g, {"x": x})
    np.testing.assert_allclose(after, np.exp(x[..., ::-1].astype(np.float32)), rtol=1e-6)


def test_spliced_name_is_unique_when_taken():
    g = _graph()
    g.add_const("x_cast", np.zeros(1, np.float32), unique=False)
    out = splice_input(g, "x", (1, 2, 3, 4), np.float16, af.NSC, "Cast", {"to": qd.FLOAT_32}, "_cast")
    assert out != "x_cast" and out.startswith("x_cast") and g.tensors["x_cast"].is_static

"""passes/float_precision.py: ``float_bitwidth`` (a float16 DLC, float32 biases on request, encoded tensors
untouched) and ``io_dtypes`` (one Cast at a graph input/output to the float type asked for)."""
from __future__ import annotations

import numpy as np

from ir_harness import check_pass, op_types, rand
from snpe_tools.ir import dtypes as qd
from snpe_tools.ir.graph import Encoding, Graph

F16, F32 = np.dtype(np.float16), np.dtype(np.float32)


def _graph():
    g = Graph()
    g.add_input("x", (1, 4, 4, 2))
    g.add_op("Conv2d", ["x", g.add_const("w", rand(3, 3, 2, 3)), g.add_const("b", rand(3))], ["c"],
             {"pad_amount": [[1, 1], [1, 1]]})
    g.add_op("Relu", ["c"], ["r"])
    g.add_op("Cast", ["r"], ["k"], {"to": qd.FLOAT_32})
    g.outputs = g.add_op("ElementWiseAdd", ["k", g.add_const("e", rand(3))], ["y"]).outputs
    return g


def _float_types(g):
    return {n: np.dtype(t.dtype) for n, t in g.tensors.items()}


def test_float16_dlc_stores_every_float_tensor_as_float16():
    check_pass("float_bitwidth", _graph(), {"x": rand(1, 4, 4, 2)}, options={"float_bitwidth": 16},
               pre=lambda g: set(_float_types(g).values()) == {F32},
               post=lambda g: set(_float_types(g).values()) == {F16} and g.tensors["w"].data.dtype == F16
               and g.ops[2].params["to"] == qd.FLOAT_16,
               feeds_after=lambda f: {"x": f["x"].astype(np.float16)}, rtol=1e-2, atol=2e-2)


def test_float32_bias_and_encoded_tensors_stay_float32():
    g = _graph()
    g.tensors["r"].encoding = Encoding(8, 0.05, 0, 0.0, 12.75)
    check_pass("float_bitwidth", g, {"x": rand(1, 4, 4, 2)},
               options={"float_bitwidth": 16, "float_bias_bitwidth": 32},
               pre=lambda g: True,
               post=lambda g: g.tensors["b"].dtype == F32 and g.tensors["r"].dtype == F32
               and g.tensors["w"].dtype == F16 and g.tensors["c"].dtype == F16,
               feeds_after=lambda f: {"x": f["x"].astype(np.float16)}, rtol=1e-2, atol=5e-2)


def test_float32_bitwidth_leaves_the_graph_alone():
    check_pass("float_bitwidth", _graph(), {"x": rand(1, 4, 4, 2)}, options={"float_bitwidth": 32},
               pre=lambda g: True, post=lambda g: set(_float_types(g).values()) == {F32}, expect_change=False)


def test_io_dtypes_casts_at_the_boundary_of_a_float16_graph():
    g = _graph()
    feeds = {"x": rand(1, 4, 4, 2)}
    check_pass("float_bitwidth", g, feeds, options={"float_bitwidth": 16}, pre=lambda g: True, post=lambda g: True,
               feeds_after=lambda f: {"x": f["x"].astype(np.float16)}, rtol=1e-2, atol=2e-2)
    check_pass("io_dtypes", g, {"x": feeds["x"].astype(np.float16)}, options={"io_dtypes": {"x": F32, "y": F32}},
               pre=lambda g: g.tensors["x"].dtype == F16 and g.tensors["y"].dtype == F16,
               post=lambda g: op_types(g)[0] == "Cast" and op_types(g)[-1] == "Cast"
               and g.tensors["x"].dtype == F32 and g.tensors["y"].dtype == F32 and g.outputs == ["y"]
               and g.tensors[g.ops[0].outputs[0]].dtype == F16,
               feeds_after=lambda f: {"x": f["x"].astype(np.float32)}, rtol=1e-3, atol=1e-3)


def test_io_dtypes_of_the_current_type_changes_nothing():
    check_pass("io_dtypes", _graph(), {"x": rand(1, 4, 4, 2)}, options={"io_dtypes": {"x": F32, "w": F16}},
               pre=lambda g: True, post=lambda g: op_types(g)[0] == "Conv2d", expect_change=False)

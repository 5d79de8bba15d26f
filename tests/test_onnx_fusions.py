"""ONNX arithmetic that is one QNN op is converted to that op (frontends/onnx/fusions.py)."""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers


def _gelu_model(form: str, sqrt2: float = math.sqrt(2.0), half: float = 0.5) -> onnx.ModelProto:
    c = {"c": np.float32(sqrt2), "inv": np.float32(1 / sqrt2), "one": np.float32(1.0), "half": np.float32(half)}
    first = (helper.make_node("Mul", ["x", "inv"], ["s"]) if form == "mul_inv"
             else helper.make_node("Div", ["x", "c"], ["s"]))
    nodes = [first, helper.make_node("Erf", ["s"], ["e"]), helper.make_node("Add", ["one", "e"], ["a"])]
    if form in ("div", "mul_inv"):            # x * (1 + erf) * 0.5
        nodes += [helper.make_node("Mul", ["x", "a"], ["m"]), helper.make_node("Mul", ["m", "half"], ["y"])]
    elif form == "half_sum":                  # x * ((1 + erf) * 0.5)
        nodes += [helper.make_node("Mul", ["a", "half"], ["m"]), helper.make_node("Mul", ["x", "m"], ["y"])]
    else:                                     # (x * 0.5) * (1 + erf)
        nodes += [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["h", "a"], ["y"])]
    g = helper.make_graph(nodes, "gelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in c.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("form", ["div", "mul_inv", "half_sum", "half_x"])
def test_erf_gelu_becomes_one_gelu(form, tmp_path):
    path, dlc = str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc")
    onnx.save(_gelu_model(form), path)
    helpers.convert_in_process(path, dlc)
    assert helpers.count_ops(dlc) == {"Gelu": 1}
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4)).astype(np.float32) * 3
    np.testing.assert_allclose(helpers.run_dlc(dlc, {"x": x})["y"], helpers.run_onnxruntime(path, {"x": x})["y"],
                               rtol=1e-5, atol=1e-6)


def test_a_near_miss_is_not_fused_and_stays_exact(tmp_path):
    """0.6 instead of 0.5 is not GELU: translated node by node, still equal to onnxruntime."""
    path, dlc = str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc")
    onnx.save(_gelu_model("div", half=0.6), path)
    helpers.convert_in_process(path, dlc)
    assert "Gelu" not in helpers.count_ops(dlc)
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(helpers.run_dlc(dlc, {"x": x})["y"], helpers.run_onnxruntime(path, {"x": x})["y"],
                               rtol=1e-4, atol=1e-5)

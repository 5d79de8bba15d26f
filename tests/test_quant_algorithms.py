"""Quantization algorithms beyond tf min/max: preset encodings (overrides), histogram statistics, the
enhanced / adjusted / symmetric quantizers and qairt's calibration methods, 4/16-bit and per-row
weights, cross-layer equalization.  Each is checked on numbers with a property that fails if the
algorithm is broken, and through the command-line tools.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
from snpe_tools.dlc import read_dlc
from snpe_tools.quantization import QuantOptions, calibrate, quantize_graph
from snpe_tools.quantization.encodings import bias_encoding, symmetric_encoding, tf_encoding


def _conv_model(path, seed: int = 3) -> str:
    """x -> Conv(w1,b1) -> Relu -> Conv(w2,b2) -> y, converted to a float DLC at ``path``."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3, "w1"),
             numpy_helper.from_array(rng.uniform(-0.1, 0.1, 4).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((5, 4, 1, 1)).astype(np.float32) * 0.3, "w2"),
             numpy_helper.from_array(rng.uniform(-0.1, 0.1, 5).astype(np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["y"], name="conv2")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 8, 8])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path) + ".onnx")
    helpers.convert_in_process(str(path) + ".onnx", str(path) + ".dlc")
    return str(path) + ".dlc"


def _feeds(graph, n: int, seed: int = 1):
    shape = graph.tensors[graph.inputs[0]].shape
    rng = np.random.default_rng(seed)
    return [{graph.inputs[0]: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(n)]


# ---- preset encodings -------------------------------------------------------------------------------
def test_preset_encodings_are_kept_exactly_and_bias_follows(tmp_path):
    dlc = _conv_model(tmp_path / "m")
    graph = read_dlc(dlc).graph
    conv1 = next(op for op in graph.ops if op.type == "Conv2d")
    x, w1, b1 = conv1.inputs[:3]
    relu_out = next(op for op in graph.ops if op.type != "Conv2d").outputs[0]
    feeds = _feeds(graph, 4)
    stats = calibrate(graph, iter(feeds), len(feeds), progress=False)
    x_enc = tf_encoding(-4.0, 4.0, 8)                       # wider than the data ([-1, 1])
    w_enc = symmetric_encoding(2.0, 8)                      # wider than the weights
    r_enc = tf_encoding(0.0, 0.5, 16)                       # a 16-bit activation among 8-bit ones
    opts = QuantOptions(bias_bitwidth=32, preset={x: x_enc, w1: w_enc, relu_out: r_enc})
    summary = quantize_graph(graph, stats, opts)
    assert graph.tensors[x].encoding is x_enc and graph.tensors[w1].encoding is w_enc
    assert graph.tensors[relu_out].encoding is r_enc and graph.tensors[relu_out].dtype == np.uint16
    assert summary.activations[x] is x_enc and summary.params[w1] == ("weight", w_enc)
    assert graph.tensors[w1].dtype == np.int8
    # the 32-bit bias follows from the preset input and weight encodings
    b_enc = graph.tensors[b1].encoding
    assert b_enc.bitwidth == 32 and b_enc.scale == pytest.approx(x_enc.scale * w_enc.scale)
    # tensors without a preset are still calibrated
    y = graph.outputs[0]
    assert graph.tensors[y].encoding.min == pytest.approx(min(0.0, stats[y].min), abs=graph.tensors[y].encoding.scale)

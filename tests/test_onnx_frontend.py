"""snpe-onnx-to-dlc frontend behaviour: external data, output selection, batch override, old opsets."""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from helpers import convert_in_process, run_dlc, run_onnxruntime, run_tool
from snpe_tools.dlc import read_dlc

RNG = np.random.default_rng(3)


def _conv_model(batch="N", opset=13):
    w = (RNG.standard_normal((16, 3, 3, 3)) * 0.3).astype(np.float32)
    fc = (RNG.standard_normal((10, 16)) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "FC"], ["y"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(fc, "FC")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_external_data_is_read(tmp_path):
    model = _conv_model(batch=1)
    path = str(tmp_path / "ext.onnx")
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.weights", size_threshold=0)
    assert os.path.getsize(tmp_path / "ext.weights") >= 16 * 27 * 4
    dlc = str(tmp_path / "ext.dlc")
    convert_in_process(path, dlc)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run_dlc(dlc, {"x": x})["y"], run_onnxruntime(path, {"x": x})["y"],
                               rtol=1e-4, atol=1e-5)


def test_missing_external_data_is_a_one_line_error(tmp_path):
    model = _conv_model(batch=1)
    path = str(tmp_path / "ext.onnx")
    onnx.save_model(model, path, save_as_external_data=True, location="ext.weights", size_threshold=0)
    os.unlink(tmp_path / "ext.weights")
    proc = run_tool("snpe-onnx-to-dlc", "-i", path, "-o", str(tmp_path / "o.dlc"), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "external" in proc.stderr and not (tmp_path / "o.dlc").exists()


def test_batch_override_runs_batch_two(tmp_path):
    path = str(tmp_path / "m.onnx")
    onnx.save(_conv_model(), path)
    dlc = str(tmp_path / "m.dlc")
    convert_in_process(path, dlc, "-b", "2")
    assert read_dlc(dlc).graph.tensors["x"].shape == (2, 8, 8, 3)
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run_dlc(dlc, {"x": x})["y"], run_onnxruntime(path, {"x": x})["y"],
                               rtol=1e-4, atol=1e-5)


def test_out_node_selects_an_intermediate_tensor(tmp_path):
    path = str(tmp_path / "m.onnx")
    onnx.save(_conv_model(batch=1), path)
    dlc = str(tmp_path / "m.dlc")
    convert_in_process(path, dlc, "--out_node", "r")
    graph = read_dlc(dlc).graph
    assert graph.outputs == ["r"]
    assert {op.type for op in graph.ops} == {"Conv2d", "Relu"}     # the head is disconnected and removed
    assert graph.tensors["r"].shape == (1, 8, 8, 16)


def test_default_output_path_is_input_with_dlc_extension(tmp_path):
    path = str(tmp_path / "net.onnx")
    onnx.save(_conv_model(batch=1), path)
    proc = run_tool("snpe-onnx-to-dlc", "--input_network", path)
    assert (tmp_path / "net.dlc").is_file()
    assert "INFO_DLC_SAVE_LOCATION" in proc.stderr and "INFO_CONVERSION_SUCCESS" in proc.stderr


def test_opset_9_softmax_and_old_attributes(tmp_path):
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Softmax", ["r"], ["y"], axis=1)]
    g = helper.make_graph(nodes, "s", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 12])],
                          [numpy_helper.from_array(np.array([2, 12], np.int64), "shape")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)])
    m.ir_version = 4
    path = str(tmp_path / "s.onnx")
    onnx.save(m, path)
    dlc = str(tmp_path / "s.dlc")
    convert_in_process(path, dlc)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(run_dlc(dlc, {"x": x})["y"], run_onnxruntime(path, {"x": x})["y"],
                               rtol=1e-5, atol=1e-6)

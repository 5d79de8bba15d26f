"""Spatial-first layout rewrite, BN folding, Pad squashing and dead-node removal on small graphs.

Each test converts a hand-built ONNX graph with the real converter, checks the DLC's op list
(how many Transposes survive, what got folded) and checks numerics against onnxruntime.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from helpers import convert_in_process, count_ops, run_dlc, run_onnxruntime
from snpe_tools.dlc import read_dlc
from snpe_tools.runtime import execute

RNG = np.random.default_rng(0)


def _w(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _model(nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _convert_and_compare(model, tmp_path, feeds, *flags):
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    dlc = str(tmp_path / "m.dlc")
    convert_in_process(path, dlc, *flags)
    ref = run_onnxruntime(path, feeds)
    got = run_dlc(dlc, feeds)
    for k, v in ref.items():
        np.testing.assert_allclose(got[k].reshape(v.shape), v, rtol=1e-4, atol=1e-5)
    return dlc


def test_flatten_of_a_spatial_map_keeps_exactly_one_transpose(tmp_path):
    # VGG-style: conv -> relu -> flatten(4x4x8) -> gemm: NCHW flatten order needs one Transpose
    m = _model([helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
                helper.make_node("Relu", ["c"], ["r"]),
                helper.make_node("Flatten", ["r"], ["f"]),
                helper.make_node("Gemm", ["f", "G"], ["y"], transB=1)],
               [_vi("x", [1, 3, 4, 4])], [_vi("y", [1, 5])], {"W": _w(8, 3, 3, 3), "G": _w(5, 128)})
    dlc = _convert_and_compare(m, tmp_path, {"x": _w(1, 3, 4, 4, scale=1)})
    assert count_ops(dlc).get("Transpose") == 1


def test_residual_concat_softmax_and_scale_layers_propagate_without_transposes(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["ar"]),
             helper.make_node("Conv", ["ar", "W2"], ["b"], pads=[0, 0, 0, 0]),
             helper.make_node("Add", ["b", "ar"], ["s"]),                      # residual
             helper.make_node("Mul", ["s", "scale"], ["sc"]),                  # caffe2 scale layer [C,1,1]
             helper.make_node("MaxPool", ["sc"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Concat", ["p", "p"], ["cat"], axis=1),
             helper.make_node("Softmax", ["cat"], ["y"], axis=1)]
    m = _model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 8, 4, 4])],
               {"W1": _w(4, 3, 3, 3), "B1": _w(4), "W2": _w(4, 4, 1, 1), "scale": _w(4, 1, 1) + 1})
    dlc = _convert_and_compare(m, tmp_path, {"x": _w(1, 3, 8, 8, scale=1)})
    ops = count_ops(dlc)
    assert ops.get("Transpose", 0) == 0, ops
    g = read_dlc(dlc).graph
    assert g.tensors["x"].shape == (1, 8, 8, 3) and g.tensors["x"].axis_format == "NSC"
    assert g.tensors["y"].shape == (1, 4, 4, 8) and g.tensors["y"].axis_format == "NSC"
    concat = next(op for op in g.ops if op.type == "Concat")
    softmax = next(op for op in g.ops if op.type == "Softmax")
    assert concat.params["axis"] == 3 and softmax.params["axis"] == 3


def test_input_layout_nhwc_model_converts_without_extra_permutes(tmp_path):
    # tf2onnx style: the ONNX input is NHWC and the graph transposes it to NCHW itself
    m = _model([helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
                helper.make_node("Conv", ["xt", "W"], ["c"]),
                helper.make_node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 1])],
               [_vi("x", [1, 6, 6, 3])], [_vi("y", [1, 4, 4, 2])], {"W": _w(2, 3, 3, 3)})
    path, dlc = str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc")
    onnx.save(m, path)
    convert_in_process(path, dlc, "--input_layout", "x", "NHWC")
    assert count_ops(dlc) == {"Conv2d": 1}
    graph = read_dlc(dlc).graph
    assert graph.tensors["x"].shape == (1, 6, 6, 3)
    x = _w(1, 6, 6, 3, scale=1)
    # the DLC keeps the source's own NHWC layout at both ends: compare without any re-layout
    got = execute(graph, {"x": x})["y"]
    np.testing.assert_allclose(got, run_onnxruntime(path, {"x": x})["y"], rtol=1e-4, atol=1e-5)


def test_batchnorm_is_folded_and_pad_is_squashed(tmp_path):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["xp"], mode="constant"),
             helper.make_node("Conv", ["xp", "W"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "mu", "var"], ["y"], epsilon=1e-3)]
    pads = np.array([0, 0, 1, 2, 0, 0, 1, 2], np.int64)
    m = _model(nodes, [_vi("x", [1, 2, 5, 5])], [_vi("y", [1, 3, 5, 7])],
               {"W": _w(3, 2, 3, 3), "g": _w(3) + 1, "b": _w(3), "mu": _w(3), "var": np.abs(_w(3)) + 0.5,
                "pads": pads})
    feeds = {"x": _w(1, 2, 5, 5, scale=1)}
    dlc = _convert_and_compare(m, tmp_path, feeds)
    assert count_ops(dlc) == {"Conv2d": 1}
    conv = read_dlc(dlc).graph.ops[0]
    assert conv.params["pad_amount"].tolist() == [[1, 1], [2, 2]]
    dlc2 = _convert_and_compare(m, tmp_path, feeds, "--disable_batchnorm_folding")
    assert count_ops(dlc2) == {"Conv2d": 1, "Batchnorm": 1}


def test_conv1d_runs_as_conv2d_and_matches(tmp_path):
    m = _model([helper.make_node("Conv", ["x", "W", "B"], ["y"], pads=[1, 1], strides=[2])],
               [_vi("x", [1, 3, 9])], [_vi("y", [1, 4, 5])], {"W": _w(4, 3, 3), "B": _w(4)})
    _convert_and_compare(m, tmp_path, {"x": _w(1, 3, 9, scale=1)})


def test_depthwise_grouped_and_transposed_convolutions_match(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "Wd"], ["d"], group=4, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["d", "Wg"], ["g"], group=2),
             helper.make_node("ConvTranspose", ["g", "Wt", "Bt"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                              output_padding=[1, 1], group=2)]
    m = _model(nodes, [_vi("x", [1, 4, 6, 6])], [_vi("y", [1, 4, 8, 8])],
               {"Wd": _w(8, 1, 3, 3), "Wg": _w(4, 4, 3, 3), "Wt": _w(4, 2, 3, 3), "Bt": _w(4)})
    dlc = _convert_and_compare(m, tmp_path, {"x": _w(1, 4, 6, 6, scale=1)})
    ops = count_ops(dlc)
    assert ops == {"DepthWiseConv2d": 1, "Conv2d": 1, "TransposeConv2d": 1}, ops


def test_disconnected_nodes_are_removed_unless_kept(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["dangling"])]
    m = _model(nodes, [_vi("x", [1, 4])], [_vi("y", [1, 4])], {})
    dlc = _convert_and_compare(m, tmp_path, {"x": _w(1, 4, scale=1)})
    assert count_ops(dlc) == {"Relu": 1}
    dlc2 = _convert_and_compare(m, tmp_path, {"x": _w(1, 4, scale=1)}, "--keep_disconnected_nodes")
    assert count_ops(dlc2) == {"Relu": 1, "Sigmoid": 1}


def test_output_also_consumed_inside_the_graph_keeps_both_layouts_right(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "W"], ["feat"]),
             helper.make_node("GlobalAveragePool", ["feat"], ["gap"]),
             helper.make_node("Flatten", ["gap"], ["y"])]
    m = _model(nodes, [_vi("x", [1, 3, 6, 6])], [_vi("feat", [1, 4, 4, 4]), _vi("y", [1, 4])],
               {"W": _w(4, 3, 3, 3)})
    dlc = _convert_and_compare(m, tmp_path, {"x": _w(1, 3, 6, 6, scale=1)})
    assert count_ops(dlc).get("Transpose", 0) == 0
    assert read_dlc(dlc).graph.tensors["feat"].axis_format == "NSC"

"""Calibration speed and scale: batched runs give the statistics of one-at-a-time runs, memory does not
grow with the number of inputs; the per-layer SQNR report; input-list output selection; accuracy of the
quantizer on ResNet / MobileNetV2 / Inception blocks against onnxruntime's quantize_static."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
import quant_models as qm
from snpe_tools.dlc import read_dlc
from snpe_tools.quantization.calibration import (RangeStats, batch_size, batched_graph, calibrate, inference_bytes,
                                                 needed_ops)


def _model(nodes, inits, x_shape, y_name, y_shape, opset=13) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info(y_name, TensorProto.FLOAT, y_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    return m


def conv_net(with_fc: bool) -> onnx.ModelProto:
    """Conv -> Relu -> MaxPool -> Conv -> Add (residual) [-> GlobalAveragePool -> Flatten -> Gemm]."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3, "w1"),
             numpy_helper.from_array(rng.standard_normal(8).astype(np.float32) * 0.1, "b1"),
             numpy_helper.from_array(rng.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2, "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("Add", ["c2", "p1"], ["y"], name="add")]
    if not with_fc:
        return _model(nodes, inits, [1, 3, 12, 12], "y", [1, 8, 6, 6])
    inits += [numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "fw"),
              numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "fb")]
    nodes += [helper.make_node("GlobalAveragePool", ["y"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "fw", "fb"], ["logits"], transB=1, name="fc")]
    return _model(nodes, inits, [1, 3, 12, 12], "logits", [1, 5])


def _dlc(tmp_path, model: onnx.ModelProto, name: str = "m") -> str:
    onnx.save(model, str(tmp_path / f"{name}.onnx"))
    dlc = str(tmp_path / f"{name}.dlc")
    helpers.convert_in_process(str(tmp_path / f"{name}.onnx"), dlc)
    return dlc


def _feeds(graph, n: int, seed: int = 0):
    shape = graph.tensors[graph.inputs[0]].shape
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield {graph.inputs[0]: rng.uniform(-1, 1, shape).astype(np.float32)}


# ---- batched calibration ------------------------------------------------------------------------------
@pytest.mark.parametrize("with_fc", [False, True])
def test_batched_statistics_equal_one_at_a_time(tmp_path, with_fc):
    graph = read_dlc(_dlc(tmp_path, conv_net(with_fc))).graph
    n = 23                                      # 16 + a remainder batch of 7
    assert batch_size(graph, graph.ops, n) == 16 and batched_graph(graph, graph.ops, 16) is not None
    seen = []
    batched = calibrate(graph, _feeds(graph, n), n, progress=False, on_batch=lambda env, k: seen.append(k))
    single = calibrate(graph, _feeds(graph, n), n, progress=False, batch=1)
    assert seen == [16, 7]
    assert set(batched) == set(single) and len(single) >= 6
    for name, st in single.items():
        b = batched[name]
        assert b.count == st.count == n
        if with_fc:         # a one-row matrix product (BLAS gemv) and a 16-row one round differently
            assert b.min == pytest.approx(st.min, rel=1e-6, abs=1e-6) and b.max == pytest.approx(st.max, rel=1e-6,
                                                                                                  abs=1e-6)
        else:
            assert (b.min, b.max) == (st.min, st.max), name


def test_batch_size_follows_the_memory_budget(tmp_path):
    graph = read_dlc(_dlc(tmp_path, conv_net(False))).graph
    per = inference_bytes(graph, graph.ops)
    assert per >= 3 * 12 * 12 * 4
    assert batch_size(graph, graph.ops, 100, budget=per * 3) == 3
    assert batch_size(graph, graph.ops, 100, budget=per // 2) == 1
    assert batch_size(graph, graph.ops, 2) == 2


def test_batch_mixing_ops_run_one_at_a_time(tmp_path):
    """A softmax over axis 0 would mix the inputs of a batch: that graph is calibrated one input at a time,
    and its statistics are those of each input's own softmax (all ones over a size-1 axis)."""
    m = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Softmax", ["r"], ["y"], axis=0)],
               [], [1, 6], "y", [1, 6])
    graph = read_dlc(_dlc(tmp_path, m)).graph
    assert batched_graph(graph, graph.ops, 4) is None
    seen = []
    stats = calibrate(graph, _feeds(graph, 5), 5, progress=False, on_batch=lambda env, k: seen.append(k))
    assert seen == [1] * 5
    assert stats[graph.outputs[0]].min == stats[graph.outputs[0]].max == 1.0


def test_stats_objects_get_whole_batches(tmp_path):
    """make_stats: any object with update(x); a batch arrives as one array stacked on axis 0."""
    graph = read_dlc(_dlc(tmp_path, conv_net(False))).graph

    class Shapes:
        def __init__(self) -> None:
            self.firsts: list[int] = []

        def update(self, x):
            self.firsts.append(x.shape[0])

    stats = calibrate(graph, _feeds(graph, 10), 10, progress=False, make_stats=lambda name: Shapes())
    assert all(s.firsts == [10] for s in stats.values())


def test_streaming_memory_does_not_grow_with_inputs(tmp_path):
    """2000 tiny inputs from a generator: the traced peak is that of 200 inputs (no per-input state)."""
    m = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"])], [], [1, 64], "y",
               [1, 64])
    graph = read_dlc(_dlc(tmp_path, m)).graph
    peaks = {}
    for n in (200, 2000):
        tracemalloc.start()
        stats = calibrate(graph, _feeds(graph, n), n, progress=False)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert stats[graph.outputs[0]].count == n
    assert peaks[2000] < peaks[200] * 1.2 + 16384, peaks


def test_needed_ops_follow_the_selected_outputs(tmp_path):
    graph = read_dlc(_dlc(tmp_path, conv_net(True))).graph
    relu = next(op for op in graph.ops if op.type == "Relu")
    ops = needed_ops(graph, relu.outputs)
    assert ops[-1] is relu and all(op.type in ("Conv2d", "Relu") for op in ops)
    stats = calibrate(graph, _feeds(graph, 3), 3, progress=False, outputs=relu.outputs)
    assert set(stats) == {graph.inputs[0], *[o for op in ops for o in op.outputs]}
    assert all(isinstance(s, RangeStats) and s.seen for s in stats.values())

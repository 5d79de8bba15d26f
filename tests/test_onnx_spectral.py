"""ONNX DFT / STFT through snpe-onnx-to-dlc (MatMul with cosine/sine matrices) against onnxruntime, or the
onnx reference evaluator where onnxruntime has no kernel for the combination."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from helpers import convert_in_process, count_ops, run_dlc

RNG = np.random.default_rng(5)


def _model(node, inputs, inits, opset):
    graph = helper.make_graph([node], "spectral", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                                                   for n, s in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _reference(model, feeds):
    try:
        import onnxruntime as ort

        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, feeds)[0]
    except Exception:  # no onnxruntime kernel for this combination: onnx's reference evaluator
        return ReferenceEvaluator(model).run(None, feeds)[0]


def _check(tmp_path, model, feeds):
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    dlc = str(tmp_path / "m.dlc")
    convert_in_process(path, dlc)
    ours = run_dlc(dlc, feeds)
    ref = _reference(model, feeds)
    got = next(iter(ours.values()))
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)
    return count_ops(dlc)


CASES = [  # (opset, input shape, axis, dft_length, inverse, onesided)
    (17, (2, 16, 1), 1, None, 0, 0), (17, (2, 16, 2), 1, None, 0, 0), (17, (2, 16, 1), 1, None, 0, 1),
    (17, (3, 10, 2), 1, 16, 0, 0), (17, (3, 10, 2), 1, 6, 0, 0), (17, (2, 12, 2), 1, None, 1, 0),
    (20, (2, 4, 8, 2), 2, None, 0, 0), (20, (2, 9, 3, 1), 1, 9, 0, 1), (20, (2, 9, 2), 1, None, 1, 1),
    (20, (2, 5, 2), -2, 8, 1, 1),
]


@pytest.mark.parametrize("opset,shape,axis,length,inverse,onesided", CASES)
def test_dft_matches(tmp_path, opset, shape, axis, length, inverse, onesided):
    inits, ins = [], ["x"]
    if length is not None:
        inits.append(helper.make_tensor("len", TensorProto.INT64, [], [length]))
        ins.append("len")
    kw = dict(inverse=inverse, onesided=onesided)
    if opset >= 20:
        if length is None:
            ins.append("")
        inits.append(helper.make_tensor("ax", TensorProto.INT64, [], [axis]))
        ins.append("ax")
    else:
        kw["axis"] = axis
    node = helper.make_node("DFT", ins, ["y"], **kw)
    x = RNG.standard_normal(shape).astype(np.float32)
    counts = _check(tmp_path, _model(node, [("x", list(shape))], inits, opset), {"x": x})
    assert "MatMul" in counts


@pytest.mark.parametrize("window_kind", ["none", "const", "input"])
@pytest.mark.parametrize("complex_signal", [False, True])
def test_stft_matches(tmp_path, window_kind, complex_signal):
    c = 2 if complex_signal else 1
    inits = [helper.make_tensor("step", TensorProto.INT64, [], [4])]
    ins = ["x", "step", "", ""]
    inputs = [("x", [2, 40, c])]
    feeds = {"x": RNG.standard_normal((2, 40, c)).astype(np.float32)}
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(16) / 16)).astype(np.float32)
    if window_kind == "const":
        inits.append(helper.make_tensor("win", TensorProto.FLOAT, [16], win))
        ins[2] = "win"
    elif window_kind == "input":
        inputs.append(("win", [16]))
        feeds["win"] = win
        ins[2] = "win"
    if window_kind != "const":
        inits.append(helper.make_tensor("flen", TensorProto.INT64, [], [16]))
        ins[3] = "flen"
    node = helper.make_node("STFT", ins, ["y"], onesided=0 if complex_signal else 1)
    _check(tmp_path, _model(node, inputs, inits, 17), feeds)

"""Quantized source models become DLC encodings (issue 12 part 2, issue 11 overrides):

* ONNX QDQ and QOperator models (onnxruntime ``quantize_static``): the Q/DQ pairs (QLinear* nodes
  first rewritten into that form) fold into encodings on float
  tensors equal to the source's scale / zero point (``offset = -zero_point``), per-axis weights on the
  QNN weight axis; ``snpe-dlc-quant --override_params --float_fallback`` and ``qairt-quantizer
  --float_fallback`` quantize from them without an input list, and ``snpe-net-run`` then agrees with
  onnxruntime within one quantization step of the output;
* Qualcomm's own DLC of the golden ``qdq_cnn`` model: encodings compared field by field;
* ``--quantization_overrides`` (AIMET legacy and 1.0.0 JSON) land on the named tensors; bad files are
  one-line errors and write nothing; ``--keep_quant_nodes`` keeps QNN Quantize/Dequantize ops;
* every DLC written passes the wire-level conformance rules.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import flatdump
import helpers
from dlc_conformance import REAL_DIR, violations
from snpe_tools.dlc import read_dlc
from snpe_tools.quantization.source import fake_quant_encoding, from_min_max, from_zero_point

ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")


# ---- conventions -----------------------------------------------------------------------------------
def test_source_grids_in_snpe_convention():
    sym = from_zero_point(0.01, 0, 8, signed=True)                     # int8 weights, zp 0
    assert (sym.offset, sym.min, sym.max) == (0, pytest.approx(-1.28), pytest.approx(1.27))
    act = from_zero_point(0.02, 178, 8, signed=False)                  # uint8 activations
    assert (act.offset, act.min, act.max) == (-178, pytest.approx(-3.56), pytest.approx(1.54))
    s8 = from_zero_point(0.02, -50, 8, signed=True)                    # asymmetric int8 -> unsigned view
    assert (s8.offset, s8.min, s8.max) == (-78, pytest.approx(-1.56), pytest.approx(3.54))
    bias = from_zero_point([1e-4, 2e-4], [0, 0], 32, signed=True, axis=0)
    assert bias.axis == 0 and [c[1] for c in bias.channels] == [0, 0]
    assert bias.channels[1][2] == pytest.approx(-(2 ** 31) * 2e-4)
    rng = from_min_max(-1.0, 3.0, 8)
    assert rng.offset == -64 and rng.scale == pytest.approx(4 / 255)
    fq = fake_quant_encoding(-1.0, 1.0, 8)
    # TF nudges in float32: 1 / (2/255) is 127.49999 there, so TF's grid for [-1, 1] is [-0.99608, 1.00392]
    # (tf.quantization.fake_quant_with_min_max_args(2.0, min=-1, max=1) returns 1.0039216)
    assert fq.offset == -127 and fq.max == pytest.approx(1.0039216, abs=1e-6)
    assert fq.min == pytest.approx(-0.9960784, abs=1e-6)
    nr = fake_quant_encoding(-1.0, 1.0, 8, narrow_range=True)          # grid 1..255, zero point 128
    assert nr.offset == -128 and nr.scale == pytest.approx(2 / 254)


# ---- a QDQ model from onnxruntime ------------------------------------------------------------------
def _float_cnn(path: str) -> None:
    rng = np.random.default_rng(0)

    def init(name, shape, sd):
        return numpy_helper.from_array(rng.normal(0, sd, shape).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("Add", ["c2", "p1"], ["a1"], name="add"),
             helper.make_node("Relu", ["a1"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(
        nodes, "qcnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [init("w1", (8, 3, 3, 3), 0.3), init("b1", (8,), 0.1), init("w2", (8, 8, 3, 3), 0.2),
         init("b2", (8,), 0.1), init("w3", (10, 8), 0.3), init("b3", (10,), 0.1)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def _cnn_calibration() -> list[dict[str, np.ndarray]]:
    """16 calibration feeds for _float_cnn's input ``x`` (fixed seed)."""
    rng = np.random.default_rng(1)
    return [{"x": rng.normal(0, 1, (1, 3, 16, 16)).astype(np.float32)} for _ in range(16)]


def _ort_quantize(src: str, dst: str, feeds: list[dict[str, np.ndarray]], fmt: str) -> None:
    """onnxruntime quantize_static (per-channel int8 weights, uint8 activations) in ``fmt`` (QDQ/QOperator)."""

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    quantization.quantize_static(src, dst, Reader(), quant_format=getattr(quantization.QuantFormat, fmt),
                                 per_channel=True, weight_type=quantization.QuantType.QInt8,
                                 activation_type=quantization.QuantType.QUInt8)


@pytest.fixture(scope="module")
def qdq(tmp_path_factory):
    """(folder, QDQ model path, converted DLC path, sample inputs) for an onnxruntime QDQ model."""
    d = tmp_path_factory.mktemp("qdq")
    _float_cnn(str(d / "float.onnx"))
    _ort_quantize(str(d / "float.onnx"), str(d / "qdq.onnx"), _cnn_calibration(), "QDQ")
    rng = np.random.default_rng(2)          # held-out samples, not the calibration feeds
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "qdq.onnx"), "-o", str(d / "qdq.dlc"))
    samples = [rng.normal(0, 1, (1, 3, 16, 16)).astype(np.float32) for _ in range(4)]
    return d, str(d / "qdq.onnx"), str(d / "qdq.dlc"), samples


def _qdq_grids(model_path: str) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """DQ output name -> (scale, zero point, axis) of every DequantizeLinear of the model."""
    m = onnx.load(model_path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear":
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            out[n.output[0]] = (inits[n.input[1]], inits[n.input[2]], axis)
    return out


def test_qdq_pairs_become_encodings_equal_to_the_source(qdq):
    _, model, dlc, _ = qdq
    graph = read_dlc(dlc).graph
    ops = {op.type for op in graph.ops}
    assert not ops & {"ElementWiseRound", "Cast", "ElementWiseDivide", "Quantize", "Dequantize"}, ops
    assert ops >= {"Conv2d", "PoolMax2d", "ElementWiseAdd", "FullyConnected"}
    grids = _qdq_grids(model)
    checked = 0
    for name, (scale, zp, _axis) in grids.items():
        kept = name if name in graph.tensors else name.replace("_DequantizeLinear_Output", "")
        t = graph.tensors.get(kept)
        if t is None:           # the graph input's pair: its grid is on the input itself
            t = graph.tensors["x"]
        assert np.dtype(t.dtype) == np.float32 and t.encoding is not None, name
        enc = t.encoding
        if scale.size > 1:      # per-channel int8 weights / int32 biases: symmetric, QNN axis
            # HWIO conv weights: output channels last; FullyConnected [out, in] and biases: axis 0
            assert enc.axis == (3 if t.rank == 4 else 0) and len(enc.channels) == scale.size, name
            np.testing.assert_allclose([c[0] for c in enc.channels], scale, rtol=1e-7)
            assert all(c[1] == 0 for c in enc.channels) and not np.any(zp)
            assert enc.bitwidth == (32 if zp.dtype == np.int32 else 8)
        else:                   # uint8 activations: offset = -zero_point
            assert enc.axis is None and enc.bitwidth == 8
            assert enc.scale == pytest.approx(float(scale), rel=1e-7) and enc.offset == -int(zp)
            assert enc.min == pytest.approx(-int(zp) * float(scale), rel=1e-6, abs=1e-9)
        checked += 1
    assert checked == len(grids) >= 14
    assert violations(dlc) == []


def _input_list(work, samples: list[np.ndarray], fmt: str) -> str:
    """``work/list.txt`` naming one float32 ``.raw`` file per sample, in the DLC layout of format ``fmt``."""
    lines = []
    for k, x in enumerate(samples):
        raw = os.path.join(work, f"in{k}.raw")
        helpers.to_dlc_layout(x, fmt).astype(np.float32).tofile(raw)
        lines.append(raw)
    path = os.path.join(work, "list.txt")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _net_run(work, dlc: str, samples: list[np.ndarray], graph) -> list[np.ndarray]:
    _input_list(work, samples, graph.tensors["x"].axis_format)
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", "list.txt", "--output_dir", "out",
                     cwd=str(work))
    return [np.fromfile(os.path.join(work, "out", f"Result_{k}", "y.raw"), np.float32) for k in range(len(samples))]


@pytest.mark.parametrize("tool", ["snpe-dlc-quant", "qairt-quantizer"])
def test_float_fallback_quantizes_from_the_qdq_encodings_within_one_step(qdq, tool, tmp_path):
    d, model, dlc, samples = qdq
    out = str(tmp_path / "q.dlc")
    if tool == "snpe-dlc-quant":
        helpers.run_tool(tool, f"--input_dlc={dlc}", "--override_params", "--float_fallback", f"--output_dlc={out}")
    else:
        helpers.run_tool(tool, "--input_dlc", dlc, "--float_fallback", "--output_dlc", out)
    assert violations(out) == []
    graph = read_dlc(out).graph
    src = read_dlc(dlc).graph
    for name, t in graph.tensors.items():       # every encoding of the float DLC is kept exactly
        if src.tensors.get(name) is not None and src.tensors[name].encoding is not None:
            assert t.encoding == src.tensors[name].encoding, name
            assert np.dtype(t.dtype).kind in "iu", name
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    ref = [sess.run(None, {"x": x})[0].reshape(-1) for x in samples]
    got = _net_run(tmp_path, out, samples, graph)
    step = graph.tensors["y"].encoding.scale
    worst = max(float(np.max(np.abs(g - r))) for g, r in zip(got, ref))
    print(f"{tool}: max |snpe-net-run - onnxruntime| = {worst:.5f} ({worst / step:.2f} output steps)")
    assert worst <= step * 1.001


def test_qoperator_model_becomes_the_same_encoded_graph(qdq, tmp_path):
    """onnxruntime's QOperator format (QLinearConv, com.microsoft QLinearAdd/QLinearGlobalAveragePool/QGemm,
    MaxPool and Flatten on stored integers) converts to the float model's ops and tensor names with the
    encodings on them, and quantizes from them bit-exactly against onnxruntime."""
    d, _, _, samples = qdq
    model = str(tmp_path / "qop.onnx")
    _ort_quantize(str(d / "float.onnx"), model, _cnn_calibration(), "QOperator")
    assert {n.op_type for n in onnx.load(model).graph.node} >= {"QLinearConv", "QLinearAdd", "QGemm"}
    dlc = str(tmp_path / "qop.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", dlc)
    graph = read_dlc(dlc).graph
    assert [op.type for op in graph.ops] == ["Conv2d", "PoolMax2d", "Conv2d", "ElementWiseAdd", "PoolAvg2d",
                                             "Reshape", "FullyConnected"]
    named = {"x", "w1", "b1", "c1", "p1", "w2", "b2", "c2", "a1", "g", "f", "w3", "b3", "y"}
    assert {n for n, t in graph.tensors.items() if t.encoding is not None} == named
    assert violations(dlc) == []
    out = str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-dlc-quant", f"--input_dlc={dlc}", "--override_params", "--float_fallback",
                     f"--output_dlc={out}")
    qgraph = read_dlc(out).graph
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    ref = [sess.run(None, {"x": x})[0].reshape(-1) for x in samples]
    got = _net_run(tmp_path, out, samples, qgraph)
    step = qgraph.tensors["y"].encoding.scale
    worst = max(float(np.max(np.abs(g - r))) for g, r in zip(got, ref))
    print(f"QOperator: max |snpe-net-run - onnxruntime| = {worst / step:.2f} output steps")
    assert worst <= step * 1.001


def test_override_params_off_calibrates_instead(qdq, tmp_path):
    """Without --override_params snpe-dlc-quant calibrates every tensor (SNPE's default)."""
    d, _, dlc, samples = qdq
    raw = tmp_path / "c.raw"
    helpers.to_dlc_layout(samples[0], "NCHW").astype(np.float32).tofile(raw)
    (tmp_path / "list.txt").write_text(f"{raw}\n")
    out = str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-dlc-quant", f"--input_dlc={dlc}", f"--input_list={tmp_path / 'list.txt'}",
                     f"--output_dlc={out}")
    mine, src = read_dlc(out).graph, read_dlc(dlc).graph
    assert mine.tensors["y"].encoding != src.tensors["y"].encoding


def test_keep_quant_nodes_keeps_quantize_and_dequantize_ops(qdq, tmp_path):
    d, model, _, samples = qdq
    out = str(tmp_path / "keep.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", out, "--keep_quant_nodes")
    counts = helpers.count_ops(out)
    assert counts.get("Quantize", 0) >= 7 and counts.get("Dequantize", 0) >= 7, counts
    assert "ElementWiseRound" not in counts
    assert violations(out) == []
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    got = helpers.run_dlc(out, {"x": samples[0]})["y"]
    ref = sess.run(None, {"x": samples[0]})[0]
    step = read_dlc(out).graph.tensors
    assert float(np.max(np.abs(got - ref))) <= 2 * max(t.encoding.scale for t in step.values()
                                                       if t.encoding is not None and t.encoding.axis is None)


# ---- Qualcomm's own result for the golden QDQ model ---------------------------------------------------
def _encodings(path: str) -> dict[str, dict]:
    return {t["name"]: t for t in flatdump.load(path)["graphs"][0]["tensors"]}


@pytest.mark.skipif(not (REAL_DIR / "qdq_cnn.onnx").exists(), reason="golden qdq_cnn not found")
def test_golden_qdq_cnn_encodings_match_qualcomms_field_by_field(tmp_path):
    out = str(tmp_path / "qdq_cnn.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(REAL_DIR / "qdq_cnn.onnx"), "-o", out)
    real, mine = _encodings(str(REAL_DIR / "qdq_cnn.qairt225.dlc")), _encodings(out)
    # names that differ only by construction: 2.25 names the FC weight after its permute, and its
    # Transpose output stands where our Reshape (Flatten) output is (docs/dlc-format.rst)
    renamed = {"fc.weight_DequantizeLinear_Output_permute": "fc.weight_DequantizeLinear_Output"}
    compared = 0
    for name, t in real.items():
        u = mine.get(renamed.get(name, name))
        if u is None:
            assert name.endswith(".nchw"), name            # 2.25's Transpose before FullyConnected
            continue
        assert (t["dtype"], t["type"], t["dims"]) == (u["dtype"], u["type"], u["dims"]), name
        q, p = t["quant"], u["quant"]
        if name == "input":
            assert q["type"] == 2147483647 and p["type"] == 0      # documented: we keep the input's grid
            continue
        assert q["type"] == p["type"] and q["is_overridden"] == p["is_overridden"], name
        if q["type"] == 2147483647:
            continue
        chans_r = q["channels"] or [q["per_tensor"]]
        chans_m = p["channels"] or [p["per_tensor"]]
        assert len(chans_r) == len(chans_m), name
        for a, b in zip(chans_r, chans_m):
            for f in ("bw", "offset", "is_symmetric"):
                assert a[f] == b[f], (name, f, a[f], b[f])
            for f in ("scale", "min", "max"):
                assert a[f] == pytest.approx(b[f], rel=1e-6), (name, f)
        if q["axis"] is not None:
            # 2.25 writes the ONNX axis 0 on HWIO conv weights; we write QNN's output-channel axis
            want = 3 if len(t["dims"]) == 4 else 0
            assert (q["axis"], p["axis"]) == (0, want), name
        compared += 1
    assert compared == 15
    assert violations(out) == []


# ---- --quantization_overrides -------------------------------------------------------------------------
LEGACY = {
    "activation_encodings": {
        "r1_DequantizeLinear_Output": [{"bitwidth": 8, "min": 0.0, "max": 6.0, "is_symmetric": "False",
                                        "dtype": "int"}],
        "y": [{"bitwidth": 16, "scale": 0.001, "offset": 30000, "is_symmetric": "False"}]},
    "param_encodings": {
        "b3": [{"bitwidth": 32, "scale": 1e-5, "offset": 0, "is_symmetric": "True"}],
        "w1_DequantizeLinear_Output": [{"bitwidth": 8, "scale": 0.01 * (k + 1), "offset": -128,
                                        "is_symmetric": "True"} for k in range(8)]},
}
V1 = {"version": "1.0.0",
      "activation_encodings": [{"name": "p1_DequantizeLinear_Output", "bw": 8, "dtype": "INT",
                                "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.05], "offset": [-3]}],
      "param_encodings": [{"name": "w3_DequantizeLinear_Output", "bw": 8, "dtype": "INT",
                           "enc_type": "PER_CHANNEL", "is_sym": True, "scale": [0.002] * 10, "offset": [-128] * 10}]}


def test_overrides_land_on_the_named_tensors(qdq, tmp_path):
    _, model, _, _ = qdq
    for fmt, data in (("legacy", LEGACY), ("v1", V1)):
        jf = tmp_path / f"{fmt}.json"
        jf.write_text(json.dumps(data))
        out = str(tmp_path / f"{fmt}.dlc")
        helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", out, "--quantization_overrides", str(jf))
        assert violations(out) == []
        g = read_dlc(out).graph
        if fmt == "legacy":
            r1 = g.tensors["r1_DequantizeLinear_Output"].encoding
            assert (r1.bitwidth, r1.offset) == (8, 0) and r1.scale == pytest.approx(6 / 255)
            y = g.tensors["y"].encoding              # offsets normalised to -abs(offset)
            assert (y.bitwidth, y.offset, y.scale) == (16, -30000, pytest.approx(0.001))
            assert y.max == pytest.approx((65535 - 30000) * 0.001)
            b3 = g.tensors["b3"].encoding
            assert (b3.bitwidth, b3.offset, b3.min) == (32, 0, pytest.approx(-(2 ** 31) * 1e-5))
            w1 = g.tensors["w1_DequantizeLinear_Output"]
            assert w1.encoding.axis == 3 and [c[0] for c in w1.encoding.channels] == \
                pytest.approx([0.01 * (k + 1) for k in range(8)])
            assert all(c[1] == 0 for c in w1.encoding.channels)     # symmetric: QNN's signed, offset 0
        else:
            p1 = g.tensors["p1_DequantizeLinear_Output"].encoding
            assert (p1.offset, p1.scale) == (-3, pytest.approx(0.05))
            w3 = g.tensors["w3_DequantizeLinear_Output"].encoding
            assert w3.axis == 0 and len(w3.channels) == 10            # FullyConnected weights [out, in]
    # qairt-quantizer applies an overrides file too; snpe-dlc-quant --override_params keeps converter ones
    q = str(tmp_path / "q.dlc")
    helpers.run_tool("qairt-quantizer", "--input_dlc", str(tmp_path / "legacy.dlc"), "--float_fallback",
                     "--output_dlc", q, "--quantization_overrides", str(tmp_path / "v1.json"))
    g = read_dlc(q).graph
    assert g.tensors["p1_DequantizeLinear_Output"].encoding.offset == -3
    assert g.tensors["y"].encoding.bitwidth == 16 and np.dtype(g.tensors["y"].dtype) == np.uint16
    assert np.dtype(g.tensors["w3_DequantizeLinear_Output"].dtype) == np.int8


BAD = {
    "unknown tensor": ({"activation_encodings": {"nope": [{"bitwidth": 8, "min": 0, "max": 1}]},
                        "param_encodings": {}}, "not a tensor of the converted model"),
    "both sections": ({"activation_encodings": {"y": [{"bitwidth": 8, "min": 0, "max": 1}]},
                       "param_encodings": {"y": [{"bitwidth": 8, "min": 0, "max": 1}]}}, "in both"),
    "bitwidth": ({"activation_encodings": {"y": [{"bitwidth": 4, "min": 0, "max": 1}]},
                  "param_encodings": {}}, "bitwidth 4 is not supported"),
    "float dtype": ({"activation_encodings": {"y": [{"bitwidth": 8, "dtype": "float"}]},
                     "param_encodings": {}}, "dtype float needs bitwidth 16 or 32"),
    "float32 in a converter": ({"activation_encodings": {"y": [{"bitwidth": 32, "dtype": "float"}]},
                                "param_encodings": {}}, "give this file to qairt-quantizer"),
    "symmetric offset": ({"activation_encodings": {}, "param_encodings": {"b3": [
        {"bitwidth": 8, "scale": 0.1, "offset": 5, "is_symmetric": "True"}]}}, "symmetric 8-bit encoding needs"),
    "missing section": ({"activation_encodings": {}}, "'param_encodings' is required"),
    "param on activation": ({"activation_encodings": {}, "param_encodings": {"y": [{"bitwidth": 8, "min": 0,
                                                                                    "max": 1}]}},
                            "computed at run time"),
    "channel count": ({"activation_encodings": {}, "param_encodings": {"b3": [
        {"bitwidth": 8, "scale": 0.1, "offset": 0, "is_symmetric": "True"}] * 3}}, "no axis of that size"),
    "mixed channels": ({"activation_encodings": {}, "param_encodings": {"b3": [
        {"bitwidth": 8, "scale": 0.1, "offset": 0, "is_symmetric": "True"},
        {"bitwidth": 16, "scale": 0.1, "offset": 0, "is_symmetric": "True"}]}}, "disagree"),
    "per block": ({"version": "1.0.0", "activation_encodings": [], "param_encodings": [
        {"name": "b3", "bw": 8, "enc_type": "PER_BLOCK", "is_sym": True, "scale": [0.1], "offset": [0]}]},
                  "PER_BLOCK is not supported"),
    "offset without scale": ({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": "y", "bw": 8, "is_sym": False, "offset": [-3]}]}, "offset given without scale"),
    "duplicate": ({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": "y", "bw": 8, "is_sym": False, "scale": [0.1], "offset": [0]}] * 2}, "given twice"),
    "not json": ("{activation", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_overrides_are_one_line_errors_and_write_nothing(qdq, tmp_path, case):
    _, model, _, _ = qdq
    data, words = BAD[case]
    jf = tmp_path / "bad.json"
    jf.write_text(data if isinstance(data, str) else json.dumps(data))
    out = tmp_path / "bad.dlc"
    proc = helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", str(out), "--quantization_overrides", str(jf),
                            check=False)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert words in err[-1] and not any("ERROR" in line for line in err[:-1]), proc.stderr
    assert not out.exists()


def test_overrides_in_every_legacy_converter_parser():
    from snpe_tools.tools import onnx_to_dlc, pytorch_to_dlc, tensorflow_to_dlc, tflite_to_dlc

    for mod in (onnx_to_dlc, pytorch_to_dlc, tensorflow_to_dlc, tflite_to_dlc):
        text = mod.make_parser().format_help()
        assert "--quantization_overrides" in text and "--keep_quant_nodes" in text, mod.__name__


def test_quantizer_option_errors(qdq, tmp_path):
    d, _, dlc, _ = qdq
    cases = [
        ("snpe-dlc-quant", [f"--input_dlc={dlc}", "--float_fallback"], "needs --override_params"),
        ("snpe-dlc-quant", [f"--input_dlc={dlc}", "--override_params", "--float_fallback", f"--input_list={dlc}"],
         "mutually exclusive"),
        ("qairt-quantizer", ["--input_dlc", dlc, "--float_fallback", "--ignore_encodings"], "cannot be combined"),
        ("qairt-quantizer", ["--input_dlc", dlc], "one of --input_list or --float_fallback"),
    ]
    for tool, args, words in cases:
        proc = helpers.run_tool(tool, *args, f"--output_dlc={tmp_path / 'x.dlc'}", check=False)
        assert proc.returncode != 0 and words in proc.stderr.strip().splitlines()[-1], (tool, proc.stderr)
        assert "Traceback" not in proc.stderr and not (tmp_path / "x.dlc").exists()
    # a float DLC without encodings cannot fall back
    plain = str(tmp_path / "plain.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "float.onnx"), "-o", plain)
    proc = helpers.run_tool("qairt-quantizer", "--input_dlc", plain, "--float_fallback", "--output_dlc",
                            str(tmp_path / "x.dlc"), check=False)
    assert proc.returncode != 0 and "carries no encodings" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x.dlc").exists()


def test_qualcomms_qdq_dlc_quantizes_with_float_fallback(tmp_path):
    """Qualcomm's own float DLC with cached encodings (axis 0 on HWIO weights) quantizes from them.  Its
    graph input carries no encoding (Qualcomm's converter drops the input's Q/DQ pair), so the stem
    convolution cannot run fixed point: it runs float (float weights) and a Quantize gives its output
    the cached encoding; every later layer is fixed point."""
    src = REAL_DIR / "qdq_cnn.qairt225.dlc"
    if not src.exists():
        pytest.skip("golden qdq_cnn not found")
    shutil.copy(src, tmp_path / "qdq_cnn.dlc")
    out = str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-dlc-quant", f"--input_dlc={tmp_path / 'qdq_cnn.dlc'}", "--override_params",
                     "--float_fallback", f"--output_dlc={out}")
    assert violations(out) == []
    g = read_dlc(out).graph
    stem = g.tensors["ConvBnFusion_W_stem.weight_DequantizeLinear_Output"]
    assert np.dtype(stem.dtype) == np.float32 and stem.encoding is None
    assert [(op.inputs, op.outputs) for op in g.ops if op.type == "Quantize"] == \
        [(["stem/Relu_DequantizeLinear_Output_float"], ["stem/Relu_DequantizeLinear_Output"])]
    assert np.dtype(g.tensors["stem/Relu_DequantizeLinear_Output"].dtype) == np.uint8
    w = g.tensors["ConvBnFusion_W_block/conv1.weight_DequantizeLinear_Output"]
    assert np.dtype(w.dtype) == np.int8 and w.encoding.axis == 3
    assert helpers.mixed_operand_ops(g) == []
    x = np.fromfile(REAL_DIR / "qdq_cnn.input0.raw", np.float32)
    ref = np.fromfile(REAL_DIR / "qdq_cnn.output0.raw", np.float32)
    x.tofile(tmp_path / "in.raw")
    (tmp_path / "list.txt").write_text("in.raw\n")
    helpers.run_tool("snpe-net-run", "--container", out, "--input_list", "list.txt", "--output_dir", "out",
                     cwd=str(tmp_path))
    got = np.fromfile(tmp_path / "out" / "Result_0" / "logits.raw", np.float32)
    step = g.tensors["logits"].encoding.scale
    print(f"golden qdq_cnn quantized by float fallback: max error {np.max(np.abs(got - ref)) / step:.2f} steps")
    assert float(np.max(np.abs(got - ref))) <= 2 * step


def _first_layer_only(d, tmp_path, input_encoding: bool = True) -> str:
    """The float CNN converted with overrides on its first layer only (input, conv, relu, weights)."""
    w1 = numpy_helper.to_array(next(i for i in onnx.load(str(d / "float.onnx")).graph.initializer if i.name == "w1"))
    overrides = {
        "activation_encodings": {
            "x": [{"bitwidth": 8, "min": -4.0, "max": 4.0}],
            "c1": [{"bitwidth": 8, "min": -6.0, "max": 6.0}],
            "r1": [{"bitwidth": 8, "min": 0.0, "max": 6.0}]},
        "param_encodings": {
            "w1": [{"bitwidth": 8, "scale": float(np.abs(w1[k]).max()) / 127, "offset": 0, "is_symmetric": "True"}
                   for k in range(8)]}}
    if not input_encoding:
        del overrides["activation_encodings"]["x"]
    jf = tmp_path / "first.json"
    jf.write_text(json.dumps(overrides))
    dlc = str(tmp_path / "f.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "float.onnx"), "-o", dlc, "--quantization_overrides", str(jf))
    return dlc


def _first_layer_error(d, work, out: str, g) -> tuple[float, float]:
    """snpe-net-run of ``out`` against the float model on the reference input: (max error, output range)."""
    x, ref = _first_layer_reference(d)
    got = _net_run(work, out, [x], g)[0]
    return float(np.max(np.abs(got - ref))), float(np.ptp(ref))


def _first_layer_reference(d) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    sess = ort.InferenceSession(str(d / "float.onnx"), providers=["CPUExecutionProvider"])
    x = np.clip(rng.normal(0, 1, (1, 3, 16, 16)), -3.9, 3.9).astype(np.float32)
    return x, sess.run(None, {"x": x})[0].reshape(-1)


def test_float_fallback_keeps_ops_without_encodings_float(qdq, tmp_path):
    """Overrides on the first layer only: it runs fixed point, MaxPool takes its input's encoding,
    the rest stays float behind a Dequantize (weights included), and the output follows the float model."""
    d, _, _, samples = qdq
    dlc, out = _first_layer_only(d, tmp_path), str(tmp_path / "q.dlc")
    helpers.run_tool("qairt-quantizer", "--input_dlc", dlc, "--float_fallback", "--output_dlc", out)
    assert violations(out) == []
    g = read_dlc(out).graph
    kinds = {n: np.dtype(g.tensors[n].dtype).kind for n in ("x", "w1", "c1", "r1", "p1", "w2", "c2", "y")}
    assert kinds == {"x": "u", "w1": "i", "c1": "u", "r1": "u", "p1": "u", "w2": "f", "c2": "f", "y": "f"}, kinds
    assert g.tensors["p1"].encoding == g.tensors["r1"].encoding        # propagated through MaxPool
    deq = [op for op in g.ops if op.type == "Dequantize"]
    assert [op.inputs for op in deq] == [["p1"]] and g.tensors["b2"].encoding is None
    assert helpers.mixed_operand_ops(g) == [] and not [op for op in g.ops if op.type == "Quantize"]
    err, span = _first_layer_error(d, tmp_path, out, g)
    print(f"first layer fixed point, rest float: max error {err:.4f} (output range {span:.2f})")
    assert err < 0.05 * span


def test_float_fallback_op_with_float_input_runs_float_then_quantize(qdq, tmp_path):
    """Encodings on the first conv's output and weights but not on the graph input: the conv cannot run
    fixed point on a float input, so it runs float (float weights) and a Quantize gives c1 its given
    encoding; Relu and MaxPool run fixed point, the rest float as before."""
    d, _, _, _ = qdq
    dlc, out = _first_layer_only(d, tmp_path, input_encoding=False), str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-dlc-quant", f"--input_dlc={dlc}", "--override_params", "--float_fallback",
                     f"--output_dlc={out}")
    assert violations(out) == []
    g = read_dlc(out).graph
    kinds = {n: np.dtype(g.tensors[n].dtype).kind for n in ("x", "w1", "c1_float", "c1", "r1", "p1", "w2", "y")}
    assert kinds == {"x": "f", "w1": "f", "c1_float": "f", "c1": "u", "r1": "u", "p1": "u", "w2": "f", "y": "f"}
    assert [(op.inputs, op.outputs) for op in g.ops if op.type == "Quantize"] == [(["c1_float"], ["c1"])]
    assert g.tensors["c1"].encoding.min == pytest.approx(-6.0, abs=0.03) and helpers.mixed_operand_ops(g) == []
    err, span = _first_layer_error(d, tmp_path, out, g)
    print(f"float first conv + Quantize, fixed-point Relu/MaxPool, rest float: max error {err:.4f}")
    assert err < 0.05 * span


def test_keep_weights_quantized_under_float_ops(qdq, tmp_path):
    """qairt-quantizer --keep_weights_quantized: the ops that fall back to float keep fixed-point weights
    (8-bit, from the weights' own range) while their activations and bias are float - float16 with
    --float_bitwidth 16; the output stays within the weights' rounding of the all-float fallback."""
    d, _, _, _ = qdq
    dlc = _first_layer_only(d, tmp_path)
    outs = {k: str(tmp_path / f"{k}.dlc") for k in ("float", "kept", "kept16")}
    base = ["--input_dlc", dlc, "--float_fallback"]
    helpers.run_tool("qairt-quantizer", *base, "--output_dlc", outs["float"])
    helpers.run_tool("qairt-quantizer", *base, "--output_dlc", outs["kept"], "--keep_weights_quantized")
    helpers.run_tool("qairt-quantizer", *base, "--output_dlc", outs["kept16"], "--keep_weights_quantized",
                     "--float_bitwidth", "16")
    g = {k: read_dlc(v).graph for k, v in outs.items()}
    for k in ("kept", "kept16"):
        assert violations(outs[k]) == []
        w2, b2, c2 = (g[k].tensors[n] for n in ("w2", "b2", "c2"))
        assert np.dtype(w2.dtype) == np.uint8 and w2.encoding.bitwidth == 8, k
        assert b2.encoding is None and c2.encoding is None and helpers.mixed_operand_ops(g[k]) == [], k
        assert str(b2.dtype) == str(c2.dtype) == ("float16" if k == "kept16" else "float32"), k
    assert str(g["float"].tensors["w2"].dtype) == "float32"
    from snpe_tools.ops.fixed_point import dequantize
    w_float = np.asarray(g["float"].tensors["w2"].data, np.float64)
    w_kept = dequantize(g["kept"].tensors["w2"], g["kept"].tensors["w2"].data)
    assert 0 < np.max(np.abs(w_kept - w_float)) <= g["kept"].tensors["w2"].encoding.scale / 2 + 1e-9
    x, ref = _first_layer_reference(d)
    got = {}
    for k in outs:
        (tmp_path / k).mkdir()
        got[k] = _net_run(tmp_path / k, outs[k], [x], g[k])[0]
    diff = float(np.max(np.abs(got["kept"] - got["float"])))
    print(f"--keep_weights_quantized: max |kept - float weights| on the output {diff:.4f} (range {np.ptp(ref):.2f})")
    assert 0 < diff < 0.02 * float(np.ptp(ref))
    assert float(np.max(np.abs(got["kept16"] - got["kept"]))) < 0.01 * float(np.ptp(ref))


@pytest.mark.parametrize("tool", ["qairt-quantizer", "snpe-dlc-quant"])
def test_float_bitwidth_16_writes_the_float_part_as_float16(qdq, tool, tmp_path):
    """--float_bitwidth 16 in the quantizers: the ops that fall back to float run in float16 (activations,
    weights and, unless --float_bias_bitwidth 32, biases), the fixed-point part is unchanged, and the
    output stays within float16 rounding of the float32 fallback's."""
    d, _, _, _ = qdq
    dlc = _first_layer_only(d, tmp_path)
    out32, out16 = str(tmp_path / "q32.dlc"), str(tmp_path / "q16.dlc")
    if tool == "qairt-quantizer":
        helpers.run_tool(tool, "--input_dlc", dlc, "--float_fallback", "--output_dlc", out32)
        helpers.run_tool(tool, "--input_dlc", dlc, "--float_fallback", "--output_dlc", out16, "--float_bitwidth", "16")
        bias = "float16"
    else:
        base = [f"--input_dlc={dlc}", "--override_params", "--float_fallback"]
        helpers.run_tool(tool, *base, f"--output_dlc={out32}")
        helpers.run_tool(tool, *base, f"--output_dlc={out16}", "--float_bitwidth=16", "--float_bias_bitwidth=32")
        bias = "float32"
    assert violations(out16) == []
    g32, g16 = read_dlc(out32).graph, read_dlc(out16).graph
    deq = next(op.outputs[0] for op in g16.ops if op.type == "Dequantize")
    assert {n: str(g16.tensors[n].dtype) for n in ("x", "w1", "p1", deq, "w2", "b2", "c2", "y")} == \
        {"x": "uint8", "w1": "int8", "p1": "uint8", deq: "float16", "w2": "float16", "b2": bias, "c2": "float16",
         "y": "float16"}
    for name in ("x", "w1", "c1", "r1", "p1"):                      # the fixed-point part is untouched
        assert g16.tensors[name].encoding == g32.tensors[name].encoding, name
    assert np.array_equal(g16.tensors["w2"].data, g32.tensors["w2"].data.astype(np.float16))
    x, ref = _first_layer_reference(d)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    got32, got16 = _net_run(tmp_path / "a", out32, [x], g32)[0], _net_run(tmp_path / "b", out16, [x], g16)[0]
    diff = float(np.max(np.abs(got16 - got32)))
    print(f"{tool} --float_bitwidth 16: max |float16 - float32 fallback| {diff:.5f} (output range {np.ptp(ref):.2f})")
    assert 0 < diff < 2e-3 * float(np.ptp(ref)) + 4 * float(np.spacing(np.float16(np.abs(ref).max())))
    # float16 biases of float32 ops are refused as the converters refuse them: one line, no DLC
    never = tmp_path / "never.dlc"
    flags = (["--float_bias_bitwidth", "16"] if tool == "qairt-quantizer" else ["--float_bias_bitwidth=16"])
    args = (["--input_dlc", dlc, "--float_fallback", "--output_dlc", str(never)] if tool == "qairt-quantizer"
            else [f"--input_dlc={dlc}", "--override_params", "--float_fallback", f"--output_dlc={never}"])
    proc = helpers.run_tool(tool, *args, *flags, check=False)
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(err) == 1 and "--float_bitwidth" in err[0], proc.stderr
    assert not never.exists()


def test_qairt_quantizer_overrides_float_and_4_bit(qdq, tmp_path):
    """qairt-quantizer --quantization_overrides: a float 32-bit entry keeps its op float (weights and
    bias too, a Dequantize in front), a 4-bit per-channel weight entry is kept exactly."""
    d, _, _, samples = qdq
    w1 = numpy_helper.to_array(next(i for i in onnx.load(str(d / "float.onnx")).graph.initializer if i.name == "w1"))
    scales = [float(np.abs(w1[k]).max()) / 7 for k in range(8)]
    jf = tmp_path / "o.json"
    jf.write_text(json.dumps({"version": "1.0.0", "activation_encodings": [
        {"name": "c2", "bw": 32, "dtype": "FLOAT"}], "param_encodings": [
        {"name": "w1", "bw": 4, "dtype": "INT", "enc_type": "PER_CHANNEL", "is_sym": True, "scale": scales,
         "offset": [-8] * 8}]}))
    dlc, out = str(tmp_path / "f.dlc"), str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "float.onnx"), "-o", dlc)
    helpers.run_tool("qairt-quantizer", "--input_dlc", dlc, "--input_list", _input_list(tmp_path, samples, "NCHW"),
                     "--output_dlc", out, "--quantization_overrides", str(jf))
    assert violations(out) == []
    g = read_dlc(out).graph
    assert {n: np.dtype(g.tensors[n].dtype).kind for n in ("p1", "w2", "b2", "c2", "a1")} == \
        {"p1": "u", "w2": "f", "b2": "f", "c2": "f", "a1": "u"}
    w = g.tensors["w1"]
    assert w.encoding.bitwidth == 4 and w.encoding.axis == 3 and [c[0] for c in w.encoding.channels] == \
        pytest.approx(scales)
    assert int(np.max(w.data)) <= 7 and int(np.min(w.data)) >= -8
    assert [op.inputs[0] for op in g.ops if op.type == "Dequantize"] == ["p1"]
    sess = ort.InferenceSession(str(d / "float.onnx"), providers=["CPUExecutionProvider"])
    got = _net_run(tmp_path, out, samples[:1], g)[0]
    ref = sess.run(None, {"x": samples[0]})[0].reshape(-1)
    assert float(np.max(np.abs(got - ref))) < 0.1 * float(np.ptp(ref))


def test_float16_override_is_mixed_precision(qdq, tmp_path):
    """A dtype float 16-bit override: the converter makes the tensor (and its op's weights and bias)
    float16; the quantizer keeps it float16 and quantizes the rest, with a Dequantize in front."""
    d, _, _, samples = qdq
    jf = tmp_path / "f16.json"
    jf.write_text(json.dumps({"activation_encodings": {"c2": [{"bitwidth": 16, "dtype": "float"}]},
                              "param_encodings": {}}))
    dlc, out = str(tmp_path / "f16.dlc"), str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "float.onnx"), "-o", dlc, "--quantization_overrides", str(jf))
    g = read_dlc(dlc).graph
    assert {n: str(g.tensors[n].dtype) for n in ("p1", "w2", "b2", "c2", "a1")} == \
        {"p1": "float32", "w2": "float16", "b2": "float16", "c2": "float16", "a1": "float32"}
    sess = ort.InferenceSession(str(d / "float.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": samples[0]})[0]
    assert float(np.max(np.abs(helpers.run_dlc(dlc, {"x": samples[0]})["y"] - ref))) < 2e-3
    helpers.run_tool("qairt-quantizer", "--input_dlc", dlc, "--input_list", _input_list(tmp_path, samples, "NCHW"),
                     "--output_dlc", out)
    assert violations(out) == []
    q = read_dlc(out).graph
    assert {n: str(q.tensors[n].dtype) for n in ("x", "p1", "w2", "b2", "c2", "a1", "y")} == \
        {"x": "uint8", "p1": "uint8", "w2": "float16", "b2": "float16", "c2": "float16", "a1": "uint8", "y": "uint8"}
    assert [op.inputs for op in q.ops if op.type == "Dequantize"] == [["p1"]]
    # the op after the float16 one reads float16 and writes the fixed-point a1: it runs float16 and a
    # Quantize writes a1
    assert [(op.inputs, op.outputs) for op in q.ops if op.type == "Quantize"] == [(["a1_float"], ["a1"])]
    assert str(q.tensors["a1_float"].dtype) == "float16" and helpers.mixed_operand_ops(q) == []
    got = _net_run(tmp_path, out, samples[:1], q)[0]
    assert float(np.max(np.abs(got - ref.reshape(-1)))) < 0.05 * float(np.ptp(ref))


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
@pytest.mark.parametrize("name", ["transformer_encoder", "shape_ops", "cnn_basic"])
def test_golden_models_quantized_by_onnxruntime_convert_and_fall_back(name, fmt, tmp_path):
    """Transformer (LayerNorm, MatMul, Softmax, QLinearSoftmax/QLinearMul), Split/Concat (QLinearConcat),
    CNN + Softmax: every QDQ/QOperator tensor folds, float fallback quantizes from the encodings, and the
    result follows onnxruntime: within one output step of the QDQ graph as written (measured: 0), and
    within 4 steps of onnxruntime's integer QOperator kernels (QLinearSoftmax's lookup table and the
    fixed-point QLinearAdd/Mul round differently from the float-then-requantize QNN semantics; measured
    4 steps on the transformer, 1 on the CNN, 0 on Split/Concat)."""
    src = REAL_DIR / f"{name}.onnx"
    if not src.exists():
        pytest.skip("golden models not found")
    from snpe_tools.runtime import execute
    from snpe_tools.ops.fixed_point import dequantize, is_quantized, quantize

    m = onnx.load(str(src))
    consts = {i.name for i in m.graph.initializer}
    ins = [(i.name, [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]) for i in m.graph.input
           if i.name not in consts]
    rng = np.random.default_rng(0)
    calib = [{n: rng.normal(0, 1, s).astype(np.float32) for n, s in ins} for _ in range(8)]
    model = str(tmp_path / "q.onnx")
    _ort_quantize(str(src), model, calib, fmt)
    dlc, out = str(tmp_path / "f.dlc"), str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", dlc)
    assert not {op.type for op in read_dlc(dlc).graph.ops} & {"Quantize", "Dequantize", "Cast", "ElementWiseRound"}
    helpers.run_tool("snpe-dlc-quant", f"--input_dlc={dlc}", "--override_params", "--float_fallback",
                     f"--output_dlc={out}")
    assert violations(out) == []
    so = ort.SessionOptions()
    if fmt == "QDQ":                 # the QDQ graph as written, not onnxruntime's integer rewrite of it
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    g = read_dlc(out).graph
    worst = 0.0
    for _ in range(3):
        feeds = {n: rng.normal(0, 1, s).astype(np.float32) for n, s in ins}
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        dl = {n: helpers.to_dlc_layout(feeds[n], g.tensors[n].axis_format) for n in g.inputs}
        res = execute(g, {n: quantize(g.tensors[n], v) if is_quantized(g.tensors[n]) else v for n, v in dl.items()})
        for o, r in ref.items():
            t = g.tensors[o]
            if not is_quantized(t):
                continue
            y = helpers.from_dlc_layout(np.asarray(dequantize(t, res[o]), np.float32), t.axis_format).reshape(r.shape)
            worst = max(worst, float(np.max(np.abs(y - r))) / t.encoding.scale)
    print(f"{name} {fmt}: {worst:.2f} output steps from onnxruntime")
    assert worst <= (1.001 if fmt == "QDQ" else 4.001)

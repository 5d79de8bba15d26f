"""snpe-dlc-quantize / snpe-dlc-quant / qairt-quantizer: SNPE's range rules, the three CLIs end to end
(ONNX -> snpe-onnx-to-dlc -> quantizer -> snpe-net-run), encodings in the written DLC, accuracy, and
one-line refusals of what is not implemented.

Accuracy is measured on the calibration inputs themselves, so that only quantization noise (not
clipping of values outside the calibrated ranges) is compared.
"""
from __future__ import annotations

import os
import re
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import dlc_conformance
import helpers
from snpe_tools.dlc import read_dlc
from snpe_tools.ir.graph import Graph
from snpe_tools.quantization import calibrate
from snpe_tools.ir.encodings import (QNN_MIN_RANGE, bias_encoding, quantize_array, symmetric_encoding,
                                     symmetric_per_channel, tf_encoding)
from snpe_tools.runtime import execute
from snpe_tools.tools.common import run_main
from snpe_tools.tools.dlc_quantize import qairt_main, quant_main

N_CALIB = 10
TOOLS = ("snpe-dlc-quantize", "snpe-dlc-quant", "qairt-quantizer")


# ---- SNPE's range rules ------------------------------------------------------------------------------
def test_worked_example_symmetric_range():
    enc = tf_encoding(-5.1, 5.1, 8)
    assert enc.offset == -128                    # zero at q = 128
    assert enc.min == pytest.approx(-5.12, abs=1e-6) and enc.max == pytest.approx(5.08, abs=1e-6)
    assert enc.scale == pytest.approx(0.04, abs=1e-9)


def test_worked_example_asymmetric_range():
    enc = tf_encoding(-1.8, 0.5, 8)
    assert enc.min == pytest.approx(-1.803922, abs=1e-6) and enc.max == pytest.approx(0.496078, abs=1e-6)
    assert enc.scale == pytest.approx(0.009020, abs=1e-6) and enc.offset == -200
    q = quantize_array(enc, np.array([-1.8, -1.0, 0.0, 0.5]))
    assert q.dtype == np.uint8 and q.tolist() == [0, 89, 200, 255]


def test_range_rules():
    pos = tf_encoding(0.3, 2.0, 8)               # all-positive data: min becomes 0
    assert pos.min == 0.0 and pos.offset == 0 and pos.max == pytest.approx(2.0)
    neg = tf_encoding(-3.0, -1.0, 8)             # all-negative data: max becomes 0
    assert neg.max == pytest.approx(0.0, abs=1e-12) and neg.offset == -255
    flat = tf_encoding(0.0, 0.0, 8)              # minimum range: SNPE 0.01, QNN 0.0001
    assert flat.max == pytest.approx(0.01) and tf_encoding(0, 0, 8, QNN_MIN_RANGE).max == pytest.approx(1e-4)
    for mn, mx in ((-0.37, 2.9), (-7.3, 0.2), (-1.0, 1e-3)):   # zero exactly representable
        enc = tf_encoding(mn, mx, 8)
        assert -255 <= enc.offset <= 0 and enc.min <= mn + enc.scale and enc.max >= mx - enc.scale
        assert quantize_array(enc, np.zeros(1))[0] == -enc.offset
    e16 = tf_encoding(-1.8, 0.5, 16)
    assert e16.scale == pytest.approx(2.3 / 65535) and quantize_array(e16, np.zeros(1)).dtype == np.uint16


def test_symmetric_and_bias_encodings():
    sym = symmetric_encoding(0.5, 8)             # Qualcomm's symmetric weights: offset 0, [-128, 127] steps
    assert sym.offset == 0 and sym.scale == pytest.approx(0.5 / 127)
    assert sym.min == pytest.approx(-128 * sym.scale) and sym.max == pytest.approx(0.5)
    assert quantize_array(sym, np.array([-0.5, 0.5])).tolist() == [-127, 127]
    w = np.zeros((3, 3, 2, 4))
    w[..., 1] = 0.1
    w[..., 3] = -2.0
    pc = symmetric_per_channel(w, 3, 8)
    assert pc.axis == 3 and len(pc.channels) == 4 and all(c[1] == 0 for c in pc.channels)
    assert pc.channels[1][0] == pytest.approx(0.1 / 127) and pc.channels[3][0] == pytest.approx(2.0 / 127)
    b = bias_encoding(np.array([1e-4, 2e-4]), 32, per_channel=True)
    assert b.axis == 0 and quantize_array(b, np.array([1.0, 1.0])).tolist() == [10000, 5000]


def test_calibration_is_streaming_min_max(tmp_path):
    """The statistics equal the min/max over all inputs, computed from a generator (no list kept)."""
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])]),
        opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(tmp_path / "m.onnx"))
    helpers.convert_in_process(str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc"))
    graph = read_dlc(str(tmp_path / "m.dlc")).graph
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((1, 6)).astype(np.float32) for _ in range(7)]
    stats = calibrate(graph, ({graph.inputs[0]: x} for x in xs), len(xs), progress=False)
    allx = np.concatenate(xs)
    assert stats[graph.inputs[0]].min == pytest.approx(allx.min()) and stats[graph.inputs[0]].max == pytest.approx(
        allx.max())
    out = graph.outputs[0]
    assert stats[out].min == pytest.approx(-np.maximum(allx, 0).max()) and stats[out].max == 0.0
    assert all(s.count == len(xs) for s in stats.values())


# ---- models and data --------------------------------------------------------------------------------
def spread_cnn() -> onnx.ModelProto:
    """Conv -> Relu -> Conv -> Relu -> MaxPool -> Conv (+ residual Add): output channels whose weight
    magnitudes differ up to 100x, so per-channel weights matter; a feature-map output for stable SQNR."""
    rng = np.random.default_rng(7)

    def weight(co, ci, k):
        w = rng.standard_normal((co, ci, k, k)).astype(np.float32) / np.sqrt(ci * k * k)
        return (w * np.geomspace(0.02, 2.0, co, dtype=np.float32)[:, None, None, None]).astype(np.float32)

    inits = [numpy_helper.from_array(weight(8, 3, 3), "w1"),
             numpy_helper.from_array(rng.uniform(-0.2, 0.2, 8).astype(np.float32), "b1"),
             numpy_helper.from_array(weight(8, 8, 3), "w2"),
             numpy_helper.from_array(rng.uniform(-0.2, 0.2, 8).astype(np.float32), "b2"),
             numpy_helper.from_array(weight(8, 8, 1), "w3"),
             numpy_helper.from_array(rng.uniform(-0.2, 0.2, 8).astype(np.float32), "b3")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Conv", ["p", "w3", "b3"], ["c3"], name="conv3"),
             helper.make_node("Add", ["c3", "p"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "spread", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def _calibration_set(folder, dlc: str, n: int = N_CALIB) -> str:
    graph = read_dlc(dlc).graph
    shape = graph.tensors[graph.inputs[0]].shape
    rng = np.random.default_rng(11)
    lines = []
    for i in range(n):
        path = folder / f"calib_{i}.raw"
        rng.uniform(-1.0, 1.0, shape).astype(np.float32).tofile(path)
        lines.append(str(path))
    lst = folder / "calib_list.txt"
    lst.write_text("\n".join(lines) + "\n")
    return str(lst)


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    d = tmp_path_factory.mktemp("quant_resnet")
    dlc = str(d / "resnet.dlc")
    helpers.convert_in_process(os.path.join(helpers.ROOT, "models", "resnet_small.onnx"), dlc)
    lst = _calibration_set(d, dlc)
    out = d / "float_out"
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", lst, "--output_dir", str(out))
    return {"dir": d, "dlc": dlc, "list": lst, "float_out": out}


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    d = tmp_path_factory.mktemp("quant_spread")
    onnx.save(spread_cnn(), str(d / "spread.onnx"))
    dlc = str(d / "spread.dlc")
    helpers.convert_in_process(str(d / "spread.onnx"), dlc)
    lst = _calibration_set(d, dlc)
    return {"dir": d, "dlc": dlc, "list": lst}


def _outputs(folder) -> list[np.ndarray]:
    res = sorted(os.listdir(folder), key=lambda s: int(s.split("_")[1]))
    outs = []
    for r in res:
        files = sorted(os.listdir(os.path.join(folder, r)))
        outs.append(np.concatenate([np.fromfile(os.path.join(folder, r, f), np.float32) for f in files]))
    return outs


def _cosines(a: list[np.ndarray], b: list[np.ndarray]) -> list[float]:
    return [float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)) for x, y in zip(a, b)]


def _sqnr(graph_f: Graph, graph_q: Graph, lst: str) -> float:
    """Mean output SQNR (dB) of the quantized graph against the float graph over the input list."""
    from snpe_tools.ops.fixed_point import dequantize, is_quantized, quantize

    vals = []
    for line in open(lst).read().split():
        x = np.fromfile(line, np.float32).reshape(graph_f.tensors[graph_f.inputs[0]].shape)
        ref = execute(graph_f, {graph_f.inputs[0]: x})[graph_f.outputs[0]].astype(np.float64)
        t = graph_q.tensors[graph_q.inputs[0]]
        o = graph_q.tensors[graph_q.outputs[0]]
        got = execute(graph_q, {graph_q.inputs[0]: quantize(t, x) if is_quantized(t) else x})[graph_q.outputs[0]]
        got = dequantize(o, got) if is_quantized(o) else got
        vals.append(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - got) ** 2)))
    return float(np.mean(vals))


def _metadata(path: str) -> dict[str, str]:
    text = zipfile.ZipFile(path).read("dlc.metadata").decode()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


# ---- the three CLIs end to end ------------------------------------------------------------------------
@pytest.mark.parametrize("tool", TOOLS)
def test_cli_quantizes_and_net_run_agrees(resnet, tool, tmp_path):
    out = str(tmp_path / "q.dlc")
    if tool == "qairt-quantizer":
        args = ["--input_dlc", resnet["dlc"], "--input_list", resnet["list"], "--output_dlc", out]
    else:       # boost style: --opt=value and --opt value both work
        args = [f"--input_dlc={resnet['dlc']}", "--input_list", resnet["list"], f"--output_dlc={out}"]
    proc = helpers.run_tool(tool, *args)
    assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    assert os.path.isfile(out)
    assert dlc_conformance.violations(out) == []
    meta = _metadata(out)
    assert list(meta) == dlc_conformance.METADATA_KEYS
    assert meta["quantizer-command"].startswith(tool + " ")
    assert meta["converter-command"].startswith("snpe-onnx-to-dlc")
    if tool != "qairt-quantizer":
        assert f"input_dlc=[{resnet['dlc']}]" in meta["quantizer-command"]
        assert "help=false version=false verbose=false" in meta["quantizer-command"]
    else:       # qairt records every option except the input and output DLC
        assert "input_dlc" not in meta["quantizer-command"] and "output_dlc" not in meta["quantizer-command"]
        assert "input_list=" in meta["quantizer-command"] and "act_bitwidth=8" in meta["quantizer-command"]
    qout = tmp_path / "qout"
    helpers.run_tool("snpe-net-run", "--container", out, "--input_list", resnet["list"], "--output_dir", str(qout))
    cos = _cosines(_outputs(resnet["float_out"]), _outputs(qout))
    assert len(cos) == N_CALIB and min(cos) >= 0.99, cos


def test_default_output_name_and_encodings(resnet):
    """--output_dlc defaults to <input>_quantized.dlc; uint8 activations and inputs (offset <= 0),
    uint8 weights and 8-bit biases by default (SNPE's defaults)."""
    proc = helpers.run_tool("snpe-dlc-quant", f"--input_dlc={resnet['dlc']}", f"--input_list={resnet['list']}")
    out = resnet["dlc"][:-4] + "_quantized.dlc"
    assert os.path.isfile(out), proc.stderr
    g = read_dlc(out).graph
    inp = g.tensors[g.inputs[0]]
    assert inp.dtype == np.uint8 and inp.encoding is not None
    conv = next(op for op in g.ops if op.type == "Conv2d")
    w, b = (g.tensors[n] for n in conv.inputs[1:3])
    assert w.dtype == np.uint8 and w.encoding.axis is None and w.encoding.bitwidth == 8
    assert b.dtype == np.uint8 and b.encoding.bitwidth == 8
    for op in g.ops:
        for name in op.outputs:
            t = g.tensors[name]
            assert t.dtype == np.uint8 and t.encoding.offset <= 0 and t.encoding.bitwidth == 8, name


def test_per_channel_32bit_bias_encodings(spread, tmp_path):
    out = str(tmp_path / "pc.dlc")
    assert run_main(quant_main, ["--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc", out,
                                 "--use_per_channel_quantization", "--bias_bitwidth=32"]) == 0
    assert dlc_conformance.violations(out) == []
    g = read_dlc(out).graph
    for op in (op for op in g.ops if op.type == "Conv2d"):
        x, w, b = (g.tensors[n] for n in op.inputs[:3])
        assert w.dtype == np.int8 and w.encoding.axis == 3 and len(w.encoding.channels) == w.shape[3]
        assert all(c[1] == 0 for c in w.encoding.channels)
        assert b.dtype == np.int32 and b.encoding.axis == 0 and b.encoding.bitwidth == 32
        expect = np.float32(x.encoding.scale) * np.asarray([c[0] for c in w.encoding.channels], np.float32)
        np.testing.assert_allclose([c[0] for c in b.encoding.channels], expect, rtol=1e-6)


def test_per_channel_not_worse_than_per_tensor(spread, tmp_path):
    graph_f = read_dlc(spread["dlc"]).graph
    sq = {}
    for name, extra in (("tensor", []), ("tensor_sym", ["--param_quantizer=symmetric"]),
                        ("channel", ["--use_per_channel_quantization"])):
        out = str(tmp_path / f"{name}.dlc")
        assert run_main(quant_main, ["--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc",
                                     out, "--bias_bitwidth", "32", *extra]) == 0
        sq[name] = _sqnr(graph_f, read_dlc(out).graph, spread["list"])
    assert sq["channel"] >= sq["tensor"] and sq["channel"] >= sq["tensor_sym"], sq


def test_restrict_quantization_steps(spread, tmp_path):
    """--restrict_quantization_steps: symmetric weights use only the steps [MIN, MAX] (each channel's
    max|w| lands on min(-MIN, MAX) steps); the bit width's own steps change nothing; biases and
    activations are untouched; bad values and asymmetric-only weights are one-line errors."""
    def quant(name, *extra, tool=quant_main, sym=("--use_per_channel_quantization",)):
        out = str(tmp_path / f"{name}.dlc")
        args = ["--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc", out, *sym, *extra]
        assert run_main(tool, args) == 0
        assert dlc_conformance.violations(out) == []
        return read_dlc(out).graph

    plain = quant("plain", "--bias_bitwidth=32")
    full = quant("full", "--bias_bitwidth=32", "--restrict_quantization_steps=-0x80,0x7F")
    narrow = quant("narrow", "--bias_bitwidth=32", "--restrict_quantization_steps=-0x40,0x3F")
    for name in ("w1", "w2", "w3"):
        p, f, n = plain.tensors[name], full.tensors[name], narrow.tensors[name]
        assert f.encoding == p.encoding and np.array_equal(f.data, p.data), name
        q = n.data.reshape(-1, n.shape[3])                                  # HWIO: channels last
        assert q.min() >= -64 and q.max() <= 63 and np.all(np.abs(q).max(0) == 63), name
        w = np.asarray(read_dlc(spread["dlc"]).graph.tensors[name].data, np.float64).reshape(-1, n.shape[3])
        scales = np.asarray([c[0] for c in n.encoding.channels])
        np.testing.assert_allclose(scales, np.abs(w).max(0) / 63, rtol=1e-6)
        assert [c[2] for c in n.encoding.channels] == pytest.approx(list(-64 * scales))
        assert [c[3] for c in n.encoding.channels] == pytest.approx(list(63 * scales))
        assert np.max(np.abs(q * scales - w)) <= 0.5 * scales.max() * (1 + 1e-6)     # still round to nearest
    for name in ("x", "c1", "r1", "y"):                                      # activations as before
        assert narrow.tensors[name].encoding == plain.tensors[name].encoding, name
    b, w = narrow.tensors["b1"].encoding, narrow.tensors["w1"].encoding      # 32-bit bias: input x weight scale
    np.testing.assert_allclose([c[0] for c in b.channels],
                               narrow.tensors["x"].encoding.scale * np.asarray([c[0] for c in w.channels]), rtol=1e-6)
    # qairt's 'MIN MAX' form on per-tensor symmetric weights: -128 never used
    sym = quant("qairt", "--restrict_quantization_steps", "-0x7F 0x7F", tool=qairt_main,
                sym=("--param_quantizer_schema", "symmetric"))
    for name in ("w1", "w2", "w3"):
        t = sym.tensors[name]
        assert t.dtype == np.int8 and t.data.min() >= -127 and t.encoding.min == pytest.approx(-127 * t.encoding.scale)
    # one-line errors, no DLC
    never = tmp_path / "never.dlc"
    for extra, words in ((["--restrict_quantization_steps=0x10"], "two integers"),
                         (["--restrict_quantization_steps=-0x80,zz"], "two integers"),
                         (["--restrict_quantization_steps=-0x81,0x7F", "--use_per_channel_quantization"],
                          "MIN must be in [-128, -1]"),
                         (["--restrict_quantization_steps=-0x80,0x7F"], "symmetric weights only")):
        proc = helpers.run_tool("snpe-dlc-quant", "--input_dlc", spread["dlc"], "--input_list", spread["list"],
                                "--output_dlc", str(never), *extra, check=False)
        assert words in _one_line_error(proc), (extra, proc.stderr)
        assert not never.exists()


def test_preserve_io_datatype_keeps_float_io(spread, tmp_path):
    """qairt-quantizer --preserve_io_datatype: the graph input/output stay float32 under their names with a
    Quantize behind the input and a Dequantize in front of the output; the fixed-point graph between them
    is the same, so the output equals the plain quantized DLC's dequantized output exactly."""
    from snpe_tools.ops.fixed_point import dequantize, quantize
    from snpe_tools.runtime import execute

    def quant(name, *extra):
        out = str(tmp_path / f"{name}.dlc")
        assert run_main(qairt_main, ["-i", spread["dlc"], "-l", spread["list"], "-o", out, *extra]) == 0
        assert dlc_conformance.violations(out) == []
        return read_dlc(out).graph

    plain, both, one = quant("plain"), quant("both", "--preserve_io_datatype"), quant("one", "--preserve_io_datatype", "y")
    assert (plain.inputs, plain.outputs) == (both.inputs, both.outputs) == (["x"], ["y"])
    assert [str(both.tensors[n].dtype) for n in ("x", "y", "x_quantized", "y_quantized")] == \
        ["float32", "float32", "uint8", "uint8"]
    assert both.tensors["x"].encoding is None and both.tensors["y"].encoding is None
    assert both.tensors["x_quantized"].encoding == plain.tensors["x"].encoding
    assert both.tensors["y_quantized"].encoding == plain.tensors["y"].encoding
    assert (both.ops[0].type, both.ops[0].inputs, both.ops[-1].type, both.ops[-1].outputs) == \
        ("Quantize", ["x"], "Dequantize", ["y"])
    assert str(one.tensors["x"].dtype) == "uint8" and str(one.tensors["y"].dtype) == "float32"
    x = np.fromfile(open(spread["list"]).read().split()[0], np.float32).reshape(plain.tensors["x"].shape)
    ref = dequantize(plain.tensors["y"], execute(plain, {"x": quantize(plain.tensors["x"], x)})["y"])
    got = execute(both, {"x": x})["y"]
    assert got.dtype == np.float32 and np.array_equal(got, np.asarray(ref, np.float32))
    proc = helpers.run_tool("qairt-quantizer", "-i", spread["dlc"], "-l", spread["list"], "-o",
                            str(tmp_path / "never.dlc"), "--preserve_io_datatype", "yy", check=False)
    assert "yy: not an input or output" in _one_line_error(proc) and not (tmp_path / "never.dlc").exists()


def test_opaque_input_feeds_float_ops(spread, tmp_path, monkeypatch):
    """An input of type ``opaque`` (which only 1.x DLCs record: 2.x files keep no input type, so the reader is
    patched here to report one) stays float when quantizing; the conv reading it then runs float (float
    weights) and a Quantize gives its output the calibrated encoding, so no op mixes float and fixed-point
    operands; the rest of the graph is fixed point and the output follows the float model."""
    import snpe_tools.tools.dlc_quantize as dq
    from snpe_tools.ir.graph import InputInfo
    from snpe_tools.runtime import execute

    def opaque_reader(path, *a, **k):
        dlc = read_dlc(path, *a, **k)
        dlc.graph.input_info["x"] = InputInfo("opaque")
        return dlc

    monkeypatch.setattr(dq, "read_dlc", opaque_reader)
    out = str(tmp_path / "q.dlc")
    assert run_main(quant_main, ["--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc",
                                 out]) == 0
    assert dlc_conformance.violations(out) == []
    g = read_dlc(out).graph
    assert {n: np.dtype(g.tensors[n].dtype).kind for n in ("x", "w1", "c1", "r1", "w2", "y")} == \
        {"x": "f", "w1": "f", "c1": "u", "r1": "u", "w2": "u", "y": "u"}
    quantize_ops = [(op.inputs, op.outputs) for op in g.ops if op.type == "Quantize"]
    assert len(quantize_ops) == 1 and quantize_ops[0][1] == ["c1"]
    assert helpers.mixed_operand_ops(g) == []
    f = read_dlc(spread["dlc"]).graph
    x = np.fromfile(open(spread["list"]).read().split()[0], np.float32).reshape(f.tensors["x"].shape)
    from snpe_tools.ops.fixed_point import dequantize
    got = dequantize(g.tensors["y"], execute(g, {"x": x})["y"])
    ref = execute(f, {"x": x})["y"]
    assert np.max(np.abs(got - ref)) < 0.05 * np.ptp(ref)


def test_16bit_activations_closer_than_8bit(spread, tmp_path):
    graph_f = read_dlc(spread["dlc"]).graph
    sq = {}
    for bw in ("8", "16"):
        out = str(tmp_path / f"a{bw}.dlc")
        assert run_main(quant_main, ["--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc",
                                     out, "--act_bitwidth", bw, "--bias_bitwidth", "32",
                                     "--use_per_channel_quantization"]) == 0
        g = read_dlc(out).graph
        assert g.tensors[g.outputs[0]].dtype == (np.uint16 if bw == "16" else np.uint8)
        sq[bw] = _sqnr(graph_f, g, spread["list"])
    assert sq["16"] > sq["8"] + 3.0, sq


def test_deprecated_spellings_warn_and_work(spread, tmp_path, capsys):
    out = str(tmp_path / "dep.dlc")
    assert run_main(quant_main, ["--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc", out,
                                 "--axis_quant", "--use_symmetric_quantize_weights", "--bitwidth=8"]) == 0
    err = capsys.readouterr().err
    assert "--axis_quant is deprecated" in err and "--use_symmetric_quantize_weights is deprecated" in err
    assert "--bitwidth is deprecated" in err
    w = read_dlc(out).graph.tensors["w1"]
    assert w.encoding.axis == 3


def test_qairt_dump_encoding_json(spread, tmp_path):
    import json

    out = str(tmp_path / "qq.dlc")
    assert run_main(qairt_main, ["-i", spread["dlc"], "-l", spread["list"], "-o", out, "--dump_encoding_json",
                                 "--use_per_channel_quantization", "--bias_bitwidth", "32"]) == 0
    doc = json.load(open(str(tmp_path / "qq_encoding.json")))
    assert set(doc) >= {"activation_encodings", "param_encodings"}
    assert len(doc["param_encodings"]["w1"]) == 8 and doc["param_encodings"]["w1"][0]["is_symmetric"] == "True"
    assert doc["activation_encodings"]["y"][0]["offset"] <= 0


def test_enable_htp_warns_once_and_succeeds(resnet, tmp_path):
    out = str(tmp_path / "htp.dlc")
    proc = helpers.run_tool("snpe-dlc-quantize", "--input_dlc", resnet["dlc"], "--input_list", resnet["list"],
                            "--output_dlc", out, "--enable_htp", "--htp_socs", "sm8750")
    assert proc.returncode == 0 and os.path.isfile(out)
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert len(warnings) == 1 and "HTP cache" in warnings[0] and "sm8750" in warnings[0], proc.stderr
    assert "enable_htp=true" in _metadata(out)["quantizer-command"]
    # snpe-dlc-quant has no HTP options (graph preparation is a separate 2.x tool)
    bad = helpers.run_tool("snpe-dlc-quant", "--input_dlc", resnet["dlc"], "--input_list", resnet["list"],
                           "--output_dlc", str(tmp_path / "x.dlc"), "--enable_htp", check=False)
    assert bad.returncode == 2 and "--enable_htp" in bad.stderr and not os.path.exists(tmp_path / "x.dlc")


def test_snpe_dlc_info_prints_encodings(resnet, tmp_path):
    out = str(tmp_path / "info.dlc")
    helpers.run_tool("snpe-dlc-quant", "--input_dlc", resnet["dlc"], "--input_list", resnet["list"], "--output_dlc",
                     out, "--use_per_channel_quantization", "--bias_bitwidth", "32")
    info = helpers.run_tool("snpe-dlc-info", "-i", out, "--display_all_encodings").stdout
    assert re.search(r"encoding:  bitwidth 8, min -?\d+\.\d{12}, max \d+\.\d{12}, scale \d+\.\d{12}, offset", info)
    assert "encoding:  axis-quant: axis: 3, num_elements: " in info and "bitwidth 32" in info
    assert "uFxp_8" in info and "sFxp_8" in info and "sFxp_32" in info
    assert "Quantizer command: snpe-dlc-quant help=false" in info


# ---- one-line errors, nothing written -------------------------------------------------------------------
def _one_line_error(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("ERROR"), proc.stderr
    return lines[0]


@pytest.mark.parametrize("case", ["missing", "wrong_size", "no_list"])
def test_bad_input_list_is_one_line_and_writes_nothing(resnet, tmp_path, case):
    lst = tmp_path / "bad.txt"
    good = open(resnet["list"]).read().split()
    if case == "missing":
        lst.write_text("\n".join(good[:3] + [str(tmp_path / "nope.raw")]) + "\n")
    elif case == "wrong_size":
        (tmp_path / "short.raw").write_bytes(b"\0" * 100)
        lst.write_text("\n".join(good[:3] + [str(tmp_path / "short.raw")]) + "\n")
    out = tmp_path / "never.dlc"
    for tool in ("snpe-dlc-quant", "qairt-quantizer"):
        proc = helpers.run_tool(tool, "--input_dlc", resnet["dlc"], "--input_list", str(lst), "--output_dlc",
                                str(out), check=False)
        line = _one_line_error(proc)
        assert {"missing": "nope.raw", "wrong_size": "short.raw", "no_list": "bad.txt"}[case] in line
        assert not out.exists() and not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@pytest.mark.parametrize("tool,flag", [
    ("snpe-dlc-quant", "--use_native_output_files"),
    ("snpe-dlc-quantize", "--use_float_io"),
    ("snpe-dlc-quantize", "--act_quantizer=adjusted"),
    ("qairt-quantizer", "--use_aimet_quantizer"),
    ("qairt-quantizer", "--config_file"),
])
def test_unsupported_flags_are_one_line_errors(resnet, tmp_path, tool, flag):
    value = {"--config_file": ["c.yaml"]}
    out = tmp_path / "never.dlc"
    proc = helpers.run_tool(tool, "--input_dlc", resnet["dlc"], "--input_list", resnet["list"], "--output_dlc",
                            str(out), flag, *value.get(flag, []), check=False)
    line = _one_line_error(proc)
    assert proc.returncode == 2 and flag.split("=")[0] in line and "not supported" in line
    assert not out.exists()


def test_quantized_input_dlc_is_refused(resnet, tmp_path):
    q = str(tmp_path / "q.dlc")
    assert run_main(quant_main, ["--input_dlc", resnet["dlc"], "--input_list", resnet["list"], "--output_dlc", q]) == 0
    proc = helpers.run_tool("snpe-dlc-quant", "--input_dlc", q, "--input_list", resnet["list"], "--output_dlc",
                            str(tmp_path / "qq.dlc"), check=False)
    assert "quantized already" in _one_line_error(proc) and not (tmp_path / "qq.dlc").exists()


def test_conv_relu_quantized_as_one_group(resnet, tmp_path):
    """A Conv whose only reader is a Relu takes the Relu's output encoding (OpDef.fuses_into_producer): its
    grid holds no negative values the Relu discards, and the Relu moves its stored integers unchanged."""
    out = str(tmp_path / "fused.dlc")
    assert run_main(quant_main, ["--input_dlc", resnet["dlc"], "--input_list", resnet["list"],
                                 "--output_dlc", out]) == 0
    g = read_dlc(out).graph
    readers: dict[str, int] = {}
    for op in g.ops:
        for n in op.inputs:
            readers[n] = readers.get(n, 0) + 1
    producer = {o: op for op in g.ops for o in op.outputs}
    pairs = [(op.inputs[0], op.outputs[0]) for op in g.ops
             if op.type in ("Relu", "ReluMinMax") and producer.get(op.inputs[0]) is not None
             and producer[op.inputs[0]].type == "Conv2d" and readers[op.inputs[0]] == 1]
    assert pairs, "resnet_small has Conv -> Relu pairs"
    x = np.fromfile(open(resnet["list"]).read().split()[0], np.float32)
    from snpe_tools.ops.fixed_point import quantize

    t_in = g.tensors[g.inputs[0]]
    env = execute(g, {g.inputs[0]: quantize(t_in, x.reshape(t_in.shape))}, keep_intermediates=True)
    for c, r in pairs:
        assert g.tensors[c].encoding == g.tensors[r].encoding and g.tensors[c].encoding.min == 0.0
        np.testing.assert_array_equal(env[c], env[r])

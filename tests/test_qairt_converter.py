"""qairt-converter (issue 12, part 1) and the legacy converters' 2.x I/O and float-width flags.

* The qairt_converter.html command lines (paths and names replaced by models built here) all convert,
  and the DLCs pass the wire-level rules of ``dlc_conformance``.
* ONNX and PyTorch models keep NCHW inputs/outputs through qairt-converter and match onnxruntime/torch;
  the legacy and qairt DLCs of one model give the same numbers in their respective layouts.
* ``--float_bitwidth 16`` gives a FLOAT_16 DLC whose run (float16 storage semantics) stays within float16
  tolerance of the float32 source, and differs from a float32 run (so the float16 path really ran).
* ``--config``/``--dump_config_template`` (command line wins over YAML), ``--export_format=DLC_STRIP_QUANT``,
  ``--dry_run``, renamed and legacy-only options; legacy ``--preserve_io``, ``--custom_io``,
  ``--dump_custom_io_config_template``, ``--float_bitwidth``.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh

import helpers
from dlc_conformance import violations
from snpe_tools.dlc import read_dlc
from snpe_tools.ir import axis_format as af
from snpe_tools.runtime import execute

F16_RTOL = 4e-3        # a few float16 ulps (2**-10 ~ 1e-3) accumulated over a handful of ops


def qairt(*args: str, cwd: str | None = None, check: bool = True):
    return helpers.run_tool("qairt-converter", *args, cwd=cwd, check=check)


def one_line_error(proc, *words: str) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    for w in words:
        assert w in last, last
    return last


# ---- models -----------------------------------------------------------------------------------------
def cnn_onnx(path: str, batch: int | str = 1) -> str:
    """NCHW CNN: Conv+BN+Relu, MaxPool, a residual Add, Softmax over channels (4-D output) and a
    GlobalAveragePool+Flatten+Gemm head (2-D output)."""
    rng = np.random.default_rng(0)

    def init(name, *shape, scale=0.3):
        return nh.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [init("w1", 8, 3, 3, 3), init("b1", 8), init("w2", 8, 8, 3, 3), init("b2", 8),
             nh.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "g"), init("be", 8),
             init("mu", 8), nh.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "var"),
             init("fw", 8, 5), init("fb", 5)]
    nodes = [oh.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             oh.make_node("BatchNormalization", ["c1", "g", "be", "mu", "var"], ["bn"]),
             oh.make_node("Relu", ["bn"], ["r1"]),
             oh.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             oh.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             oh.make_node("Add", ["c2", "p1"], ["a"]),
             oh.make_node("Softmax", ["a"], ["probs_map"], axis=1),
             oh.make_node("GlobalAveragePool", ["a"], ["gap"]),
             oh.make_node("Flatten", ["gap"], ["flat"]),
             oh.make_node("Gemm", ["flat", "fw", "fb"], ["logits"])]
    g = oh.make_graph(nodes, "cnn", [oh.make_tensor_value_info("input", TP.FLOAT, [batch, 3, 16, 16])],
                      [oh.make_tensor_value_info("probs_map", TP.FLOAT, [batch, 8, 8, 8]),
                       oh.make_tensor_value_info("logits", TP.FLOAT, [batch, 5])], inits)
    onnx.save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), path)
    return path


def qdq_onnx(path: str) -> str:
    """A QDQ model: Q/DQ around the input and the Conv weight, Relu, Q/DQ on the output."""
    rng = np.random.default_rng(1)
    w = rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8)
    inits = [nh.from_array(w, "wq"), nh.from_array(np.array(0.01, np.float32), "ws"),
             nh.from_array(np.array(0, np.int8), "wz"), nh.from_array(np.array(0.02, np.float32), "s"),
             nh.from_array(np.array(128, np.uint8), "z"), nh.from_array(np.array(0.05, np.float32), "so"),
             nh.from_array(np.array(0, np.uint8), "zo")]
    nodes = [oh.make_node("QuantizeLinear", ["input", "s", "z"], ["xq"]),
             oh.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             oh.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
             oh.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1]),
             oh.make_node("Relu", ["c"], ["r"]),
             oh.make_node("QuantizeLinear", ["r", "so", "zo"], ["rq"]),
             oh.make_node("DequantizeLinear", ["rq", "so", "zo"], ["output"])]
    g = oh.make_graph(nodes, "qdq", [oh.make_tensor_value_info("input", TP.FLOAT, [1, 3, 8, 8])],
                      [oh.make_tensor_value_info("output", TP.FLOAT, [1, 4, 8, 8])], inits)
    onnx.save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13)]), path)
    return path


def torch_model(path: str):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, padding=1)
            self.bn = nn.BatchNorm2d(6)
            self.conv2 = nn.Conv2d(6, 6, 3, stride=2, padding=1)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            return torch.sigmoid(self.conv2(y)) + 0.5

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 1.5)
    traced = torch.jit.trace(net, torch.zeros(1, 3, 16, 16))
    traced.save(path)
    return net


def tf_frozen(path: str) -> str:
    """A frozen TF1 graph with InceptionV3's I/O names (input [1,32,32,3] -> InceptionV3/Predictions/Reshape_1)."""
    pytest.importorskip("tensorflow")
    import tf_models

    tf, v1 = tf_models.tf, tf_models.v1
    rng = np.random.default_rng(3)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 32, 32, 3], name="input")
        w = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32))
        y = tf.nn.relu(tf.nn.conv2d(x, w, 2, "SAME"), name="InceptionV3/Conv/Relu")
        y = tf.reduce_mean(y, [1, 2], name="InceptionV3/Logits/Mean")
        y = tf.nn.softmax(y, name="InceptionV3/Predictions/Softmax")
        tf.reshape(y, [1, 8], name="InceptionV3/Predictions/Reshape_1")
    return tf_models.write_pb(g.as_graph_def(), path)


def tf_saved_model(folder: str) -> str:
    tf = pytest.importorskip("tensorflow")

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.default_rng(4).normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.nn.relu(tf.nn.conv2d(x, self.w, 1, "SAME"))}

    m = M()
    tf.saved_model.save(m, folder, signatures=m.__call__)
    return folder


def tflite_model(path: str) -> str:
    tf = pytest.importorskip("tensorflow")
    import tflite_models

    w = np.random.default_rng(5).normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
    def fn(x):
        return tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"))

    with open(path, "wb") as fh:
        fh.write(tflite_models.to_tflite(fn.get_concrete_function(), "float", (1, 16, 16, 3)))
    return path


def run_qairt_dlc(path: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A qairt DLC takes and gives tensors in the source layout: no transposing around it."""
    graph = read_dlc(path).graph
    return {k: np.asarray(v, np.float32) for k, v in execute(graph, feeds).items()}


def io_formats(path: str) -> dict[str, tuple[str, tuple[int, ...], str]]:
    g = read_dlc(path).graph
    return {n: (g.tensors[n].axis_format, tuple(g.tensors[n].shape), np.dtype(g.tensors[n].dtype).name)
            for n in g.inputs + g.outputs}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("qairt")
    cnn_onnx(str(d / "model.onnx"))
    cnn_onnx(str(d / "model_sym.onnx"), batch="batch")
    qdq_onnx(str(d / "model_qdq.onnx"))
    return d


X = np.random.default_rng(42).standard_normal((1, 3, 16, 16)).astype(np.float32)


# ---- the documented command lines ----------------------------------------------------------------
def _seed_commands():
    """The qairt_converter.html / tools.html command lines, with our file and tensor names."""
    return {
        "onnx_basic": (["--input_network", "model.onnx"], "model.dlc"),
        "tf_frozen": (["--input_network", "inception_v3_2016_08_28_frozen.pb", "--source_model_input_shape", "input",
                       "1,32,32,3", "--out_tensor_node", "InceptionV3/Predictions/Reshape_1"],
                      "inception_v3_2016_08_28_frozen.dlc"),
        "tf_saved_model": (["--input_network", "saved_model", "--source_model_input_shape", "x", "1,16,16,3",
                            "--out_tensor_node", "y", "-o", "saved.dlc"], "saved.dlc"),
        "tflite": (["--input_network", "model.tflite"], "model.dlc"),
        "pytorch": (["--input_network", "model.pt", "--source_model_input_shape", "input", "1,3,16,16"], "model.dlc"),
        "dump_config": (["--input_network", "model.onnx", "--dump_config_template", "io_config.yaml"],
                        "io_config.yaml"),
        "config": (["--input_network", "model.onnx", "--config", "io_config.yaml"], "model.dlc"),
        "desired_layout": (["--input_network", "model.onnx", "--desired_input_layout", "input", "NHWC"], "model.dlc"),
        "float16": (["--input_network", "model.onnx", "--float_bitwidth", "16"], "model.dlc"),
        "float16_bias32": (["--input_network", "model.onnx", "--float_bitwidth", "16", "--float_bias_bitwidth", "32"],
                           "model.dlc"),
        "strip_quant": (["--input_network", "model_qdq.onnx", "--export_format=DLC_STRIP_QUANT"], "model_qdq.dlc"),
        "quantized_source": (["--input_network", "model_qdq.onnx"], "model_qdq.dlc"),
        "define_symbol": (["--input_network", "model_sym.onnx", "--onnx_define_symbol", "batch", "1"],
                          "model_sym.dlc"),
        "dry_run": (["--input_network", "model.onnx", "--dry_run"], None),
        "quantization_overrides": (["--input_network", "model.onnx", "--quantization_overrides", "encodings.json"],
                                   "model.dlc"),
    }


SEEDS = _seed_commands()


@pytest.mark.parametrize("case", list(SEEDS))
def test_documented_command_lines(case, tmp_path, work):
    args, out = SEEDS[case]
    for name in ("model.onnx", "model_sym.onnx", "model_qdq.onnx"):
        shutil.copy(work / name, tmp_path / name)
    if case.startswith("tf_frozen"):
        tf_frozen(str(tmp_path / "inception_v3_2016_08_28_frozen.pb"))
    elif case == "tf_saved_model":
        tf_saved_model(str(tmp_path / "saved_model"))
    elif case == "tflite":
        tflite_model(str(tmp_path / "model.tflite"))
    elif case == "pytorch":
        torch_model(str(tmp_path / "model.pt"))
    elif case == "config":
        with open(tmp_path / "io_config.yaml", "w") as fh:
            yaml.safe_dump({"Input Tensor Configuration": [
                {"Name": "input", "Desired Model Parameters": {"Layout": "NHWC"}}]}, fh)
    elif case == "quantization_overrides":
        (tmp_path / "encodings.json").write_text(
            '{"activation_encodings": {"r1": [{"bitwidth": 8, "min": 0.0, "max": 6.0}]}, "param_encodings": {}}')
    proc = qairt(*args, cwd=str(tmp_path))
    if out is None:
        assert "All ops are supported." in proc.stdout and "Unused inputs: none" in proc.stdout
        assert not list(tmp_path.glob("*.dlc"))
        return
    path = str(tmp_path / out)
    assert os.path.isfile(path)
    if out.endswith(".yaml"):
        assert not list(tmp_path.glob("*.dlc"))
        return
    assert violations(path) == []
    fmts = io_formats(path)
    if case in ("onnx_basic", "float16", "float16_bias32", "pytorch", "quantized_source", "strip_quant"):
        inp = fmts["input"]
        assert inp[0] == af.NCS and inp[1][1] == 3, fmts          # NCHW kept
    if case == "quantization_overrides":
        enc = read_dlc(path).graph.tensors["r1"].encoding
        assert (enc.bitwidth, enc.min, enc.max, enc.offset) == (8, 0.0, 6.0, 0)
    if case in ("config", "desired_layout"):
        assert fmts["input"][:2] == (af.NSC, (1, 16, 16, 3)), fmts
        assert fmts["probs_map"][:2] == (af.NCS, (1, 8, 8, 8)), fmts


# ---- numbers: ONNX and PyTorch keep NCHW and match the source --------------------------------------------
def test_onnx_keeps_nchw_and_matches_onnxruntime(tmp_path, work):
    out = str(tmp_path / "q.dlc")
    qairt("-i", str(work / "model.onnx"), "-o", out)
    fmts = io_formats(out)
    assert fmts["input"] == (af.NCS, (1, 3, 16, 16), "float32")
    assert fmts["probs_map"][:2] == (af.NCS, (1, 8, 8, 8))
    assert fmts["logits"][1] == (1, 5)
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": X})
    got = run_qairt_dlc(out, {"input": X})
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-5)
    # the inside runs spatial-first: the convolutions take NHWC, and only the boundary has Transposes
    g = read_dlc(out).graph
    assert [op.type for op in g.ops].count("Transpose") == 2, [op.type for op in g.ops]
    conv = next(op for op in g.ops if op.type == "Conv2d")
    assert g.tensors[conv.inputs[0]].shape == (1, 16, 16, 3)
    assert violations(out) == []


def test_legacy_and_qairt_give_the_same_numbers(tmp_path, work):
    legacy, new = str(tmp_path / "legacy.dlc"), str(tmp_path / "qairt.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", legacy)
    qairt("-i", str(work / "model.onnx"), "-o", new)
    lg = read_dlc(legacy).graph
    assert lg.tensors["input"].shape == (1, 16, 16, 3)            # legacy: NHWC input
    legacy_out = execute(lg, {"input": np.transpose(X, (0, 2, 3, 1))})
    qairt_out = run_qairt_dlc(new, {"input": X})
    np.testing.assert_array_equal(np.transpose(legacy_out["probs_map"], (0, 3, 1, 2)), qairt_out["probs_map"])
    np.testing.assert_array_equal(legacy_out["logits"], qairt_out["logits"])


def test_pytorch_keeps_nchw_and_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    pt = str(tmp_path / "m.pt")
    net = torch_model(pt)
    out, legacy = str(tmp_path / "q.dlc"), str(tmp_path / "l.dlc")
    qairt("-i", pt, "-s", "input", "1,3,16,16", "-o", out)
    helpers.run_tool("snpe-pytorch-to-dlc", "-i", pt, "-d", "input", "1,3,16,16", "-o", legacy)
    g = read_dlc(out).graph
    (oname,) = g.outputs
    assert g.tensors[g.inputs[0]].shape == (1, 3, 16, 16) and g.tensors[oname].shape == (1, 6, 8, 8)
    with torch.no_grad():
        ref = net(torch.from_numpy(X)).numpy()
    got = execute(g, {g.inputs[0]: X})[oname]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    lg = read_dlc(legacy).graph
    lout = execute(lg, {lg.inputs[0]: np.transpose(X, (0, 2, 3, 1))})[lg.outputs[0]]
    np.testing.assert_array_equal(np.transpose(lout, (0, 3, 1, 2)), got)
    assert violations(out) == []


def test_tensorflow_and_tflite_stay_nhwc(tmp_path):
    pytest.importorskip("tensorflow")
    import tf_models

    pb = tf_frozen(str(tmp_path / "m.pb"))
    out = str(tmp_path / "m.dlc")
    qairt("-i", pb, "-s", "input", "1,32,32,3", "--out_tensor_node", "InceptionV3/Predictions/Reshape_1", "-o", out)
    x = np.random.default_rng(1).standard_normal((1, 32, 32, 3)).astype(np.float32)
    (ref,) = tf_models.run_graph_def(tf_models.load_graph_def(pb), {"input:0": x},
                                     ["InceptionV3/Predictions/Reshape_1:0"])
    g = read_dlc(out).graph
    (name,) = g.inputs
    assert g.tensors[name].shape == (1, 32, 32, 3)
    assert "Transpose" not in [op.type for op in g.ops]
    np.testing.assert_allclose(execute(g, {name: x})[g.outputs[0]], ref, rtol=1e-5, atol=1e-6)
    # a channel-first DLC input for an NHWC model: one Transpose behind it
    out3 = str(tmp_path / "nchw.dlc")
    qairt("-i", pb, "-s", "input", "1,32,32,3", "--out_tensor_node", "InceptionV3/Predictions/Reshape_1",
          "--desired_input_layout", "input", "NCHW", "-o", out3)
    g3 = read_dlc(out3).graph
    assert g3.tensors[name].shape == (1, 3, 32, 32) and [op.type for op in g3.ops].count("Transpose") == 1
    np.testing.assert_allclose(execute(g3, {name: np.transpose(x, (0, 3, 1, 2))})[g3.outputs[0]], ref,
                               rtol=1e-5, atol=1e-6)
    tfl = tflite_model(str(tmp_path / "m.tflite"))
    out2 = str(tmp_path / "t.dlc")
    qairt("-i", tfl, "-o", out2)
    g2 = read_dlc(out2).graph
    assert g2.tensors[g2.inputs[0]].shape == (1, 16, 16, 3) and "Transpose" not in [op.type for op in g2.ops]
    assert violations(out) == [] and violations(out2) == []


# ---- float16 ----------------------------------------------------------------------------------------------
def test_float16_dlc_within_float16_tolerance(tmp_path, work):
    f32, f16 = str(tmp_path / "f32.dlc"), str(tmp_path / "f16.dlc")
    qairt("-i", str(work / "model.onnx"), "-o", f32)
    qairt("-i", str(work / "model.onnx"), "--float_bitwidth", "16", "-o", f16)
    g = read_dlc(f16).graph
    assert {np.dtype(t.dtype).name for t in g.tensors.values()} == {"float16"}     # the I/O included
    assert "Cast" not in [op.type for op in g.ops]
    # --preserve_io_datatype keeps the source data types at the boundary: float32 I/O, one Cast each
    keep = str(tmp_path / "keep.dlc")
    qairt("-i", str(work / "model.onnx"), "--float_bitwidth", "16", "--preserve_io_datatype", "-o", keep)
    gk = read_dlc(keep).graph
    dtypes = {n: np.dtype(t.dtype).name for n, t in gk.tensors.items()}
    inner = [n for n in dtypes if n not in gk.inputs + gk.outputs]
    assert inner and all(dtypes[n] == "float16" for n in inner), dtypes
    assert {dtypes[n] for n in gk.inputs + gk.outputs} == {"float32"}
    assert [op.type for op in gk.ops].count("Cast") == 3
    one = str(tmp_path / "one.dlc")
    qairt("-i", str(work / "model.onnx"), "--float_bitwidth", "16", "--preserve_io_datatype", "logits", "-o", one)
    assert io_formats(one)["logits"][2] == "float32" and io_formats(one)["input"][2] == "float16"
    one_line_error(qairt("-i", str(work / "model.onnx"), "--float_bitwidth", "16", "--preserve_io_datatype", "nope",
                         "-o", str(tmp_path / "x.dlc"), check=False), "'nope'")
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": X})
    np.testing.assert_array_equal(run_qairt_dlc(keep, {"input": X})["logits"],
                                  run_qairt_dlc(f16, {"input": X})["logits"])
    got16, got32 = run_qairt_dlc(f16, {"input": X}), run_qairt_dlc(f32, {"input": X})
    for k in ref:
        err16 = np.max(np.abs(got16[k] - ref[k])) / np.max(np.abs(ref[k]))
        err32 = np.max(np.abs(got32[k] - ref[k])) / np.max(np.abs(ref[k]))
        assert err16 < F16_RTOL, (k, err16)
        assert err16 > 10 * err32, (k, err16, err32)     # the float16 storage really happened
    assert violations(f16) == [] and violations(keep) == []


def test_legacy_float16_matches_qualcomms_fp16_file_types(tmp_path, work):
    """Legacy --float_bitwidth 16 makes every tensor FLOAT_16, the graph input included (as 2.25 does);
    --float_bias_bitwidth 32 keeps biases float32; --preserve_io datatype keeps float32 I/O."""
    out = str(tmp_path / "l16.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", out, "--float_bitwidth", "16")
    g = read_dlc(out).graph
    assert {np.dtype(t.dtype).name for t in g.tensors.values()} == {"float16"}
    assert "Cast" not in [op.type for op in g.ops]
    x = np.transpose(X, (0, 2, 3, 1))
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": X})["logits"]
    got = np.asarray(execute(g, {"input": x})["logits"], np.float32)
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < F16_RTOL
    out2 = str(tmp_path / "l16b.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", out2, "--float_bitwidth", "16",
                     "--float_bias_bitwidth", "32", "--preserve_io", "datatype")
    g2 = read_dlc(out2).graph
    convs = [op for op in g2.ops if op.type == "Conv2d"]
    assert convs and all(np.dtype(g2.tensors[op.inputs[2]].dtype) == np.float32 for op in convs)
    assert all(np.dtype(g2.tensors[op.inputs[1]].dtype) == np.float16 for op in convs)
    assert np.dtype(g2.tensors["input"].dtype) == np.float32
    assert violations(out) == [] and violations(out2) == []


# ---- I/O configuration ------------------------------------------------------------------------------------
def test_config_template_has_every_field_and_round_trips(tmp_path, work):
    tpl = tmp_path / "io.yaml"
    qairt("-i", str(work / "model.onnx"), "--dump_config_template", str(tpl))
    doc = yaml.safe_load(tpl.read_text())
    assert set(doc) == {"Converted Graph", "Input Tensor Configuration", "Output Tensor Configuration"}
    (inp,) = doc["Input Tensor Configuration"]
    assert inp["Name"] == "input" and inp["Src Model Parameters"] == {"DataType": "float32", "Layout": "NCHW"}
    assert set(inp["Desired Model Parameters"]) == {"DataType", "Layout", "Shape", "Color Conversion",
                                                    "QuantParams", "Optional"}
    assert set(inp["Desired Model Parameters"]["QuantParams"]) == {"Scale", "Offset"}
    outs = {o["Name"]: o for o in doc["Output Tensor Configuration"]}
    assert set(outs) == {"probs_map", "logits"}
    assert set(outs["logits"]["Desired Model Parameters"]) == {"DataType", "Layout", "QuantParams"}
    # the untouched template converts like no config at all
    a, b = str(tmp_path / "a.dlc"), str(tmp_path / "b.dlc")
    qairt("-i", str(work / "model.onnx"), "--config", str(tpl), "-o", a)
    qairt("-i", str(work / "model.onnx"), "-o", b)
    assert io_formats(a) == io_formats(b)


def test_config_fields_and_command_line_wins(tmp_path, work):
    cfg = tmp_path / "io.yaml"
    cfg.write_text(yaml.safe_dump({
        "Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {
            "Layout": "NHWC", "DataType": "float16", "Shape": "1,3,16,16"}}],
        "Output Tensor Configuration": [{"Name": "probs_map", "Desired Model Parameters": {"Layout": "NHWC"}}]}))
    out = str(tmp_path / "c.dlc")
    qairt("-i", str(work / "model.onnx"), "--config", str(cfg), "-o", out)
    f = io_formats(out)
    assert f["input"] == (af.NSC, (1, 16, 16, 3), "float16")
    assert f["probs_map"][:2] == (af.NSC, (1, 8, 8, 8))
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": X})
    got = run_qairt_dlc(out, {"input": np.transpose(X, (0, 2, 3, 1))})
    np.testing.assert_allclose(got["probs_map"], np.transpose(ref["probs_map"], (0, 2, 3, 1)), atol=2e-3)
    np.testing.assert_allclose(got["logits"], ref["logits"], rtol=4e-3, atol=4e-3)
    # the command line wins over the YAML
    out2 = str(tmp_path / "c2.dlc")
    qairt("-i", str(work / "model.onnx"), "--config", str(cfg), "--desired_input_layout", "input", "NCHW",
          "--desired_output_layout", "probs_map", "NCHW", "-o", out2)
    f2 = io_formats(out2)
    assert f2["input"][:2] == (af.NCS, (1, 3, 16, 16)) and f2["probs_map"][:2] == (af.NCS, (1, 8, 8, 8))
    assert violations(out) == [] and violations(out2) == []


@pytest.mark.parametrize("doc, words", [
    ({"Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {
        "QuantParams": {"Scale": 0.1, "Offset": 0}}}]}, ["QuantParams", "not supported"]),
    ({"Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {"DataType": "uint8"}}]},
     ["uint8", "not supported"]),
    ({"Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {"Optional": True}}]},
     ["Optional"]),
    ({"Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {"Layuot": "NHWC"}}]},
     ["unknown field 'Layuot'"]),
    ({"Input Tensor Configuration": [{"Name": "nope", "Desired Model Parameters": {"Layout": "NHWC"}}]},
     ["'nope'", "not a graph input"]),
    ({"Output Tensor Configuration": [{"Name": "logits", "Desired Model Parameters": {"Layout": "NHWC"}}]},
     ["logits", "cannot be given layout NHWC"]),
    ({"Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {
        "Color Conversion": "NV21", "Layout": "NCHW"}}]}, ["colour conversion", "NHWC image"]),
    ({"Input Tensor Configuration": [{"Name": "input", "Desired Model Parameters": {
        "Color Conversion": "YUV"}}]}, ["'yuv'"]),
    ({"Converted Graph": [{"Input Tensors": ["c1"]}]}, ["'c1'", "not a graph input"]),
    ({"Output Tensor Configuration": [{"Name": "logits", "Src Model Parameters": {"DataType": "int8"}}]},
     ["logits", "float32, not int8"]),
])
def test_config_fields_we_cannot_honour_are_refused(tmp_path, work, doc, words):
    cfg = tmp_path / "io.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "x.dlc"
    proc = qairt("-i", str(work / "model.onnx"), "--config", str(cfg), "-o", str(out), check=False)
    one_line_error(proc, *words)
    assert not out.exists()


# ---- export format, quantized source, overrides -------------------------------------------------------------
def test_strip_quant_gives_a_float_dlc(tmp_path, work):
    src = str(work / "model_qdq.onnx")
    default, stripped = str(tmp_path / "d.dlc"), str(tmp_path / "s.dlc")
    qairt("-i", src, "-o", default)
    qairt("-i", src, "--export_format=DLC_STRIP_QUANT", "-o", stripped)
    gs = read_dlc(stripped).graph
    assert all(t.encoding is None for t in gs.tensors.values())
    assert {np.dtype(t.dtype).kind for t in gs.tensors.values()} == {"f"}
    assert not {"Quantize", "Dequantize"} & {op.type for op in gs.ops}
    gd = read_dlc(default).graph
    assert any(t.encoding is not None for t in gd.tensors.values())   # the default keeps the source's encodings
    # the float DLC computes the float model: dequantized weights, no activation rounding
    x = np.random.default_rng(7).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    m = onnx.load(src)
    w = nh.to_array(next(i for i in m.graph.initializer if i.name == "wq")).astype(np.float32) * 0.01
    import torch.nn.functional as F  # noqa: N812
    import torch
    ref = torch.relu(F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)).numpy()
    got = run_qairt_dlc(stripped, {"input": x})["output"]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert violations(stripped) == [] and violations(default) == []


# ---- options: renamed, deprecated, legacy-only, refused ------------------------------------------------------
@pytest.mark.parametrize("flag, words", [
    (["--input_dim", "input", "1,3,16,16"], ["--input_dim", "--source_model_input_shape"]),
    (["--out_node", "logits"], ["--out_node", "--out_tensor_node"]),
    (["--input_encoding", "input", "rgba"], ["--desired_input_color_encoding"]),
    (["--define_symbol", "batch", "1"], ["--onnx_define_symbol"]),
    (["--custom_io", "x.yaml"], ["--config"]),
    (["--preserve_io"], ["--preserve_io"]),
    (["--signature_name", "x"], ["--tflite_signature_name"]),
    (["--show_unconsumed_nodes"], ["--tf_show_unconsumed_nodes"]),
    (["--target_backend", "HTP"], ["--target_backend", "not supported"]),
    (["--enable_framework_trace"], ["--enable_framework_trace", "not supported"]),
    (["--float_bitwidth", "8"], ["--float_bitwidth", "invalid choice"]),
])
def test_legacy_only_and_unsupported_options_are_refused(tmp_path, work, flag, words):
    out = tmp_path / "x.dlc"
    proc = qairt("-i", str(work / "model.onnx"), "-o", str(out), *flag, check=False)
    assert proc.returncode == 2
    one_line_error(proc, *words)
    assert not out.exists()


def test_deprecated_spellings_still_work(tmp_path, work):
    out = tmp_path / "d.dlc"
    proc = qairt("-i", str(work / "model_sym.onnx"), "-d", "input", "1,3,16,16", "--model_version", "v1",
                 "--onnx_no_simplification", "-o", str(out))
    assert "-d is deprecated; use --source_model_input_shape" in proc.stderr
    assert "--model_version is deprecated; use --set_model_version" in proc.stderr
    assert read_dlc(str(out)).graph.tensors["input"].shape == (1, 3, 16, 16)


def test_bad_inputs_are_one_line_errors(tmp_path, work):
    bad = tmp_path / "model.caffemodel"
    bad.write_bytes(b"x")
    one_line_error(qairt("-i", str(bad), check=False), "Invalid model format", ".onnx/.pb/.tflite/.pt")
    one_line_error(qairt("-i", str(work / "model.onnx"), "-s", "input", "1,3,16,16", "-s", "input", "1,3,8,8",
                         "-o", str(tmp_path / "x.dlc"), check=False), "network specialization")
    one_line_error(qairt("-i", str(work / "model.onnx"), "--desired_input_layout", "input", "NCDHW",
                         "-o", str(tmp_path / "x.dlc"), check=False), "cannot be given layout NCDHW")
    one_line_error(qairt("-i", str(work / "model.onnx"), "--float_bias_bitwidth", "16",
                         "-o", str(tmp_path / "x.dlc"), check=False), "--float_bias_bitwidth 16")
    assert not (tmp_path / "x.dlc").exists()


def test_tensorflow_needs_shape_and_output(tmp_path):
    pytest.importorskip("tensorflow")
    pb = tf_frozen(str(tmp_path / "m.pb"))
    one_line_error(qairt("-i", pb, "--out_tensor_node", "InceptionV3/Predictions/Reshape_1", check=False),
                   "--source_model_input_shape")
    one_line_error(qairt("-i", pb, "-s", "input", "1,32,32,3", check=False), "--out_tensor_node")
    assert not (tmp_path / "m.dlc").exists()


# ---- the legacy converters' 2.x I/O flags ------------------------------------------------------------------
def test_legacy_preserve_io_layout_keeps_nchw(tmp_path, work):
    out = str(tmp_path / "p.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", out, "--preserve_io", "layout",
                     "input")
    f = io_formats(out)
    assert f["input"][:2] == (af.NCS, (1, 3, 16, 16))
    assert f["probs_map"][:2] == (af.NSC, (1, 8, 8, 8))     # not named: spatial-first as usual
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": X})
    got = run_qairt_dlc(out, {"input": X})
    np.testing.assert_allclose(got["probs_map"], np.transpose(ref["probs_map"], (0, 2, 3, 1)), rtol=1e-5, atol=1e-6)
    one_line_error(helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", out,
                                    "--preserve_io", "layout", "--preserve_io", "datatype", check=False),
                   "one form at a time")


def test_legacy_custom_io_and_its_template(tmp_path, work):
    tpl = tmp_path / "custom.yaml"
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "--dump_custom_io_config_template",
                     str(tpl))
    assert not list(tmp_path.glob("*.dlc")) and not (work / "model.dlc").exists()
    doc = yaml.safe_load(tpl.read_text())
    assert [e["IOName"] for e in doc] == ["input", "probs_map", "logits"]
    assert doc[0]["Layout"] == {"Model": "NCHW", "Custom": "NCHW"} and doc[0]["Datatype"] == "float32"
    doc = [{"IOName": "input", "Layout": {"Model": "NCHW", "Custom": "NCHW"}, "Datatype": "float16"},
           {"IOName": "probs_map", "Layout": {"Model": "NCHW", "Custom": "NCHW"}}]
    tpl.write_text(yaml.safe_dump(doc))
    out = str(tmp_path / "c.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", out, "--custom_io", str(tpl))
    f = io_formats(out)
    assert f["input"] == (af.NCS, (1, 3, 16, 16), "float16")
    assert f["probs_map"] == (af.NCS, (1, 8, 8, 8), "float32")
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": X})
    got = run_qairt_dlc(out, {"input": X.astype(np.float16)})
    np.testing.assert_allclose(got["probs_map"], ref["probs_map"], atol=2e-3)
    tpl.write_text(yaml.safe_dump([{"IOName": "input", "Layout": {"Model": "NHWC", "Custom": "NCHW"}}]))
    one_line_error(helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", out,
                                    "--custom_io", str(tpl), check=False), "--input_layout")
    assert violations(out) == []


def test_float16_golden_model_through_net_run(tmp_path):
    """Qualcomm's own cnn_basic_fp16: our --float_bitwidth 16 DLC, run by snpe-net-run on the float32 sample,
    is as close to onnxruntime as Qualcomm's fp16 DLC run by our runtime (both float16 storage)."""
    from dlc_conformance import REAL_DIR

    if not (REAL_DIR / "cnn_basic_fp16.onnx").exists():
        pytest.skip("golden DLCs not found")
    out = str(tmp_path / "cb16.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(REAL_DIR / "cnn_basic_fp16.onnx"), "-o", out,
                     "--float_bitwidth", "16")
    helpers.run_tool("snpe-net-run", "--container", out, "--input_list", "cnn_basic_fp16.input_list.txt",
                     "--output_dir", str(tmp_path / "o"), cwd=str(REAL_DIR))
    ref = np.fromfile(REAL_DIR / "cnn_basic_fp16.output0.raw", np.float32)
    ours = np.fromfile(tmp_path / "o" / "Result_0" / "probs.raw", np.float32)
    real = read_dlc(str(REAL_DIR / "cnn_basic_fp16.qairt225.dlc")).graph
    x = np.fromfile(REAL_DIR / "cnn_basic_fp16.input0.raw", np.float32).reshape(real.tensors["input"].shape)
    theirs = np.asarray(execute(real, {"input": x})["probs"], np.float32).ravel()
    err = np.max(np.abs(ours - ref)) / np.max(np.abs(ref))
    assert 0 < err < 2e-3
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert violations(out) == []


@pytest.mark.parametrize("how", ["cli", "yaml"])
def test_colour_conversion_input_is_an_nhwc_frame(tmp_path, work, how):
    """-e / Color Conversion: the DLC input takes the camera's format (RGBA NHWC, NV21 frame) and the colour op
    feeds the model; the model's other I/O keep their source layouts."""
    out = str(tmp_path / "c.dlc")
    if how == "cli":
        qairt("-i", str(work / "model.onnx"), "-e", "input", "rgba", "bgr", "-o", out)
    else:
        cfg = tmp_path / "io.yaml"
        cfg.write_text(yaml.safe_dump({"Input Tensor Configuration": [
            {"Name": "input", "Desired Model Parameters": {"Color Conversion": "RGBA"}}]}))
        qairt("-i", str(work / "model.onnx"), "--config", str(cfg), "-o", out)
    f = io_formats(out)
    assert f["input"][:2] == (af.NSC, (1, 16, 16, 4)) and f["probs_map"][:2] == (af.NCS, (1, 8, 8, 8))
    rgba = np.random.default_rng(9).uniform(0, 1, (1, 16, 16, 4)).astype(np.float32)
    bgr_nchw = np.transpose(rgba[..., [2, 1, 0]], (0, 3, 1, 2))
    ref = helpers.run_onnxruntime(str(work / "model.onnx"), {"input": bgr_nchw})
    got = run_qairt_dlc(out, {"input": rgba})
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-5)
    nv = str(tmp_path / "nv.dlc")
    qairt("-i", str(work / "model.onnx"), "-e", "input", "nv21", "-o", nv)
    assert io_formats(nv)["input"][1] == (1, 16 * 16 * 3 // 2)
    assert violations(out) == [] and violations(nv) == []


def test_strip_quant_of_an_int8_tflite_model(tmp_path):
    """A fully quantized TFLite model: DLC_DEFAULT keeps int8 I/O with encodings; DLC_STRIP_QUANT gives a float
    DLC (dequantized int8 weights and int32 bias) close to the float function (weight rounding only)."""
    tf = pytest.importorskip("tensorflow")
    import tflite_models

    w = np.random.default_rng(5).normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
    def fn(x):
        return tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + 0.1)

    src = tmp_path / "q8.tflite"
    src.write_bytes(tflite_models.to_tflite(fn.get_concrete_function(), "int8", (1, 16, 16, 3)))
    default, stripped = str(tmp_path / "d.dlc"), str(tmp_path / "s.dlc")
    qairt("-i", str(src), "-o", default)
    qairt("-i", str(src), "--export_format=DLC_STRIP_QUANT", "-o", stripped)
    gd, gs = read_dlc(default).graph, read_dlc(stripped).graph
    assert np.dtype(gd.tensors[gd.inputs[0]].dtype) == np.int8 and gd.tensors[gd.inputs[0]].encoding is not None
    assert all(t.encoding is None and np.dtype(t.dtype).kind == "f" for t in gs.tensors.values())
    x = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    ref = fn(x).numpy()
    got = execute(gs, {gs.inputs[0]: x})[gs.outputs[0]]
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    assert err < 2e-2, err
    assert violations(stripped) == []


def _golden_models():
    from dlc_conformance import real_models

    return real_models()


@pytest.mark.parametrize("model", _golden_models(), ids=lambda m: m["name"])
def test_golden_onnx_models_through_qairt_match_onnxruntime(model, tmp_path):
    """Every ONNX model of the golden set (Qualcomm's own conversions beside them), with the legacy options
    its conversion used spelled the qairt way: source layouts kept, outputs equal to onnxruntime."""
    from dlc_conformance import REAL_DIR
    from snpe_tools.tools.qairt_converter import main

    legacy = list(model["convert"].get("args", []))
    extra = []
    for old, new in (("-d", "-s"), ("--input_encoding", "-e"), ("--input_layout", "-l")):
        if old in legacy:
            i = legacy.index(old)
            extra += [new, legacy[i + 1], legacy[i + 2]]
    if "--float_bitwidth" in legacy:
        extra += ["--float_bitwidth", "16"]
    src, out = str(REAL_DIR / model["onnx"]), str(tmp_path / "m.dlc")
    assert main(["-i", src, "-o", out, *extra]) == 0
    g = read_dlc(out).graph
    rng = np.random.default_rng(0)
    rgba = model["name"] == "input_rgba"
    feeds = {n: (rng.uniform(0, 1, g.tensors[n].shape) if rgba else rng.standard_normal(g.tensors[n].shape))
             .astype(np.float32) for n in g.inputs}
    onnx_feeds = {"input": np.transpose(feeds["input"][..., [2, 1, 0]], (0, 3, 1, 2))} if rgba else feeds
    src_model = onnx.load(src)
    for vi in src_model.graph.input:
        if vi.name in g.inputs and model["name"] not in ("input_rgba", "input_layout_nhwc"):
            dims = [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
            assert list(g.tensors[vi.name].shape) == dims, (vi.name, g.tensors[vi.name].shape, dims)
    ref = helpers.run_onnxruntime(src, onnx_feeds)
    got = execute(g, feeds)
    tol = {"qdq_cnn": 2e-2, "cnn_basic_fp16": 2e-3}.get(model["name"], 1e-5)
    for k, r in ref.items():
        a = np.asarray(got[k], np.float32)
        assert a.shape == r.shape, (k, a.shape, r.shape)
        assert np.max(np.abs(a - r)) <= tol * max(1.0, float(np.max(np.abs(r)))), k
    assert violations(out) == []


def test_legacy_layout_switch_and_onnx_batch(tmp_path, work):
    """--keep_io_legacy_snpe_layout gives the legacy converter's DLC; --onnx_override_batch sets dimension 0."""
    legacy, q = str(tmp_path / "l.dlc"), str(tmp_path / "q.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(work / "model.onnx"), "-o", legacy)
    qairt("-i", str(work / "model.onnx"), "--keep_io_legacy_snpe_layout", "-o", q)
    assert io_formats(q) == io_formats(legacy)
    assert [op.type for op in read_dlc(q).graph.ops] == [op.type for op in read_dlc(legacy).graph.ops]
    b = str(tmp_path / "b.dlc")
    qairt("-i", str(work / "model_sym.onnx"), "--onnx_override_batch", "2", "-o", b)
    f = io_formats(b)
    assert f["input"][:2] == (af.NCS, (2, 3, 16, 16)) and f["logits"][1] == (2, 5)
    x2 = np.concatenate([X, X[:, :, ::-1]])
    ref = helpers.run_onnxruntime(str(work / "model_sym.onnx"), {"input": x2})
    got = run_qairt_dlc(b, {"input": x2})
    np.testing.assert_allclose(got["logits"], ref["logits"], rtol=1e-5, atol=1e-5)

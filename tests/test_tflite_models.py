"""snpe-tflite-to-dlc on whole models (issue 5): MobileNetV2 and InceptionV3 with re-randomised weights, in
float, fp16-weight, dynamic-range and full-int8 form, against the LiteRT interpreter; plus the error cases."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

import tflite_models as tm  # noqa: E402
from helpers import count_ops, run_tool  # noqa: E402

from snpe_tools.dlc import read_dlc  # noqa: E402
from snpe_tools.runtime import execute  # noqa: E402
from snpe_tools.tools.tflite_to_dlc import main as tflite_to_dlc  # noqa: E402

SIZES = {"mobilenetv2": 96, "inceptionv3": 299}
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _conversion_times():
    """Prints the conversion times the tests measured (shown with ``pytest -s``); not a test of its own."""
    yield
    for name, secs in sorted(TIMES.items()):
        print(f"conversion time {name}: {secs:.2f} s")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{(arch, mode): path}.  InceptionV3 is traced with an input named ``input`` (the seed's command line)."""
    import tensorflow as tf

    d = tmp_path_factory.mktemp("tflite_models")
    out = {}
    for arch, size in SIZES.items():
        km = tm.keras_model(arch, size)
        shape = (1, size, size, 3)
        src = km
        if arch == "inceptionv3":
            fn = tf.function(lambda x: km(x), input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
            src = fn.get_concrete_function()
        for mode in tm.MODES + (("int16x8",) if arch == "mobilenetv2" else ()):
            path = os.path.join(d, f"{arch}_{mode}.tflite")
            with open(path, "wb") as fh:
                fh.write(tm.to_tflite(src, mode, shape))
            out[(arch, mode)] = path
    path = os.path.join(d, "mlp_sparse.tflite")
    with open(path, "wb") as fh:
        fh.write(tm.to_tflite(tm.sparse_mlp(), "sparse", (1, 16)))
    out[("mlp", "sparse")] = path
    return out


def _input(path: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(float data, data in the model input's own type)."""
    ind, _ = tm.io_details(path)
    x = np.random.default_rng(seed).uniform(-1, 1, ind["shape"]).astype(np.float32)
    if ind["dtype"] == np.float32:
        return x, x
    scale, zp = ind["quantization"]
    info = np.iinfo(ind["dtype"])
    return x, np.clip(np.round(x / scale) + zp, info.min, info.max).astype(ind["dtype"])


def _convert(path: str, tmp_path, *extra: str) -> str:
    dlc = os.path.join(tmp_path, os.path.basename(path).replace(".tflite", ".dlc"))
    t0 = time.perf_counter()
    assert tflite_to_dlc(["-i", path, "-o", dlc, *extra]) == 0
    TIMES[os.path.basename(path)] = time.perf_counter() - t0
    return dlc


@pytest.mark.parametrize("arch", list(SIZES))
@pytest.mark.parametrize("mode", ["float", "fp16"])
def test_float_models_match_litert(models, tmp_path, arch, mode):
    path = models[(arch, mode)]
    dlc = _convert(path, tmp_path)
    g = read_dlc(dlc).graph
    _, x = _input(path)
    ours = execute(g, {g.inputs[0]: x})[g.outputs[0]]
    ref = tm.litert_run(path, x)
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-4)
    ops = count_ops(dlc)
    assert "Transpose" not in ops and "Dequantize" not in ops and "Cast" not in ops, ops
    assert all(t.dtype == np.float32 for t in g.tensors.values() if t.is_static and t.rank > 1)


@pytest.mark.parametrize("arch", list(SIZES))
def test_dynamic_range_model(models, tmp_path, arch):
    """int8 weights are dequantized into float weights: the DLC equals the float model with those weights.

    LiteRT's hybrid kernels also quantize the *activations* on the fly, so the two differ by that
    activation rounding; the bound below (3% of the output range) is measured at ~1%.
    """
    path = models[(arch, "dynamic")]
    dlc = _convert(path, tmp_path)
    g = read_dlc(dlc).graph
    x, _ = _input(path)
    ours = execute(g, {g.inputs[0]: x})[g.outputs[0]]
    ref = tm.litert_run(path, x)
    assert np.abs(ours - ref).max() <= 0.03 * np.abs(ref).max()
    # the weights really are the dequantized int8 values: compare one conv weight with the flatbuffer
    from snpe_tools.frontends.tflite.model import load_tflite

    sg = load_tflite(path).subgraphs[0]
    qw = next(t for t in sg.tensors if t.data is not None and t.type_name == "INT8" and t.data.ndim == 4
              and t.shape[0] > 1)
    real = qw.data.astype(np.float64) * qw.quant.scale.reshape(-1, 1, 1, 1)
    hwio = np.transpose(real, (1, 2, 3, 0)).astype(np.float32)
    assert any(t.data is not None and t.data.shape == hwio.shape and np.allclose(t.data, hwio, atol=1e-7)
               for t in g.tensors.values())


def _quantized_run(path: str, tmp_path, dtype) -> tuple[str, object]:
    """Convert and run a quantized model; its outputs must be within one step of LiteRT's (99%: the issue's
    bar; measured: bit-exact for int8)."""
    dlc = _convert(path, tmp_path)
    g = read_dlc(dlc).graph
    _, xq = _input(path)
    ours = execute(g, {g.inputs[0]: xq})[g.outputs[0]]
    ref = tm.litert_run(path, xq)
    assert ours.dtype == dtype and ref.dtype == dtype
    steps = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
    assert (steps <= 1).mean() >= 0.99 and steps.max() <= 1, steps
    return dlc, g


@pytest.mark.parametrize("arch", list(SIZES))
def test_int8_model_matches_litert(models, tmp_path, arch):
    path = models[(arch, "int8")]
    dlc, g = _quantized_run(path, tmp_path, np.int8)
    # the DLC keeps the quantization: int8 I/O with encodings, per-channel int8 conv weights, int32 biases
    gin, gout = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    ind, outd = tm.io_details(path)
    assert gin.dtype == np.int8 and gin.encoding.offset == -ind["quantization"][1]
    assert np.isclose(gin.encoding.scale, ind["quantization"][0])
    assert gout.encoding is not None and np.isclose(gout.encoding.scale, outd["quantization"][0])
    conv = next(op for op in g.ops if op.type == "Conv2d")
    w, b = g.tensors[conv.inputs[1]], g.tensors[conv.inputs[2]]
    assert w.dtype == np.int8 and w.encoding.axis == 3 and len(w.encoding.channels) == w.shape[3]
    assert b.dtype == np.int32 and b.encoding is not None
    assert "Dequantize" not in count_ops(dlc)


def test_int16x8_model_matches_litert(models, tmp_path):
    """16-bit activations / 8-bit weights (int64 biases stored as int32): within one step of LiteRT."""
    _, g = _quantized_run(models[("mobilenetv2", "int16x8")], tmp_path, np.int16)
    assert g.tensors[g.inputs[0]].encoding.bitwidth == 16


def test_sparse_weights_are_densified(models, tmp_path):
    from snpe_tools.frontends.tflite.model import load_tflite

    path = models[("mlp", "sparse")]
    assert any(op.name == "DENSIFY" for op in load_tflite(path).subgraphs[0].ops)
    dlc = _convert(path, tmp_path)
    g = read_dlc(dlc).graph
    x, _ = _input(path)
    np.testing.assert_allclose(execute(g, {g.inputs[0]: x})[g.outputs[0]], tm.litert_run(path, x),
                               rtol=1e-3, atol=1e-4)


def _net_run(dlc: str, x: np.ndarray, tmp_path) -> np.ndarray:
    """snpe-net-run on one float32 raw file; the first output as written (float32, flat)."""
    raw = tmp_path / "input.raw"
    x.tofile(raw)
    (tmp_path / "list.txt").write_text(f"{raw}\n")
    run_tool("snpe-net-run", "--container", dlc, "--input_list", str(tmp_path / "list.txt"),
             "--output_dir", str(tmp_path / "out"))
    g = read_dlc(dlc).graph
    return np.fromfile(tmp_path / "out" / "Result_0" / (g.outputs[0] + ".raw"), np.float32)


def test_int8_net_run_takes_float_files(models, tmp_path):
    """snpe-net-run quantizes float32 input files with the input's encoding and writes float outputs."""
    path = models[("mobilenetv2", "int8")]
    dlc = _convert(path, tmp_path)
    x, xq = _input(path)
    out = _net_run(dlc, x, tmp_path)
    ref = tm.litert_run(path, xq).astype(np.float32).reshape(-1)
    _, outd = tm.io_details(path)
    scale, zp = outd["quantization"]
    np.testing.assert_allclose(out, (ref - zp) * scale, atol=scale * 1.01)


def test_float_input_for_an_int8_model(models, tmp_path):
    """--input_dtype NAME float32 makes a float DLC input that a Quantize op feeds into the int8 graph."""
    path = models[("mobilenetv2", "int8")]
    ind, _ = tm.io_details(path)
    dlc = _convert(path, tmp_path, "--input_dtype", ind["name"], "float32")
    g = read_dlc(dlc).graph
    assert g.tensors[g.inputs[0]].dtype == np.float32 and g.ops[0].type == "Quantize"
    x, xq = _input(path)
    ours = execute(g, {g.inputs[0]: x})[g.outputs[0]]
    steps = np.abs(ours.astype(np.int32) - tm.litert_run(path, xq).astype(np.int32))
    assert steps.max() <= 1


def test_seed_command_line(models, tmp_path):
    """The seed documentation's command, unchanged except for paths, then snpe-net-run against LiteRT."""
    path = models[("inceptionv3", "float")]
    dlc = str(tmp_path / "inception_v3.dlc")
    t0 = time.perf_counter()
    run_tool("snpe-tflite-to-dlc", "--input_network", path, "--input_dim", "input", "1,299,299,3",
             "--output_path", dlc)
    TIMES["inceptionv3 seed command (subprocess)"] = time.perf_counter() - t0
    x, _ = _input(path)
    out = _net_run(dlc, x, tmp_path)
    g = read_dlc(dlc).graph
    assert g.inputs == ["input"] and g.tensors["input"].shape == (1, 299, 299, 3)
    np.testing.assert_allclose(out, tm.litert_run(path, x).reshape(-1), rtol=1e-3, atol=1e-4)
    assert "Transpose" not in count_ops(dlc)
    meta = read_dlc(dlc).metadata
    assert meta.get("converter-command").startswith("snpe-tflite-to-dlc ")


# ---- errors: one line, exit 1, no DLC ---------------------------------------------------------------------
def _patched(path: str, out: str, builtin: int, custom: bytes | None = None) -> str:
    """Copy of a model whose first operator code is replaced (object API of the LiteRT schema module)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as fh:
        m = schema.ModelT.InitFromPackedBuf(bytearray(fh.read()), 0)
    oc = m.operatorCodes[0]
    oc.builtinCode = builtin
    oc.deprecatedBuiltinCode = min(builtin, 127)
    oc.customCode = custom
    b = flatbuffers.Builder(1 << 20)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with open(out, "wb") as fh:
        fh.write(b.Output())
    return out


def _fails(tmp_path, *args: str) -> str:
    dlc = tmp_path / "bad.dlc"
    proc = run_tool("snpe-tflite-to-dlc", *args, "-o", str(dlc), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and not dlc.exists()
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_custom_op_is_one_clear_error(models, tmp_path):
    src = _patched(models[("mobilenetv2", "float")], str(tmp_path / "custom.tflite"), 32, b"MyVendorOp")
    msg = _fails(tmp_path, "-i", src)
    assert "MyVendorOp (custom op" in msg and "not supported" in msg


def test_unsupported_builtin_is_one_clear_error(models, tmp_path):
    src = _patched(models[("mobilenetv2", "float")], str(tmp_path / "lsh.tflite"), 15)   # LSH_PROJECTION
    msg = _fails(tmp_path, "-i", src)
    assert "LSH_PROJECTION (builtin" in msg


def test_bad_inputs_are_one_line_errors(models, tmp_path):
    path = models[("mobilenetv2", "float")]
    ind, _ = tm.io_details(path)
    assert "file not found" in _fails(tmp_path, "-i", str(tmp_path / "missing.tflite"))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    assert "not a TFLite model" in _fails(tmp_path, "-i", str(junk))
    trunc = tmp_path / "trunc.tflite"
    trunc.write_bytes(open(path, "rb").read()[:5000])
    assert "corrupt or truncated" in _fails(tmp_path, "-i", str(trunc))
    assert "no tensor of that name" in _fails(tmp_path, "-i", path, "--out_node", "logitz")
    assert "not an input" in _fails(tmp_path, "-i", path, "-d", "image", "1,96,96,3")
    assert "agree" in _fails(tmp_path, "-i", path, "-d", ind["name"], "1,96,97,3")
    assert "no such signature" in _fails(tmp_path, "-i", path, "--signature_name", "nope")


def test_signature_and_out_node(models, tmp_path):
    path = models[("mobilenetv2", "float")]
    _, outd = tm.io_details(path)
    dlc = _convert(path, tmp_path, "--signature_name", "serving_default", "--out_node", outd["name"])
    g = read_dlc(dlc).graph
    assert g.outputs == [outd["name"]]


def test_dry_run_and_signature_input_names(models, tmp_path, capsys):
    path = models[("mobilenetv2", "float")]
    dlc = tmp_path / "dry.dlc"
    assert tflite_to_dlc(["-i", path, "-o", str(dlc), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "CONV_2D" in out and "All ops are supported." in out and not dlc.exists()
    custom = _patched(path, str(tmp_path / "custom.tflite"), 32, b"MyVendorOp")
    assert tflite_to_dlc(["-i", custom, "--dry_run", "debug"]) == 0
    out = capsys.readouterr().out
    assert "MyVendorOp" in out and "unsupported" in out and "#0 " in out
    # -d may name the input by its signature name (keras_tensor...) instead of its tensor name
    from snpe_tools.frontends.tflite.model import load_tflite

    sig_name = next(iter(load_tflite(path).signatures[0].inputs))
    assert sig_name != tm.io_details(path)[0]["name"]
    dlc = _convert(path, tmp_path, "-d", sig_name, "1,96,96,3")
    assert read_dlc(dlc).graph.inputs == [tm.io_details(path)[0]["name"]]
    # --input_layout declares the input's layout (channel-last ones only: TFLite tensors are NHWC)
    g = read_dlc(_convert(path, tmp_path, "-l", sig_name, "NONTRIVIAL")).graph
    assert g.tensors[g.inputs[0]].axis_format == "NONTRIVIAL"
    with pytest.raises(Exception, match="channel-last"):
        tflite_to_dlc(["-i", path, "-o", str(tmp_path / "l.dlc"), "-l", sig_name, "NCHW"])


@pytest.mark.parametrize("regular", [False, True])
@pytest.mark.parametrize("threshold", [0.3, 0.985])
def test_detection_postprocess_custom_op_matches_litert(tmp_path, regular, threshold):
    """SSD post-processing (the TFLite custom op SNPE supports) -> QNN DetectionOutput, against LiteRT."""
    rng = np.random.default_rng(3)
    n_anchors, n_classes = 64, 5
    anchors = np.concatenate([rng.uniform(0.1, 0.9, (n_anchors, 2)), rng.uniform(0.05, 0.3, (n_anchors, 2))],
                             axis=1).astype(np.float32)
    opts = dict(max_detections=10, max_classes_per_detection=1, detections_per_class=10, use_regular_nms=regular,
                nms_score_threshold=threshold, nms_iou_threshold=0.5, y_scale=10.0, x_scale=10.0, h_scale=5.0,
                w_scale=5.0)
    path = tmp_path / "ssd_post.tflite"
    path.write_bytes(tm.detection_postprocess_model(anchors, n_classes, opts))
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    box = rng.normal(0, 1, (1, n_anchors, 4)).astype(np.float32)
    cls = rng.uniform(0, 1, (1, n_anchors, n_classes + 1)).astype(np.float32)
    ins = it.get_input_details()
    it.set_tensor(ins[0]["index"], box)
    it.set_tensor(ins[1]["index"], cls)
    it.invoke()
    ref = [it.get_tensor(d["index"]) for d in it.get_output_details()]
    dlc = _convert(str(path), tmp_path)
    assert count_ops(dlc).get("DetectionOutput") == 1
    g = read_dlc(dlc).graph
    assert g.outputs == ["detection_boxes", "detection_classes", "detection_scores", "num_detections"]
    ours = execute(g, {g.inputs[0]: box, g.inputs[1]: cls})
    n = int(ref[3][0])
    assert 0 < n and (n < 10) == (threshold > 0.9)
    assert ours["num_detections"][0] == n
    np.testing.assert_allclose(ours["detection_boxes"][:, :n], ref[0][:, :n], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours["detection_classes"][:, :n], ref[1][:, :n])
    np.testing.assert_allclose(ours["detection_scores"][:, :n], ref[2][:, :n], rtol=1e-6)

"""Converter flags that used to misbehave (issue 15): --input_dtype, --input_encoding, -n, --debug,
snpe-pytorch-to-dlc --dry_run, snpe-tflite-to-dlc -d, TensorFlow's start-up noise, install hints.

Colour conversions are checked against numpy references written pixel by pixel from the formats'
definitions (not with the kernels under test)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import helpers
from snpe_tools.dlc import read_dlc
from snpe_tools.runtime import execute

SAMPLE = os.path.join(helpers.ROOT, "models", "resnet_small.onnx")


def _image_model(path: str, h: int = 4, w: int = 6) -> str:
    """y = x * 1 + 0: the DLC's output is the image the model received (NCHW)."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, h, w])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.5])
    nodes = [helper.make_node("Mul", ["input", "one"], ["m"]), helper.make_node("Add", ["m", "zero"], ["output"])]
    model = helper.make_model(helper.make_graph(nodes, "img", [x], [y], [one, zero]),
                              opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)
    return path


def _convert(tmp_path, model: str, *flags: str) -> tuple[str, object]:
    dlc = str(tmp_path / "m.dlc")
    helpers.convert_in_process(model, dlc, *flags)
    return dlc, read_dlc(dlc).graph


def _types(graph) -> dict[str, str]:
    return {n: np.dtype(t.dtype).name for n, t in graph.tensors.items() if t.data is None}


# ---- --input_dtype -------------------------------------------------------------------------------
def test_input_dtype_casts_only_that_input(tmp_path):
    dlc, graph = _convert(tmp_path, SAMPLE, "--input_dtype", "input", "uint8")
    types = _types(graph)
    assert types["input"] == "uint8"
    assert [n for n, t in types.items() if t == "uint8"] == ["input"], types
    casts = [op for op in graph.ops if op.type == "Cast"]
    assert len(casts) == 1 and casts[0].inputs == ["input"] and graph.ops[0] is casts[0]
    assert types[casts[0].outputs[0]] == "float32"
    # integer pixel values: the uint8 DLC equals the float model on the same image (ONNX Runtime)
    x = np.random.RandomState(0).randint(0, 256, (1, 3, 64, 64)).astype(np.float32)
    ref = helpers.run_onnxruntime(SAMPLE, {"input": x})
    got = helpers.run_dlc(dlc, {"input": x.astype(np.uint8)})
    for name, want in ref.items():
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-3)


def test_input_dtype_through_net_run(tmp_path):
    """snpe-net-run reads float32 files; the uint8 input then the Cast give the float model's output."""
    dlc = str(tmp_path / "m.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", SAMPLE, "-o", dlc, "--input_dtype", "input", "uint8")
    x = np.random.RandomState(1).randint(0, 256, (1, 3, 64, 64)).astype(np.float32)
    np.ascontiguousarray(x.transpose(0, 2, 3, 1)).tofile(tmp_path / "x.raw")
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'x.raw'}\n")
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", str(tmp_path / "list.txt"),
                     "--output_dir", str(tmp_path / "out"))
    ref = helpers.run_onnxruntime(SAMPLE, {"input": x})
    name, want = next(iter(ref.items()))
    raws = [os.path.join(dp, f) for dp, _, fs in os.walk(tmp_path / "out") for f in fs if f.endswith(".raw")]
    assert len(raws) == 1
    got = np.fromfile(raws[0], dtype=np.float32)
    np.testing.assert_allclose(got, want.reshape(-1), rtol=1e-4, atol=1e-3)


def test_input_dtype_equal_to_the_model_adds_nothing(tmp_path):
    _, graph = _convert(tmp_path, SAMPLE, "--input_dtype", "input", "float32")
    assert not [op for op in graph.ops if op.type == "Cast"]


# ---- --input_encoding ------------------------------------------------------------------------------
def _yuv_frame(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    return (rng.randint(16, 236, (h, w)), rng.randint(16, 241, (h // 2, w // 2)),
            rng.randint(16, 241, (h // 2, w // 2)))


def _reference_rgb(y, u, v) -> np.ndarray:
    """BT.601 video-range YUV 4:2:0 -> RGB, one pixel at a time, HWC."""
    h, w = y.shape
    out = np.zeros((h, w, 3))
    for i in range(h):
        for j in range(w):
            yy = 1.164 * (y[i, j] - 16)
            cb, cr = u[i // 2, j // 2] - 128, v[i // 2, j // 2] - 128
            rgb = (yy + 1.596 * cr, yy - 0.813 * cr - 0.391 * cb, yy + 2.018 * cb)
            out[i, j] = [min(max(c, 0.0), 255.0) for c in rgb]
    return out


@pytest.mark.parametrize("fmt,enc_out", [("nv21", "rgb"), ("nv21", "bgr"), ("nv12", "rgb"), ("nv12", None)])
def test_yuv_encodings_match_the_reference(tmp_path, fmt, enc_out):
    h, w = 4, 6
    model = _image_model(str(tmp_path / "img.onnx"), h, w)
    flags = ["-e", "input", fmt] + ([enc_out] if enc_out else [])
    dlc, graph = _convert(tmp_path, model, *flags)
    op = graph.ops[0]
    assert op.type == {"nv21": "Nv21ToRgb", "nv12": "Nv12ToRgb"}[fmt]
    assert graph.tensors["input"].shape == (1, h * w * 3 // 2)
    y, u, v = _yuv_frame(h, w, seed=len(fmt) + (enc_out == "bgr"))
    chroma = np.stack([v, u] if fmt == "nv21" else [u, v], axis=-1).reshape(-1)
    frame = np.concatenate([y.reshape(-1), chroma]).astype(np.float32)[None]
    out = execute(graph, {"input": frame})["output"]        # NHWC in the DLC
    want = _reference_rgb(y, u, v)
    if (enc_out or "bgr") == "bgr":
        want = want[..., ::-1]
    np.testing.assert_allclose(out[0], want + 0.5, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("enc_in,enc_out", [("bgr", "rgb"), ("rgb", "bgr"), ("argb32", "rgb"), ("rgba", "bgr")])
def test_rgb_encodings_match_the_reference(tmp_path, enc_in, enc_out):
    h, w = 4, 6
    model = _image_model(str(tmp_path / "img.onnx"), h, w)
    dlc, graph = _convert(tmp_path, model, "-e", "input", enc_in, enc_out)
    assert graph.ops[0].type == ("Gather" if len(enc_in) == 3 else "ArgbToRgb")
    channels = len(enc_in) if len(enc_in) == 3 else 4
    img = np.random.RandomState(3).randint(0, 256, (1, h, w, channels)).astype(np.float32)
    out = execute(graph, {"input": img})["output"]
    order = {"bgr": "bgr", "rgb": "rgb", "argb32": "argb", "rgba": "rgba"}[enc_in]
    want = np.stack([img[0, :, :, order.index(c)] for c in enc_out], axis=-1)
    np.testing.assert_allclose(out[0], want + 0.5)


def test_yuv_encoding_with_uint8_input(tmp_path):
    """-e input nv21 with --input_dtype input uint8: a uint8 frame, the colour op on uint8, then the Cast."""
    h, w = 4, 6
    model = _image_model(str(tmp_path / "img.onnx"), h, w)
    dlc, graph = _convert(tmp_path, model, "-e", "input", "nv21", "rgb", "--input_dtype", "input", "uint8")
    assert [op.type for op in graph.ops[:2]] == ["Nv21ToRgb", "Cast"]
    assert _types(graph)["input"] == "uint8"
    y, u, v = _yuv_frame(h, w, seed=7)
    frame = np.concatenate([y.reshape(-1), np.stack([v, u], -1).reshape(-1)]).astype(np.uint8)[None]
    out = execute(graph, {"input": frame})["output"]
    np.testing.assert_allclose(out[0], np.rint(_reference_rgb(y, u, v)) + 0.5)


@pytest.mark.parametrize("flags,needle", [
    (["-e", "input", "rgb", "nv21"], "no colour conversion from rgb to nv21"),
    (["-e", "input", "time_series", "rgb"], "no colour conversion from time_series to rgb"),
])
def test_unsupported_encoding_pairs_are_one_line(tmp_path, flags, needle):
    model = _image_model(str(tmp_path / "img.onnx"))
    proc = helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", str(tmp_path / "m.dlc"), *flags, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "m.dlc").exists()


def test_other_encoding_keeps_the_input_as_it_is(tmp_path):
    """-e NAME other: the NONTRIVIAL axis format, as SNPE gives it: the DLC input keeps the model's NCHW layout."""
    from snpe_tools.ir import axis_format as af

    dlc, graph = _convert(tmp_path, SAMPLE, "-e", "input", "other")
    assert graph.tensors["input"].axis_format == af.NONTRIVIAL and graph.tensors["input"].shape == (1, 3, 64, 64)
    x = np.random.RandomState(5).rand(1, 3, 64, 64).astype(np.float32)
    got = execute(graph, {"input": x})
    for name, want in helpers.run_onnxruntime(SAMPLE, {"input": x}).items():
        np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-4)


def test_time_series_needs_rank_3(tmp_path):
    model = _image_model(str(tmp_path / "img.onnx"))
    proc = helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", str(tmp_path / "m.dlc"), "-e", "input",
                            "time_series", check=False)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1 and "rank 3" in errors[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.dlc").exists()


def test_odd_sized_nv21_is_refused(tmp_path):
    model = _image_model(str(tmp_path / "img.onnx"), 5, 6)
    proc = helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", str(tmp_path / "m.dlc"), "-e", "input", "nv21",
                            check=False)
    assert proc.returncode == 1 and "even height and width" in proc.stderr


# ---- install hints ----------------------------------------------------------------------------------
def test_install_hint_from_a_checkout_names_the_checkout():
    from snpe_tools.extras import install_hint

    hint = install_hint("tflite")
    assert hint.startswith(f"pip install -e '{helpers.ROOT}[tflite]'") or \
        hint.startswith(f"pip install -e {helpers.ROOT}[tflite]"), hint


def test_install_hint_when_installed(tmp_path):
    """A copy of the package without its checkout (as site-packages holds it) names the PyPI package."""
    import shutil

    shutil.copytree(os.path.join(helpers.ROOT, "snpe_tools"), tmp_path / "snpe_tools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = "from snpe_tools.extras import install_hint; print(install_hint('tflite'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}).stdout
    assert out.startswith("pip install 'snpe-tools[tflite]'"), out


# ---- the other frontends --------------------------------------------------------------------------
def test_tensorflow_input_dtype_casts_and_runs_quietly(tmp_path):
    """snpe-tensorflow-to-dlc: a uint8 input and a Cast; stderr holds only the tool's own log lines
    (none of TensorFlow's absl/oneDNN start-up notices)."""
    code = ("import tensorflow as tf, numpy as np\n"
            "tf1 = tf.compat.v1\ng = tf1.Graph()\n"
            "with g.as_default():\n"
            "    x = tf1.placeholder(tf.float32, [1, 8, 8, 3], name='input')\n"
            "    w = tf1.constant(np.random.RandomState(0).randn(3, 3, 3, 4).astype(np.float32))\n"
            "    tf1.nn.relu(tf1.nn.conv2d(x, w, [1, 1, 1, 1], 'SAME'), name='out')\n"
            f"open({str(tmp_path / 'm.pb')!r}, 'wb').write(g.as_graph_def().SerializeToString())\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    proc = subprocess.run([sys.executable, os.path.join(helpers.BIN, "snpe-tensorflow-to-dlc"),
                           "-i", str(tmp_path / "m.pb"), "-d", "input", "1,8,8,3", "--out_node", "out",
                           "-o", str(tmp_path / "m.dlc"), "--input_dtype", "input", "uint8"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    noise = [ln for ln in proc.stderr.splitlines() if ln.strip() and " - INFO - " not in ln]
    assert noise == [], noise
    graph = read_dlc(str(tmp_path / "m.dlc")).graph
    assert [n for n, t in _types(graph).items() if t == "uint8"] == ["input:0"]
    assert graph.ops[0].type == "Cast" and graph.ops[0].inputs == ["input:0"]


def test_pytorch_input_dtype_casts(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    torch.manual_seed(0)
    pt = str(tmp_path / "m.pt")
    torch.jit.trace(model, torch.zeros(1, 3, 8, 8)).save(pt)
    dlc = str(tmp_path / "m.dlc")
    helpers.run_tool("snpe-pytorch-to-dlc", "-i", pt, "-d", "x", "1,3,8,8", "-o", dlc, "--input_dtype", "x", "uint8")
    graph = read_dlc(dlc).graph
    assert [n for n, t in _types(graph).items() if t == "uint8"] == ["x"]
    assert graph.ops[0].type == "Cast"
    img = np.random.RandomState(0).randint(0, 256, (1, 3, 8, 8)).astype(np.float32)
    want = model(torch.from_numpy(img)).detach().numpy()
    got = helpers.run_dlc(dlc, {"x": img.astype(np.uint8)})
    np.testing.assert_allclose(next(iter(got.values())), want, rtol=1e-4, atol=1e-3)


# ---- --debug, -n, --dry_run -----------------------------------------------------------------------
def _stderr_levels(stderr: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in stderr.splitlines():
        parts = line.split(" - ")
        if len(parts) >= 4:
            counts[parts[2]] = counts.get(parts[2], 0) + 1
    return counts


def test_debug_levels_print_their_stages(tmp_path):
    """1: the IR ops (DEBUG_1), 2: plus the optimisation passes (DEBUG_2), 3: plus the DLC nodes (DEBUG_3)."""
    from snpe_tools.passes import legacy_pipeline

    seen = {}
    for level in ("1", "2", "3"):
        proc = helpers.run_tool("snpe-onnx-to-dlc", "-i", SAMPLE, "-o", str(tmp_path / "m.dlc"), "--debug", level)
        seen[level] = _stderr_levels(proc.stderr)
    graph = read_dlc(str(tmp_path / "m.dlc")).graph
    assert set(seen["1"]) == {"INFO", "DEBUG_1"} and seen["1"]["DEBUG_1"] >= len(graph.ops)
    assert set(seen["2"]) == {"INFO", "DEBUG_1", "DEBUG_2"} and seen["2"]["DEBUG_2"] == len(legacy_pipeline())
    assert set(seen["3"]) == {"INFO", "DEBUG_1", "DEBUG_2", "DEBUG_3"}
    assert seen["3"]["DEBUG_3"] == len(graph.ops) + 1          # one line per DLC node and a summary
    quiet = helpers.run_tool("snpe-onnx-to-dlc", "-i", SAMPLE, "-o", str(tmp_path / "m.dlc"))
    assert set(_stderr_levels(quiet.stderr)) == {"INFO"}


def _window_model(path: str) -> str:
    """y = x * HannWindow(8): a constant subgraph through an op the converter does not translate."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    size = helper.make_tensor("size", TensorProto.INT64, [], [8])
    nodes = [helper.make_node("HannWindow", ["size"], ["w"]), helper.make_node("Mul", ["x", "w"], ["y"])]
    onnx.save(helper.make_model(helper.make_graph(nodes, "win", [x], [y], [size]),
                                opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_no_simplification_folds_only_through_translated_ops(tmp_path):
    """SNPE's -n: no simplifier, so a constant subgraph of an op without a translation is refused (one line
    naming -n); without -n it folds.  Constant subgraphs of translated ops still fold (the sample model's DLC
    is the same) and the converter command records the flag."""
    model = _window_model(str(tmp_path / "win.onnx"))
    helpers.convert_in_process(model, str(tmp_path / "w.dlc"))
    x = np.arange(8, dtype=np.float32)[None]
    np.testing.assert_allclose(helpers.run_dlc(str(tmp_path / "w.dlc"), {"x": x})["y"],
                               helpers.run_onnxruntime(model, {"x": x})["y"], rtol=1e-6, atol=1e-6)
    proc = helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-o", str(tmp_path / "n.dlc"), "-n", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "HannWindow" in lines[0] and "-n/--no_simplification" \
        in lines[0], proc.stderr
    assert not (tmp_path / "n.dlc").exists()
    dry = helpers.run_tool("snpe-onnx-to-dlc", "-i", model, "-n", "--dry_run")
    assert "Unsupported:" in dry.stdout and "HannWindow" in dry.stdout
    helpers.convert_in_process(SAMPLE, str(tmp_path / "a.dlc"))
    helpers.convert_in_process(SAMPLE, str(tmp_path / "b.dlc"), "-n")
    a, b = read_dlc(str(tmp_path / "a.dlc")), read_dlc(str(tmp_path / "b.dlc"))
    assert [(o.type, o.name) for o in a.graph.ops] == [(o.type, o.name) for o in b.graph.ops]
    assert "no_simplification=True" in str(b.metadata.get("converter-command"))


def test_pytorch_dry_run_lists_op_kinds(tmp_path):
    torch = pytest.importorskip("torch")
    pt = str(tmp_path / "m.pt")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten()).eval()
    torch.jit.trace(model, torch.zeros(1, 3, 8, 8)).save(pt)
    proc = helpers.run_tool("snpe-pytorch-to-dlc", "-i", pt, "-d", "x", "1,3,8,8", "--dry_run")
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()[1:] if ln.startswith("aten::")}
    assert rows["aten::_convolution"] == ["1", "supported"] and rows["aten::relu"] == ["1", "supported"]
    assert proc.stdout.strip().endswith("All ops are supported.")
    assert not list(tmp_path.glob("*.dlc"))
    debug = helpers.run_tool("snpe-pytorch-to-dlc", "-i", pt, "-d", "x", "1,3,8,8", "--dry_run", "debug")
    assert "aten::relu at " in debug.stdout


def test_tflite_dims_must_agree_and_input_dtype_casts(tmp_path):
    """README: -d gives free dimensions; a fixed dimension that differs is one line, no DLC."""
    pytest.importorskip("tflite")
    pytest.importorskip("tensorflow")
    import tflite_models as tm

    path = tmp_path / "m.tflite"
    path.write_bytes(tm.to_tflite(tm.sparse_mlp(), "float", (1, 16)))
    from snpe_tools.frontends.tflite.model import load_tflite

    name = load_tflite(str(path)).subgraphs[0].tensors[load_tflite(str(path)).subgraphs[0].inputs[0]].name
    proc = helpers.run_tool("snpe-tflite-to-dlc", "-i", str(path), "-d", name, "1,17", "-o",
                            str(tmp_path / "m.dlc"), check=False)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "-d/--input_dim" in proc.stderr and "agree" in proc.stderr and not (tmp_path / "m.dlc").exists()
    helpers.run_tool("snpe-tflite-to-dlc", "-i", str(path), "-d", name, "1,16", "-o", str(tmp_path / "m.dlc"))
    # --input_dtype on the float model: that input only, and a Cast (as for ONNX, TF and PyTorch)
    helpers.run_tool("snpe-tflite-to-dlc", "-i", str(path), "-o", str(tmp_path / "u.dlc"), "--input_dtype", name,
                     "uint8")
    graph = read_dlc(str(tmp_path / "u.dlc")).graph
    assert [n for n, t in _types(graph).items() if t == "uint8"] == [name] and graph.ops[0].type == "Cast"
    x = np.random.RandomState(0).randint(0, 256, (1, 16)).astype(np.float32)
    want = execute(read_dlc(str(tmp_path / "m.dlc")).graph, {name: x})
    got = execute(graph, {name: x.astype(np.uint8)})
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-4)


# ---- progress bars ---------------------------------------------------------------------------------
class _Terminal:
    """A stand-in stderr that says it is a terminal and keeps what tqdm writes."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_conversion_progress_bar_only_for_long_work_on_a_terminal(monkeypatch, tmp_path):
    import time

    from snpe_tools.progress import track

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    for _ in track(range(20), "Converting", "node", delay=0.2):
        time.sleep(0.03)
    assert "Converting" in term.text and "node/s" in term.text            # work over the delay: a bar
    term.text = ""
    helpers.convert_in_process(SAMPLE, str(tmp_path / "m.dlc"))              # a sub-second conversion
    assert "Converting" not in term.text
    monkeypatch.setattr(sys, "stderr", __import__("io").StringIO())      # not a terminal: never a bar
    for _ in track(range(20), "Converting", "node", delay=0.0):
        time.sleep(0.01)
    assert "Converting" not in sys.stderr.getvalue()


def test_dlc_write_progress_bar_in_mib(monkeypatch, tmp_path):
    """Writing gigabytes of weights shows a MiB bar on a terminal (here without the 2 s delay)."""
    from snpe_tools.dlc import writer

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    original = writer.progress_bar
    monkeypatch.setattr(writer, "progress_bar", lambda *a, **k: original(*a, **{**k, "delay": 0.0}))
    helpers.convert_in_process(SAMPLE, str(tmp_path / "m.dlc"))
    assert "Writing DLC" in term.text and "MiB" in term.text
    assert read_dlc(str(tmp_path / "m.dlc")).graph.ops

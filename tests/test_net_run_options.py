"""snpe-net-run's SNPE options: runtime selection, resizing, userbuffer data types, profiling, refusals.

Model: Conv 3x3 (4 filters, pad 1) + Relu on a [1,3,4,5] input (NHWC [1,4,5,3] in the DLC), numbers checked
against onnxruntime; the quantized variant comes from snpe-dlc-quant.
"""
from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
from snpe_tools.ir.encodings import dequantize_array, quantize_array, tf_encoding
from snpe_tools.tools.common import run_main
from snpe_tools.tools.net_run import NO_EFFECT, REFUSED, main as net_run_main

NHWC, NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def conv_model(h: int, w: int, flatten: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, h, w])
    if flatten:
        inits.append(numpy_helper.from_array(rng.standard_normal((2, 4 * h * w)).astype(np.float32), "G"))
        nodes += [helper.make_node("Flatten", ["y"], ["f"], name="flat"),
                  helper.make_node("Gemm", ["f", "G"], ["z"], transB=1, name="fc")]
        out = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2])
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])],
                              [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    d = tmp_path_factory.mktemp("nro")
    onnx.save(conv_model(4, 5), str(d / "m.onnx"))
    onnx.save(conv_model(4, 5, flatten=True), str(d / "fc.onnx"))
    helpers.convert_in_process(str(d / "m.onnx"), str(d / "m.dlc"))
    helpers.convert_in_process(str(d / "fc.onnx"), str(d / "fc.dlc"))
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((1, 3, 4, 5)).astype(np.float32) for _ in range(3)]
    for i, x in enumerate(xs):
        np.ascontiguousarray(x.transpose(NHWC)).tofile(d / f"x{i}.raw")
    (d / "list.txt").write_text("".join(f"{d / f'x{i}.raw'}\n" for i in range(3)))
    helpers.run_tool("snpe-dlc-quant", "--input_dlc", str(d / "m.dlc"), "--input_list", str(d / "list.txt"),
                     "--output_dlc", str(d / "q.dlc"))
    refs = [helpers.run_onnxruntime(conv_model(4, 5), {"x": x})["y"] for x in xs]
    return {"dir": d, "dlc": str(d / "m.dlc"), "fc": str(d / "fc.dlc"), "q": str(d / "q.dlc"),
            "list": str(d / "list.txt"), "xs": xs, "refs": refs}


def run(m, tmp_path, *extra, dlc=None, lst=None, capsys=None):
    out = tmp_path / "out"
    rc = run_main(net_run_main, ["--container", dlc or m["dlc"], "--input_list", lst or m["list"],
                                 "--output_dir", str(out), *extra], debug_traces=False)
    return rc, out


def y_of(out, i: int = 0, dtype=np.float32) -> np.ndarray:
    return np.fromfile(out / f"Result_{i}" / "y.raw", dtype=dtype)


def nhwc(ref: np.ndarray) -> np.ndarray:
    return ref.transpose(NHWC).reshape(-1)


def one_error_line(err: str, *words: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR - "), err
    assert "usage:" not in err and "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---- runtime selection -------------------------------------------------------------------------------
@pytest.mark.parametrize("flag,name", [("--use_dsp", "DSP"), ("--use_gpu", "GPU"), ("--use_aip", "AIP")])
def test_accelerator_without_fallback_is_an_error(m, tmp_path, capsys, flag, name):
    rc, out = run(m, tmp_path, flag)
    assert rc == 1 and not out.exists()
    one_error_line(capsys.readouterr().err, name, "--enable_cpu_fallback")


@pytest.mark.parametrize("extra", [["--use_dsp", "--enable_cpu_fallback"], ["--use_gpu", "--enable_cpu_fallback"],
                                   ["--runtime_order=dsp,gpu,cpu"], ["--runtime_order", "dsp_fixed8_tf,cpu_float32"],
                                   ["--runtime_order=aip", "--enable_cpu_fallback"], ["--use_cpu"]])
def test_cpu_runs_with_fallback_or_order(m, tmp_path, capsys, extra):
    rc, out = run(m, tmp_path, *extra)
    assert rc == 0
    err = capsys.readouterr().err
    infos = [ln for ln in err.splitlines() if "not available on this host" in ln]
    assert len(infos) == (0 if extra == ["--use_cpu"] else 1), err
    for i in range(3):
        np.testing.assert_allclose(y_of(out, i), nhwc(m["refs"][i]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("extra,words", [
    (["--runtime_order=gpu,dsp"], ["GPU, DSP", "--enable_cpu_fallback"]),
    (["--runtime_order=npu"], ["unknown runtime 'npu'"]),
    (["--runtime_order=cpu", "--use_gpu"], ["cannot be combined"]),
    (["--use_gpu", "--use_dsp"], ["choose one runtime"]),
])
def test_runtime_errors(m, tmp_path, capsys, extra, words):
    rc, _ = run(m, tmp_path, *extra)
    assert rc == 1
    one_error_line(capsys.readouterr().err, *words)


# ---- refused and no-effect options ---------------------------------------------------------------------
@pytest.mark.parametrize("flag", sorted(REFUSED))
def test_refused_options_give_their_reason(m, tmp_path, flag):
    proc = helpers.run_tool("snpe-net-run", "--container", m["dlc"], "--input_list", m["list"], "--output_dir",
                            str(tmp_path / "out"), f"{flag}=x", check=False)
    assert proc.returncode == 1 and not (tmp_path / "out").exists()
    one_error_line(proc.stderr, flag, "not supported")


@pytest.mark.parametrize("extra,dest", [(["--perf_profile", "burst"], "perf_profile"),
                                        (["--priority_hint=high"], "priority_hint"),
                                        (["--enable_init_cache"], "enable_init_cache"),
                                        (["--platform_options", "unsignedPD:ON"], "platform_options"),
                                        (["--userbuffer_memorymapped", "--userbuffer_auto"],
                                         "userbuffer_memorymapped")])
def test_no_effect_options_are_stated_once(m, tmp_path, capsys, extra, dest):
    rc, out = run(m, tmp_path, *extra)
    assert rc == 0
    err = capsys.readouterr().err
    assert err.count(f"--{dest}") == 1 and "no effect on this host" in err and NO_EFFECT[dest] in err
    np.testing.assert_allclose(y_of(out), nhwc(m["refs"][0]), rtol=1e-5, atol=1e-5)


def test_bad_choice_and_unknown_option_are_one_line(m, tmp_path):
    for extra in (["--perf_profile", "turbo"], ["--no_such_option"], ["--profiling_level=everything"]):
        proc = helpers.run_tool("snpe-net-run", "--container", m["dlc"], "--input_list", m["list"], *extra,
                                check=False)
        assert proc.returncode == 2
        one_error_line(proc.stderr, "--help")


# ---- resizing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims,name", [((1, 8, 10, 3), "x"), ((2, 4, 5, 3), "x"), ((1, 6, 7, 3), "graph x")])
def test_input_dimensions_resize_the_network(m, tmp_path, capsys, dims, name):
    n, h, w, _ = dims
    x = np.random.default_rng(5).standard_normal((n, 3, h, w)).astype(np.float32)
    np.ascontiguousarray(x.transpose(NHWC)).tofile(tmp_path / "big.raw")
    (tmp_path / "l.txt").write_text(f"{tmp_path / 'big.raw'}\n")
    if name.startswith("graph "):                   # QAIRT 2.25 form "<graph> <input>"
        from snpe_tools.dlc import read_dlc

        name = f"{read_dlc(m['dlc']).graph.name} x"
    rc, out = run(m, tmp_path, "--input_name", name, "--input_dimensions", ",".join(map(str, dims)),
                  lst=str(tmp_path / "l.txt"))
    assert rc == 0, capsys.readouterr().err
    assert "network resized" in capsys.readouterr().err
    big = conv_model(h, w)
    big.graph.input[0].type.tensor_type.shape.dim[0].dim_value = n
    big.graph.output[0].type.tensor_type.shape.dim[0].dim_value = n
    ref = helpers.run_onnxruntime(big, {"x": x})["y"]
    np.testing.assert_allclose(y_of(out), nhwc(ref), rtol=1e-5, atol=1e-5)


def test_resize_that_the_graph_cannot_take_is_one_line(m, tmp_path, capsys):
    rc, out = run(m, tmp_path, "--input_name", "x", "--input_dimensions", "1,8,10,3", dlc=m["fc"])
    assert rc == 1 and not out.exists()
    one_error_line(capsys.readouterr().err, "cannot be resized", "flat")


@pytest.mark.parametrize("extra,words", [(["--input_name", "nope", "--input_dimensions", "1,2,3,3"], ["nope", "x"]),
                                         (["--input_name", "x", "--input_dimensions", "1,8,10"], ["3 dimensions"]),
                                         (["--input_name", "x", "--input_dimensions", "1,a,10,3"], ["integers"]),
                                         (["--input_name", "x"], ["one --input_dimensions per --input_name"])])
def test_resize_argument_errors(m, tmp_path, capsys, extra, words):
    rc, _ = run(m, tmp_path, *extra)
    assert rc == 1
    one_error_line(capsys.readouterr().err, *words)


# ---- userbuffer data types -------------------------------------------------------------------------------
def _grid(x: np.ndarray, bits: int = 8) -> np.ndarray:
    enc = tf_encoding(float(x.min()), float(x.max()), bits)
    return dequantize_array(enc, quantize_array(enc, x)).astype(np.float32)


@pytest.mark.parametrize("flags,bits", [(["--userbuffer_tf8"], 8), (["--userbuffer_tfN=16"], 16),
                                        (["--userbuffer_tf16"], 16)])
def test_tf_userbuffers_round_inputs_and_outputs_to_the_data_range(m, tmp_path, flags, bits):
    rc, out = run(m, tmp_path, *flags)
    assert rc == 0
    x = m["xs"][0]
    ref = helpers.run_onnxruntime(conv_model(4, 5), {"x": _grid(x, bits)})["y"]
    expected = _grid(nhwc(ref), bits)
    plain = nhwc(m["refs"][0])
    scale = (plain.max() - min(plain.min(), 0)) / (2 ** bits - 1)
    np.testing.assert_allclose(y_of(out), expected, rtol=0, atol=1.01 * scale)   # at most one step off
    assert np.mean(np.abs(y_of(out) - expected) < 1e-5) > 0.95
    assert not np.allclose(y_of(out), plain, rtol=0, atol=1e-7)      # the buffer type is not ignored
    assert np.max(np.abs(y_of(out) - plain)) < 40 * scale


def test_tf8_native_output_files_hold_uint8(m, tmp_path):
    rc, out = run(m, tmp_path, "--userbuffer_tf8", "--use_native_output_files")
    assert rc == 0
    q = y_of(out, dtype=np.uint8)
    assert q.size == 4 * 5 * 4 and q.max() == 255         # the data's own range: the max maps to 255
    rc2, out2 = run(m, tmp_path / "b", "--userbuffer_tf8")
    f = y_of(out2)
    enc = tf_encoding(float(f.min()), float(f.max()), 8)
    np.testing.assert_allclose(dequantize_array(enc, q), f, rtol=0, atol=1e-5)


def test_float16_native_input_files(m, tmp_path):
    x16 = m["xs"][0].astype(np.float16)
    np.ascontiguousarray(x16.transpose(NHWC)).tofile(tmp_path / "x16.raw")
    (tmp_path / "l.txt").write_text(f"{tmp_path / 'x16.raw'}\n")
    rc, out = run(m, tmp_path, "--userbuffer_floatN=16", "--use_native_input_files", "--use_native_output_files",
                  lst=str(tmp_path / "l.txt"))
    assert rc == 0
    y16 = y_of(out, dtype=np.float16)
    ref = helpers.run_onnxruntime(conv_model(4, 5), {"x": x16.astype(np.float32)})["y"]
    np.testing.assert_allclose(y16.astype(np.float32), nhwc(ref).astype(np.float16).astype(np.float32),
                               rtol=1e-3, atol=1e-3)


def test_quantized_dlc_takes_native_tf8_files_with_its_encoding(m, tmp_path):
    from snpe_tools.dlc import read_dlc

    g = read_dlc(m["q"]).graph
    enc = g.tensors["x"].encoding
    q = quantize_array(enc, m["xs"][0].transpose(NHWC))
    assert q.dtype == np.uint8
    q.tofile(tmp_path / "xq.raw")
    (tmp_path / "l.txt").write_text(f"{tmp_path / 'xq.raw'}\n")
    rc, out = run(m, tmp_path, "--userbuffer_tf8", "--use_native_input_files", dlc=m["q"], lst=str(tmp_path / "l.txt"))
    assert rc == 0
    rc, out_f = run(m, tmp_path / "f", dlc=m["q"])            # float files quantized with the same encoding
    np.testing.assert_array_equal(y_of(out), y_of(out_f))
    rc, out_s = run(m, tmp_path / "s", "--userbuffer_tf8", "--static_min_max", dlc=m["q"])
    np.testing.assert_array_equal(y_of(out_s), y_of(out_f))
    rc, out_u = run(m, tmp_path / "u", "--userbuffer_auto", "--userbuffer_uintN_output=8",
                    "--use_native_output_files", dlc=m["q"])
    yq = g.tensors["y"].encoding
    np.testing.assert_allclose(dequantize_array(yq, y_of(out_u, dtype=np.uint8)), y_of(out_f), atol=1e-6)


@pytest.mark.parametrize("extra,words", [
    (["--userbuffer_float_output"], ["give a userbuffer input type"]),
    (["--userbuffer_tf8", "--userbuffer_float"], ["choose one userbuffer type"]),
    (["--static_min_max"], ["--userbuffer_tf8"]),
    (["--userbuffer_tf8", "--static_min_max"], ["no per-tensor quantization encoding"]),
    (["--userbuffer_auto", "--userbuffer_uintN_output=8"], ["fixed-point or integer outputs"]),
    (["--data_type_map", "x=bogus"], ["NAME=TYPE"]),
    (["--tensor_mode", "itensor", "--userbuffer_tf8"], ["cannot be combined"]),
    (["--profiling_level", "linting"], ["HTP"]),
    (["--graph_execute", "other"], ["no graph 'other'"]),
    (["--userlogs", "loud"], ["level must be one of"]),
    (["--duration", "0"], ["positive"]),
])
def test_option_errors_are_one_line(m, tmp_path, capsys, extra, words):
    rc, out = run(m, tmp_path, *extra)
    assert rc == 1 and not out.exists()
    one_error_line(capsys.readouterr().err, *words)


def test_data_type_map_per_tensor(m, tmp_path):
    rc, out = run(m, tmp_path, "--tensor_mode", "userBuffer", "--data_type_map", "y=tf8")
    assert rc == 0
    expected = _grid(nhwc(m["refs"][0]))
    np.testing.assert_allclose(y_of(out), expected, atol=1e-5)


# ---- profiling, duration, logs, progress ----------------------------------------------------------------
@pytest.mark.parametrize("level", ["basic", "detailed"])
def test_profiling_log_and_diagview(m, tmp_path, capsys, level):
    rc, out = run(m, tmp_path, "--profiling_level", level)
    assert rc == 0
    log = json.loads((out / "SNPEDiag.log").read_text())
    assert log["format"] == "snpe-tools-diag" and len(log["inferences"]) == 3
    assert [x["type"] for x in log["layers"]] == ["Conv2d", "Relu"]
    for inf in log["inferences"]:
        assert inf["total"] > 0
        if level == "detailed":
            assert len(inf["layer_times"]) == 2 and sum(inf["layer_times"]) <= inf["total"]
        else:
            assert "layer_times" not in inf
    capsys.readouterr()
    proc = helpers.run_tool("snpe-diagview", "--input_log", str(out / "SNPEDiag.log"), "--output",
                            str(tmp_path / "d.csv"), "--chrometrace", str(tmp_path / "t.json"))
    assert "Total Inference Time:" in proc.stdout
    if level == "detailed":
        assert "0:" in proc.stdout and ": CPU : conv (Conv2d)" in proc.stdout and "relu (Relu)" in proc.stdout
        assert len((tmp_path / "d.csv").read_text().splitlines()) == 1 + 3 * 3
        events = json.loads((tmp_path / "t.json").read_text())["traceEvents"]
        assert sum(e["cat"] == "Conv2d" for e in events) == 3
    else:
        assert "not recorded" in proc.stdout


def test_diagview_rejects_other_files(m, tmp_path):
    proc = helpers.run_tool("snpe-diagview", "--input_log", m["dlc"], check=False)
    assert proc.returncode == 1
    one_error_line(proc.stderr, "not a snpe-tools diagnostic log")


def test_duration_repeats_the_list(m, tmp_path, capsys):
    rc, out = run(m, tmp_path, "--duration", "0.3", "--profiling_level", "basic")
    assert rc == 0
    log = json.loads((out / "SNPEDiag.log").read_text())
    assert len(log["inferences"]) >= 6 and len(log["inferences"]) % 3 == 0
    assert "runs in 0.3 s" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["Result_0", "Result_1", "Result_2", "SNPEDiag.log"]


def test_userlogs_level_and_file(m, tmp_path, capsys):
    rc, _ = run(m, tmp_path, "--perf_profile", "burst", "--userlogs", f"error,{tmp_path / 'u.log'}")
    assert rc == 0
    assert "perf_profile" not in capsys.readouterr().err
    rc, _ = run(m, tmp_path / "b", "--perf_profile", "burst", "--userlogs", f"info,{tmp_path / 'i.log'}")
    assert "perf_profile burst" in (tmp_path / "i.log").read_text()


def test_set_unconsumed_as_output(tmp_path):
    from snpe_tools.dlc import Metadata, write_dlc
    from snpe_tools.ir.graph import Graph

    g = Graph("g")
    g.add_input("x", (1, 4))
    g.add_op("Relu", ["x"], ["r"], name="relu")
    g.add_op("Relu", ["x"], ["s"], name="relu2")
    g.outputs = ["r"]
    dlc = str(tmp_path / "g.dlc")
    write_dlc(g, dlc, Metadata())
    np.arange(4, dtype=np.float32).tofile(tmp_path / "x.raw")
    (tmp_path / "l.txt").write_text(f"{tmp_path / 'x.raw'}\n")
    out = tmp_path / "out"
    assert run_main(net_run_main, ["--container", dlc, "--input_list", str(tmp_path / "l.txt"), "--output_dir",
                                   str(out), "--set_unconsumed_as_output"], debug_traces=False) == 0
    assert sorted(os.listdir(out / "Result_0")) == ["r.raw", "s.raw"]


def test_progress_bar_only_on_a_terminal(m, tmp_path):
    args = [sys.executable, os.path.join(helpers.BIN, "snpe-net-run"), "--container", m["dlc"], "--input_list",
            m["list"], "--output_dir", str(tmp_path / "out")]
    piped = subprocess.run(args, capture_output=True, text=True)
    assert piped.returncode == 0 and "inference/s" not in piped.stderr and "\r" not in piped.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))     # an 80x24 terminal
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:                     # read while it runs: a pty drops unread output once the writer is gone
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    assert "snpe-net-run" in b"".join(chunks).decode(errors="replace")


# ---- batching ------------------------------------------------------------------------------------------
def test_single_element_files_are_batched(m, tmp_path, capsys):
    """Batch 2 (resized at load): 3 one-element lines run as 2 batches, the last zero-padded; every line
    gets its own Result_N equal to onnxruntime on that element."""
    rc, out = run(m, tmp_path, "--input_name", "x", "--input_dimensions", "2,4,5,3", "--profiling_level", "basic")
    assert rc == 0
    assert "3 input lines run in 2 batch(es) of 2 (the last zero-padded)" in capsys.readouterr().err
    for i in range(3):
        np.testing.assert_allclose(y_of(out, i), nhwc(m["refs"][i]), rtol=1e-5, atol=1e-5)
    assert sorted(os.listdir(out)) == ["Result_0", "Result_1", "Result_2", "SNPEDiag.log"]
    assert len(json.loads((out / "SNPEDiag.log").read_text())["inferences"]) == 2


def test_mixed_whole_and_element_files_are_refused(m, tmp_path, capsys):
    both = np.concatenate([m["xs"][0], m["xs"][1]]).transpose(NHWC)
    np.ascontiguousarray(both).tofile(tmp_path / "pair.raw")
    (tmp_path / "l.txt").write_text(f"{tmp_path / 'pair.raw'}\n{m['dir'] / 'x2.raw'}\n")
    rc, out = run(m, tmp_path, "--input_name", "x", "--input_dimensions", "2,4,5,3", lst=str(tmp_path / "l.txt"))
    assert rc == 1 and not out.exists()
    err = capsys.readouterr().err
    one_error_line(err[err.index("ERROR"):], "one element or the whole batch")


# ---- every option of the reference (snpe_reference.md section 1.11), as a new user tries them ----------
HONOURED = [["--use_gpu", "--enable_cpu_fallback"], ["--use_dsp", "--enable_cpu_fallback"],
            ["--use_aip", "--enable_cpu_fallback"], ["--runtime_order=dsp,cpu"], ["--enable_cpu_fallback"],
            ["--debug"], ["--userbuffer_auto"], ["--userbuffer_float"], ["--userbuffer_floatN=16"],
            ["--userbuffer_tf8"], ["--userbuffer_tfN=16"], ["--userbuffer_float", "--userbuffer_float_output"],
            ["--userbuffer_float", "--userbuffer_floatN_output=16"], ["--userbuffer_float", "--userbuffer_tf8_output"],
            ["--userbuffer_float", "--userbuffer_tfN_output=16"], ["--userbuffer_auto", "--userbuffer_uintN_output=8"],
            ["--userbuffer_tf8", "--static_min_max"],
            ["--use_native_input_files"], ["--use_native_output_files"], ["--tensor_mode=userBuffer"],
            ["--data_type_map", "y=float16"], ["--profiling_level=detailed"], ["--profiling_level=moderate"],
            ["--input_name=x", "--input_dimensions=1,4,5,3"], ["--set_output_tensors=y"],
            ["--set_unconsumed_as_output"], ["--duration=0.05"], ["--userlogs=warn"], ["--graph_init=m"],
            ["--graph_execute=m"]]
STATED = [["--storage_dir=/tmp"], ["--userbuffer_auto", "--userbuffer_memorymapped"], ["--perf_profile=burst"],
          ["--gpu_mode=float16"], ["--enable_init_cache"], ["--platform_options=unsignedPD:ON"],
          ["--priority_hint=low"], ["--timeout=1000"], ["--cache_compatibility_mode=strict"], ["--validate_cache"]]


@pytest.mark.parametrize("extra", HONOURED + STATED, ids=lambda a: " ".join(a))
def test_every_snpe_option_runs(m, tmp_path, capsys, extra):
    extra = [e.replace("graph_init=m", f"graph_init={_graph_name(m)}").replace("graph_execute=m",
                                                                                f"graph_execute={_graph_name(m)}")
             for e in extra]
    if "--static_min_max" in extra or "--userbuffer_uintN_output=8" in extra:     # need a fixed-point DLC
        rc, out = run(m, tmp_path, *extra, dlc=m["q"])
    else:
        rc, out = run(m, tmp_path, *extra)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert sorted(p for p in os.listdir(out) if p.startswith("Result_")) == ["Result_0", "Result_1", "Result_2"]
    if extra in STATED:
        assert err.count("no effect on this host") == 1


def _graph_name(m) -> str:
    from snpe_tools.dlc import read_dlc

    return read_dlc(m["dlc"]).graph.name


def test_option_count_matches_the_reference():
    """51 options in the reference: 2 required + --help/--version + 47 here (35 with an effect, 11 stated as
    having none on this host, 5 refused with a reason); --use_gpu/dsp/aip count once each."""
    honoured_flags = {e.split("=")[0] for a in HONOURED for e in a if e.startswith("--")}
    stated_flags = {a[-1].split("=")[0] for a in STATED}
    refused = {"--encoding_type", "--userbuffer_glbuffer", "--resizable_dim", "--udo_package_path",
               "--inferences_per_duration"}
    assert refused <= set(REFUSED)
    assert len(stated_flags) == 10 and "--perf_config_yaml" not in stated_flags     # needs a file: below
    assert len(honoured_flags | {"--container", "--input_list", "--output_dir", "--help", "--version"}) == 35
    assert len(stated_flags) + 1 + len(refused) + 35 == 51


def test_perf_config_yaml_is_checked_and_stated(m, tmp_path, capsys):
    cfg = tmp_path / "perf.yaml"
    cfg.write_text("perf: burst\n")
    rc, _ = run(m, tmp_path, "--perf_config_yaml", str(cfg))
    assert rc == 0 and capsys.readouterr().err.count("no effect on this host") == 1
    rc, _ = run(m, tmp_path / "b", "--perf_config_yaml", str(tmp_path / "none.yaml"))
    assert rc == 1
    one_error_line(capsys.readouterr().err, "none.yaml")

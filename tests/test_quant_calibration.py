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


@pytest.mark.parametrize("kind", ["range", "histogram"])
def test_parallel_batches_give_the_serial_statistics(tmp_path, kind):
    """Batches run side by side on worker threads (single-threaded BLAS each): every statistic equals the
    one-worker run's, the order of batches notwithstanding."""
    from snpe_tools.quantization.statistics import HistogramStats
    graph = read_dlc(_dlc(tmp_path, conv_net(True))).graph
    make = (lambda _n: RangeStats()) if kind == "range" else (lambda _n: HistogramStats())
    serial = calibrate(graph, _feeds(graph, 21), 21, progress=False, make_stats=make, batch=4, workers=1)
    parallel = calibrate(graph, _feeds(graph, 21), 21, progress=False, make_stats=make, batch=4, workers=3)
    assert set(serial) == set(parallel) and len(serial) >= 8
    for name, st in serial.items():
        p = parallel[name]
        assert (p.min, p.max, p.count) == (st.min, st.max, st.count), name
        if kind == "histogram":
            assert (p.exp, p.first, p.zeros) == (st.exp, st.first, st.zeros) and np.array_equal(p.counts, st.counts)


def test_parallel_batches_stream_and_stop_at_the_first_error(tmp_path):
    """At most ``workers`` batches are in flight (inputs are read as batches finish, in order), and a bad
    input stops the run with its error."""
    from snpe_tools.errors import RuntimeInputError
    graph = read_dlc(_dlc(tmp_path, conv_net(False))).graph
    pulled, finished, ahead = [0], [], []

    def feeds(bad_at=None):
        for i, f in enumerate(_feeds(graph, 12)):
            if i == bad_at:
                f = {graph.inputs[0]: np.zeros(7, np.float32)}
            pulled[0] += 1
            ahead.append(pulled[0] - len(finished))
            yield f

    calibrate(graph, feeds(), 12, progress=False, batch=2, workers=2, on_input=finished.append)
    assert finished == list(range(12)) and max(ahead) <= 2 * 2 + 2
    with pytest.raises((RuntimeInputError, ValueError)):
        calibrate(graph, feeds(bad_at=7), 12, progress=False, batch=2, workers=2)


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


# ---- per-layer SQNR report -----------------------------------------------------------------------------
def _list(tmp_path, graph, n: int = 6, header: str = "", name: str = "list.txt") -> str:
    lines = [header] if header else []
    for i, feed in enumerate(_feeds(graph, n, seed=3)):
        p = tmp_path / f"in_{i}.raw"
        feed[graph.inputs[0]].tofile(p)
        lines.append(str(p))
    lst = tmp_path / name
    lst.write_text("\n".join(lines) + "\n")
    return str(lst)


def tiny_tail_net() -> onnx.ModelProto:
    """Conv -> Relu -> Mul(3e-7): the last tensor's values (~1e-7) sit far inside the minimum range (SNPE
    0.01, QNN 1e-4), so 8-bit quantization keeps almost nothing of them: a deliberately bad layer."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3, "w"),
             numpy_helper.from_array(np.array(3e-7, np.float32), "tiny")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Mul", ["r", "tiny"], ["y"], name="shrink")]
    return _model(nodes, inits, [1, 3, 8, 8], "y", [1, 4, 8, 8])


def _table(stderr: str) -> list[list[str]]:
    lines = stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if "Per-layer SQNR" in ln)
    rows = []
    for ln in lines[start + 2:]:
        cells = ln.split(" - ")[-1].split() if " - " in ln else ln.split()
        if len(cells) != 4:
            break
        rows.append(cells)
    return rows


@pytest.mark.parametrize("tool,flag", [("snpe-dlc-quant", "--verbose"), ("qairt-quantizer", "--debug")])
def test_sqnr_report_puts_the_bad_layer_first(tmp_path, tool, flag):
    dlc = _dlc(tmp_path, tiny_tail_net())
    graph = read_dlc(dlc).graph
    lst = _list(tmp_path, graph)
    out = tmp_path / "q.dlc"
    proc = helpers.run_tool(tool, "--input_dlc", dlc, "--input_list", lst, "--output_dlc", str(out), flag)
    rows = _table(proc.stderr)
    assert [r[1] for r in rows][0] == "y" and rows[0][2] == "shrink", proc.stderr
    assert len(rows) == len(graph.ops)
    worst, rest = float(rows[0][0]), [float(r[0]) for r in rows[1:]]
    assert worst < 10.0 and min(rest) > 25.0, rows
    assert [float(r[0]) for r in rows] == sorted(float(r[0]) for r in rows)
    assert not [f for f in os.listdir(tmp_path) if "sqnr" in f.lower() or f.endswith(".json")]   # printed only
    quiet = helpers.run_tool(tool, "--input_dlc", dlc, "--input_list", lst, "--output_dlc", str(tmp_path / "q2.dlc"))
    assert "Per-layer SQNR" not in quiet.stderr


def test_layer_sqnr_batched_equals_single(tmp_path):
    from snpe_tools.quantization import QuantOptions, quantize_graph
    from snpe_tools.quantization.report import layer_sqnr

    dlc = _dlc(tmp_path, conv_net(False))
    gf, gq = read_dlc(dlc).graph, read_dlc(dlc).graph
    quantize_graph(gq, calibrate(gq, _feeds(gq, 9), 9, progress=False), QuantOptions(per_channel=True,
                                                                                      bias_bitwidth=32))
    single = {r.tensor: r.sqnr_db for r in layer_sqnr(gf, gq, _feeds(gf, 9), 9, batch=1)}
    batched = {r.tensor: r.sqnr_db for r in layer_sqnr(gf, gq, _feeds(gf, 9), 9, batch=4)}
    assert set(single) == {o for op in gf.ops for o in op.outputs}
    assert single == pytest.approx(batched, abs=1e-6)
    assert all(20.0 < v < 80.0 for v in single.values()), single


# ---- input lists: #/% output selection, name:=path inputs --------------------------------------------------
def test_input_list_output_lines(tmp_path):
    from snpe_tools.errors import RuntimeInputError
    from snpe_tools.runtime.input_list import parse_input_list, selected_outputs

    graph = read_dlc(_dlc(tmp_path, conv_net(False))).graph
    raw = tmp_path / "a.raw"
    raw.write_bytes(b"\0" * 4)
    (tmp_path / "l1.txt").write_text(f"#relu1 pool1\n%c2\n{raw}\n")
    il = parse_input_list(str(tmp_path / "l1.txt"))
    assert il.out_layers == ["relu1", "pool1"] and il.out_tensors == ["c2"] and len(il.entries) == 1
    assert selected_outputs(il, graph) == ["r1", "p1", "c2"]
    (tmp_path / "l2.txt").write_text(f"{raw}\n")
    assert selected_outputs(parse_input_list(str(tmp_path / "l2.txt")), graph) is None
    (tmp_path / "l3.txt").write_text(f"%c2\n#relu1\n{raw}\n")
    with pytest.raises(RuntimeInputError, match="must come before"):
        parse_input_list(str(tmp_path / "l3.txt"))
    for line, what in (("#nosuchlayer", "output layer 'nosuchlayer'"), ("%w1", "output tensor 'w1'")):
        (tmp_path / "l4.txt").write_text(f"{line}\n{raw}\n")
        with pytest.raises(RuntimeInputError, match=what):
            selected_outputs(parse_input_list(str(tmp_path / "l4.txt")), graph)


def test_quantizer_calibrates_the_selected_outputs_only(tmp_path):
    """#relu1: only conv1 and relu1 run; SNPE gives encodings for all layers only without the line."""
    dlc = _dlc(tmp_path, conv_net(False))
    graph = read_dlc(dlc).graph
    lst = _list(tmp_path, graph, header="#relu1", name="selected.txt")
    out = tmp_path / "sel.dlc"
    proc = helpers.run_tool("snpe-dlc-quant", "--input_dlc", dlc, "--input_list", lst, "--output_dlc", str(out),
                            "--verbose")
    warn = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert len(warn) == 1 and "selects 1 output" in warn[0] and "omit the line" in warn[0], proc.stderr
    full_dlc = tmp_path / "full.dlc"
    helpers.run_tool("snpe-dlc-quant", "--input_dlc", dlc, "--input_list", _list(tmp_path, graph), "--output_dlc",
                     str(full_dlc))
    sel, full = read_dlc(str(out)).graph, read_dlc(str(full_dlc)).graph
    for name in ("c1", "r1"):         # calibrated on the same inputs either way
        assert sel.tensors[name].encoding == full.tensors[name].encoding
    assert sel.tensors["y"].encoding.max < full.tensors["y"].encoding.max     # not calibrated
    # snpe-net-run writes the selected outputs only
    res = tmp_path / "res"
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", lst, "--output_dir", str(res))
    assert sorted(os.listdir(res / "Result_0")) == ["r1.raw"]


def two_input_net() -> onnx.ModelProto:
    nodes = [helper.make_node("Mul", ["x", "z"], ["m"], name="mul"), helper.make_node("Relu", ["m"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5]),
                                       helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_multi_input_name_path_lines(tmp_path):
    dlc = _dlc(tmp_path, two_input_net())
    rng = np.random.default_rng(4)
    xs, zs, lines = [], [], []
    for i in range(7):
        x, z = rng.uniform(-1, 1, (1, 5)).astype(np.float32), rng.uniform(0, 3, (1, 5)).astype(np.float32)
        x.tofile(tmp_path / f"x{i}.raw")
        z.tofile(tmp_path / f"z{i}.raw")
        xs.append(x)
        zs.append(z)
        lines.append(f"z:={tmp_path / f'z{i}.raw'} x:={tmp_path / f'x{i}.raw'}")    # any order on the line
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "q.dlc"
    helpers.run_tool("snpe-dlc-quant", "--input_dlc", dlc, "--input_list", str(tmp_path / "list.txt"),
                     "--output_dlc", str(out))
    g = read_dlc(str(out)).graph
    from snpe_tools.ir.encodings import tf_encoding

    for name, data in (("x", np.concatenate(xs)), ("z", np.concatenate(zs))):
        expect = tf_encoding(float(data.min()), float(data.max()), 8)
        assert g.tensors[name].encoding.scale == pytest.approx(expect.scale) and \
            g.tensors[name].encoding.offset == expect.offset
    # a missing file and a wrong-size file on a name:=path line: one line, no DLC
    bad = tmp_path / "short.raw"
    bad.write_bytes(b"\0" * 8)
    for line, named in ((f"x:={tmp_path / 'x0.raw'} z:={tmp_path / 'gone.raw'}", "gone.raw"),
                        (f"x:={tmp_path / 'x0.raw'} z:={bad}", "short.raw"),
                        (f"x:={tmp_path / 'x0.raw'}", "no file for input(s) z")):
        (tmp_path / "bad.txt").write_text("\n".join(lines[:2] + [line]) + "\n")
        never = tmp_path / "never.dlc"
        proc = helpers.run_tool("snpe-dlc-quant", "--input_dlc", dlc, "--input_list", str(tmp_path / "bad.txt"),
                                "--output_dlc", str(never), check=False)
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode != 0 and len(err) == 1 and named in err[0], proc.stderr
        assert not never.exists()


def ids_net() -> onnx.ModelProto:
    """int32 token ids -> Gather from an embedding table, plus a float input: one int and one float input."""
    emb = np.random.default_rng(5).normal(0, 1, (10, 6)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"], axis=0, name="gather"),
             helper.make_node("Add", ["e", "z"], ["y"], name="add")]
    g = helper.make_graph(nodes, "ids", [helper.make_tensor_value_info("ids", TensorProto.INT32, [1, 4]),
                                         helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6])],
                          [numpy_helper.from_array(emb, "emb")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("tool", ["snpe-dlc-quant", "qairt-quantizer"])
def test_native_input_files(tmp_path, tool):
    """--use_native_input_files: calibration files hold each input in its own type (int32 ids here, float32
    for the float input); the encodings equal those from float32 files of the same values.  Without the
    flag the same int32 files read as float32 (other ids, other ranges); a wrong-size native file is a
    one-line error naming it, with no DLC."""
    dlc = _dlc(tmp_path, ids_net())
    rng = np.random.default_rng(8)
    plain, native = [], []
    for i in range(6):
        ids, z = rng.integers(0, 10, (1, 4)).astype(np.int32), rng.normal(0, 2, (1, 4, 6)).astype(np.float32)
        ids.astype(np.float32).tofile(tmp_path / f"f{i}.raw")
        ids.tofile(tmp_path / f"n{i}.raw")
        z.tofile(tmp_path / f"z{i}.raw")
        plain.append(f"ids:={tmp_path / f'f{i}.raw'} z:={tmp_path / f'z{i}.raw'}")
        native.append(f"ids:={tmp_path / f'n{i}.raw'} z:={tmp_path / f'z{i}.raw'}")
    (tmp_path / "plain.txt").write_text("\n".join(plain) + "\n")
    (tmp_path / "native.txt").write_text("\n".join(native) + "\n")
    flag = ["--use_native_input_files"]
    eq = "=" if tool == "snpe-dlc-quant" else " "

    def run(lst, out, extra=(), check=True):
        args = [f"--input_dlc{eq}{dlc}", f"--input_list{eq}{lst}", f"--output_dlc{eq}{out}", *extra]
        return helpers.run_tool(tool, *[a for arg in args for a in arg.split(" ", 1)], check=check)

    run(tmp_path / "plain.txt", tmp_path / "p.dlc")
    run(tmp_path / "native.txt", tmp_path / "n.dlc", flag)
    gp, gn = read_dlc(str(tmp_path / "p.dlc")).graph, read_dlc(str(tmp_path / "n.dlc")).graph
    for name in ("z", "y", "e"):
        assert gp.tensors[name].encoding == gn.tensors[name].encoding and gp.tensors[name].encoding is not None, name
    # the same native list read as float32 files: the int32 bit patterns are tiny floats, so other ranges
    run(tmp_path / "native.txt", tmp_path / "wrong.dlc")
    assert read_dlc(str(tmp_path / "wrong.dlc")).graph.tensors["e"].encoding != gn.tensors["e"].encoding
    (tmp_path / "short.raw").write_bytes(b"\0" * 8)
    (tmp_path / "bad.txt").write_text(native[0] + "\n" + f"ids:={tmp_path / 'short.raw'} z:={tmp_path / 'z0.raw'}\n")
    proc = run(tmp_path / "bad.txt", tmp_path / "never.dlc", flag, check=False)
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(err) == 1 and "short.raw" in err[0], proc.stderr
    assert not (tmp_path / "never.dlc").exists()


# ---- every golden model calibrates into a consistent fixed-point DLC -----------------------------------
def _golden_onnx() -> list[str]:
    from dlc_conformance import REAL_DIR

    skip = {"qdq_cnn",          # already quantized: float fallback, tests/test_quant_sources.py
            "dynamic_batch",    # needs -b; the same ops as cnn_basic
            "lstm_3out"}        # Qualcomm's converter refuses it; no DLC of theirs to compare with
    return sorted(p.stem for p in REAL_DIR.glob("*.onnx") if p.stem not in skip) if REAL_DIR.is_dir() else []


# outputs whose value jumps with any input perturbation: Floor/Equal/Where flips, argmax indices
_DISCONTINUOUS = {("binary_elementwise", "output"), ("reduce_argmax", "argmax_c")}


@pytest.mark.parametrize("name", _golden_onnx())
def test_golden_models_calibrate_consistently(tmp_path, name):
    """snpe-dlc-quant (8-bit, per-channel, 32-bit bias) and qairt-quantizer (16-bit activations, float I/O)
    on every golden model with 4 random calibration inputs: the DLC passes the wire-level rules, no op
    mixes float and fixed-point run-time operands, and every continuous output is within 5% of its
    range of the float graph on a calibration input (measured: at most 2.0%, TopK values behind an 8-bit
    bias in qairt-quantizer's default)."""
    from dlc_conformance import REAL_DIR, violations
    from snpe_tools.ops.fixed_point import dequantize, is_quantized, quantize
    from snpe_tools.runtime import execute
    from snpe_tools.tools.common import run_main
    from snpe_tools.tools.dlc_quantize import qairt_main, quant_main

    dlc = str(tmp_path / "f.dlc")
    helpers.convert_in_process(str(REAL_DIR / f"{name}.onnx"), dlc)
    g = read_dlc(dlc).graph
    rng = np.random.default_rng(0)
    lines, feeds = [], []
    for k in range(4):
        parts, feed = [], {}
        for inp in g.inputs:
            t = g.tensors[inp]
            a = (rng.normal(0, 1, t.shape) if np.dtype(t.dtype).kind == "f" else rng.integers(0, 3, t.shape))
            a = a.astype(np.float32)
            a.tofile(tmp_path / f"i{len(g.inputs) * k + len(parts)}.raw")
            parts.append(f"{inp}:={tmp_path / f'i{len(g.inputs) * k + len(parts)}.raw'}")
            feed[inp] = a.astype(t.dtype)
        lines.append(" ".join(parts))
        feeds.append(feed)
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    ref = execute(g, feeds[0])
    for tool, args in ((quant_main, ["--use_per_channel_quantization", "--bias_bitwidth=32"]),
                       (qairt_main, ["--act_bitwidth", "16", "--preserve_io_datatype"])):
        out = str(tmp_path / "q.dlc")
        assert run_main(tool, ["--input_dlc", dlc, "--input_list", str(tmp_path / "list.txt"), "--output_dlc", out,
                               *args]) == 0
        assert violations(out) == []
        q = read_dlc(out).graph
        assert helpers.mixed_operand_ops(q) == [], tool.__name__
        got = execute(q, {n: quantize(q.tensors[n], v) if is_quantized(q.tensors[n]) else v
                          for n, v in feeds[0].items()})
        for o in g.outputs:
            if (name, o) in _DISCONTINUOUS or np.dtype(g.tensors[o].dtype).kind != "f":
                continue
            y = dequantize(q.tensors[o], got[o]) if is_quantized(q.tensors[o]) else got[o]
            r = np.asarray(ref[o], np.float64)
            err = float(np.max(np.abs(np.asarray(y, np.float64) - r)))
            print(f"{name} {tool.__name__} {o}: {err / (float(np.ptp(r)) + 1e-12):.4f} of the range")
            assert err <= 0.05 * float(np.ptp(r)) + 1e-6, (tool.__name__, o, err, float(np.ptp(r)))


# ---- accuracy against onnxruntime quantize_static (small models with the benchmark's blocks) --------------
SMALL = {"resnet18": (32, 0.25), "mobilenet_v2": (32, 0.25), "inception_v3": (75, 0.125)}


PER_CHANNEL = ["--use_per_channel_quantization", "--bias_bitwidth=32"]
# what onnxruntime's per_channel quantizes: the convolutions per channel and the Gemm classifier per row
LIKE_ORT = PER_CHANNEL + ["--use_per_row_quantization", "--enable_per_row_quantized_bias"]


def _accuracy(tmp_path, name: str, n: int = 40, full: bool = False, flags: list[str] = PER_CHANNEL
              ) -> dict[str, float]:
    """Ours (snpe-onnx-to-dlc + snpe-dlc-quantize ``flags``) and onnxruntime's quantize_static (QDQ,
    per-channel, MinMax) on the same ``n`` calibration images: mean cosine of the quantized logits against
    the float model's, and top-1 agreement with it.  ``full``: the issue's models as built (real input
    size, width 1, 1000 classes, random weights throughout); otherwise a small model of the same blocks
    with its 10-class classifier fitted to the images (``quant_models.build``)."""
    import quant_models as qm

    size, width = (qm.FULL_SIZE[name], 1.0) if full else SMALL[name]
    src = str(tmp_path / f"{name}.onnx")
    onnx.save(qm.BUILDERS[name](size) if full else qm.build(name, size, width, classes=10), src)
    x = qm.calibration_inputs(n, size)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    lines = []
    for i in range(n):
        x_nhwc[i].tofile(tmp_path / f"c{i}.raw")
        lines.append(str(tmp_path / f"c{i}.raw"))
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    dlc, qdlc, qdq = (str(tmp_path / f"{name}{s}") for s in (".dlc", "_q.dlc", "_qdq.onnx"))
    helpers.convert_in_process(src, dlc)
    from snpe_tools.tools.common import run_main
    from snpe_tools.tools.dlc_quantize import quantize_main

    assert run_main(quantize_main, [f"--input_dlc={dlc}", f"--input_list={tmp_path / 'list.txt'}",
                                    f"--output_dlc={qdlc}", *flags, "--quiet"]) == 0
    qm.ort_quantize(src, qdq, x)
    ref, ours, peer = qm.ort_run(src, x), qm.our_run(qdlc, x_nhwc), qm.ort_run(qdq, x)
    top = ref.argmax(1)
    return {"ours_cos": float(qm.cosines(ours, ref).mean()), "ort_cos": float(qm.cosines(peer, ref).mean()),
            "ours_top1": float((ours.argmax(1) == top).mean()), "ort_top1": float((peer.argmax(1) == top).mean()),
            "classes": len(set(top.tolist())), "scales": qm.same_activation_scales(qdq, qdlc)}


@pytest.fixture(scope="module")
def accuracy(tmp_path_factory):
    pytest.importorskip("onnxruntime.quantization")
    cache: dict[str, dict[str, float]] = {}

    def get(name: str) -> dict[str, float]:
        if name not in cache:
            cache[name] = _accuracy(tmp_path_factory.mktemp(name), name)
        return cache[name]
    return get


@pytest.mark.parametrize("name", sorted(SMALL))
def test_accuracy_close_to_onnxruntime(accuracy, name):
    """Same calibration ranges as onnxruntime's MinMax (equal activation scales, except that onnxruntime
    gives an average pool its input's scale where we calibrate it), Conv + Relu quantized as one group as
    onnxruntime does; the issue's top-1 target: agreement with the float model at least onnxruntime's."""
    r = accuracy(name)
    equal, compared = r["scales"]
    assert compared >= 10 and equal >= 0.9 * compared, r
    assert r["classes"] >= 4, r                     # the float top-1 varies: agreement means something
    assert r["ours_cos"] >= 0.85 and r["ours_cos"] >= r["ort_cos"] - 0.005, r
    assert r["ours_top1"] >= r["ort_top1"], r


@pytest.mark.xfail(strict=True, reason="stricter than issue 11's models: with the classifier fitted to the "
                                       "images, 8-bit output cosine stays below 0.999 (onnxruntime's too, 0.90-0.99)")
@pytest.mark.parametrize("name", sorted(SMALL))
def test_fitted_classifier_cosine_reaches_0_999(accuracy, name):
    r = accuracy(name)
    assert r["ours_cos"] >= 0.999, r


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "inception_v3"])
def test_full_size_models_meet_issue_targets(tmp_path, name):
    """Issue 11's accuracy targets on the models it names: ResNet-18, MobileNetV2 and InceptionV3 at
    224/224/299 with random weights as built, 100 calibration images, quantized vs float output cosine
    >= 0.999 and top-1 agreement at least onnxruntime quantize_static's (QDQ, per-channel, MinMax) on the
    same images.  Our flags quantize what onnxruntime's ``per_channel`` does (the classifier per row too);
    with SNPE's plain per-channel flag ResNet-18 agrees on 80 images against onnxruntime's 82
    (bench/README.rst).  Measured at 0.99979/0.99913/0.99962 against 0.99974/0.99839/0.99951, top-1
    91/90/100 % against 82/84/100 %; calibration time is the benchmark's (bench/bench_quantize.py)."""
    pytest.importorskip("onnxruntime.quantization")
    r = _accuracy(tmp_path, name, n=100, full=True, flags=LIKE_ORT)
    print(name, r)
    assert r["ours_cos"] >= 0.999, r
    assert r["ours_top1"] >= r["ort_top1"], r
    equal, compared = r["scales"]
    assert compared >= 30 and equal >= 0.9 * compared, r

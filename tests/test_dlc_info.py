"""snpe-dlc-info end to end: ONNX model -> snpe-onnx-to-dlc -> `python bin/snpe-dlc-info`.

Every expected number below is computed by hand from the model definition, not by
calling the code under test, so a wrong count, layout or format makes a test fail.
"""
from __future__ import annotations

import csv
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
from snpe_tools.dlc import Metadata, write_dlc
from snpe_tools.ir import Encoding, Graph
from snpe_tools.ir import axis_format as af

N, CI, H, W = 1, 3, 8, 6          # non-square so an NCHW/NHWC mix-up or H/W swap shows
CO, KH, KW = 4, 3, 3              # conv with pads 1 keeps H x W
FC_OUT = 5
CONV_W = CO * CI * KH * KW        # 108
PARAMS = CONV_W + CO + FC_OUT * CO + FC_OUT   # conv W + B, Gemm W + B = 137
CONV_MACS = N * H * W * CO * KH * KW * CI     # 5184
COPYRIGHT = "Copyright (c) 2024 Example Corp"
HEADER = ["Id", "Name", "Type", "Inputs", "Outputs", "Out Dims", "Runtimes", "Parameters"]


def make_model(path: str) -> None:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("W", (CO, CI, KH, KW)), ("B", (CO,)), ("G", (FC_OUT, CO)), ("GB", (FC_OUT,)))]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c"], ["r"], name="relu1"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "GB"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, CI, H, W])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [N, FC_OUT])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


@pytest.fixture(scope="module")
def dlc(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("dlcinfo")
    make_model(str(d / "net.onnx"))
    (d / "copyright.txt").write_text(COPYRIGHT + "\n")
    out = str(d / "net.dlc")
    helpers.convert_in_process(str(d / "net.onnx"), out, "--model_version", "v1.2",
                               "--copyright_file", str(d / "copyright.txt"))
    return out


@pytest.fixture(scope="module")
def info(dlc) -> str:
    return helpers.run_tool("snpe-dlc-info", "-i", dlc).stdout


def table(text: str, first_header: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows (cells stripped) of the framed table whose header starts with ``first_header``."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"| {first_header} "))
    assert set(lines[start - 1]) == {"-"} and set(lines[start + 1]) == {"-"}

    def cells(ln: str) -> list[str]:
        assert ln.startswith("| ") and ln.endswith("|"), ln
        return [c.strip() for c in ln[1:-1].split("|")]

    rows = []
    for ln in lines[start + 2:]:
        if set(ln) == {"-"}:
            break
        rows.append(cells(ln))
    return cells(lines[start]), rows


def op_rows(text: str) -> dict[str, list[str]]:
    """Layer rows keyed by op name, with the op's Parameters cells (continuation rows) appended."""
    header, rows = table(text, "Id")
    assert header == HEADER
    ops: dict[str, list[str]] = {}
    current = None
    for r in rows:
        assert len(r) == len(HEADER)
        if r[0]:
            current = r[1]
            ops[current] = r[:7] + [[r[7]]]
        else:
            assert r[:7] == [""] * 7, r
            ops[current][7].append(r[7])
    return ops


def test_every_op_has_a_row_with_its_qnn_type(info):
    ops = op_rows(info)
    assert {n: r[2] for n, r in ops.items()} == {
        "conv1": "Conv2d", "relu1": "Relu", "gap": "PoolAvg2d", "flat": "Reshape", "fc": "FullyConnected"}
    assert [r[0] for r in ops.values()] == ["0", "1", "2", "3", "4"]   # graph order, inputs are not rows
    assert all(r[6] == "A D G C" for r in ops.values())
    assert "Ops used by DLC: Conv2d, FullyConnected, PoolAvg2d, Relu, Reshape" in info.splitlines()


def test_conv_row(info):
    conv = op_rows(info)["conv1"]
    assert conv[5] == f"{N}x{H}x{W}x{CO}"                  # NHWC: 1x8x6x4
    inputs = conv[3].split(", ")
    assert inputs[0] == "x (Float_32) [NW Input]"
    assert len(inputs) == 3 and all(i.endswith("(Float_32)") for i in inputs[1:])  # weight + bias listed
    params = conv[7]
    assert "stride: [1, 1]" in params and "pad_amount: [1, 1, 1, 1]" in params and "group: 1" in params
    conv_params = CONV_W + CO
    assert f"param count: {conv_params} ({100 * conv_params / PARAMS:.3g}%)" in params
    assert CONV_MACS == 5184
    assert any(p.startswith("MACs per inference: 5.184k (") for p in params), params


def test_internal_params_hidden(info):
    flat = op_rows(info)["flat"]
    assert flat[5] == f"{N}x{CO}"
    assert not any(p.startswith("shape:") for p in flat[7])   # Reshape's IR-only target shape


def test_totals_and_metadata(info):
    lines = info.splitlines()
    assert lines[0] == f"DLC info for: {os.path.abspath(lines[0].split(': ', 1)[1])}"
    assert lines[0].endswith("net.dlc")
    assert "Model Version: v1.2" in lines
    assert f"Model Copyright:{COPYRIGHT}" in lines
    total = next(ln for ln in lines if ln.startswith("Total parameters: "))
    assert total.startswith(f"Total parameters: {PARAMS} (")
    assert next(ln for ln in lines if ln.startswith("Converter command: ")).startswith(
        "Converter command: snpe-onnx-to-dlc ")
    assert "Quantizer command: N/A" in lines
    assert "Key : A:AIP" in lines and "      C:CPU" in lines
    # weights 137*4 B + peak live activations (Conv out + Relu out: 2 * 8*6*4*4 B) = 2084 B
    assert f"Est. Steady-State Memory Needed to Run: {(PARAMS * 4 + 2 * H * W * CO * 4) / 2**20:.3g} MiB" in lines


def test_input_table(info):
    header, rows = table(info, "Input Name")
    assert header == ["Input Name", "Dimensions", "Type", "Encoding Info"]
    assert rows == [["x", f"{N},{H},{W},{CI}", "Float_32", "No encoding info for this layer"]]


def test_memory_section_only_with_m(dlc, info):
    assert "Tensor memory" not in info
    out = helpers.run_tool("snpe-dlc-info", "-i", dlc, "-m").stdout
    _, rows = table(out, "Tensor Name")
    assert rows[0] == ["x", "input", f"{N}x{H}x{W}x{CI}", str(N * CI * H * W * 4)]
    assert sorted(int(r[3]) for r in rows if r[1] == "static") == sorted(
        [CONV_W * 4, CO * 4, FC_OUT * CO * 4, FC_OUT * 4])
    assert [r[3] for r in rows if r[0] == "y"] == [str(N * FC_OUT * 4)]


def test_csv_matches_table(dlc, tmp_path):
    out_csv = tmp_path / "out.csv"
    text = helpers.run_tool("snpe-dlc-info", "-i", dlc, "-s", str(out_csv)).stdout
    with open(out_csv, newline="") as fh:
        rows = list(csv.reader(fh))
    _, shown = table(text, "Id")
    assert rows[0] == HEADER
    assert rows[1:] == shown
    assert [p for p in os.listdir(tmp_path)] == ["out.csv"]      # no temp file left behind


def test_encodings_are_shown(tmp_path):
    g = Graph("q")
    g.add_input("in", (1, 4), axis_format=af.NF)
    g.tensors["in"].encoding = Encoding(8, 0.5, -10, -5.0, 122.5)
    op = g.add_op("Relu", ["in"], ["out"], name="relu")
    g.tensors["out"].encoding = Encoding(8, 0.25, 0, 0.0, 63.75)
    g.outputs.append(op.outputs[0])
    path = str(tmp_path / "q.dlc")
    write_dlc(g, path, Metadata({"converter-command": "x", "converter-version": "0"}))
    out = helpers.run_tool("snpe-dlc-info", "-i", path).stdout
    _, rows = table(out, "Input Name")
    assert rows[0][3] == ("bitwidth 8, min -5.000000000000, max 122.500000000000, "
                          "scale 0.500000000000, offset -10.000000000000")
    assert ("out encoding:  bitwidth 8, min 0.000000000000, max 63.750000000000, "
            "scale 0.250000000000, offset 0.000000000000") in op_rows(out)["relu"][7]
    assert "Model Version: N/A" in out.splitlines()


@pytest.mark.parametrize("content", [None, b"this is not a dlc \x00\x01\x02" * 20])
def test_bad_file_is_one_line_error(tmp_path, content):
    path = tmp_path / "x.dlc"
    if content is not None:
        path.write_bytes(content)
    proc = helpers.run_tool("snpe-dlc-info", "-i", str(path), check=False)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR"), proc.stderr


def test_unknown_flag_rejected(dlc):
    proc = helpers.run_tool("snpe-dlc-info", "-i", dlc, "--bogus", check=False)
    assert proc.returncode != 0 and "unrecognized arguments: --bogus" in proc.stderr


def _per_axis_dlc(tmp_path) -> str:
    """A Conv2d whose static weights carry a per-axis (3 output channels) 8-bit encoding."""
    g = Graph("pc")
    g.add_input("in", (1, 4, 4, 2), axis_format=af.NSC)
    w = g.add_const("w", np.ones((1, 1, 2, 3), np.uint8))
    chans = [(0.5, 0, -64.0, 63.5), (0.25, 0, -32.0, 31.75), (0.125, 0, -16.0, 15.875)]
    g.tensors[w].encoding = Encoding(8, 0.5, 0, -64.0, 63.5, axis=3, channels=chans)
    g.tensors[w].dtype = np.dtype(np.int8)
    g.tensors[w].data = np.ones((1, 1, 2, 3), np.int8)
    op = g.add_op("Conv2d", ["in", w], ["out"], name="conv")
    g.outputs.append(op.outputs[0])
    path = str(tmp_path / "pc.dlc")
    write_dlc(g, path, Metadata({"converter-command": "x", "converter-version": "0"}))
    return path


def test_per_axis_encodings_and_display_all(tmp_path):
    path = _per_axis_dlc(tmp_path)
    plain = helpers.run_tool("snpe-dlc-info", "-i", path).stdout
    cells = op_rows(plain)["conv"][7]
    assert "w encoding:  axis-quant: axis: 3, num_elements: 3" in cells
    assert not any("[1] bitwidth" in c for c in cells)
    full = helpers.run_tool("snpe-dlc-info", "-i", path, "--display_all_encodings").stdout
    cells = op_rows(full)["conv"][7]
    k = cells.index("w encoding:  axis-quant: axis: 3, num_elements: 3")
    assert cells[k + 1:k + 4] == [
        "[0] bitwidth 8, min -64.000000000000, max 63.500000000000, scale 0.500000000000, offset 0.000000000000",
        "[1] bitwidth 8, min -32.000000000000, max 31.750000000000, scale 0.250000000000, offset 0.000000000000",
        "[2] bitwidth 8, min -16.000000000000, max 15.875000000000, scale 0.125000000000, offset 0.000000000000"]
    assert helpers.run_tool("snpe-dlc-info", "-i", path, "-d").stdout == full


def test_framework_trace_is_refused_in_one_line(tmp_path):
    path = _per_axis_dlc(tmp_path)
    proc = helpers.run_tool("snpe-dlc-info", "-i", path, "-t", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "--dump_framework_trace is not supported" in lines[0]

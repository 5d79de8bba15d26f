"""snpe-dlc-diff on DLC pairs that differ in exactly one known aspect (built in the IR, written as DLCs)."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import helpers
from snpe_tools.dlc import Metadata, write_dlc
from snpe_tools.ir import Encoding, Graph
from snpe_tools.ir import axis_format as af

META = {"converter-command": "snpe-onnx-to-dlc -i m.onnx", "converter-version": "0", "model-copyright": "A corp"}


def build(path, *, weight_delta: float = 0.0, conv_name: str = "conv", beta: float = 1.0, meta=None,
          encoding: Encoding | None = None, extra_output: bool = False) -> str:
    """x [1,4,4,2] NHWC -> Conv2d 1x1 (3 filters) -> Softmax(beta) -> y."""
    g = Graph("m")
    g.add_input("x", (1, 4, 4, 2), axis_format=af.NSC)
    w = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3) / 10
    w[0, 0, 1, 2] += weight_delta
    wn = g.add_const("W", w)
    conv = g.add_op("Conv2d", ["x", wn], ["c"], name=conv_name)
    sm = g.add_op("Softmax", ["c"], ["y"], params={"beta": beta, "axis": 3}, name="softmax")
    g.tensors["c"].encoding = encoding
    g.outputs = ["y"] + (["c"] if extra_output else [])
    assert conv and sm
    write_dlc(g, str(path), Metadata(dict(META if meta is None else meta)))
    return str(path)


@pytest.fixture()
def base(tmp_path):
    return build(tmp_path / "a.dlc")


def diff(*args: str, check: bool = True):
    return helpers.run_tool("snpe-dlc-diff", *args, check=check)


def rows_of(out: str) -> list[list[str]]:
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[1:]]


def test_identical_files(base, tmp_path):
    other = build(tmp_path / "b.dlc")
    proc = diff("-i1", base, "-i2", other)
    assert proc.returncode == 0 and "No differences found" in proc.stdout
    assert "Compared: copyrights, layers, parameters, dimensions, weights, outputs, encodings, metadata" in proc.stdout


def test_weights_within_tolerance(base, tmp_path):
    other = build(tmp_path / "b.dlc", weight_delta=0.25)          # 0.5 -> 0.75, exact in float32
    proc = diff("-i1", base, "-i2", other, "-w")
    assert rows_of(proc.stdout) == [["weights", "tensor W", "max abs diff 0.25 at 1 of 6 values", "tolerance 0"]]
    assert "1 difference(s) found" in proc.stdout
    assert "No differences found" in diff("-i1", base, "-i2", other, "--compare_weights",
                                          "--weight_tolerance", "0.25").stdout
    assert "No differences found" in diff("-i1", base, "-i2", other, "-l", "-p", "-d").stdout


def test_parameters(base, tmp_path):
    other = build(tmp_path / "b.dlc", beta=2.0)
    rows = rows_of(diff("-i1", base, "-i2", other, "-p").stdout)
    assert rows == [["parameters", "softmax: beta", "1.0", "2.0"]]


def test_layers_by_name_and_by_id(base, tmp_path):
    other = build(tmp_path / "b.dlc", conv_name="conv_renamed")
    rows = rows_of(diff("-i1", base, "-i2", other, "-l").stdout)
    assert ["layers", "conv", "Conv2d", "missing"] in rows and ["layers", "conv_renamed", "missing", "Conv2d"] in rows
    rows = rows_of(diff("-i1", base, "-i2", other, "--compare_layers", "-i").stdout)
    assert rows == [["layers", "conv / conv_renamed", "conv (Conv2d)", "conv_renamed (Conv2d)"]]


def test_copyrights_and_metadata(base, tmp_path):
    other = build(tmp_path / "b.dlc", meta=dict(META, **{"model-copyright": "B corp",
                                                          "quantizer-command": "snpe-dlc-quant"}))
    assert rows_of(diff("-i1", base, "-i2", other, "-c").stdout) == [["copyrights", "model-copyright", "A corp",
                                                                      "B corp"]]
    assert rows_of(diff("-i1", base, "-i2", other, "-m").stdout) == [["metadata", "quantizer-command", "-",
                                                                      "snpe-dlc-quant"]]
    assert "No differences found" in diff("-i1", base, "-i2", other, "-l", "-w").stdout


def test_encodings_and_outputs(base, tmp_path):
    other = build(tmp_path / "b.dlc", encoding=Encoding(8, 0.5, -10, -5.0, 122.5), extra_output=True)
    rows = rows_of(diff("-i1", base, "-i2", other, "-e", "-o").stdout)
    assert ["outputs", "graph outputs", "y", "y, c"] in rows
    assert ["encodings", "tensor c", "no encoding", "bitwidth 8, min -5.000000000000, max 122.500000000000, "
            "scale 0.500000000000, offset -10.000000000000"] in rows
    assert len(rows) == 2


def test_save_csv(base, tmp_path):
    other = build(tmp_path / "b.dlc", beta=2.0, weight_delta=0.5)
    out = tmp_path / "d.csv"
    proc = diff("-i1", base, "-i2", other, "-s", str(out))
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Aspect", "Name", "DLC 1", "DLC 2"]
    assert rows[1:] == rows_of(proc.stdout)
    assert {r[0] for r in rows[1:]} == {"parameters", "weights"}


@pytest.mark.parametrize("args,words", [(["-x"], ["--compare_hta_records is not supported"]),
                                        (["--weight_tolerance", "-1"], ["non-negative"])])
def test_refusals_are_one_line(base, args, words):
    proc = diff("-i1", base, "-i2", base, *args, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words)


def test_missing_and_damaged_files(base, tmp_path):
    proc = diff("-i1", base, "-i2", str(tmp_path / "none.dlc"), check=False)
    assert proc.returncode == 1 and "not found" in proc.stderr and len(proc.stderr.splitlines()) == 1
    bad = tmp_path / "bad.dlc"
    bad.write_bytes(b"PK\x03\x04 not really a dlc" * 10)
    proc = diff("-i1", str(bad), "-i2", base, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_converted_models_differ_only_where_expected(tmp_path):
    """A real conversion and its quantized version: every difference is a dtype, an encoding or the
    quantizer command; layers, parameters and outputs agree."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1], name="conv")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), "W")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "m.onnx"))
    helpers.convert_in_process(str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc"))
    rng.standard_normal((1, 4, 4, 3)).astype(np.float32).tofile(tmp_path / "x.raw")
    (tmp_path / "l.txt").write_text(f"{tmp_path / 'x.raw'}\n")
    helpers.run_tool("snpe-dlc-quant", "--input_dlc", str(tmp_path / "m.dlc"), "--input_list",
                     str(tmp_path / "l.txt"), "--output_dlc", str(tmp_path / "q.dlc"))
    rows = rows_of(diff("-i1", str(tmp_path / "m.dlc"), "-i2", str(tmp_path / "q.dlc")).stdout)
    assert rows and {r[0] for r in rows} <= {"dimensions", "weights", "encodings", "metadata"}
    assert ["metadata", "quantizer-command"] in [r[:2] for r in rows]
    assert all("uFxp_8" in r[3] or "uint8" in r[3] or r[0] in ("encodings", "metadata") for r in rows)

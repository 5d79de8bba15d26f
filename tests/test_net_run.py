"""snpe-net-run end to end: ONNX -> `bin/snpe-onnx-to-dlc` -> `bin/snpe-net-run` -> .raw files.

Inputs are written as NHWC float32 .raw files (SNPE's convention for legacy-converted image
models); every value read back is compared with onnxruntime on the NCHW model.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers

NHWC = (0, 2, 3, 1)
NCHW = (0, 3, 1, 2)
SHAPE = [1, 3, 4, 5]          # N, C, H, W (H != W so a transposition mix-up shows)
CO = 2


def two_input_model(extra_outputs: bool = False) -> onnx.ModelProto:
    """a + b -> 'blk/sum' -> Relu ('relu1') -> 'r' -> Conv ('conv1', 2 filters) -> 'head/y'."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((CO, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((CO,)).astype(np.float32), "B")]
    nodes = [helper.make_node("Add", ["a", "b"], ["blk/sum"], name="add1"),
             helper.make_node("Relu", ["blk/sum"], ["r"], name="relu1"),
             helper.make_node("Conv", ["r", "W", "B"], ["head/y"], pads=[1, 1, 1, 1], name="conv1")]
    outs = [helper.make_tensor_value_info("head/y", TensorProto.FLOAT, [1, CO, 4, 5])]
    if extra_outputs:
        outs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, SHAPE) for n in ("blk/sum", "r")]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info(n, TensorProto.FLOAT, SHAPE)
                                             for n in ("a", "b")], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """The converted two-input DLC, a data folder with 3 sets of inputs, and the onnxruntime references."""
    d = tmp_path_factory.mktemp("netrun")
    onnx.save(two_input_model(), str(d / "two.onnx"))
    dlc = str(d / "two.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "two.onnx"), "-o", dlc)
    ref_model = two_input_model(extra_outputs=True)
    rng = np.random.default_rng(1)
    data = d / "data"
    data.mkdir()
    refs = []
    for i in range(3):
        feeds = {n: rng.standard_normal(SHAPE).astype(np.float32) for n in ("a", "b")}
        for n, x in feeds.items():
            np.ascontiguousarray(x.transpose(NHWC)).tofile(data / f"{n}_{i}.raw")
        refs.append(helpers.run_onnxruntime(ref_model, feeds))
    return {"dir": d, "dlc": dlc, "data": data, "refs": refs}


def write_list(path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def pair_line(data, i: int) -> str:
    return f"a:={data / f'a_{i}.raw'} b:={data / f'b_{i}.raw'}"


def net_run(*args: str, cwd=None):
    return helpers.run_tool("snpe-net-run", *args, cwd=cwd)


def read_nhwc(path, c: int, h: int = 4, w: int = 5) -> np.ndarray:
    """A float32 NHWC .raw output back to NCHW for comparison with onnxruntime."""
    arr = np.fromfile(path, dtype=np.float32)
    assert arr.size == h * w * c, f"{path}: {arr.size} values"
    return arr.reshape(1, h, w, c).transpose(NCHW)


def raw_files(root) -> set[str]:
    out = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
    return out


def close(got, ref) -> None:
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_three_inferences(two, tmp_path):
    lst = write_list(tmp_path / "list.txt", [pair_line(two["data"], i) for i in range(3)])
    out = tmp_path / "out"
    proc = net_run("--container", two["dlc"], "--input_list", lst, "--output_dir", str(out))
    assert "Processed 3 inference(s)" in proc.stdout
    assert sorted(os.listdir(out)) == ["Result_0", "Result_1", "Result_2"]
    for i in range(3):
        # the output name 'head/y' makes a subfolder 'head' holding y.raw
        assert raw_files(out / f"Result_{i}") == {"head/y.raw"}
        close(read_nhwc(out / f"Result_{i}" / "head" / "y.raw", CO), two["refs"][i]["head/y"])
    # the three inferences really differ (each line used its own files)
    r0, r1 = (np.fromfile(out / f"Result_{i}" / "head" / "y.raw", np.float32) for i in (0, 1))
    assert not np.allclose(r0, r1)


def test_pair_order_does_not_matter(two, tmp_path):
    d = two["data"]
    lst = write_list(tmp_path / "list.txt", [f"b:={d / 'b_1.raw'} a:={d / 'a_1.raw'}"])
    out = tmp_path / "out"
    net_run("--container", two["dlc"], "--input_list", lst, "--output_dir", str(out))
    close(read_nhwc(out / "Result_0" / "head" / "y.raw", CO), two["refs"][1]["head/y"])


def test_percent_line_selects_intermediate_tensor(two, tmp_path):
    lst = write_list(tmp_path / "list.txt", ["%blk/sum", pair_line(two["data"], 0), pair_line(two["data"], 2)])
    out = tmp_path / "out"
    net_run("--container", two["dlc"], "--input_list", lst, "--output_dir", str(out))
    assert sorted(os.listdir(out)) == ["Result_0", "Result_1"]
    for res, i in ((0, 0), (1, 2)):
        files = raw_files(out / f"Result_{res}")
        assert "blk/sum.raw" in files
        close(read_nhwc(out / f"Result_{res}" / "blk" / "sum.raw", 3), two["refs"][i]["blk/sum"])


def test_hash_line_selects_layer_output(two, tmp_path):
    lst = write_list(tmp_path / "list.txt", ["#relu1", pair_line(two["data"], 1)])
    out = tmp_path / "out"
    net_run("--container", two["dlc"], "--input_list", lst, "--output_dir", str(out))
    files = raw_files(out / "Result_0")
    assert "r.raw" in files
    got = read_nhwc(out / "Result_0" / "r.raw", 3)
    close(got, two["refs"][1]["r"])
    assert (got >= 0).all() and (got == 0).any()          # it really is the Relu output


def test_set_output_tensors(two, tmp_path):
    lst = write_list(tmp_path / "list.txt", [pair_line(two["data"], 0), pair_line(two["data"], 1)])
    out = tmp_path / "out"
    net_run("--container", two["dlc"], "--input_list", lst, "--output_dir", str(out),
            "--set_output_tensors", "r,head/y")
    for i in range(2):
        files = raw_files(out / f"Result_{i}")
        assert {"r.raw", "head/y.raw"} <= files and "blk/sum.raw" not in files
        close(read_nhwc(out / f"Result_{i}" / "r.raw", 3), two["refs"][i]["r"])
        close(read_nhwc(out / f"Result_{i}" / "head" / "y.raw", CO), two["refs"][i]["head/y"])


def test_debug_writes_every_op_output(two, tmp_path):
    lst = write_list(tmp_path / "list.txt", [pair_line(two["data"], 2)])
    out = tmp_path / "out"
    net_run("--container", two["dlc"], "--input_list", lst, "--output_dir", str(out), "--debug")
    files = raw_files(out / "Result_0")
    assert {"blk/sum.raw", "r.raw", "head/y.raw"} <= files
    ref = two["refs"][2]
    close(read_nhwc(out / "Result_0" / "blk" / "sum.raw", 3), ref["blk/sum"])
    close(read_nhwc(out / "Result_0" / "r.raw", 3), ref["r"])
    close(read_nhwc(out / "Result_0" / "head" / "y.raw", CO), ref["head/y"])


def test_single_input_plain_paths_relative_to_list_dir(tmp_path):
    """A single-input model takes plain path lines; relative paths resolve against the list's folder."""
    rng = np.random.default_rng(2)
    w = numpy_helper.from_array(rng.standard_normal((CO, 3, 1, 1)).astype(np.float32), "W")
    g = helper.make_graph([helper.make_node("Conv", ["x", "W"], ["y"], name="pw"),
                           helper.make_node("Sigmoid", ["y"], ["out"], name="sig")], "one",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, CO, 4, 5])], [w])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(tmp_path / "one.onnx"))
    dlc = str(tmp_path / "one.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(tmp_path / "one.onnx"), "-o", dlc)

    listdir = tmp_path / "lists"
    (listdir / "raw").mkdir(parents=True)
    xs = [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(2)]
    for i, x in enumerate(xs):
        np.ascontiguousarray(x.transpose(NHWC)).tofile(listdir / "raw" / f"x{i}.raw")
    lst = write_list(listdir / "input_list.txt", ["raw/x0.raw", "", "x:=raw/x1.raw"])
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    net_run("--container", dlc, "--input_list", lst, "--output_dir", "results", cwd=str(elsewhere))
    out = elsewhere / "results"
    assert sorted(os.listdir(out)) == ["Result_0", "Result_1"]
    for i, x in enumerate(xs):
        ref = helpers.run_onnxruntime(model, {"x": x})["out"]
        close(read_nhwc(out / f"Result_{i}" / "out.raw", CO), ref)


def test_default_output_dir(two, tmp_path):
    lst = write_list(tmp_path / "list.txt", [pair_line(two["data"], 0)])
    net_run("--container", two["dlc"], "--input_list", lst, cwd=str(tmp_path))
    close(read_nhwc(tmp_path / "output" / "Result_0" / "head" / "y.raw", CO), two["refs"][0]["head/y"])


# ---- native input/output files ------------------------------------------------------------------
@pytest.fixture(scope="module")
def int_dlc(tmp_path_factory):
    """int32 model: iy = ix * 3 + c."""
    d = tmp_path_factory.mktemp("intnet")
    k = numpy_helper.from_array(np.full((1, 6), 3, np.int32), "k")
    c = numpy_helper.from_array(np.array([[5, -1, 0, 2, 7, 1]], np.int32), "c")
    g = helper.make_graph([helper.make_node("Mul", ["ix", "k"], ["m"], name="mul"),
                           helper.make_node("Add", ["m", "c"], ["iy"], name="add")], "intnet",
                          [helper.make_tensor_value_info("ix", TensorProto.INT32, [1, 6])],
                          [helper.make_tensor_value_info("iy", TensorProto.INT32, [1, 6])], [k, c])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(d / "int.onnx"))
    dlc = str(d / "int.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", str(d / "int.onnx"), "-o", dlc)
    return dlc


IX = np.array([[1, -2, 3, 1000, 7, -40000]], np.int32)
IY = IX * 3 + np.array([[5, -1, 0, 2, 7, 1]], np.int32)


def test_native_int32_input_files(int_dlc, tmp_path):
    IX.tofile(tmp_path / "ix.raw")
    lst = write_list(tmp_path / "list.txt", [str(tmp_path / "ix.raw")])
    out = tmp_path / "out"
    net_run("--container", int_dlc, "--input_list", lst, "--output_dir", str(out), "--use_native_input_files")
    got = np.fromfile(out / "Result_0" / "iy.raw", dtype=np.float32)      # outputs default to float32
    np.testing.assert_array_equal(got, IY.reshape(-1).astype(np.float32))


def test_native_int32_input_and_output_files(int_dlc, tmp_path):
    IX.tofile(tmp_path / "ix.raw")
    lst = write_list(tmp_path / "list.txt", [str(tmp_path / "ix.raw")])
    out = tmp_path / "out"
    net_run("--container", int_dlc, "--input_list", lst, "--output_dir", str(out), "--use_native_input_files",
            "--use_native_output_files")
    raw = out / "Result_0" / "iy.raw"
    assert os.path.getsize(raw) == 6 * 4
    np.testing.assert_array_equal(np.fromfile(raw, dtype=np.int32), IY.reshape(-1))


def test_int32_model_reads_float32_files_by_default(int_dlc, tmp_path):
    IX.astype(np.float32).tofile(tmp_path / "ix.raw")
    lst = write_list(tmp_path / "list.txt", [str(tmp_path / "ix.raw")])
    out = tmp_path / "out"
    net_run("--container", int_dlc, "--input_list", lst, "--output_dir", str(out))
    np.testing.assert_array_equal(np.fromfile(out / "Result_0" / "iy.raw", dtype=np.float32),
                                  IY.reshape(-1).astype(np.float32))

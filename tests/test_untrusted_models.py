"""Hostile and careless models through the real command lines: nothing outside the named paths is read
or written, constant folding is bounded, and invalid models are refused.

Every case runs ``python bin/<tool>`` in a subprocess as a user would and checks: exit code != 0,
exactly one non-empty stderr line with the expected words, no traceback, no output (DLC or temp
file) written, no new file anywhere under the test folder (the model's folder *and* the folder
holding a "secret" file outside it), and - for the cases that try to read the secret - that its
content appears in no output.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from typing import Tuple

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers

ONNX_TOOL = "snpe-onnx-to-dlc"
TORCH_TOOL = "snpe-pytorch-to-dlc"
TF_TOOL = "snpe-tensorflow-to-dlc"
TFLITE_TOOL = "snpe-tflite-to-dlc"
SECRET = "SNPE-TOOLS-TEST-SECRET-7f3a9c"


# ---- fixtures and assertions -------------------------------------------------------------------
@pytest.fixture
def area(tmp_path):
    """``model/`` (where models and outputs go) and ``outside/secret.txt`` (must never be read)."""
    model = tmp_path / "model"
    outside = tmp_path / "outside"
    model.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET * 64)
    return model, outside


def snapshot(root) -> dict[str, int]:
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[p] = os.lstat(p).st_size
    return out


def fails(tool: str, root, *args: str, keywords=(), env: dict | None = None, limit_as: int | None = None) -> str:
    """Run ``python bin/<tool> args``; it must fail with one clean line and leave every file under ``root``
    as it was.  ``limit_as`` caps the tool's address space (a refused tensor must never be allocated)."""
    before = snapshot(root)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    proc = subprocess.run([sys.executable, os.path.join(helpers.BIN, tool), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, preexec_fn=cap if limit_as else None)
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "report it as a bug" not in lines[0], lines[0]
    for k in keywords:
        assert k in lines[0], f"{k!r} not in error line: {lines[0]}"
    assert SECRET not in proc.stdout + proc.stderr
    after = snapshot(root)
    assert after == before, f"files created or changed: {sorted(set(after.items()) ^ set(before.items()))}"
    return lines[0]


def save_onnx(graph: onnx.GraphProto, path, opset: int = 13, ir_version: int | None = None) -> str:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        model.ir_version = ir_version
    onnx.save(model, str(path))
    return str(path)


def vi(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def external_tensor(name: str, dims, location: str, offset: int | None = None,
                    length: int | None = None) -> onnx.TensorProto:
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            e = t.external_data.add()
            e.key, e.value = key, str(value)
    return t


def add_model(path, weight: onnx.TensorProto, n: int = 4) -> str:
    """y = x + W with W an (external) initializer of n floats."""
    graph = helper.make_graph([helper.make_node("Add", ["x", weight.name], ["y"], name="add")], "net",
                              [vi("x", [n])], [vi("y", [n])], [weight])
    return save_onnx(graph, path)


def conv_model(path) -> str:
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32), "W")
    graph = helper.make_graph([helper.make_node("Conv", ["data", "W"], ["out"], pads=[1, 1, 1, 1], name="conv1")],
                              "net", [vi("data", [1, 3, 8, 8])], [vi("out", [1, 4, 8, 8])], [w])
    return save_onnx(graph, path)


def onnx_fails(area, model_path, *extra, keywords=(), **kw) -> str:
    model, _ = area
    return fails(ONNX_TOOL, model.parent, "-i", str(model_path), "-o", str(model / "out.dlc"), *extra,
                 keywords=keywords, **kw)


# ---- 1. ONNX external data stays inside the model's folder ----------------------------------------
def test_external_data_absolute_path_is_refused(area):
    model, outside = area
    m = add_model(model / "m.onnx", external_tensor("W", [4], str(outside / "secret.txt")))
    onnx_fails(area, m, keywords=("'W'", str(outside / "secret.txt"), "absolute path", "model's folder"))


def test_external_data_dotdot_escape_is_refused(area):
    model, _ = area
    m = add_model(model / "m.onnx", external_tensor("W", [4], "../outside/secret.txt"))
    onnx_fails(area, m, keywords=("'W'", "../outside/secret.txt", "leaves the model's folder"))


def test_external_data_symlink_escape_is_refused(area):
    model, outside = area
    os.symlink(outside / "secret.txt", model / "weights.bin")
    m = add_model(model / "m.onnx", external_tensor("W", [4], "weights.bin"))
    onnx_fails(area, m, keywords=("'W'", "weights.bin", "symbolic link"))


def test_external_data_symlinked_folder_escape_is_refused(area):
    model, outside = area
    os.symlink(outside, model / "data")
    m = add_model(model / "m.onnx", external_tensor("W", [4], "data/secret.txt"))
    onnx_fails(area, m, keywords=("'W'", "data/secret.txt", "leaves the model's folder"))


def test_external_data_escape_is_refused_by_dry_run_too(area):
    model, _ = area
    m = add_model(model / "m.onnx", external_tensor("W", [4], "../outside/secret.txt"))
    fails(ONNX_TOOL, model.parent, "-i", m, "--dry_run", keywords=("'W'", "leaves the model's folder"))


def test_external_data_in_constant_attribute_is_contained(area):
    model, _ = area
    const = helper.make_node("Constant", [], ["c"], name="const",
                             value=external_tensor("cval", [4], "../outside/secret.txt"))
    graph = helper.make_graph([const, helper.make_node("Add", ["x", "c"], ["y"], name="add")], "net",
                              [vi("x", [4])], [vi("y", [4])])
    m = save_onnx(graph, model / "m.onnx")
    onnx_fails(area, m, keywords=("'cval'", "leaves the model's folder"))


def test_external_data_fifo_is_refused_without_hanging(area):
    model, _ = area
    os.mkfifo(model / "pipe.bin")
    m = add_model(model / "m.onnx", external_tensor("W", [4], "pipe.bin"))
    onnx_fails(area, m, keywords=("'W'", "pipe.bin", "not a regular file"))


@pytest.mark.parametrize("offset,length,words", [
    (-4, None, ("negative offset -4",)),
    (1 << 40, None, ("truncated", "1099511627776")),
    (0, -16, ("negative length -16",)),
    (0, 8, ("8 bytes long", "need 16")),
])
def test_external_data_bad_offset_or_length(area, offset, length, words):
    model, _ = area
    (model / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    m = add_model(model / "m.onnx", external_tensor("W", [4], "w.bin", offset, length))
    onnx_fails(area, m, keywords=("'W'", "w.bin", *words))


def test_external_data_shorter_than_dims(area):
    model, _ = area
    (model / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    m = add_model(model / "m.onnx", external_tensor("W", [1 << 33], "w.bin"), n=4)
    onnx_fails(area, m, keywords=("'W'", "w.bin", "truncated", "34359738368 bytes"))


def test_external_data_in_a_subfolder_still_converts(area):
    model, _ = area
    (model / "weights").mkdir()
    (model / "weights" / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    m = add_model(model / "m.onnx", external_tensor("W", [4], "weights/w.bin"))
    helpers.run_tool(ONNX_TOOL, "-i", m, "-o", str(model / "out.dlc"))
    y = helpers.run_dlc(str(model / "out.dlc"), {"x": np.ones(4, np.float32)})["y"]
    np.testing.assert_array_equal(y, np.arange(4, dtype=np.float32) + 1)


# ---- 2. file I/O ops are never evaluated ---------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def _script(module, path) -> str:
    import warnings

    t = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.jit.script(module).save(str(path))
    return str(path)


def _from_file_module(secret: str):
    t = _torch()

    class FromFile(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.path = secret

        def forward(self, x):
            data = t.from_file(self.path, False, 16, dtype=t.uint8)
            return x + data.float().sum()

    return FromFile()


def _save_module(target: str):
    t = _torch()

    class Save(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.path = target

        def forward(self, x):
            t.save(x, self.path)
            return x * 2.0

    return Save()


def test_torchscript_from_file_is_refused(area):
    model, outside = area
    pt = _script(_from_file_module(str(outside / "secret.txt")), model / "m.pt")
    fails(TORCH_TOOL, model.parent, "-i", pt, "-d", "x", "1,4", "-o", str(model / "out.dlc"),
          keywords=("FromFile.forward", "torch.from_file", "reads or writes files", "before loading"))


def test_torchscript_save_is_refused(area):
    model, outside = area
    target = outside / "created.bin"
    pt = _script(_save_module(str(target)), model / "m.pt")
    fails(TORCH_TOOL, model.parent, "-i", pt, "-d", "x", "1,4", "-o", str(model / "out.dlc"),
          keywords=("Save.forward", "torch.save", "reads or writes files"))
    assert not target.exists()


def _setstate_module(target: str):
    t = _torch()

    class SetState(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.k = 2.0
            self.path = target

        @t.jit.export
        def __getstate__(self) -> Tuple[float, bool, str]:
            return (self.k, self.training, self.path)

        @t.jit.export
        def __setstate__(self, state: Tuple[float, bool, str]) -> None:
            self.k = state[0]
            self.training = state[1]
            self.path = state[2]
            t.save(t.ones(2), self.path)

        def forward(self, x):
            return x * self.k

    return SetState()


def test_torchscript_setstate_file_write_is_refused_before_loading(area):
    """torch.jit.load runs __setstate__: the archive's code is checked before torch sees the file."""
    model, outside = area
    target = outside / "created_at_load.bin"
    pt = _script(_setstate_module(str(target)), model / "m.pt")
    fails(TORCH_TOOL, model.parent, "-i", pt, "-d", "x", "1,4", "-o", str(model / "out.dlc"),
          keywords=("SetState.__setstate__", "torch.save", "before loading"))
    assert not target.exists()


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _write_graph(tf, g, path) -> str:
    with open(path, "wb") as fh:
        fh.write(g.as_graph_def().SerializeToString())
    return str(path)


def tf_fails(area, pb, *keywords) -> str:
    model, _ = area
    return fails(TF_TOOL, model.parent, "-i", pb, "-d", "x", "1,4", "--out_node", "y", "-o", str(model / "out.dlc"),
                 keywords=keywords)


def test_tf_read_file_is_refused(tf, area):
    model, outside = area
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        n = tf.strings.length(tf.io.read_file(str(outside / "secret.txt"), name="leak"))
        tf.add(x, tf.cast(n, tf.float32), name="y")
    tf_fails(area, _write_graph(tf, g, model / "m.pb"), "'leak'", "ReadFile", "reads or writes files")


def test_tf_write_file_behind_a_control_dependency_is_refused(tf, area):
    model, outside = area
    target = outside / "created.txt"
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        w = tf.io.write_file(str(target), "pwned", name="drop")
        with tf.control_dependencies([w]):
            one = tf.constant(1.0, name="one")
        tf.add(x, tf.identity(one), name="y")
    tf_fails(area, _write_graph(tf, g, model / "m.pb"), "'drop'", "WriteFile")
    assert not target.exists()


def test_tf_matching_files_is_refused(tf, area):
    model, outside = area
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        n = tf.size(tf.io.matching_files(str(outside / "*"), name="glob"))
        tf.add(x, tf.cast(n, tf.float32), name="y")
    tf_fails(area, _write_graph(tf, g, model / "m.pb"), "'glob'", "MatchingFiles")


def test_tf_read_file_inside_a_function_is_refused(tf, area):
    model, outside = area
    v1 = tf.compat.v1
    secret = str(outside / "secret.txt")
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 4], name="x")

        @tf.function
        def leak(z):
            return z + tf.cast(tf.strings.length(tf.io.read_file(secret)), tf.float32)

        tf.identity(leak(tf.constant(1.0)) + x, name="y")
    tf_fails(area, _write_graph(tf, g, model / "m.pb"), "ReadFile", "in function")


# ---- 3. constant folding is bounded --------------------------------------------------------------
def _constant_of_shape_model(path, n: int) -> str:
    shape = numpy_helper.from_array(np.array([n], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="huge",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("ReduceSum", ["big"], ["s"], name="sum", keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"], name="add")]
    return save_onnx(helper.make_graph(nodes, "net", [vi("x", [4])], [vi("y", [4])], [shape]), path)


def test_constant_of_shape_2gb_fails_fast_without_allocating(area):
    model, _ = area
    m = _constant_of_shape_model(model / "m.onnx", 575_000_000)   # 2.3 GB of float32
    line = onnx_fails(area, m, keywords=("ConstantOfShape", "'huge'", "[575000000]", "fold limit",
                                         "SNPE_TOOLS_FOLD_LIMIT_BYTES="),
                      limit_as=1536 << 20)   # the 2.3 GB tensor could not even be allocated under this cap
    assert "2.14 GiB" in line


def test_expand_to_a_huge_shape_is_refused(area):
    model, _ = area
    inits = [numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
             numpy_helper.from_array(np.array([40000, 40000], np.int64), "to")]
    nodes = [helper.make_node("Expand", ["one", "to"], ["big"], name="blowup"),
             helper.make_node("ReduceSum", ["big"], ["s"], name="sum", keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"], name="add")]
    m = save_onnx(helper.make_graph(nodes, "net", [vi("x", [4])], [vi("y", [4])], inits), model / "m.onnx")
    onnx_fails(area, m, keywords=("Expand", "'blowup'", "[40000,40000]", "fold limit"))


def test_range_to_a_huge_length_is_refused(area):
    model, _ = area
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("a", 0), ("b", 4e9), ("d", 1))]
    nodes = [helper.make_node("Range", ["a", "b", "d"], ["r"], name="ramp"),
             helper.make_node("ReduceSum", ["r"], ["s"], name="sum", keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"], name="add")]
    m = save_onnx(helper.make_graph(nodes, "net", [vi("x", [4])], [vi("y", [4])], inits), model / "m.onnx")
    onnx_fails(area, m, keywords=("Range", "'ramp'", "fold limit"))


def test_fold_limit_is_configurable(area):
    model, _ = area
    m = _constant_of_shape_model(model / "m.onnx", 1024)   # 4 KiB: fine by default
    helpers.run_tool(ONNX_TOOL, "-i", m, "-o", str(model / "ok.dlc"))
    os.remove(model / "ok.dlc")
    onnx_fails(area, m, keywords=("'huge'", "4.00 KiB", "1000 bytes fold limit"),
               env={"SNPE_TOOLS_FOLD_LIMIT_BYTES": "1000"})


def test_fold_limit_must_be_a_number(area):
    model, _ = area
    m = _constant_of_shape_model(model / "m.onnx", 16)
    onnx_fails(area, m, keywords=("SNPE_TOOLS_FOLD_LIMIT_BYTES='lots'", "positive number of bytes"),
               env={"SNPE_TOOLS_FOLD_LIMIT_BYTES": "lots"})


def test_torchscript_huge_constant_is_refused_before_freezing(area):
    t = _torch()
    model, _ = area

    class Big(t.nn.Module):
        def forward(self, x):
            return x + t.zeros(30000, 30000).sum()

    pt = _script(Big(), model / "m.pt")
    fails(TORCH_TOOL, model.parent, "-i", pt, "-d", "x", "1,4", "-o", str(model / "out.dlc"),
          keywords=("aten::zeros", "[30000,30000]", "fold limit"))


def test_tf_fill_huge_constant_is_refused(tf, area):
    model, _ = area
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        tf.add(x, tf.reduce_sum(tf.fill([30000, 30000], 1.0, name="big")), name="y")
    tf_fails(area, _write_graph(tf, g, model / "m.pb"), "Fill", "'big'", "[30000,30000]", "fold limit")


def _tflite_fill_model(n: int) -> bytes:
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model, sg = fb.ModelT(), fb.SubGraphT()
    model.version, model.buffers, sg.tensors = 3, [fb.BufferT()], []

    def tensor(name, shape, typ, data=None) -> int:
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name, np.asarray(shape, np.int32), typ, 0
        if data is not None:
            b = fb.BufferT()
            b.data = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    x = tensor("x", [n, n], fb.TensorType.FLOAT32)
    dims = tensor("dims", [2], fb.TensorType.INT32, np.array([n, n], np.int32))
    val = tensor("val", [], fb.TensorType.FLOAT32, np.array(1.0, np.float32))
    big, y = tensor("big", [n, n], fb.TensorType.FLOAT32), tensor("y", [n, n], fb.TensorType.FLOAT32)
    codes = []
    for name in ("FILL", "ADD"):
        c = fb.OperatorCodeT()
        c.builtinCode = getattr(fb.BuiltinOperator, name)
        c.deprecatedBuiltinCode, c.version = min(c.builtinCode, 127), 1
        codes.append(c)
    fill, add = fb.OperatorT(), fb.OperatorT()
    fill.opcodeIndex, fill.inputs, fill.outputs = 0, [dims, val], [big]
    add.opcodeIndex, add.inputs, add.outputs = 1, [x, big], [y]
    add.builtinOptionsType, add.builtinOptions = fb.BuiltinOptions.AddOptions, fb.AddOptionsT()
    sg.inputs, sg.outputs, sg.operators = [x], [y], [fill, add]
    model.operatorCodes, model.subgraphs, model.description = codes, [sg], "fill"
    return bytes(fbu.convert_object_to_bytearray(model))


def test_tflite_fill_huge_constant_is_refused(tf, area):
    model, _ = area
    (model / "m.tflite").write_bytes(_tflite_fill_model(30000))
    fails(TFLITE_TOOL, model.parent, "-i", str(model / "m.tflite"), "-o", str(model / "out.dlc"),
          keywords=("FILL op #0", "[30000,30000]", "fold limit"))


def test_ir_constant_folding_pass_checks_sizes_first(monkeypatch):
    from snpe_tools.errors import ConversionError
    from snpe_tools.ir.graph import Graph
    from snpe_tools.passes.constant_fold import fold_constants

    g = Graph("g")
    g.add_input("x", [4096, 256], np.float32)
    c = g.add_const("c", np.ones((1, 256), np.float32))
    g.add_op("Tile", [c], ["tiled"], {"multiples": [4096, 1]}, name="tile_op")    # 4 MiB when folded
    g.add_op("ElementWiseAdd", ["x", "tiled"], ["y"], name="add_op")
    g.outputs = ["y"]
    monkeypatch.setenv("SNPE_TOOLS_FOLD_LIMIT_BYTES", str(1 << 20))
    with pytest.raises(ConversionError, match=r"Tile op 'tile_op'.*4\.00 MiB.*1\.00 MiB fold limit"):
        fold_constants(g, None)
    assert g.tensors["tiled"].data is None     # nothing was computed


# ---- 4. validation --------------------------------------------------------------------------------
def test_two_nodes_writing_one_tensor(area):
    model, _ = area
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="first"),
             helper.make_node("Sigmoid", ["x"], ["y"], name="second")]
    m = save_onnx(helper.make_graph(nodes, "net", [vi("x", [4])], [vi("y", [4])]), model / "m.onnx")
    onnx_fails(area, m, keywords=("'y'", "node 'first' (Relu)", "node 'second' (Sigmoid)", "one producer"))


def test_negative_initializer_dims(area):
    model, _ = area
    w = numpy_helper.from_array(np.zeros(4, np.float32), "W")
    w.dims[0] = -4
    onnx_fails(area, add_model(model / "m.onnx", w), keywords=("initializer 'W'", "negative dims [-4]"))


def test_negative_value_info_dims(area):
    model, _ = area
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "net", [vi("x", [1, -3])],
                              [vi("y", [1, 3])])
    m = save_onnx(graph, model / "m.onnx")
    onnx_fails(area, m, keywords=("graph input 'x'", "negative dims"))


def test_initializer_data_shorter_than_dims(area):
    model, _ = area
    w = numpy_helper.from_array(np.zeros(4, np.float32), "W")
    w.dims[0] = 3_000_000_000          # dims beyond int32, 16 bytes of data
    onnx_fails(area, add_model(model / "m.onnx", w), keywords=("initializer 'W'", "16 bytes", "12000000000"))


def test_opset_newer_than_supported(area):
    model, _ = area
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "net", [vi("x", [4])], [vi("y", [4])])
    m = save_onnx(graph, model / "m.onnx", opset=99)
    onnx_fails(area, m, keywords=("opset 99", f"up to {onnx.defs.onnx_opset_version()}", "re-export"))


def test_ir_version_newer_than_supported(area):
    model, _ = area
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "net", [vi("x", [4])], [vi("y", [4])])
    m = save_onnx(graph, model / "m.onnx", ir_version=99)
    onnx_fails(area, m, keywords=("IR version 99", f"up to {onnx.IR_VERSION}"))


def test_onnx_conv_input_channels_must_match_weights(area):
    model, _ = area
    line = onnx_fails(area, conv_model(model / "m.onnx"), "-d", "data", "1,5,8,8",
                      keywords=("Conv node 'conv1'", "[1, 5, 8, 8]", "[4, 3, 3, 3]", "expect 3 input channels",
                                "-d/--input_dim data"))
    assert "5 channels" in line


def test_onnx_conv_input_rank_must_match_weights(area):
    model, _ = area
    onnx_fails(area, conv_model(model / "m.onnx"), "-d", "data", "1,3,8",
               keywords=("Conv node 'conv1'", "[1, 3, 8]", "[4, 3, 3, 3]", "rank-4"))


def test_pytorch_conv_input_channels_must_match_weights(area):
    t = _torch()
    model, _ = area

    class Net(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = t.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return t.relu(self.conv(x))

    pt = _script(Net(), model / "m.pt")
    fails(TORCH_TOOL, model.parent, "-i", pt, "-d", "x", "1,5,8,8", "-o", str(model / "out.dlc"),
          keywords=("conv2d", "[1, 5, 8, 8]", "[4, 3, 3, 3]", "expect 3 input channels", "-d/--input_dim"))


def test_zero_stride_is_a_clear_error(area):
    model, _ = area
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "W")
    graph = helper.make_graph([helper.make_node("Conv", ["data", "W"], ["out"], strides=[0, 0], name="conv1")],
                              "net", [vi("data", [1, 3, 8, 8])], [vi("out", [1, 4, 6, 6])], [w])
    onnx_fails(area, save_onnx(graph, model / "m.onnx"), keywords=("Conv node 'conv1'", "strides [0, 0]", ">= 1"))


def test_input_dim_over_int32_is_a_clear_error(area):
    model, _ = area
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "net", [vi("x", [1 << 40])],
                              [vi("y", [1 << 40])])
    onnx_fails(area, save_onnx(graph, model / "m.onnx"), keywords=("input 'x'", "1099511627776", "2147483647"))


def test_tf_saved_model_with_read_file_is_refused_before_loading(tf, area):
    """tf.saved_model.load runs the model's restore/init functions: its file I/O is refused first."""
    model, outside = area
    secret = str(outside / "secret.txt")

    class Leak(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def serve(self, x):
            return {"y": x + tf.cast(tf.strings.length(tf.io.read_file(secret)), tf.float32)}

    m = Leak()
    tf.saved_model.save(m, str(model / "sm"), signatures={"serving_default": m.serve})
    fails(TF_TOOL, model.parent, "-i", str(model / "sm"), "-d", "x", "1,4", "--out_node", "y",
          "-o", str(model / "out.dlc"), keywords=("SavedModel", "ReadFile", "in function"))

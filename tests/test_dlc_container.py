"""The DLC v4 container as written and read back (docs/dlc-format.rst).

Covers determinism, the ZIP layout and stream headers, ``dlc.metadata``, a full reader round
trip against the in-memory graph, atomic writes and the reader's rejection of damaged files.
"""
from __future__ import annotations

import os
import re
import time
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
import snpe_tools
from snpe_tools.dlc import Metadata, read_dlc, write_dlc
from snpe_tools.dlc import writer as dlc_writer
from snpe_tools.dlc.plan import make_plan
from snpe_tools.errors import DLCError
from snpe_tools.frontends.onnx.converter import OnnxOptions, convert_onnx
from snpe_tools.passes import legacy_pipeline, run_pipeline
from snpe_tools.tools.common import run_main
from snpe_tools.tools.onnx_to_dlc import main as converter_main

HEADER = b"\xd5\x0a\x04\x00\x00\x00\x00\x00"
MEMBERS = ["dlc.metadata", "model", "model.params"]


def conv_net(path: str) -> onnx.ModelProto:
    """Conv(stride 2) -> Relu -> depthwise Conv -> MaxPool -> GAP -> Flatten -> Gemm -> Softmax."""
    rng = np.random.default_rng(0)

    def init(name, shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    inits = [init("W1", (4, 3, 3, 3)), init("B1", (4,)), init("W2", (4, 1, 3, 3)), init("B2", (4,)),
             init("G", (5, 4)), init("GB", (5,))]
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], pads=[1, 1, 1, 1], group=4, name="dw"),
             helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "GB"], ["y"], transB=1, name="fc"),
             helper.make_node("Softmax", ["y"], ["prob"], axis=1, name="sm")]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 10])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    p = str(tmp_path_factory.mktemp("container") / "net.onnx")
    conv_net(p)
    return p


@pytest.fixture(scope="module")
def dlc_path(model_path, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("container_dlc") / "net.dlc")
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model_path, "-o", out)
    return out


def members(path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rezip(src: str, dst, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = (replace or {}).get(info.filename, zin.read(info.filename))
            zout.writestr(info, data)


# ---- (a) determinism ----------------------------------------------------------------------------
def test_same_input_gives_identical_bytes(model_path, tmp_path):
    (tmp_path / "c.txt").write_text("Copyright (c) Example\nAll rights reserved.\n")
    flags = ["--model_version", "v7", "--copyright_file", str(tmp_path / "c.txt"), "-b", "1"]
    first, second = tmp_path / "a" / "net.dlc", tmp_path / "b" / "net.dlc"   # graph name = file stem
    os.makedirs(first.parent)
    os.makedirs(second.parent)
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model_path, "-o", str(first), *flags)
    time.sleep(1.1)     # ZIP timestamps have 2 s resolution; make sure the wall clock moved on
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model_path, "-o", str(second), *flags)
    a, b = first.read_bytes(), second.read_bytes()
    assert len(a) > 1000
    assert a == b


# ---- (b) ZIP layout and stream headers -------------------------------------------------------------
def test_zip_members_order_and_storage(dlc_path):
    with zipfile.ZipFile(dlc_path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == MEMBERS
        for i in infos:
            assert i.compress_type == zipfile.ZIP_STORED
            assert i.compress_size == i.file_size
            assert i.date_time == (1980, 1, 1, 0, 0, 0)
        assert zf.testzip() is None


def test_stream_headers(dlc_path):
    m = members(dlc_path)
    model, params = m["model"], m["model.params"]
    assert model[:8] == HEADER and params[:8] == HEADER
    assert model[12:16] == b"NETD"
    assert params[12:16] == b"NR64"          # the params form Qualcomm's 2.25 writes for every size
    # the flatbuffer root offset (first 4 bytes after the header) points inside the buffer
    for data in (model, params):
        root = int.from_bytes(data[8:12], "little")
        assert 8 <= root < len(data) - 8


def test_params_hold_the_weights(dlc_path):
    """The conv weights re-laid out to HWIO are stored verbatim (raw little-endian) in model.params."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)        # same stream as conv_net()
    hwio = np.ascontiguousarray(np.transpose(w1, (2, 3, 1, 0)))
    assert hwio.tobytes() in members(dlc_path)["model.params"]


# ---- (c) dlc.metadata ----------------------------------------------------------------------------
def metadata_lines(path: str) -> dict[str, str]:
    text = members(path)["dlc.metadata"].decode("utf-8")
    assert text.endswith("\n")
    out = {}
    for ln in text.split("\n")[:-1]:
        k, v = ln.split("=", 1)
        assert k not in out
        out[k] = v
    return out


def test_metadata_contents(model_path, tmp_path):
    version = "".join(chr(ord("a") + i % 26) for i in range(100))
    copyright_text = "Copyright (c) 2024 Example Corp.\nAll rights reserved.\n  Licensed under X = Y\n"
    cfile = tmp_path / "copyright.txt"
    cfile.write_text(copyright_text, encoding="utf-8")
    out = tmp_path / "written_output_file.dlc"
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model_path, "-o", str(out), "--model_version", version,
                     "--copyright_file", str(cfile), "-b", "1")
    raw = metadata_lines(str(out))
    assert list(raw) == ["converter-command", "converter-version", "model-copyright", "model-version",
                         "quantizer-command"]
    assert raw["quantizer-command"] == "N/A"

    cmd = raw["converter-command"]
    assert cmd.startswith("snpe-onnx-to-dlc ")
    keys = re.findall(r" ([a-z_]+)=", cmd)
    assert keys == sorted(keys)
    assert {"batch", "copyright_file", "model_version", "input_dim", "disable_batchnorm_folding",
            "no_simplification", "define_symbol", "debug"} <= set(keys)
    assert "input_network" not in keys and "output_path" not in keys
    assert os.path.basename(model_path) not in cmd and "written_output_file" not in cmd
    assert " batch=1 " in cmd

    assert raw["converter-version"] == snpe_tools.__version__
    assert raw["model-version"] == version[:64]
    # one line per key: the newlines of the copyright are escaped in the file
    assert raw["model-copyright"] == copyright_text.replace("\n", "\\n")

    meta = read_dlc(str(out)).metadata
    assert meta.get("model-copyright") == copyright_text
    assert meta.get("model-version") == version[:64]
    assert meta.get("converter-version") == snpe_tools.__version__


def test_metadata_defaults(dlc_path):
    raw = metadata_lines(dlc_path)
    assert raw["model-copyright"] == "N/A"
    assert raw["model-version"] == "N/A"
    meta = read_dlc(dlc_path).metadata
    assert meta.get("model-copyright") == "N/A" and meta.get("model-version") == "N/A"


def test_metadata_backslashes_round_trip(model_path, tmp_path):
    text = "C:\\new\\tools\\n is not a newline\\\nline two \\\\ end\n"
    cfile = tmp_path / "c.txt"
    cfile.write_text(text, encoding="utf-8")
    out = tmp_path / "o.dlc"
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model_path, "-o", str(out), "--copyright_file", str(cfile))
    assert len(members(str(out))["dlc.metadata"].decode().split("\n")) == 6      # 5 keys + final ""
    assert read_dlc(str(out)).metadata.get("model-copyright") == text


@pytest.mark.parametrize("sep", ["\x0c", "\u2028"])
def test_metadata_unusual_line_breaks_round_trip(model_path, tmp_path, sep):
    text = f"Copyright (c) 2024 Example\n{sep}Page two of the licence\n"
    cfile = tmp_path / "c.txt"
    cfile.write_text(text, encoding="utf-8")
    out = tmp_path / "o.dlc"
    helpers.run_tool("snpe-onnx-to-dlc", "-i", model_path, "-o", str(out), "--copyright_file", str(cfile))
    meta = read_dlc(str(out)).metadata
    assert meta.get("model-copyright") == text
    assert meta.get("model-version") == "N/A"


def test_metadata_class_round_trip():
    values = {"converter-command": "snpe-onnx-to-dlc a=1 b=[['x', '1,2']]", "converter-version": "9.9",
              "model-copyright": "line1\nline2\\nliteral\n\nend\\", "model-version": "=v=1=",
              "zz-extra": "kept"}
    text = Metadata(values).to_text()
    assert text.count("\n") == len(values)
    assert text.splitlines()[0].startswith("converter-command=")
    assert Metadata.from_text(text).values == values


# ---- (d) read_dlc round trip ---------------------------------------------------------------------
def in_memory_graph(model_path: str):
    graph = convert_onnx(model_path, OnnxOptions())
    run_pipeline(graph, legacy_pipeline())
    return graph


def assert_param_equal(a, b, where: str) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def test_read_round_trip(model_path, tmp_path):
    graph = in_memory_graph(model_path)
    meta = Metadata({"converter-version": "x", "model-version": "rt"})
    out = str(tmp_path / "rt.dlc")
    write_dlc(graph, out, meta)
    dlc = read_dlc(out)
    back = dlc.graph
    assert dlc.metadata.values == meta.values
    assert back.name == graph.name
    assert back.inputs == graph.inputs == ["x"] and back.outputs == graph.outputs == ["prob"]
    assert set(back.tensors) == set(graph.tensors)
    for name, t in graph.tensors.items():
        u = back.tensors[name]
        assert tuple(u.shape) == tuple(t.shape), name
        assert np.dtype(u.dtype) == np.dtype(t.dtype), name
        # weights carry their QNN layout in the file (Conv2d: HWIO), everything else the IR's format
        assert u.axis_format == ("HWIO" if name in ("W1", "W2") else t.axis_format), name
        assert (u.data is None) == (t.data is None), name
        if t.data is not None:
            np.testing.assert_array_equal(u.data, np.asarray(t.data), err_msg=name)
    assert tuple(back.tensors["x"].shape) == (1, 8, 10, 3)
    assert tuple(back.tensors["W1"].shape) == (3, 3, 3, 4)
    for name in graph.inputs:
        assert back.input_info[name] == graph.input_info[name]
    assert [o.name for o in back.ops] == [o.name for o in graph.ops]
    for a, b in zip(graph.ops, back.ops):
        assert (b.type, b.inputs, b.outputs) == (a.type, a.inputs, a.outputs), a.name
        assert set(b.params) == set(a.params), a.name
        for k in a.params:
            assert_param_equal(a.params[k], b.params[k], f"{a.name}.{k}")
    types = [o.type for o in back.ops]
    assert "Conv2d" in types and "DepthWiseConv2d" in types and "FullyConnected" in types
    assert "Transpose" not in types


def test_round_trip_runs_like_onnxruntime(model_path, dlc_path):
    x = np.random.default_rng(5).standard_normal((1, 3, 8, 10)).astype(np.float32)
    ref = helpers.run_onnxruntime(model_path, {"x": x})["prob"]
    got = helpers.run_dlc(dlc_path, {"x": x})["prob"]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_rewrite_of_read_graph_is_identical(dlc_path, tmp_path):
    """read -> write gives the same model and model.params bytes (nothing lost or reordered)."""
    dlc = read_dlc(dlc_path)
    out = str(tmp_path / "again.dlc")
    write_dlc(dlc.graph, out, dlc.metadata)
    assert members(out) == members(dlc_path)


# ---- (e) atomic write ----------------------------------------------------------------------------
def convert_with(model_path: str, out: str) -> int:
    return run_main(converter_main, ["-i", model_path, "-o", out])


def no_temp_files(d) -> bool:
    return not any(n.startswith(".snpe-tools-") for n in os.listdir(d))


def test_failing_params_serialisation_writes_nothing(model_path, tmp_path, monkeypatch, capsys):
    real = dlc_writer.serialize_params
    calls = []

    def boom(graph):
        calls.append(1)
        real(graph)                       # do the work, then fail "mid-way" through writing
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dlc_writer, "serialize_params", boom)
    out = tmp_path / "o.dlc"
    assert convert_with(model_path, str(out)) == 1
    assert calls == [1]
    assert not out.exists()
    assert no_temp_files(tmp_path) and os.listdir(tmp_path) == []
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    assert len(err) == 1 and "disk on fire" in err[0]


def test_failure_while_zipping_leaves_no_temp_file(model_path, tmp_path, monkeypatch):
    real = dlc_writer._zip_member

    def member(zf, name, data):
        if name == "model.params":      # metadata and model are already in the temp file
            raise OSError(28, "No space left on device")
        real(zf, name, data)

    monkeypatch.setattr(dlc_writer, "_zip_member", member)
    out = tmp_path / "o.dlc"
    assert convert_with(model_path, str(out)) == 1
    assert os.listdir(tmp_path) == []


def test_failed_rename_leaves_no_temp_file(model_path, tmp_path, monkeypatch):
    def replace(src, dst):
        assert os.path.basename(src).startswith(".snpe-tools-") and os.path.getsize(src) > 0
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dlc_writer.os, "replace", replace)
    out = tmp_path / "o.dlc"
    assert convert_with(model_path, str(out)) == 1
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_existing_dlc_untouched_when_conversion_fails(model_path, dlc_path, tmp_path, monkeypatch):
    target = tmp_path / "net.dlc"
    original = open(dlc_path, "rb").read()
    target.write_bytes(original)
    mtime = os.stat(target).st_mtime_ns

    def boom(graph):
        raise RuntimeError("serialiser crashed")

    monkeypatch.setattr(dlc_writer, "serialize_params", boom)
    assert convert_with(model_path, str(target)) == 1
    assert target.read_bytes() == original and os.stat(target).st_mtime_ns == mtime
    assert os.listdir(tmp_path) == ["net.dlc"]

    monkeypatch.setattr(dlc_writer, "serialize_params", dlc_writer.serialize_params)
    real = dlc_writer._zip_member

    def member(zf, name, data):
        if name == "model":
            raise OSError(5, "I/O error")
        real(zf, name, data)

    monkeypatch.setattr(dlc_writer, "_zip_member", member)
    assert convert_with(model_path, str(target)) == 1
    assert target.read_bytes() == original
    assert os.listdir(tmp_path) == ["net.dlc"]


def test_successful_write_replaces_existing_file(model_path, dlc_path, tmp_path):
    target = tmp_path / "net.dlc"
    target.write_bytes(b"old junk")
    assert convert_with(model_path, str(target)) == 0
    assert target.read_bytes() == open(dlc_path, "rb").read()
    assert os.listdir(tmp_path) == ["net.dlc"]
    # permissions follow the umask like a normal file, not mkstemp's 0600
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask


# ---- (f) reader rejects damaged files --------------------------------------------------------------
def assert_rejected(path, *words: str) -> str:
    with pytest.raises(DLCError) as exc_info:
        read_dlc(str(path))
    msg = str(exc_info.value)
    assert str(path) in msg
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
    return msg


def test_reject_missing_file(tmp_path):
    assert_rejected(tmp_path / "nothing.dlc", "not found")


def test_reject_directory(tmp_path):
    assert_rejected(tmp_path, "directory")


def test_reject_non_zip(tmp_path):
    p = tmp_path / "text.dlc"
    p.write_text("definitely not a zip archive\n" * 20)
    assert_rejected(p, "not a valid DLC")


def test_reject_empty_file(tmp_path):
    p = tmp_path / "empty.dlc"
    p.write_bytes(b"")
    assert_rejected(p)


@pytest.mark.parametrize("missing", ["model", "model.params"])
def test_reject_zip_without_member(dlc_path, tmp_path, missing):
    p = tmp_path / "partial.dlc"
    rezip(dlc_path, p, drop=(missing,))
    assert_rejected(p, f"'{missing}'")


def test_zip_without_metadata_is_readable(dlc_path, tmp_path):
    p = tmp_path / "nometa.dlc"
    rezip(dlc_path, p, drop=("dlc.metadata",))
    dlc = read_dlc(str(p))
    assert dlc.metadata.get("converter-version") == "N/A"
    assert len(dlc.graph.ops) == len(read_dlc(dlc_path).graph.ops)


@pytest.mark.parametrize("member", ["model", "model.params"])
def test_reject_wrong_major_version(dlc_path, tmp_path, member):
    data = bytearray(members(dlc_path)[member])
    data[2] = 3
    p = tmp_path / "v3.dlc"
    rezip(dlc_path, p, replace={member: bytes(data)})
    assert_rejected(p, "version 3")


@pytest.mark.parametrize("member,ident", [("model", b"NETP"), ("model.params", b"NETD"),
                                          ("model", b"XXXX")])
def test_reject_wrong_identifier(dlc_path, tmp_path, member, ident):
    data = bytearray(members(dlc_path)[member])
    data[12:16] = ident
    p = tmp_path / "ident.dlc"
    rezip(dlc_path, p, replace={member: bytes(data)})
    assert_rejected(p, f"'{member}'")


def test_reject_missing_magic(dlc_path, tmp_path):
    data = bytearray(members(dlc_path)["model"])
    data[0:2] = b"PK"
    p = tmp_path / "magic.dlc"
    rezip(dlc_path, p, replace={"model": bytes(data)})
    assert_rejected(p, "header")


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.6, 0.95])
def test_reject_truncated_file(dlc_path, tmp_path, keep):
    data = open(dlc_path, "rb").read()
    p = tmp_path / "trunc.dlc"
    p.write_bytes(data[: int(len(data) * keep)])
    assert_rejected(p)


@pytest.mark.parametrize("member", ["model", "model.params"])
def test_reject_truncated_member(dlc_path, tmp_path, member):
    """The ZIP is intact but a member's flatbuffer is cut short."""
    data = members(dlc_path)[member]
    p = tmp_path / "short.dlc"
    rezip(dlc_path, p, replace={member: data[: len(data) // 2]})
    assert_rejected(p)


def test_reject_params_for_fewer_nodes(dlc_path, tmp_path, model_path):
    """model.params from a different (smaller) graph: node count / weights mismatch is detected."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W1")
    g = helper.make_graph([helper.make_node("Conv", ["x", "W1"], ["prob"], name="conv1")], "net",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 10])],
                          [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 4, 6, 8])], [w])
    small = tmp_path / "small.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), small)
    small_dlc = str(tmp_path / "small.dlc")
    helpers.convert_in_process(str(small), small_dlc)
    p = tmp_path / "mixed.dlc"
    rezip(dlc_path, p, replace={"model.params": members(small_dlc)["model.params"]})
    assert_rejected(p, "model.params")


def test_reject_node_count_mismatch(dlc_path, tmp_path):
    """A model with one more node (an extra Output) than model.params lists."""
    graph = read_dlc(dlc_path).graph
    graph.add_op("Relu", [graph.outputs[0]], ["extra"], name="extra")
    p = tmp_path / "count.dlc"
    rezip(dlc_path, p, replace={"model": dlc_writer.serialize_model(make_plan(graph))})
    n = len(graph.ops)
    assert_rejected(p, f"{n - 1} nodes", f"has {n}", "corrupt")


def test_every_single_byte_flip_is_caught_or_harmless(dlc_path, tmp_path):
    """Flip each byte of `model` (CRC recomputed): read_dlc either succeeds or raises DLCError."""
    data = members(dlc_path)["model"]
    p = tmp_path / "flip.dlc"
    rejected = 0
    for off in range(8, len(data), 3):
        b = bytearray(data)
        b[off] ^= 0xA5
        rezip(dlc_path, p, replace={"model": bytes(b)})
        try:
            read_dlc(str(p))
        except DLCError as exc:
            rejected += 1
            assert str(p) in str(exc)
    assert rejected > 0

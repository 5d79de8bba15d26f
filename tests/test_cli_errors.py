"""Bad input through the real command lines: one clear line on stderr, exit != 0, nothing written.

Every case runs ``python bin/<tool>`` in a subprocess exactly as a user or a Makefile would and
checks: the exit code, that stderr holds exactly one non-empty line naming the problem, that no
traceback is printed, and that no output (DLC, temp file, Result_ directory) is left behind.
"""
from __future__ import annotations

import os
import random
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
from snpe_tools.dlc import read_dlc
from snpe_tools.frontends.onnx.registry import get_translator

CONVERTER = "snpe-onnx-to-dlc"
NET_RUN = "snpe-net-run"


# ---- models ----------------------------------------------------------------------------------
def conv_model(path: str, batch: int | str = 1, name: str = "input") -> onnx.ModelProto:
    """input [batch,3,8,8] -> Conv(4 filters, 3x3, pad 1) -> Relu -> output [batch,4,8,8]."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((4,)).astype(np.float32), "B")]
    nodes = [helper.make_node("Conv", [name, "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["output"], name="relu")]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 4, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model


def weighty_model(path: str) -> None:
    """A model whose bytes are mostly weights (a Gemm with a 64x256 matrix)."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal((64, 256)).astype(np.float32), "G"),
             numpy_helper.from_array(rng.standard_normal((64,)).astype(np.float32), "GB")]
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "G", "GB"], ["y"], transB=1, name="fc")], "fc",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


UNSUPPORTED = {"Det": ["det_a", "det_b"], "Unique": ["unique_1"]}


def unsupported_model(path: str) -> None:
    """Two Det nodes and one Unique on the graph input, plus supported Relu/Add around them."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Det", ["r"], ["d1"], name="det_a"),
             helper.make_node("Det", ["x"], ["d2"], name="det_b"),
             helper.make_node("Unique", ["r"], ["e"], name="unique_1"),
             helper.make_node("Add", ["d1", "d2"], ["s"], name="add")]
    graph = helper.make_graph(nodes, "unsup", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
                              [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2]),
                               helper.make_tensor_value_info("e", TensorProto.FLOAT, ["n"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


# ---- assertions ------------------------------------------------------------------------------
def listing(d) -> set[str]:
    return set(os.listdir(d))


def assert_one_line_error(proc, *keywords: str) -> str:
    """Exit != 0, exactly one non-empty stderr line containing every keyword, no traceback anywhere."""
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    for k in keywords:
        assert k in lines[0], f"{k!r} not in error line: {lines[0]}"
    return lines[0]


def convert_fails(tmp_path, *args: str, keywords=(), out_name="out.dlc") -> str:
    """Run the converter into tmp_path/out_name; it must fail cleanly and leave the folder unchanged."""
    before = listing(tmp_path)
    proc = helpers.run_tool(CONVERTER, *args, "-o", str(tmp_path / out_name), check=False)
    line = assert_one_line_error(proc, *keywords)
    after = listing(tmp_path)
    assert after == before, f"files left behind: {sorted(after - before)}"
    assert not any(n.startswith(".snpe-tools-") for n in after)
    return line


# ---- snpe-onnx-to-dlc ------------------------------------------------------------------------
def test_missing_input_file(tmp_path):
    missing = str(tmp_path / "nope.onnx")
    convert_fails(tmp_path, "-i", missing, keywords=("not found", missing))


def test_text_file_renamed_onnx(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("These are my meeting notes.\nNot a model at all = true\n")
    convert_fails(tmp_path, "-i", str(p), keywords=("not a valid ONNX", str(p)))


def test_truncated_onnx(tmp_path):
    full = tmp_path / "full.onnx"
    weighty_model(str(full))
    helpers.run_tool(CONVERTER, "-i", str(full), "-o", str(tmp_path / "full.dlc"))   # the intact file converts
    os.remove(tmp_path / "full.dlc")
    data = full.read_bytes()
    assert len(data) > 64 * 256 * 4
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    convert_fails(tmp_path, "-i", str(cut), keywords=("not a valid ONNX", str(cut)))


def test_unsupported_ops_listed_at_once(tmp_path):
    for t in UNSUPPORTED:
        assert get_translator(t) is None, f"{t} became supported: pick another op type for this test"
    assert get_translator("Relu") is not None and get_translator("Add") is not None
    m = tmp_path / "unsup.onnx"
    unsupported_model(str(m))
    line = convert_fails(tmp_path, "-i", str(m), keywords=("Det", "Unique", "x2", "x1", "det_a", "det_b",
                                                            "unique_1"))
    assert "3 node(s)" in line
    # the supported ops are not reported as unsupported
    assert "Relu" not in line and "Add" not in line and "(relu" not in line and "(add" not in line
    # each type is followed by its own count and names
    assert line.index("Det") < line.index("x2") < line.index("det_a") < line.index("Unique") \
        < line.index("x1") < line.index("unique_1")


def test_unsupported_model_does_not_clobber_existing_dlc(tmp_path):
    m = tmp_path / "unsup.onnx"
    unsupported_model(str(m))
    target = tmp_path / "out.dlc"
    target.write_bytes(b"previous DLC content")
    convert_fails(tmp_path, "-i", str(m), keywords=("Det",))
    assert target.read_bytes() == b"previous DLC content"


def test_input_dim_unknown_input(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    line = convert_fails(tmp_path, "-i", str(m), "-d", "data", "1,3,8,8", keywords=("'data'", "input"))
    assert "not an input of the model" in line and "model inputs: input" in line


def test_input_dim_malformed(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    convert_fails(tmp_path, "-i", str(m), "-d", "input", "1,a,3", keywords=("-d/--input_dim", "input", "1,a,3",
                                                                           "integers"))


def test_symbolic_batch_needs_a_flag(tmp_path):
    m = tmp_path / "sym.onnx"
    conv_model(str(m), batch="N")
    line = convert_fails(tmp_path, "-i", str(m), keywords=("'input'", "N", "-d", "-s", "-b"))
    assert "symbolic" in line


@pytest.mark.parametrize("flags", [("-b", "1"), ("-s", "N", "1"), ("-d", "input", "1,3,8,8"),
                                   ("--batch", "1"), ("--define_symbol", "N", "1"),
                                   ("--input_dim", "input", "1,3,8,8")])
def test_symbolic_batch_resolved(tmp_path, flags):
    m = tmp_path / "sym.onnx"
    model = conv_model(str(m), batch="N")
    out = str(tmp_path / "sym.dlc")
    helpers.run_tool(CONVERTER, "-i", str(m), "-o", out, *flags)
    graph = read_dlc(out).graph
    assert graph.inputs == ["input"]
    assert tuple(graph.tensors["input"].shape) == (1, 8, 8, 3)          # NCHW 1,3,8,8 -> NHWC
    assert tuple(graph.tensors["output"].shape) == (1, 8, 8, 4)
    x = np.random.default_rng(3).standard_normal((1, 3, 8, 8)).astype(np.float32)
    ref = helpers.run_onnxruntime(model, {"input": x})["output"]
    got = helpers.run_dlc(out, {"input": x})["output"]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_input_type_bogus(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    convert_fails(tmp_path, "-i", str(m), "--input_type", "input", "bogus",
                  keywords=("--input_type", "bogus", "image", "default", "opaque"))


def test_copyright_file_missing(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    missing = str(tmp_path / "no_copyright.txt")
    convert_fails(tmp_path, "-i", str(m), "--copyright_file", missing,
                  keywords=("--copyright_file", missing, "not found"))


def test_input_encoding_conversion_rejected(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    convert_fails(tmp_path, "-i", str(m), "--input_encoding", "input", "rgb", "nv21",
                  keywords=("--input_encoding", "rgb", "nv21", "no colour conversion"))


def test_input_encoding_unknown_rejected(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    convert_fails(tmp_path, "-i", str(m), "-e", "input", "yuv444",
                  keywords=("--input_encoding", "yuv444", "nv21", "bgr"))


@pytest.mark.parametrize("debug_flag", [("--debug",), ("--debug", "0")])
def test_debug_shows_traceback(tmp_path, debug_flag):
    missing = str(tmp_path / "nope.onnx")
    proc = helpers.run_tool(CONVERTER, "-i", missing, "-o", str(tmp_path / "o.dlc"), *debug_flag, check=False)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "ConversionError" in proc.stderr and missing in proc.stderr
    assert listing(tmp_path) == set()


def test_debug_equals_form_shows_traceback(tmp_path):
    missing = str(tmp_path / "nope.onnx")
    proc = helpers.run_tool(CONVERTER, "-i", missing, "-o", str(tmp_path / "o.dlc"), "--debug=0", check=False)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr


def test_dry_run_unsupported_model(tmp_path):
    m = tmp_path / "unsup.onnx"
    unsupported_model(str(m))
    before = listing(tmp_path)
    proc = helpers.run_tool(CONVERTER, "-i", str(m), "-o", str(tmp_path / "out.dlc"), "--dry_run", check=False)
    assert proc.returncode == 0, proc.stderr
    assert listing(tmp_path) == before            # neither -o nor the default unsup.dlc was written
    assert "Traceback" not in proc.stderr
    rows = {}
    for ln in proc.stdout.splitlines():
        parts = ln.split()
        if len(parts) == 3 and parts[2] in ("supported", "unsupported"):
            rows[parts[0]] = (int(parts[1]), parts[2])
    assert rows == {"Add": (1, "supported"), "Det": (2, "unsupported"), "Unique": (1, "unsupported"),
                    "Relu": (1, "supported")}
    assert "det_a" in proc.stdout and "unique_1" in proc.stdout


def test_dry_run_supported_model(tmp_path):
    m = tmp_path / "m.onnx"
    conv_model(str(m))
    proc = helpers.run_tool(CONVERTER, "-i", str(m), "--dry_run", check=False)
    assert proc.returncode == 0, proc.stderr
    assert listing(tmp_path) == {"m.onnx"}
    assert "unsupported" not in proc.stdout
    assert "Conv" in proc.stdout and "Relu" in proc.stdout


# ---- snpe-net-run ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def netrun_dlc(tmp_path_factory):
    """A converted conv model (input 'input' NHWC [1,8,8,3]) and one good raw file for it."""
    d = tmp_path_factory.mktemp("netrun_src")
    conv_model(str(d / "m.onnx"))
    dlc = str(d / "m.dlc")
    helpers.convert_in_process(str(d / "m.onnx"), dlc)
    raw = d / "input.raw"
    np.random.default_rng(4).standard_normal((1, 8, 8, 3)).astype(np.float32).tofile(raw)
    return dlc, str(raw)


def run_fails(tmp_path, container: str, input_list: str, *keywords: str) -> str:
    out_dir = tmp_path / "output"
    proc = helpers.run_tool(NET_RUN, "--container", container, "--input_list", input_list,
                            "--output_dir", str(out_dir), check=False)
    line = assert_one_line_error(proc, *keywords)
    assert not (out_dir / "Result_0").exists()
    return line


def good_list(tmp_path, raw: str) -> str:
    p = tmp_path / "list.txt"
    p.write_text(f"input:={raw}\n")
    return str(p)


def test_netrun_sanity(tmp_path, netrun_dlc):
    """The fixtures are good: the same command succeeds (so the failures below are the fault's)."""
    dlc, raw = netrun_dlc
    proc = helpers.run_tool(NET_RUN, "--container", dlc, "--input_list", good_list(tmp_path, raw),
                            "--output_dir", str(tmp_path / "output"))
    out = np.fromfile(tmp_path / "output" / "Result_0" / "output.raw", dtype=np.float32)
    assert out.size == 8 * 8 * 4 and proc.returncode == 0


def test_netrun_missing_container(tmp_path, netrun_dlc):
    _, raw = netrun_dlc
    missing = str(tmp_path / "missing.dlc")
    run_fails(tmp_path, missing, good_list(tmp_path, raw), "not found", missing)


def test_netrun_random_bytes_container(tmp_path, netrun_dlc):
    _, raw = netrun_dlc
    bad = tmp_path / "random.dlc"
    bad.write_bytes(random.Random(0).randbytes(4096))
    run_fails(tmp_path, str(bad), good_list(tmp_path, raw), str(bad), "not a valid DLC")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_netrun_truncated_container(tmp_path, netrun_dlc, fraction):
    dlc, raw = netrun_dlc
    data = open(dlc, "rb").read()
    bad = tmp_path / "trunc.dlc"
    bad.write_bytes(data[: int(len(data) * fraction)])
    run_fails(tmp_path, str(bad), good_list(tmp_path, raw), str(bad))


def rezip(src: str, dst, member: str, mutate) -> None:
    """Copy a DLC, changing one member's bytes; zipfile writes a correct CRC for the new bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, mutate(data) if info.filename == member else data)


def flip(data: bytes, offset: int, mask: int = 0xFF) -> bytes:
    b = bytearray(data)
    b[offset] ^= mask
    return bytes(b)


@pytest.mark.parametrize("offset", [8, 9, 10, 11])
def test_netrun_garbage_root_offset_valid_crc(tmp_path, netrun_dlc, offset):
    """A byte of the flatbuffer root offset (after the 8-byte header) flipped; ZIP CRC recomputed."""
    dlc, raw = netrun_dlc
    bad = tmp_path / "flipped.dlc"
    rezip(dlc, bad, "model", lambda d: flip(d, offset))
    run_fails(tmp_path, str(bad), good_list(tmp_path, raw), str(bad))


def test_netrun_flipped_identifier_valid_crc(tmp_path, netrun_dlc):
    dlc, raw = netrun_dlc
    bad = tmp_path / "flipped.dlc"
    rezip(dlc, bad, "model", lambda d: flip(d, 12, 0x20))   # NETD -> nETD
    run_fails(tmp_path, str(bad), good_list(tmp_path, raw), str(bad), "NETD")


def test_netrun_flipped_byte_bad_crc(tmp_path, netrun_dlc):
    """One byte of the stored `model` member flipped in place: the ZIP CRC no longer matches."""
    dlc, raw = netrun_dlc
    with zipfile.ZipFile(dlc) as zf:
        info = zf.getinfo("model")
    data = bytearray(open(dlc, "rb").read())
    # local header: 30 bytes + name + extra; the member is stored, so its bytes follow verbatim
    name_len = int.from_bytes(data[info.header_offset + 26: info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28: info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    assert bytes(data[start: start + 8]) == b"\xd5\x0a\x04\x00\x00\x00\x00\x00"
    data[start + info.file_size // 2] ^= 0x55
    bad = tmp_path / "crc.dlc"
    bad.write_bytes(bytes(data))
    line = run_fails(tmp_path, str(bad), good_list(tmp_path, raw), str(bad))
    assert "CRC" in line or "corrupt" in line or "damaged" in line


def test_netrun_corrupt_string_length_is_one_line(tmp_path, netrun_dlc):
    """The length prefix of the tensor name 'W' grows from 1 to 129 bytes (CRC recomputed)."""
    dlc, raw = netrun_dlc

    def mutate(d: bytes) -> bytes:
        i = d.find(b"\x01\x00\x00\x00W\x00")
        assert i > 0
        return flip(d, i, 0x80)

    bad = tmp_path / "name.dlc"
    rezip(dlc, bad, "model", mutate)
    run_fails(tmp_path, str(bad), good_list(tmp_path, raw), str(bad))


@pytest.mark.parametrize("nbytes", [8 * 8 * 3 * 4 - 4, 8 * 8 * 3 * 4 + 8])
def test_netrun_raw_wrong_size(tmp_path, netrun_dlc, nbytes):
    dlc, _ = netrun_dlc
    raw = tmp_path / "short.raw"
    raw.write_bytes(b"\0" * nbytes)
    line = run_fails(tmp_path, dlc, good_list(tmp_path, str(raw)), str(raw), "input")
    expected, actual = 8 * 8 * 3, nbytes // 4
    assert f" {expected} " in line and str(actual) in line


def test_netrun_unknown_input_in_list(tmp_path, netrun_dlc):
    dlc, raw = netrun_dlc
    p = tmp_path / "list.txt"
    p.write_text(f"data:={raw}\n")
    run_fails(tmp_path, dlc, str(p), "data", "not a model input", "input")


def test_netrun_input_list_missing(tmp_path, netrun_dlc):
    dlc, _ = netrun_dlc
    missing = str(tmp_path / "no_list.txt")
    run_fails(tmp_path, dlc, missing, missing, "input list not found")


def test_netrun_raw_file_missing(tmp_path, netrun_dlc):
    dlc, _ = netrun_dlc
    missing = str(tmp_path / "absent.raw")
    run_fails(tmp_path, dlc, good_list(tmp_path, missing), missing, "not found")

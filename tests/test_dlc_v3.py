"""Reading SNPE 1.x DLC v3 files (snpe_tools.dlc.v3) against the real files in dlc-real.

The four files under ``dlc-real/third_party/snpe1_v3`` were written by SNPE 1.51 / 1.56 (see the
dlc-real README); every expected value below was read from their bytes.
"""
from __future__ import annotations

import io
import os
import random
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from snpe_tools.dlc.v3 import V3Layer, V3Model, is_v3, read_v3
from snpe_tools.errors import DLCError


def _dlc_real() -> Path:
    env = os.environ.get("SNPE_TOOLS_DLC_REAL")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared/reference/dlc-real"


REAL = _dlc_real()
V3 = REAL / "third_party/snpe1_v3"
pytestmark = pytest.mark.skipif(not (V3 / "test_abs.dlc").is_file(),
                                reason=f"real v3 DLCs not found in {V3}")


def _read(name: str) -> V3Model:
    return read_v3(str(V3 / name))


def _members(name: str) -> dict[str, bytes]:
    with zipfile.ZipFile(V3 / name) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _assert_one_line_error(path: Path) -> str:
    with pytest.raises(DLCError) as info:
        read_v3(str(path))
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


# --------------------------------------------------------------------------- container


@pytest.mark.parametrize("name", ["test_abs.dlc", "test_abs_q.dlc", "test_concat_2d_axis_0.dlc",
                                  "test_split_equal_parts_2d.dlc"])
def test_container_version_and_metadata(name):
    assert is_v3(str(V3 / name))
    model = _read(name)
    assert model.version == (3, 0)
    assert model.path == str(V3 / name)
    md = model.metadata
    assert md["converter-command"].startswith("snpe-onnx-to-dlc ")
    assert md["model-copyright"] == "N/A"
    assert md["model-version"] == "N/A"
    expected_version = "1.56.2.3050" if name == "test_abs_q.dlc" else "1.51.0.2663"
    assert md["converter-version"] == expected_version
    # model.params of all four samples is an empty NETP table: no weights anywhere
    assert model.weights == {}
    for layer in model.layers:
        assert layer.type
        assert len(layer.output_dims) == len(layer.outputs)


def test_is_v3_rejects_other_files(tmp_path):
    v4 = REAL / "third_party/ort_qnn_ep_qairt242_v4_1.dlc"
    if v4.is_file():
        assert not is_v3(str(v4))
        assert "v3 files only" in _assert_one_line_error(v4)
    junk = tmp_path / "junk.dlc"
    junk.write_bytes(b"hello world, not a dlc")
    assert not is_v3(str(junk))
    assert not is_v3(str(tmp_path / "missing.dlc"))
    assert not is_v3(str(tmp_path))


# --------------------------------------------------------------------------- per file


def test_abs():
    model = _read("test_abs.dlc")
    assert [(l.name, l.type) for l in model.layers] == [
        ("x", "Input"), ("elementwise_unary_abs_0", "ElementwiseUnaryOp")]
    inp, absl = model.layers
    assert isinstance(inp, V3Layer)
    assert (inp.inputs, inp.outputs, inp.output_dims) == (["x"], ["x"], [[2, 3, 2]])
    assert inp.params == {"input_color_space": 4, "input_type": 0, "output_color_space": 4}
    assert (absl.inputs, absl.outputs, absl.output_dims) == (["x"], ["y"], [[2, 3, 2]])
    assert absl.params == {"op": 8}
    assert (inp.index, absl.index) == (0, 1)
    assert inp.encodings == {} and absl.encodings == {}
    assert model.inputs == ["x"]
    assert model.layer("elementwise_unary_abs_0") is absl
    assert model.buffers == {
        "x": {"axis_order": [7], "data_size": 32, "dims": [2, 3, 2]},
        "y": {"axis_order": [7], "data_size": 32, "dims": [2, 3, 2]},
    }
    assert model.attributes == {}


def test_abs_quantized_encodings():
    model = _read("test_abs_q.dlc")
    assert model.metadata["quantizer-command"].startswith("snpe-dlc-quantize ")
    inp, absl = model.layers
    assert (inp.type, absl.type) == ("Input", "ElementwiseUnaryOp")
    assert inp.output_dims == [[3, 4, 5]] and absl.output_dims == [[3, 4, 5]]
    assert absl.params == {"op": 8}
    assert "DataEncoding" not in inp.params and "OutputDims" not in absl.params

    x = inp.encodings["x"]
    assert x["axis"] == -1 and x["bitwidth"] == 8 and x["precision"] == 520
    assert x["offset"] == -125
    assert x["scale"] == pytest.approx(0.18431373, rel=1e-6)
    assert x["min"] == pytest.approx(-23.039215, rel=1e-6)
    assert x["max"] == pytest.approx(23.960785, rel=1e-6)

    y = absl.encodings["y"]
    assert y["axis"] == -1 and y["bitwidth"] == 8 and y["offset"] == 0
    assert y["min"] == 0.0 and y["max"] == 24.0
    assert y["scale"] == pytest.approx(24.0 / 255, rel=1e-6)

    for enc in (x, y):   # 8-bit asymmetric: 255 steps, min = offset * scale
        assert enc["max"] - enc["min"] == pytest.approx(255 * enc["scale"], rel=1e-5)
        assert enc["min"] == pytest.approx(enc["offset"] * enc["scale"], abs=1e-5)


def test_concat_axis_0():
    model = _read("test_concat_2d_axis_0.dlc")
    assert [(l.name, l.type) for l in model.layers] == [
        ("value0", "Input"), ("value1", "Input"), ("concatenation_0", "Concat")]
    concat = model.layers[2]
    assert concat.inputs == ["value0", "value1"]
    assert concat.outputs == ["output"]
    assert concat.output_dims == [[4, 2]]
    # the axis attribute is stored with its value field left out: the default, 0
    assert concat.params == {"axis": 0}
    assert model.inputs == ["value0", "value1"]
    assert [model.buffers[n]["dims"] for n in ("value0", "value1", "output")] == [[2, 2], [2, 2], [4, 2]]
    assert model.buffers["output"]["axis_order"] == [3, 0]


def test_split_equal_parts():
    model = _read("test_split_equal_parts_2d.dlc")
    assert [(l.name, l.type) for l in model.layers] == [("input", "Input"), ("slice_0", "Slice")]
    inp, split = model.layers
    assert inp.output_dims == [[2, 6]]
    assert split.inputs == ["input"]
    assert split.outputs == ["output_1", "output_2"]
    assert split.output_dims == [[2, 3], [2, 3]]
    assert split.params == {"axis": 1, "slice_points": [3]}
    assert "out_node=['output_2']" in model.metadata["converter-command"]


def test_bare_model_stream(tmp_path):
    """A lone ``model`` stream (no ZIP) is read too, without metadata or weights."""
    bare = tmp_path / "model"
    bare.write_bytes(_members("test_concat_2d_axis_0.dlc")["model"])
    assert is_v3(str(bare))
    model = read_v3(str(bare))
    assert model.version == (3, 0)
    assert [l.type for l in model.layers] == ["Input", "Input", "Concat"]
    assert model.metadata == {} and model.weights == {}


def test_weights_from_synthetic_params(tmp_path):
    """The samples carry no weights, so model.params is built here from the documented field
    list (LayerParameters{name, [Tensor{name, shape, TensorData{dtype, bytes, floats}}]}).
    This checks the decoding path, not the format itself."""
    flatbuffers = pytest.importorskip("flatbuffers")
    b = flatbuffers.Builder(256)

    def int_vector(values):
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    def tensor(name, shape, dtype, floats=None, raw=None):
        n = b.CreateString(name)
        s = int_vector(shape)
        f = None
        if floats is not None:
            b.StartVector(4, len(floats), 4)
            for v in reversed(floats):
                b.PrependFloat32(v)
            f = b.EndVector()
        r = b.CreateByteVector(bytes(raw)) if raw is not None else None
        b.StartObject(3)
        b.PrependUint8Slot(0, dtype, 0)
        if r is not None:
            b.PrependUOffsetTRelativeSlot(1, r, 0)
        if f is not None:
            b.PrependUOffsetTRelativeSlot(2, f, 0)
        data = b.EndObject()
        b.StartObject(4)
        b.PrependUOffsetTRelativeSlot(0, n, 0)
        b.PrependUOffsetTRelativeSlot(1, s, 0)
        b.PrependUOffsetTRelativeSlot(2, data, 0)
        return b.EndObject()

    weight = tensor("weights", [2, 3], 9, floats=[0.5, 1, 2, 3, 4, 5])
    bias = tensor("bias", [3], 6, raw=[1, 2, 250])
    b.StartVector(4, 2, 4)
    b.PrependUOffsetTRelative(bias)
    b.PrependUOffsetTRelative(weight)
    tensors = b.EndVector()
    lname = b.CreateString("fc_0")
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, lname, 0)
    b.PrependUOffsetTRelativeSlot(1, tensors, 0)
    layer = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(layer)
    layers = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, layers, 0)
    b.Finish(b.EndObject(), file_identifier=b"NETP")
    params = b"\xd5\x0a\x03\x00\x00\x00\x00\x00" + bytes(b.Output())

    members = _members("test_abs.dlc")
    members["model.params"] = params
    path = tmp_path / "weights.dlc"
    path.write_bytes(_zip(members))
    model = read_v3(str(path))
    assert sorted(model.weights) == ["fc_0/bias", "fc_0/weights"]
    w = model.weights["fc_0/weights"]
    assert w.dtype == np.float32 and w.shape == (2, 3)
    np.testing.assert_array_equal(w, [[0.5, 1, 2], [3, 4, 5]])
    bias_arr = model.weights["fc_0/bias"]
    assert bias_arr.dtype == np.uint8 and bias_arr.tolist() == [1, 2, 250]


# --------------------------------------------------------------------------- corrupt files


def test_missing_and_directory(tmp_path):
    assert "not found" in _assert_one_line_error(tmp_path / "nope.dlc")
    _assert_one_line_error(tmp_path)


def test_truncated_copies(tmp_path):
    raw = (V3 / "test_abs_q.dlc").read_bytes()
    path = tmp_path / "cut.dlc"
    for size in sorted({0, 1, 7, 30, 100, len(raw) // 3, len(raw) // 2, len(raw) - 200,
                        len(raw) - 23, len(raw) - 1}):
        path.write_bytes(raw[:size])
        _assert_one_line_error(path)
        assert not is_v3(str(path))   # the ZIP directory is at the end: gone


def test_random_bytes(tmp_path):
    rng = random.Random(1234)
    path = tmp_path / "random.dlc"
    for size in (0, 5, 16, 64, 4096):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(size)))
        _assert_one_line_error(path)
        assert not is_v3(str(path))
    # a header that claims v3 in front of garbage
    path.write_bytes(b"\xd5\x0a\x03\x00\x00\x00\x00\x00" + bytes(rng.randrange(256) for _ in range(200)))
    _assert_one_line_error(path)


def test_damaged_model_member(tmp_path):
    members = _members("test_split_equal_parts_2d.dlc")
    model = members["model"]
    path = tmp_path / "bad.dlc"
    cases = {
        "truncated flatbuffer": model[:len(model) // 2],
        "header only": model[:8],
        "wrong identifier": model[:12] + b"XXXX" + model[16:],
        "version 2 header": model[:2] + struct.pack("<H", 2) + model[4:],
        "root offset out of range": model[:8] + struct.pack("<I", 0xFFFFFF00) + model[12:],
        "no model member": None,
    }
    for what, data in cases.items():
        damaged = dict(members)
        if data is None:
            del damaged["model"]
        else:
            damaged["model"] = data
        path.write_bytes(_zip(damaged))
        msg = _assert_one_line_error(path)
        assert str(path) in msg, what


def test_fuzzed_model_member_only_raises_dlcerror(tmp_path):
    members = _members("test_abs_q.dlc")
    original = members["model"]
    rng = random.Random(7)
    path = tmp_path / "fuzz.dlc"
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(8, len(data))] = rng.randrange(256)
        path.write_bytes(_zip({**members, "model": bytes(data)}))
        try:
            read_v3(str(path))
        except DLCError as exc:
            assert "\n" not in str(exc)

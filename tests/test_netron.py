"""Netron (the model viewer) opens our DLC files.

``tests/netron_check.mjs`` loads the DLC with Netron's own JavaScript (``dlc.js``, ``dlc-schema.js``,
``flatbuffers.js``, ``zip.js``, ``text.js``, ``base.js`` and ``dlc-metadata.json`` from the installed
``netron`` PyPI package) under Node.js and prints what Netron sees as JSON; these tests compare
that with what we wrote.  They are skipped only when Node.js or the netron package is missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import convert_in_process
from snpe_tools.dlc import read_dlc
from snpe_tools.ops.registry import get_op_def

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "netron_check.mjs")


def _netron_dir() -> str | None:
    try:
        spec = importlib.util.find_spec("netron")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


NODE = shutil.which("node")
NETRON = _netron_dir()

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="Node.js ('node') is not on PATH; cannot run Netron's dlc.js"),
    pytest.mark.skipif(NETRON is None, reason="the 'netron' package is not installed (pip install netron)"),
]


def run_netron(dlc_path: str) -> subprocess.CompletedProcess:
    return subprocess.run([NODE, CHECK, NETRON, dlc_path], capture_output=True, text=True, timeout=120)


def open_with_netron(dlc_path: str) -> dict:
    proc = run_netron(dlc_path)
    assert proc.returncode == 0, f"Netron failed to open {dlc_path}:\n{proc.stderr}"
    return json.loads(proc.stdout)


def _model(rng: np.random.Generator) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    w = {
        "w1": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "b1": rng.standard_normal(8).astype(np.float32),
        "w2": rng.standard_normal((8, 1, 3, 3)).astype(np.float32),
        "b2": rng.standard_normal(8).astype(np.float32),
        "w3": rng.standard_normal((5, 8)).astype(np.float32),
        "b3": rng.standard_normal(5).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="dwconv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], group=8),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "netron_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(a, n) for n, a in w.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, w


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("netron")
    model, weights = _model(np.random.default_rng(1234))
    onnx_path, dlc_path = str(d / "net.onnx"), str(d / "net.dlc")
    onnx.save(model, onnx_path)
    convert_in_process(onnx_path, dlc_path, "--model_version", "v7")
    return dlc_path, weights


def test_netron_opens_dlc(converted):
    dlc_path, weights = converted
    ours = read_dlc(dlc_path)
    graph = ours.graph
    seen = open_with_netron(dlc_path)

    assert seen["format"] == "DLC"
    assert seen["type"] == "dlc"
    assert len(seen["graphs"]) == 1
    g = seen["graphs"][0]
    assert g["name"] == graph.name

    # Metadata: model.version comes from dlc.metadata's model-version line.
    assert seen["version"] == "v7"
    assert seen["source"] == f"snpe-onnx-to-dlc v{ours.metadata.get('converter-version')}"

    # Like Qualcomm's own files, ours have no Input/Output pseudo-nodes (graph I/O is a tensor type):
    # Netron lists no graph inputs/outputs for either (see test_netron_sees_ours_like_qualcomms).
    assert g["inputs"] == [] and g["outputs"] == []
    assert list(graph.inputs) == ["x"] and list(graph.tensors["x"].shape) == [1, 16, 16, 3]

    # Nodes: our ops in order, under the type strings Qualcomm's converter writes (Pool, ElementWiseNeuron...).
    ops = g["nodes"]
    assert [n["name"] for n in ops] == [op.name for op in graph.ops]
    assert [n["type"] for n in ops] == [get_op_def(op.type).dlc_type or op.type for op in graph.ops]
    for t in ("Conv2d", "DepthWiseConv2d", "Pool", "FullyConnected", "ElementWiseNeuron"):
        assert t in {n["type"] for n in ops}, t
    assert ops[0]["inputs"][0]["values"][0] == {"name": "x", "dtype": "float32", "shape": [1, 16, 16, 3]} \
        or ops[0]["inputs"][0]["values"][0] == "x"

    # Every node's inputs / outputs are the tensors we wrote, with our dtype and shape.
    for n, op in zip(ops, graph.ops):
        assert [v for a in n["inputs"] for v in a["values"]] == list(op.inputs), op.name
        out_values = [v for a in n["outputs"] for v in a["values"]]
        assert [v["name"] for v in out_values] == list(op.outputs), op.name
        for v in out_values:
            assert v["dtype"] == "float32", (op.name, v)
            assert v["shape"] == list(graph.tensors[v["name"]].shape), (op.name, v)
        # Scalar/tensor parameters arrive as attributes by name (plus the DLC's selector and packageName).
        extra = {s.name for s in get_op_def(op.type).dlc_selector} | {"packageName", "bias_op_name"}
        assert {a["name"] for a in n["attributes"]} <= set(op.params) | extra, op.name

    # The first conv: Netron's metadata names its inputs; output is NHWC [1,16,16,8].
    conv = next(n for n in ops if n["type"] == "Conv2d")
    conv_op = next(op for op in graph.ops if op.type == "Conv2d")
    assert [a["name"] for a in conv["inputs"]] == ["input", "weight", "bias"]
    (conv_out,) = conv["outputs"][0]["values"]
    assert conv_out["shape"] == [1, 16, 16, 8]
    attrs = {a["name"]: a for a in conv["attributes"]}
    # (shifted by one element: Netron's reading of NR64 buffers, see below)
    assert attrs["pad_amount"]["value"]["tensor"]["first"] == [0, 1, 1, 1]
    assert attrs["stride"]["value"]["tensor"]["first"] == [0, 1]

    # Static tensors: Netron pairs each with its bytes from model.params.  Netron reads an NR64 buffer's
    # 64-bit length as a 32-bit one: it sees 4 zero bytes, then the data shifted by one element -- on
    # Qualcomm's own files too (test_netron_sees_ours_like_qualcomms).
    inits = {i["name"]: i for i in g["initializers"]}
    statics = {n for op in graph.ops for n in op.inputs if n and graph.tensors[n].is_static}
    assert set(inits) == statics
    for name, init in inits.items():
        t = graph.tensors[name]
        data = np.asarray(t.data)
        assert init["dtype"] == "float32" and init["encoding"] == "<", name
        assert init["shape"] == list(t.shape), name
        assert init["byteLength"] == data.astype(np.float32).nbytes, name
        k = len(init["first"])
        assert init["first"][0] == 0, name
        np.testing.assert_allclose(init["first"][1:], data.reshape(-1)[:k - 1], rtol=0, atol=1e-6, err_msg=name)

    weight_name = conv["inputs"][1]["values"][0]
    assert weight_name == conv_op.inputs[1]
    w = inits[weight_name]
    assert w["shape"] == [3, 3, 3, 8]  # HWIO
    expected = weights["w1"].transpose(2, 3, 1, 0).reshape(-1)
    np.testing.assert_allclose(w["first"][1:], expected[:len(w["first"]) - 1], rtol=0, atol=1e-6)


def test_netron_sees_ours_like_qualcomms(tmp_path):
    """The real 2.25 file and our conversion of the same model look alike to Netron, weights included."""
    real_dir = Path(__file__).resolve().parents[2] / "shared" / "reference" / "dlc-real"
    if not (real_dir / "cnn_basic.qairt225.dlc").is_file():
        pytest.skip("golden DLCs not available")
    ours = str(tmp_path / "cnn_basic.dlc")
    convert_in_process(str(real_dir / "cnn_basic.onnx"), ours)
    a = open_with_netron(str(real_dir / "cnn_basic.qairt225.dlc"))["graphs"][0]
    b = open_with_netron(ours)["graphs"][0]
    assert a["inputs"] == b["inputs"] == [] and a["outputs"] == b["outputs"] == []
    by_name = {n["name"]: n for n in b["nodes"]}
    same = [n for n in a["nodes"] if n["name"] in by_name and by_name[n["name"]]["type"] == n["type"]]
    assert len(same) >= 10
    for n in same:
        m = by_name[n["name"]]
        skip = ("bias_op_name", "padding_size_strategy")      # IR-internal; bias names differ (_v_N)
        qnn = {x["name"]: x["value"] for x in n["attributes"] if x["name"] not in skip}
        assert qnn == {x["name"]: x["value"] for x in m["attributes"] if x["name"] not in skip}, n["name"]
    firsts = sorted(round(i["first"][1], 5) for i in a["initializers"])
    assert firsts == sorted(round(i["first"][1], 5) for i in b["initializers"])


def test_netron_rejects_truncated_dlc(converted, tmp_path):
    dlc_path, _ = converted
    data = open(dlc_path, "rb").read()
    bad = tmp_path / "truncated.dlc"
    bad.write_bytes(data[:len(data) // 2])
    proc = run_netron(str(bad))
    assert proc.returncode != 0, proc.stdout
    assert proc.stderr.strip(), "netron_check must say why it failed"


def test_netron_rejects_corrupt_model_member(converted, tmp_path):
    """A valid ZIP whose ``model`` flatbuffer root offset is garbage must also fail the harness."""
    dlc_path, _ = converted
    bad = tmp_path / "corrupt_model.dlc"
    with zipfile.ZipFile(dlc_path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "model":
                payload = payload[:8] + b"\xff\xff\xff\x7f" + payload[12:]
            dst.writestr(info, payload)
    proc = run_netron(str(bad))
    assert proc.returncode != 0, proc.stdout
    assert proc.stderr.strip()


def test_netron_opens_a_quantized_dlc(tmp_path):
    """Fixed-point tensors (sFxp_8 activations, per-channel sFxp_8 weights, sFxp_32 bias) open as Netron's qint types."""
    from snpe_tools.dlc import Metadata, write_dlc
    from snpe_tools.ir import axis_format as af
    from snpe_tools.ir.graph import Encoding, Graph

    g = Graph("quantized")
    x = g.add_input("x", (1, 8, 8, 3), np.int8, af.NSC)
    x.encoding = Encoding(8, 0.02, 0, -2.56, 2.54)
    w = g.add_const("w", np.arange(3 * 3 * 3 * 4, dtype=np.int8).reshape(3, 3, 3, 4))
    g.tensors[w].encoding = Encoding(8, 0.01, 0, -1.28, 1.27, axis=3,
                                     channels=[(0.01 * (c + 1), 0, -1.28, 1.27) for c in range(4)])
    b = g.add_const("b", np.arange(4, dtype=np.int32))
    g.tensors[b].encoding = Encoding(32, 2e-4, 0, -4e5, 4e5, axis=0, channels=[(2e-4 * (c + 1), 0, -4e5, 4e5)
                                                                               for c in range(4)])
    g.add_op("Conv2d", ["x", w, b], ["y"], {"pad_amount": [[1, 1], [1, 1]]}, name="conv")
    g.tensors["y"].encoding = Encoding(8, 0.05, 10, -5.9, 6.85)
    g.outputs.append("y")
    path = str(tmp_path / "q.dlc")
    write_dlc(g, path, Metadata({}))
    seen = open_with_netron(path)
    graph = seen["graphs"][0]
    conv = graph["nodes"][0]
    assert {i["name"]: i["dtype"] for i in graph["initializers"]} == {"w": "qint8", "b": "qint32"}
    assert conv["type"] == "Conv2d" and conv["outputs"][0]["values"][0]["dtype"] == "qint8"
    back = read_dlc(path).graph
    assert back.tensors["y"].encoding.offset == 10 and len(back.tensors[w].encoding.channels) == 4

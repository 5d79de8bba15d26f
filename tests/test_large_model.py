"""A >2 GiB ONNX model (external data) converts into the 64-bit DLC form, reads back and runs.

The model is generated on the fly: three MatMul weights of 768 MiB each (2.25 GiB of float32),
stored as ONNX external data.  Conversion runs in its own process so that its peak RSS can be
measured: it must stay at or below 1.5x the weight bytes (weights are memory-mapped, never copied
twice).  The DLC must be Qualcomm's 4.0 form: NR64 ``model.params`` with 64-bit buffer offsets.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from dlc_conformance import violations
from helpers import BIN
from snpe_tools.dlc import read_dlc
from snpe_tools.runtime import execute

K, N = 8192, 24576           # one weight: 8192 x 24576 float32 = 768 MiB
SHAPES = [(K, N), (N, K), (K, N)]
WEIGHT_BYTES = sum(a * b for a, b in SHAPES) * 4

pytestmark = pytest.mark.slow


def _make_model(d: str) -> tuple[str, list[str]]:
    data_file = "weights.bin"
    names, inits, offset = [], [], 0
    rng = np.random.default_rng(0)
    with open(os.path.join(d, data_file), "wb") as fh:
        for i, (k, n) in enumerate(SHAPES):
            w = (rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(k)).astype(np.float32)
            fh.write(w.tobytes())
            t = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[k, n])
            t.data_location = TensorProto.EXTERNAL
            for key, val in (("location", data_file), ("offset", str(offset)), ("length", str(w.nbytes))):
                e = t.external_data.add()
                e.key, e.value = key, val
            offset += w.nbytes
            inits.append(t)
            names.append(f"W{i}")
            del w
    nodes = [helper.make_node("MatMul", ["x", "W0"], ["h0"]), helper.make_node("Relu", ["h0"], ["r0"]),
             helper.make_node("MatMul", ["r0", "W1"], ["h1"]), helper.make_node("Relu", ["h1"], ["r1"]),
             helper.make_node("MatMul", ["r1", "W2"], ["y"])]
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, K])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, N])], inits)
    path = os.path.join(d, "big.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path, names


@pytest.fixture
def big_dir(tmp_path):
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)     # 4.5 GiB of files: do not keep them around


def test_model_over_2gib_converts_reads_back_and_runs(big_dir):
    tmp_path = big_dir
    need = 2 * WEIGHT_BYTES + (1 << 30)
    if shutil.disk_usage(tmp_path).free < need:
        pytest.skip(f"needs {need >> 30} GiB of free disk in {tmp_path}")
    path, names = _make_model(str(tmp_path))
    assert WEIGHT_BYTES > 2 << 30
    dlc = str(tmp_path / "big.dlc")
    # a tiny launcher so the converter's ru_maxrss is its own (a forked child inherits the parent's peak)
    launcher = ("import resource, subprocess, sys\n"
                "rc = subprocess.run(sys.argv[1:]).returncode\n"
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                "sys.exit(rc)\n")
    proc = subprocess.run([sys.executable, "-c", launcher, sys.executable, os.path.join(BIN, "snpe-onnx-to-dlc"),
                           "-i", path, "-o", dlc], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak = int(proc.stdout.strip().splitlines()[-1]) * 1024
    print(f"\nweights {WEIGHT_BYTES / 2**30:.2f} GiB, converter peak RSS {peak / 2**30:.2f} GiB "
          f"({peak / WEIGHT_BYTES:.2f}x)")
    assert peak <= 1.5 * WEIGHT_BYTES, f"peak RSS {peak / 2**30:.2f} GiB"

    with zipfile.ZipFile(dlc) as zf:
        members = zf.namelist()
        params = zf.read("model.params")
        model_head = zf.read("model")[:8]
    # Qualcomm's one form for every size: DLC 4.0, NR64 buffers reached through 64-bit offsets
    assert members == ["dlc.metadata", "model", "model.params"]
    assert model_head == b"\xd5\x0a\x04\x00\x00\x00\x00\x00" and params[12:16] == b"NR64"
    assert violations(dlc) == []

    graph = read_dlc(dlc).graph
    assert all(not graph.tensors[n].data.flags.owndata for n in names)     # views of the mapped file
    x = np.random.default_rng(1).standard_normal((2, K)).astype(np.float32)
    got = execute(graph, {"x": x})["y"]
    w = [np.memmap(os.path.join(tmp_path, "weights.bin"), np.float32, "r", offset=o, shape=s)
         for o, s in zip(np.cumsum([0] + [a * b * 4 for a, b in SHAPES])[:3], SHAPES)]
    ref = np.maximum(np.maximum(x @ w[0], 0) @ w[1], 0) @ w[2]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)

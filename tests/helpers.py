"""Shared test utilities: convert ONNX models through the real tools and compare with onnxruntime."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx

from snpe_tools.dlc import read_dlc
from snpe_tools.ir import axis_format as af
from snpe_tools.runtime import execute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bin")
LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def run_tool(tool: str, *args: str, cwd: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python bin/<tool> args`` as a user would; returns the completed process."""
    proc = subprocess.run([sys.executable, os.path.join(BIN, tool), *args], cwd=cwd,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def convert_in_process(model_path: str, dlc_path: str, *extra: str) -> None:
    """snpe-onnx-to-dlc's main() in this process (faster than a subprocess for many models)."""
    from snpe_tools.tools.onnx_to_dlc import main

    rc = main(["-i", model_path, "-o", dlc_path, *extra])
    assert rc == 0


def to_dlc_layout(x: np.ndarray, fmt: str) -> np.ndarray:
    perm = af.from_source_perm(fmt, x.ndim)
    if perm is not None:
        return np.ascontiguousarray(np.transpose(x, perm))
    return x


def from_dlc_layout(y: np.ndarray, fmt: str) -> np.ndarray:
    perm = af.from_source_perm(fmt, y.ndim)
    if perm is not None:
        return np.ascontiguousarray(np.transpose(y, np.argsort(perm)))
    return y


def run_dlc(dlc_path: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a DLC on source-layout inputs; returns outputs in source layout, keyed by output name."""
    graph = read_dlc(dlc_path).graph
    dlc_feeds = {n: to_dlc_layout(np.asarray(feeds[n]), graph.tensors[n].axis_format) for n in graph.inputs}
    out = execute(graph, dlc_feeds)
    return {n: from_dlc_layout(v, graph.tensors[n].axis_format) for n, v in out.items()}


def run_onnxruntime(model: onnx.ModelProto | str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    data = model if isinstance(model, str) else model.SerializeToString()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def count_ops(dlc_path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in read_dlc(dlc_path).graph.ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    return counts


def mixed_operand_ops(graph) -> list[str]:
    """Ops of a quantized graph whose run-time operands are partly float, partly fixed point (a QNN op takes
    one or the other; Quantize and Dequantize convert between them).  Plain integers and booleans (indices,
    masks) carry no encoding and count as neither."""
    bad = []
    for op in graph.ops:
        kinds = {"float" if np.dtype(graph.tensors[n].dtype).kind == "f" else "fixed"
                 for n in op.inputs + op.outputs if n and not graph.tensors[n].is_static
                 and (np.dtype(graph.tensors[n].dtype).kind == "f" or graph.tensors[n].encoding is not None)}
        if op.type not in ("Quantize", "Dequantize") and len(kinds) > 1:
            bad.append(op.name)
    return bad

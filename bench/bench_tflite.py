"""TFLite benchmark for snpe-tflite-to-dlc and the numpy runtime (a benchmark, not a test).

    python bench/bench_tflite.py [--runs 5] [--json bench/results/tflite.json]

Models: Keras InceptionV3 (299x299, 10 classes, re-randomised weights) converted by TensorFlow's
TFLiteConverter to float and full-int8 ``.tflite`` files (built once, cached in a temp dir).

Measured, per model, in the same run:
(a) conversion: wall time of ``python bin/snpe-tflite-to-dlc`` in a fresh subprocess, against the
    peer that reads the same flatbuffer: a fresh subprocess that builds a LiteRT ``Interpreter``
    and calls ``allocate_tensors()`` (both include interpreter start-up and imports);
(b) inference: median of N runs of ``snpe_tools.runtime.execute`` vs the LiteRT interpreter
    (default CPU kernels, 2 threads), with the agreement of the outputs (float: max abs diff;
    int8: max difference in quantization steps).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=ROOT))
    return time.perf_counter() - t0


def _models(workdir: str) -> dict[str, str]:
    import tflite_models as tm

    paths = {m: os.path.join(workdir, f"inceptionv3_{m}.tflite") for m in ("float", "int8")}
    if not all(os.path.exists(p) for p in paths.values()):
        km = tm.keras_model("inceptionv3", 299)
        for mode, p in paths.items():
            with open(p, "wb") as fh:
                fh.write(tm.to_tflite(km, mode, (1, 299, 299, 3)))
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "tflite.json"))
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "snpe_tools_bench_tflite"))
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    from ai_edge_litert.interpreter import Interpreter

    from snpe_tools.dlc import read_dlc
    from snpe_tools.runtime import execute

    results = {}
    for mode, path in _models(args.workdir).items():
        dlc = path.replace(".tflite", ".dlc")
        ours = min(_wall([sys.executable, os.path.join(ROOT, "bin", "snpe-tflite-to-dlc"), "-i", path, "-o", dlc])
                   for _ in range(2))
        peer = min(_wall([sys.executable, "-c", "import sys; from ai_edge_litert.interpreter import Interpreter; "
                          "Interpreter(model_path=sys.argv[1]).allocate_tensors()", path]) for _ in range(2))
        it = Interpreter(model_path=path, num_threads=2)
        it.allocate_tensors()
        ind, outd = it.get_input_details()[0], it.get_output_details()[0]
        x = np.random.default_rng(0).uniform(-1, 1, ind["shape"]).astype(np.float32)
        if ind["dtype"] != np.float32:
            s, z = ind["quantization"]
            x = np.clip(np.round(x / s) + z, -128, 127).astype(ind["dtype"])
        g = read_dlc(dlc).graph
        t_ours, t_peer = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            y = execute(g, {g.inputs[0]: x})[g.outputs[0]]
            t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            it.set_tensor(ind["index"], x)
            it.invoke()
            ref = it.get_tensor(outd["index"])
            t_peer.append(time.perf_counter() - t0)
        diff = float(np.abs(y.astype(np.float64) - ref.astype(np.float64)).max())
        r = {"convert_s": ours, "peer_load_s": peer, "convert_ratio": ours / peer,
             "infer_ms": 1e3 * statistics.median(t_ours), "peer_infer_ms": 1e3 * statistics.median(t_peer),
             "max_diff": diff, "diff_unit": "steps" if mode == "int8" else "abs"}
        r["infer_ratio"] = r["infer_ms"] / r["peer_infer_ms"]
        results[f"inceptionv3_{mode}"] = r
        print(f"inceptionv3 {mode:5s}: convert {ours:.2f} s vs LiteRT load {peer:.2f} s ({r['convert_ratio']:.2f}x); "
              f"inference {r['infer_ms']:.0f} ms vs {r['peer_infer_ms']:.0f} ms ({r['infer_ratio']:.1f}x); "
              f"max diff {diff:g} {r['diff_unit']}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

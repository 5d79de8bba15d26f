"""Conversion times of snpe-tensorflow-to-dlc, and InceptionV3 against tf2onnx + our ONNX path.

Run by hand from any directory, in a venv with the tensorflow extra, tf_keras and (for the peer)
``pip install tf2onnx==1.17.0`` (it installs without changing any other pin)::

    python bench/bench_tensorflow.py [--runs 3] [--quick] [--json bench/results/tensorflow.json]

(1) InceptionV3, the seed's first example: a full-width slim-style InceptionV3 (23.9 M float32
parameters, random weights, slim names, frozen like ``inception_v3_2016_08_28_frozen.pb``) converted
by fresh processes, run by run interleaved: ``bin/snpe-tensorflow-to-dlc`` with the seed's command
line, against ``python -m tf2onnx.convert`` followed by ``bin/snpe-onnx-to-dlc`` on its output (the
two-step path users took before).  Both include interpreter start-up and the TensorFlow import,
which is also measured alone.  Both DLCs are run on the reference runtime against TensorFlow on
one random input (max abs difference).  (2) In-process conversion times (``main()``, TensorFlow
already imported) of the Keras 3 / tf_keras applications at their default input sizes (with
``--quick``, the small sizes the tests use), the DeepLab-style 513x513 graph and the SSD-style graph.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

OUT = "InceptionV3/Predictions/Reshape_1"


def _timed(cmd: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def bench_inception(work: str, runs: int) -> dict:
    import tf_models as M

    x = np.random.default_rng(0).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    pb, ref = M.slim_inception_v3(os.path.join(work, "inception_v3_2016_08_28_frozen.pb"), multiplier=1.0, x=x)
    py = sys.executable
    ours_cmd = [py, os.path.join(ROOT, "bin", "snpe-tensorflow-to-dlc"), "--input_network", pb,
                "--input_dim", "input", "1,299,299,3", "--out_node", OUT, "--output_path", "ours.dlc"]
    t2o_cmd = [py, "-m", "tf2onnx.convert", "--input", pb, "--inputs", "input:0[1,299,299,3]",
               "--outputs", f"{OUT}:0", "--output", "iv3.onnx"]
    onnx_cmd = [py, os.path.join(ROOT, "bin", "snpe-onnx-to-dlc"), "-i", "iv3.onnx", "-o", "onnx.dlc"]
    ours, peer, t2o, o2d, imp = [], [], [], [], []
    for _ in range(runs):
        ours.append(_timed(ours_cmd, work))
        a = _timed(t2o_cmd, work)
        b = _timed(onnx_cmd, work)
        t2o.append(a)
        o2d.append(b)
        peer.append(a + b)
        imp.append(_timed([py, "-c", "import tensorflow"], work))
    from snpe_tools.dlc import read_dlc
    from snpe_tools.runtime import execute

    diffs = {}
    for name in ("ours.dlc", "onnx.dlc"):
        g = read_dlc(os.path.join(work, name)).graph
        feed = x if g.tensors[g.inputs[0]].shape == x.shape else np.transpose(x, (0, 3, 1, 2))
        y = execute(g, {g.inputs[0]: feed})[g.outputs[0]]
        diffs[name] = float(np.abs(y.reshape(ref.shape) - ref).max())
    counts = M.op_counts(os.path.join(work, "ours.dlc"))
    onnx_counts = M.op_counts(os.path.join(work, "onnx.dlc"))
    return {"params_million": 23.9, "ours_s": statistics.median(ours),
            "tf2onnx_plus_onnx_to_dlc_s": statistics.median(peer),
            "tf2onnx_s": statistics.median(t2o), "onnx_to_dlc_s": statistics.median(o2d),
            "import_tensorflow_s": statistics.median(imp), "max_abs_diff_ours": diffs["ours.dlc"],
            "max_abs_diff_via_onnx": diffs["onnx.dlc"], "ops_ours": counts, "ops_via_onnx": onnx_counts}


def bench_in_process(work: str, quick: bool) -> dict:
    import tf_models as M

    times = {}
    for flavour in ("keras3", "tf_keras"):
        for name, (cls, small, kw) in M.KERAS_APPS.items():
            size = small if quick else (299 if name == "InceptionV3" else 224)
            if flavour == "keras3":
                import keras as k
            else:
                import tf_keras as k
            kw = {} if not quick else kw
            model = getattr(k.applications, cls)(weights=None, input_shape=(size, size, 3),
                                                 classifier_activation=None, **kw)
            M.randomise(model)
            pb = M.freeze_keras(model, size, os.path.join(work, f"{flavour}_{name}.pb"))
            dlc = os.path.join(work, f"{flavour}_{name}.dlc")
            times[f"{flavour} {name} {size}x{size}"] = M.convert(pb, dlc, {"input": f"1,{size},{size},3"}, ["Identity"])
            x = np.random.default_rng(1).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
            times[f"{flavour} {name} max_abs_diff"] = float(np.abs(
                M.run_dlc(dlc, {"input:0": x})["Identity:0"] - M.keras_reference(model, x)).max())
    pb = M.deeplab_style(os.path.join(work, "deeplab.pb"))
    times["DeepLab-style 513x513"] = M.convert(pb, os.path.join(work, "dl.dlc"), {"sub_7": "1,513,513,3"}, ["ArgMax"])
    pb = M.ssd_style(os.path.join(work, "ssd.pb"))
    times["SSD-style 64x64"] = M.convert(pb, os.path.join(work, "ssd.dlc"), {"Preprocessor/sub": "1,64,64,3"},
                                         ["detection_classes", "detection_boxes", "detection_scores"])
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small Keras input sizes (as in the tests)")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "tensorflow.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        result = {"inception_v3": bench_inception(work, args.runs), "in_process_s": bench_in_process(work, args.quick)}
    print(json.dumps(result, indent=2))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()

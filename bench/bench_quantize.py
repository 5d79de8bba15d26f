"""Quantization benchmark: snpe-onnx-to-dlc + snpe-dlc-quantize against onnxruntime's quantize_static.

    python bench/bench_quantize.py [--models resnet18,mobilenet_v2,inception_v3] [--inputs 100]
                                   [--json bench/results/quantize.json] [--keep DIR] [--head fitted|raw]
                                   [--repeats N] [--configs w8a16,w16a8,rows]

Models (``tests/quant_models.py``): ResNet-18, MobileNetV2 and InceptionV3-style ONNX classifiers at
their real input sizes (224, 224, 299) with re-randomised weights and a classifier fitted to the
features of 16 reference images, so that the top-1 class changes from image to image.

Per model, in the same run and on the same ``--inputs`` calibration images (smooth random fields):
(a) ours: ``python bin/snpe-onnx-to-dlc`` then ``python bin/snpe-dlc-quantize
    --use_per_channel_quantization --bias_bitwidth=32`` on an input list of NHWC ``.raw`` files, each a
    fresh process (wall time includes interpreter start-up, reading the files and writing the DLC);
(b) onnxruntime: ``quantize_static`` in this process (QDQ, per-channel, MinMax, uint8 activations,
    int8 weights; int32 biases are its default), wall time of the call;
(c) accuracy on those images: cosine of the quantized logits against the float model's (onnxruntime
    float run) per image, and top-1 agreement with the float model, for our quantized DLC on our
    fixed-point runtime and for the QDQ model on onnxruntime; and how many activation scales of our
    DLC equal those of the QDQ model (same MinMax calibration);
(d) with ``--configs w8a16,w16a8,rows``: (c) again with 16-bit activations (``--act_bitwidth=16``,
    onnxruntime uint16), with 16-bit weights (``--weights_bitwidth=16``, onnxruntime int16) - which
    splits the 8-bit error into its activation and weight parts - and with the classifier quantized
    per row (``--use_per_row_quantization --enable_per_row_quantized_bias``; onnxruntime's
    per_channel quantizes Gemm weights and biases per output channel too).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import quant_models as qm  # noqa: E402  (tests/quant_models.py: the models and the evaluation)


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return time.perf_counter() - t0


# extra configurations measured for accuracy only: our extra flags, onnxruntime's (weight, activation) widths
CONFIGS = {"w8a16": (["--act_bitwidth=16"], 8, 16),
           "w16a8": (["--weights_bitwidth=16"], 16, 8),
           "rows": (["--use_per_row_quantization", "--enable_per_row_quantized_bias"], 8, 8)}


def _quantize(dlc: str, lst: str, qdlc: str, *flags: str) -> float:
    """Wall time of ``bin/snpe-dlc-quantize`` (per-channel, 32-bit bias, plus ``flags``) as a fresh process."""
    return _wall([sys.executable, os.path.join(ROOT, "bin", "snpe-dlc-quantize"), f"--input_dlc={dlc}",
                  f"--input_list={lst}", f"--output_dlc={qdlc}", "--use_per_channel_quantization",
                  "--bias_bitwidth=32", *flags])


def _accuracy(ours: np.ndarray, peer: np.ndarray, ref: np.ndarray) -> dict:
    """Cosine against the float logits (mean, min) and top-1 agreement with them, ours and onnxruntime's."""
    top = ref.argmax(1)
    c_ours, c_peer = qm.cosines(ours, ref), qm.cosines(peer, ref)
    return {"ours_cosine_mean": float(c_ours.mean()), "ours_cosine_min": float(c_ours.min()),
            "ort_cosine_mean": float(c_peer.mean()), "ort_cosine_min": float(c_peer.min()),
            "ours_top1_agreement": float((ours.argmax(1) == top).mean()),
            "ort_top1_agreement": float((peer.argmax(1) == top).mean())}


def config_accuracy(name: str, src: str, dlc: str, lst: str, x: np.ndarray, x_nhwc: np.ndarray, ref: np.ndarray,
                    config: str, work: str, peer_8bit: np.ndarray) -> dict:
    """Accuracy only (no timing) in another configuration, ours against onnxruntime's: ``w8a16`` is SNPE's
    ``--act_bitwidth 16`` (onnxruntime uint16 activations), ``w16a8`` ``--weights_bitwidth 16``
    (onnxruntime int16 weights); together with the main run they split the output error into the part
    the 8-bit activations cause and the part the 8-bit weights cause.  ``rows`` adds
    ``--use_per_row_quantization --enable_per_row_quantized_bias``: the classifier's weights (and its
    32-bit bias) per output row, as onnxruntime's ``per_channel`` also quantizes Gemm weights (SNPE's ``--use_per_channel_quantization`` covers only
    the convolution family); onnxruntime's side is then the main run's (``peer_8bit``)."""
    flags, wb, ab = CONFIGS[config]
    qdlc, qdq = (os.path.join(work, f"{name}_{config}{s}") for s in (".dlc", "_qdq.onnx"))
    _quantize(dlc, lst, qdlc, *flags)
    if (wb, ab) == (8, 8):
        peer = peer_8bit
    else:
        qm.ort_quantize(src, qdq, x, act_bits=ab, weight_bits=wb)
        peer = qm.ort_run(qdq, x)
    r = {"ours_flags": flags, **_accuracy(qm.our_run(qdlc, x_nhwc), peer, ref)}
    print(f"{name:13s} {config}: cosine {r['ours_cosine_mean']:.5f} vs {r['ort_cosine_mean']:.5f}; top-1 "
          f"{r['ours_top1_agreement']:.0%} vs {r['ort_top1_agreement']:.0%}", flush=True)
    return r


def bench_model(name: str, n: int, work: str, configs: list[str] = (), head: str = "fitted",
                repeats: int = 1) -> dict:
    """One model: timing and accuracy of both tools.  ``head="raw"`` keeps the random classifier as built
    (no re-fit to image features): its logits are dominated by the offset every image shares, so the
    cosine is lenient and the top-1 class hardly changes between images; measured to show how much of
    the cosine target depends on that choice."""
    import onnx

    from bench_convert_openvino import LoadMeter

    size = qm.FULL_SIZE[name]
    src = os.path.join(work, f"{name}.onnx")
    onnx.save(qm.build(name, size) if head == "fitted" else qm.BUILDERS[name](size), src)
    x = qm.calibration_inputs(n, size)                       # NCHW, as onnxruntime takes it
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # the DLC's input layout
    lines = []
    for i in range(n):
        p = os.path.join(work, f"{name}_{i}.raw")
        x_nhwc[i].tofile(p)
        lines.append(p)
    lst = os.path.join(work, f"{name}_list.txt")
    with open(lst, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    dlc, qdlc, qdq = (os.path.join(work, f"{name}{s}") for s in (".dlc", "_quantized.dlc", "_qdq.onnx"))

    meter = LoadMeter()
    t_conv = _wall([sys.executable, os.path.join(ROOT, "bin", "snpe-onnx-to-dlc"), "-i", src, "-o", dlc])
    ours_runs, ort_runs = [], []
    for _ in range(repeats):          # pairs one after the other, so a slow spell hits both tools alike
        ours_runs.append(_quantize(dlc, lst, qdlc))
        ort_runs.append(qm.ort_quantize(src, qdq, x))
    t_quant, t_ort = float(np.median(ours_runs)), float(np.median(ort_runs))
    load = meter.stop()

    ref = qm.ort_run(src, x)
    peer = qm.ort_run(qdq, x)
    r = {"input_size": size, "inputs": n, "head": head,
         "ours_convert_s": t_conv, "ours_quantize_s": t_quant, "ort_quantize_static_s": t_ort,
         "quantize_ratio": t_quant / t_ort, "convert_plus_quantize_ratio": (t_conv + t_quant) / t_ort,
         "ours_quantize_runs_s": ours_runs, "ort_quantize_static_runs_s": ort_runs,
         "pair_ratios": [a / b for a, b in zip(ours_runs, ort_runs)],
         **_accuracy(qm.our_run(qdlc, x_nhwc), peer, ref),
         "distinct_float_top1": int(len(set(ref.argmax(1).tolist()))),
         "activation_scales_equal_to_ort": qm.same_activation_scales(qdq, qdlc),
         "other_processes_cpu_fraction": load}
    print(f"{name:13s} quantize {t_quant:6.2f} s (+ convert {t_conv:.2f} s) vs quantize_static {t_ort:6.2f} s: "
          f"{r['quantize_ratio']:.2f}x ({r['convert_plus_quantize_ratio']:.2f}x with conversion); "
          f"cosine {r['ours_cosine_mean']:.5f} (min {r['ours_cosine_min']:.5f}) vs {r['ort_cosine_mean']:.5f} "
          f"(min {r['ort_cosine_min']:.5f}); top-1 {r['ours_top1_agreement']:.0%} vs {r['ort_top1_agreement']:.0%}"
          f" ({r['distinct_float_top1']} float classes)"
          + f"; activation scales equal to ORT's: {r['activation_scales_equal_to_ort'][0]}/"
          f"{r['activation_scales_equal_to_ort'][1]}"
          + (f"; other processes {load:.0%} CPU" if load is not None else "")
          + (f"; medians of {repeats} runs, pair ratios {min(r['pair_ratios']):.2f}-{max(r['pair_ratios']):.2f}x"
             if repeats > 1 else ""), flush=True)
    for c in configs:
        r.setdefault("configs", {})[c] = config_accuracy(name, src, dlc, lst, x, x_nhwc, ref, c, work, peer)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,mobilenet_v2,inception_v3")
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "quantize.json"))
    ap.add_argument("--keep", default=None, help="work in this folder and keep the models, lists and DLCs")
    ap.add_argument("--head", default="fitted", choices=["fitted", "raw"],
                    help="fitted (default): the classifier re-fitted to image features (strict cosine, top-1 "
                         "varies); raw: the random classifier as built (lenient cosine, near-constant top-1)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="time each tool's quantization this many times (alternating) and report the medians")
    ap.add_argument("--configs", default="", help="also measure accuracy (not time) in these configurations, "
                                                  f"comma-separated: {', '.join(CONFIGS)}")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="snpe_tools_bench_quantize_")
    os.makedirs(work, exist_ok=True)
    import numpy
    import onnxruntime

    results = {"machine": {"python": platform.python_version(), "numpy": numpy.__version__,
                           "onnxruntime": onnxruntime.__version__, "cpus": os.cpu_count()}}
    try:
        for name in args.models.split(","):
            results[name] = bench_model(name.strip(), args.inputs, work,
                                        [c.strip() for c in args.configs.split(",") if c.strip()], args.head,
                                        max(1, args.repeats))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

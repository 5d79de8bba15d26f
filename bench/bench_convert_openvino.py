"""Conversion benchmark: snpe-onnx-to-dlc against OpenVINO's converter (a benchmark, not a test).

Run from anywhere, in the venv with the test extras, ``torch`` and ``openvino`` installed
(``pip install openvino==2026.4.1``); about 1-2 minutes on a 2-core machine:

    python bench/bench_convert_openvino.py [--runs 5] [--models resnet50,bert] [--bert-vocab 30522]
                                           [--keep DIR] [--json bench/results/convert_openvino.json]

Models:

* ResNet-50 with ~100 MB of random weights, built by ``bench_resnet50.build_resnet50`` (onnx's light
  model with its ``ConstantOfShape`` fills replaced by random initializers; opset 9).
* A BERT-style encoder: the ``Bert`` module of ``tests/test_onnx_exported_models.py`` (token and
  position embeddings, LayerNorm, 4 hand-written multi-head attention layers with a padding mask, GELU
  MLP) at d_model 256, 4 heads, seq 128, batch 1, exported with ``torch.onnx.export(...,
  opset_version=17, dynamo=False)``; inputs ``ids``/``mask`` int64 [1, 128], output ``logits`` [1, 3].

Measured, per model, interleaved run by run, each tool as a fresh Python process:

* ours: ``python bin/snpe-onnx-to-dlc -i model.onnx -o model.dlc``;
* OpenVINO: ``openvino.convert_model(path)`` then ``openvino.save_model(model, "model.xml",
  compress_to_fp16=False)`` (fp32 weights, like the DLC: the primary peer), and the same with
  OpenVINO's default ``compress_to_fp16=True`` (fp16 weights in the .bin);
* start-up only: a process that just imports ``snpe_tools.tools.onnx_to_dlc`` resp. ``openvino``
  (the fixed cost contained in the numbers above).

Wall time is the median of ``--runs`` runs, peak RSS the maximum; RSS is the child's own ru_maxrss
from ``os.wait4``, taken by ``bench_resnet50``'s launcher process so that the benchmark's memory does
not leak into it.  OpenVINO's children set ``CI=true`` before importing openvino, which makes its
conversion telemetry decline (no network calls, no consent file written).

Load: the CPU time that other processes used during each model's measurement is computed from
``/proc/stat`` minus this benchmark's own (children's) CPU time; above 10% of the machine the result
is flagged as measured under load.  Prints a table and writes JSON (default
``bench/results/convert_openvino.json``, git-ignored).
"""
from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_resnet50  # noqa: E402  (bench/ is not a package)
import onnx  # noqa: E402

CONVERTER = os.path.join(ROOT, "bin", "snpe-onnx-to-dlc")
BERT_CONFIG = {"d": 256, "h": 4, "layers": 4, "seq": 128}
BERT_SEED = 0
LOAD_LIMIT = 0.10

OV_SCRIPT = r"""
import os, sys
os.environ["CI"] = "true"   # OpenVINO's conversion telemetry is declined in CI: no network calls
import openvino as ov
model = ov.convert_model(sys.argv[1])
ov.save_model(model, sys.argv[2], compress_to_fp16=sys.argv[3] == "fp16")
"""
OV_IMPORT = 'import os; os.environ["CI"] = "true"; import openvino'
OURS_IMPORT = f"import sys; sys.path.insert(0, {ROOT!r}); import snpe_tools.tools.onnx_to_dlc"


# --------------------------------------------------------------------------- models
def build_bert(path: str, vocab: int) -> dict:
    """Export the tests' ``Bert`` at d 256 / 4 heads / 4 layers / seq 128 (opset 17, TorchScript)."""
    import torch

    sys.path.insert(0, os.path.join(ROOT, "tests"))   # the test module imports its ``helpers``
    from test_onnx_exported_models import Bert

    torch.manual_seed(BERT_SEED)
    model = Bert(vocab=vocab, **BERT_CONFIG).eval()
    seq = BERT_CONFIG["seq"]
    ids = torch.randint(0, vocab, (1, seq))
    mask = torch.ones(1, seq, dtype=torch.int64)
    mask[0, seq * 3 // 4:] = 0
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), path, opset_version=17, dynamo=False,
                          input_names=["ids", "mask"], output_names=["logits"])
    m = onnx.load(path)
    ops = collections.Counter(n.op_type for n in m.graph.node)
    n_params = sum(p.numel() for p in model.parameters())
    return {"config": {"vocab": vocab, **BERT_CONFIG, "mlp_hidden": 64, "batch": 1},
            "opset": 17, "float_params": int(n_params), "onnx_bytes": os.path.getsize(path),
            "nodes": len(m.graph.node), "op_counts": dict(ops.most_common())}


def build_resnet50(path: str) -> dict:
    info = bench_resnet50.build_resnet50(path)
    info["nodes"] = len(onnx.load(path, load_external_data=False).graph.node)
    return info


# --------------------------------------------------------------------------- load accounting
def _proc_stat() -> tuple[int, int] | None:
    """(non-idle, total) jiffies over all CPUs from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]   # user..steal (guest is in user)
    except (OSError, ValueError):
        return None
    return sum(vals) - vals[3] - vals[4], sum(vals)


def _own_cpu_s() -> float:
    """CPU seconds of this process and all its waited-for descendants (launchers and tools)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class LoadMeter:
    """Fraction of the machine's CPU capacity used by *other* processes between start and stop."""

    def __init__(self) -> None:
        self.t0, self.own0 = _proc_stat(), _own_cpu_s()

    def stop(self) -> float | None:
        t1, own1 = _proc_stat(), _own_cpu_s()
        if self.t0 is None or t1 is None or t1[1] == self.t0[1]:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        busy = (t1[0] - self.t0[0]) / hz - (own1 - self.own0)
        return max(busy, 0.0) / ((t1[1] - self.t0[1]) / hz)


# --------------------------------------------------------------------------- measurement
def _summary(runs: list[dict]) -> dict:
    return {"wall_s": statistics.median(r["wall_s"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "user_s": statistics.median(r["user_s"] for r in runs),
            "sys_s": statistics.median(r["sys_s"] for r in runs), "runs": runs}


def measure_model(name: str, model_path: str, work: str, runs: int) -> dict:
    dlc = os.path.join(work, f"{name}.dlc")
    xml32, xml16 = os.path.join(work, f"{name}.ov_fp32.xml"), os.path.join(work, f"{name}.ov_fp16.xml")
    tools = {
        "ours": [sys.executable, CONVERTER, "-i", model_path, "-o", dlc],
        "openvino_fp32": [sys.executable, "-c", OV_SCRIPT, model_path, xml32, "fp32"],
        "openvino_fp16": [sys.executable, "-c", OV_SCRIPT, model_path, xml16, "fp16"],
        "ours_startup": [sys.executable, "-c", OURS_IMPORT],
        "openvino_startup": [sys.executable, "-c", OV_IMPORT],
    }
    meter = LoadMeter()
    t0 = time.perf_counter()
    collected: dict[str, list[dict]] = {k: [] for k in tools}
    for i in range(runs):
        print(f"  {name}: run {i + 1}/{runs} ...", flush=True)
        for key, cmd in tools.items():
            collected[key].append(bench_resnet50.run_measured(cmd, cwd=work))
    load = meter.stop()
    out = {k: _summary(v) for k, v in collected.items()}
    out["outputs_bytes"] = {
        "dlc": os.path.getsize(dlc),
        "openvino_fp32_xml+bin": os.path.getsize(xml32) + os.path.getsize(xml32[:-4] + ".bin"),
        "openvino_fp16_xml+bin": os.path.getsize(xml16) + os.path.getsize(xml16[:-4] + ".bin"),
    }
    for peer in ("openvino_fp32", "openvino_fp16"):
        out[f"ratio_time_vs_{peer}"] = out["ours"]["wall_s"] / out[peer]["wall_s"]
        out[f"ratio_rss_vs_{peer}"] = out["ours"]["peak_rss_mb"] / out[peer]["peak_rss_mb"]
    out["measure_wall_s"] = time.perf_counter() - t0
    out["other_processes_cpu_fraction"] = load
    out["under_load"] = load is not None and load > LOAD_LIMIT
    return out


# --------------------------------------------------------------------------- report
def _table(title: str, res: dict) -> str:
    cols = [("ours", "ours"), ("OV fp32", "openvino_fp32"), ("OV fp16", "openvino_fp16")]
    rows = [("", *[c for c, _ in cols], "ours/OV32", "ours/OV16")]
    rows.append(("wall time (median)", *[f"{res[k]['wall_s']:.2f} s" for _, k in cols],
                 f"{res['ratio_time_vs_openvino_fp32']:.2f}x", f"{res['ratio_time_vs_openvino_fp16']:.2f}x"))
    rows.append(("peak RSS (max)", *[f"{res[k]['peak_rss_mb']:.0f} MiB" for _, k in cols],
                 f"{res['ratio_rss_vs_openvino_fp32']:.2f}x", f"{res['ratio_rss_vs_openvino_fp16']:.2f}x"))
    rows.append(("CPU user+sys (median)",
                 *[f"{res[k]['user_s'] + res[k]['sys_s']:.2f} s" for _, k in cols], "", ""))
    rows.append(("start-up only: wall", f"{res['ours_startup']['wall_s']:.2f} s",
                 f"{res['openvino_startup']['wall_s']:.2f} s", "", "", ""))
    rows.append(("start-up only: RSS", f"{res['ours_startup']['peak_rss_mb']:.0f} MiB",
                 f"{res['openvino_startup']['peak_rss_mb']:.0f} MiB", "", "", ""))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title]
    for r in rows:
        lines.append("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)).rstrip())
    ob = res["outputs_bytes"]
    load = res["other_processes_cpu_fraction"]
    lines.append(f"outputs: DLC {ob['dlc'] / 2**20:.1f} MiB, OV fp32 {ob['openvino_fp32_xml+bin'] / 2**20:.1f} MiB, "
                 f"OV fp16 {ob['openvino_fp16_xml+bin'] / 2**20:.1f} MiB; other processes used "
                 + (f"{load:.0%} of the CPUs" if load is not None else "n/a")
                 + (" -- MEASURED UNDER LOAD" if res["under_load"] else ""))
    return "\n".join(lines)


def _git_rev() -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="runs per tool and model (median time, max RSS; default 5)")
    p.add_argument("--models", default="resnet50,bert", help="comma-separated subset of resnet50,bert")
    p.add_argument("--bert-vocab", type=int, default=30522, help="BERT token vocabulary (default 30522, BERT's)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep the models and converted files")
    p.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "convert_openvino.json"))
    args = p.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - {"resnet50", "bert"}
    if unknown:
        p.error(f"unknown model(s): {', '.join(sorted(unknown))}")

    import numpy as np
    import onnxruntime as ort
    import openvino as ov

    from snpe_tools import __version__

    tmp = None
    if args.keep:
        work = os.path.abspath(args.keep)
        os.makedirs(work, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_convert_openvino_")
        work = tmp.name

    infos: dict[str, dict] = {}
    for name in models:
        path = os.path.join(work, f"{name}.onnx")
        print(f"building {name} in {work} ...", flush=True)
        infos[name] = build_resnet50(path) if name == "resnet50" else build_bert(path, args.bert_vocab)
        i = infos[name]
        print(f"  {i['nodes']} nodes, {i['float_params'] / 1e6:.1f} M params, "
              f"{i['onnx_bytes'] / 2**20:.1f} MiB", flush=True)

    busy = bench_resnet50._cpu_busy()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    if busy is not None and busy > LOAD_LIMIT:
        print(f"warning: the CPUs were {busy:.0%} busy before the benchmark started; other processes "
              "will skew the numbers", flush=True)

    results: dict[str, dict] = {}
    for name in models:
        print(f"measuring {name} ({args.runs} runs of each tool) ...", flush=True)
        results[name] = measure_model(name, os.path.join(work, f"{name}.onnx"), work, args.runs)

    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"platform": platform.platform(), "processor": bench_resnet50._cpu_name(),
                    "cpus": os.cpu_count(), "python": platform.python_version(),
                    "cpu_busy_before": busy, "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": {"snpe_tools": __version__, "git": _git_rev(), "openvino": ov.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__},
        "runs": args.runs,
        "what": {"ours": "python bin/snpe-onnx-to-dlc -i model.onnx -o model.dlc",
                 "openvino_fp32": "openvino.convert_model(path); openvino.save_model(m, xml, compress_to_fp16=False)",
                 "openvino_fp16": "openvino.convert_model(path); openvino.save_model(m, xml) (default: fp16 weights)",
                 "ours_startup": "python -c 'import snpe_tools.tools.onnx_to_dlc'",
                 "openvino_startup": "python -c 'import openvino'"},
        "models": {name: {"model": infos[name], **results[name]} for name in models},
        "under_load": any(r["under_load"] for r in results.values()),
    }

    print()
    for name in models:
        i = infos[name]
        title = (f"{name}: {i['nodes']} nodes, {i['float_params'] / 1e6:.1f} M params, ONNX "
                 f"{i['onnx_bytes'] / 2**20:.0f} MiB -- {args.runs} runs, {os.cpu_count()} CPUs, {result['date']}")
        print(_table(title, results[name]))
        print()
    if result["under_load"]:
        print(f"warning: other processes used more than {LOAD_LIMIT:.0%} of the CPUs during the measurement; "
              "rerun on a quiet machine")

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

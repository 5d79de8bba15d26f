"""ResNet-50 benchmark for snpe-onnx-to-dlc and the numpy runtime (a benchmark, not a test).

Run from anywhere (about 10 s on a 2-core machine):

    python bench/bench_resnet50.py [--runs 10] [--conversions 3] [--peer-level ORT_ENABLE_EXTENDED]
                                   [--keep DIR] [--json bench/results/resnet50.json]

Model: onnx's ``backend/test/data/light/light_resnet50.onnx`` (ResNet-50 v1, opset 9, 1x3x224x224),
whose weights are ``ConstantOfShape`` fills.  Every fill is replaced by a random initializer of
the evaluated shape (conv weights He-normal, classifier 1/sqrt(fan_in), BatchNorm scale/bias/mean/
variance drawn from sane ranges -- the handful of BN parameters that the file stores as real
initializers are redrawn the same way so all statistics are consistent), which gives ~25.6 M
float32 parameters (~100 MB) and a non-degenerate softmax.  The model is written to a temp dir with
only the data tensor as graph input (IR version 7).

Measured:

(a) conversion: wall time and peak RSS of ``python bin/snpe-onnx-to-dlc -i model.onnx -o model.dlc``
    in a fresh subprocess, against a peer measured in the same run: a fresh Python subprocess that
    creates an onnxruntime InferenceSession with graph optimisations enabled and saves the
    optimised model (``SessionOptions.optimized_model_filepath``).  Peak RSS of each child comes
    from ``os.wait4`` (that child's own rusage, taken by a small launcher process so the
    benchmark's own memory does not leak into it); both include interpreter start-up and imports.
(b) inference: median of N runs (after one warm-up) of ``snpe_tools.runtime.execute`` on the DLC
    read back with ``snpe_tools.dlc.read_dlc`` (NHWC input) vs onnxruntime CPU (2 intra-op
    threads, ORT_ENABLE_ALL) on the same input, plus the numerical agreement of the outputs.

Prints a table and writes JSON (default ``bench/results/resnet50.json``, git-ignored).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

LIGHT_RESNET50 = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
                              "light_resnet50.onnx")
SEED = 2024
INPUT_SEED = 7


# --------------------------------------------------------------------------- model preparation
def _random_param(name: str, shape: tuple[int, ...], role: str, rng: np.random.Generator) -> np.ndarray:
    """A random value for a weight, by its role in the graph."""
    if role == "conv_w":
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32((2.0 / fan_in) ** 0.5))
    if role == "gemm_w":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(shape[-1] ** -0.5)
    if role == "bias":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    if role == "bn_scale":
        # the last BN of each residual branch gets a smaller scale (as in zero-/small-gamma init),
        # which keeps the residual stream's variance from growing through 16 blocks
        lo, hi = (0.2, 0.5) if "branch2c" in name else (0.5, 1.5)
        return rng.uniform(lo, hi, shape).astype(np.float32)
    if role == "bn_bias":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    if role == "bn_mean":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    if role == "bn_var":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    raise ValueError(f"{name}: unknown role {role}")


def _roles(graph: onnx.GraphProto) -> dict[str, str]:
    roles: dict[str, str] = {}
    for n in graph.node:
        if n.op_type == "Conv":
            roles[n.input[1]] = "conv_w"
            if len(n.input) > 2 and n.input[2]:
                roles[n.input[2]] = "bias"
        elif n.op_type == "Gemm":
            roles[n.input[1]] = "gemm_w"
            if len(n.input) > 2:
                roles[n.input[2]] = "bias"
        elif n.op_type == "BatchNormalization":
            for name, role in zip(n.input[1:], ("bn_scale", "bn_bias", "bn_mean", "bn_var")):
                roles[name] = role
    return roles


def build_resnet50(path: str, seed: int = SEED) -> dict:
    """Write the random-weight ResNet-50 to ``path``; returns a summary."""
    model = onnx.load(LIGHT_RESNET50)
    g = model.graph
    rng = np.random.default_rng(seed)
    inits = {t.name: t for t in g.initializer}
    roles = _roles(g)
    new_inits: list[onnx.TensorProto] = []
    kept_nodes = []
    replaced = 0
    used_shape_inputs = set()
    for n in g.node:
        if n.op_type != "ConstantOfShape":
            kept_nodes.append(n)
            continue
        shape = tuple(int(d) for d in numpy_helper.to_array(inits[n.input[0]]))
        used_shape_inputs.add(n.input[0])
        out = n.output[0]
        role = roles.get(out)
        if role is None:
            raise RuntimeError(f"ConstantOfShape output {out} has no known consumer role")
        new_inits.append(numpy_helper.from_array(_random_param(out, shape, role, rng), out))
        replaced += 1
    redrawn = 0
    for t in g.initializer:
        if t.name in used_shape_inputs:
            continue
        if t.name in roles and roles[t.name].startswith("bn_"):
            arr = numpy_helper.to_array(t)
            new_inits.append(numpy_helper.from_array(_random_param(t.name, arr.shape, roles[t.name], rng), t.name))
            redrawn += 1
        else:
            new_inits.append(t)
    consumed = {i for n in kept_nodes for i in n.input}
    new_inits = [t for t in new_inits if t.name in consumed]
    data_input = [vi for vi in g.input if vi.name not in {t.name for t in g.initializer}
                  and vi.name not in {n.output[0] for n in g.node}]
    assert len(data_input) == 1, [vi.name for vi in data_input]
    graph = helper.make_graph(kept_nodes, "resnet50_random", data_input, list(g.output), new_inits)
    out = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="bench_resnet50")
    out.ir_version = 7
    onnx.checker.check_model(out)
    onnx.save(out, path)
    n_params = int(sum(int(np.prod(t.dims)) for t in new_inits if t.data_type == onnx.TensorProto.FLOAT))
    return {"constantofshape_replaced": replaced, "bn_initializers_redrawn": redrawn,
            "float_params": n_params, "onnx_bytes": os.path.getsize(path),
            "input": data_input[0].name, "output": g.output[0].name}


# --------------------------------------------------------------------------- measurement helpers
# The child is started by this small launcher rather than by the benchmark process itself: on
# Linux a child's ru_maxrss starts from the high-water mark of the address space it was
# (v)forked from, so spawning it straight from this process (which holds the 100 MB model)
# would report our own peak instead of the child's.
LAUNCHER = r"""
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, ru = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    json.dump({"rc": proc.returncode, "wall_s": wall, "maxrss": ru.ru_maxrss, "user_s": ru.ru_utime,
               "sys_s": ru.ru_stime, "stderr": err.decode(errors="replace")[-4000:]}, f)
"""


def run_measured(cmd: list[str], cwd: str | None = None) -> dict:
    """Run ``cmd`` as a fresh grandchild; its wall time and peak RSS (os.wait4 rusage)."""
    fd, report = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        subprocess.run([sys.executable, "-c", LAUNCHER, report, *cmd], cwd=cwd, check=True)
        with open(report) as f:
            r = json.load(f)
    finally:
        os.unlink(report)
    if r["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r['rc']}):\n{r['stderr']}")
    # ru_maxrss is KiB on Linux, bytes on macOS
    rss = r["maxrss"] * (1 if sys.platform == "darwin" else 1024)
    return {"wall_s": r["wall_s"], "peak_rss_mb": rss / 2**20, "user_s": r["user_s"], "sys_s": r["sys_s"]}


PEER_SCRIPT = r"""
import sys, onnxruntime as ort
so = ort.SessionOptions()
so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, sys.argv[3])
so.optimized_model_filepath = sys.argv[2]
ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
"""


def _median_times(fns, runs: int) -> list[tuple[float, list[float]]]:
    """Per fn, one after the other: one warm-up call, then ``runs`` timed calls; (median s, times).

    The engines are deliberately not interleaved: both keep spinning worker threads busy for a
    while after a call (OpenBLAS under numpy, onnxruntime's intra-op pool), which would slow down
    whichever engine runs next on a 2-core machine."""
    out = []
    for fn in fns:
        fn()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        out.append((statistics.median(ts), ts))
        time.sleep(0.5)
    return out


def _fmt_ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=10, help="inference runs per engine (median; default 10)")
    p.add_argument("--conversions", type=int, default=3,
                   help="conversion measurements per tool (median time, max RSS; default 3)")
    p.add_argument("--peer-level", default="ORT_ENABLE_EXTENDED",
                   choices=["ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"],
                   help="onnxruntime optimisation level of the conversion peer (default ORT_ENABLE_EXTENDED, "
                        "the highest level whose saved model is portable)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep the model/DLC files")
    p.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "resnet50.json"))
    args = p.parse_args(argv)

    import onnxruntime as ort

    from snpe_tools import __version__
    from snpe_tools.dlc import read_dlc
    from snpe_tools.ir import axis_format as af
    from snpe_tools.runtime import execute

    tmp = None
    if args.keep:
        work = os.path.abspath(args.keep)
        os.makedirs(work, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_resnet50_")
        work = tmp.name
    model_path = os.path.join(work, "resnet50.onnx")
    dlc_path = os.path.join(work, "resnet50.dlc")
    ort_opt_path = os.path.join(work, "resnet50.ort_optimized.onnx")

    print(f"building random-weight ResNet-50 in {work} ...", flush=True)
    info = build_resnet50(model_path)
    print(f"  {info['constantofshape_replaced']} ConstantOfShape fills -> initializers, "
          f"{info['float_params'] / 1e6:.1f} M params, {info['onnx_bytes'] / 2**20:.1f} MiB", flush=True)

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    busy = _cpu_busy()
    if busy is not None and busy > 0.1:
        print(f"warning: the CPUs were {busy:.0%} busy before the benchmark started; other processes "
              "will skew the numbers", flush=True)

    # (a) conversion
    ours_runs, peer_runs = [], []
    for i in range(args.conversions):
        print(f"converting (run {i + 1}/{args.conversions}) ...", flush=True)
        ours_runs.append(run_measured([sys.executable, os.path.join(ROOT, "bin", "snpe-onnx-to-dlc"),
                                       "-i", model_path, "-o", dlc_path], cwd=work))
        peer_runs.append(run_measured([sys.executable, "-c", PEER_SCRIPT, model_path, ort_opt_path,
                                       args.peer_level], cwd=work))

    def summary(runs):
        return {"wall_s": statistics.median(r["wall_s"] for r in runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "user_s": statistics.median(r["user_s"] for r in runs), "runs": runs}

    conv_ours, conv_peer = summary(ours_runs), summary(peer_runs)
    dlc_bytes = os.path.getsize(dlc_path)

    # (b) inference
    graph = read_dlc(dlc_path).graph
    in_name, out_name = graph.inputs[0], graph.outputs[0]
    x = np.random.default_rng(INPUT_SEED).standard_normal((1, 3, 224, 224)).astype(np.float32)
    x_dlc = x
    fmt = graph.tensors[in_name].axis_format
    if fmt in af.SPATIAL_FIRST:
        x_dlc = np.ascontiguousarray(np.transpose(x, af.spatial_first_perm(x.ndim)))
    ours_out: dict = {}

    def run_ours():
        ours_out.update(execute(graph, {in_name: x_dlc}))

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    ort_out: list = []

    def run_ort():
        ort_out[:] = sess.run(None, {info["input"]: x})

    print(f"inference: {args.runs} runs of each engine ...", flush=True)
    (t_ours, ours_times), (t_ort, ort_times) = _median_times([run_ours, run_ort], args.runs)
    y_ours = np.asarray(ours_out[out_name])
    ofmt = graph.tensors[out_name].axis_format
    if ofmt in af.SPATIAL_FIRST and y_ours.ndim == len(af.SPATIAL_FIRST[ofmt][1]):
        y_ours = np.transpose(y_ours, af.channel_first_perm(y_ours.ndim))
    y_ort = ort_out[0]
    diff = np.abs(y_ours.astype(np.float64) - y_ort.astype(np.float64))
    numerics = {"output": out_name, "max_abs_diff": float(diff.max()),
                "max_rel_diff": float((diff / np.maximum(np.abs(y_ort), 1e-12)).max()),
                "argmax_ours": int(y_ours.argmax()), "argmax_ort": int(y_ort.argmax()),
                "top1_prob_ort": float(y_ort.max()), "output_std_ort": float(y_ort.std())}

    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"platform": platform.platform(), "processor": _cpu_name(), "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "cpu_busy_before": busy, "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": {"snpe_tools": __version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "numpy": np.__version__},
        "model": info,
        "conversion": {"ours": conv_ours, "peer": {**conv_peer, "what": f"onnxruntime InferenceSession "
                                                   f"+ optimized_model_filepath ({args.peer_level})"},
                       "dlc_bytes": dlc_bytes,
                       "ratio_time": conv_ours["wall_s"] / conv_peer["wall_s"],
                       "ratio_rss": conv_ours["peak_rss_mb"] / conv_peer["peak_rss_mb"]},
        "inference": {"runs": args.runs, "ours_median_s": t_ours, "ort_median_s": t_ort,
                      "ours_times_s": ours_times, "ort_times_s": ort_times, "ratio": t_ours / t_ort,
                      "ort": "CPUExecutionProvider, intra_op_num_threads=2, ORT_ENABLE_ALL"},
        "numerics": numerics,
    }

    rows = [
        ("conversion wall time", f"{conv_ours['wall_s']:.2f} s", f"{conv_peer['wall_s']:.2f} s",
         _fmt_ratio(conv_ours["wall_s"], conv_peer["wall_s"])),
        ("conversion peak RSS", f"{conv_ours['peak_rss_mb']:.0f} MiB", f"{conv_peer['peak_rss_mb']:.0f} MiB",
         _fmt_ratio(conv_ours["peak_rss_mb"], conv_peer["peak_rss_mb"])),
        (f"inference median ({args.runs})", f"{t_ours * 1e3:.0f} ms", f"{t_ort * 1e3:.0f} ms",
         _fmt_ratio(t_ours, t_ort)),
    ]
    w = [max(len(r[i]) for r in rows + [("", "ours", "onnxruntime", "ours/ort")]) for i in range(4)]
    print()
    print(f"ResNet-50 ({info['float_params'] / 1e6:.1f} M params, ONNX {info['onnx_bytes'] / 2**20:.0f} MiB, "
          f"DLC {dlc_bytes / 2**20:.0f} MiB) on {os.cpu_count()} CPUs, {result['date']}")
    hdr = ("", "ours", "onnxruntime", "ours/ort")
    print("  ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(hdr)))
    for r in rows:
        print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
    print(f"numerics ({out_name}): max abs diff {numerics['max_abs_diff']:.3g}, max rel diff "
          f"{numerics['max_rel_diff']:.3g}, argmax ours/ort {numerics['argmax_ours']}/{numerics['argmax_ort']} "
          f"(top-1 prob {numerics['top1_prob_ort']:.3f})")

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")
    if tmp is not None:
        tmp.cleanup()
    return 0


def _cpu_busy(interval: float = 1.0) -> float | None:
    """Fraction of CPU time spent non-idle over ``interval`` seconds (Linux /proc/stat), else None."""
    def sample():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        return vals[3] + vals[4], sum(vals)   # idle + iowait, total
    try:
        i0, t0 = sample()
        time.sleep(interval)
        i1, t1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())

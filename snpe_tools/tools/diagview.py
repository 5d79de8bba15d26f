"""snpe-diagview: print the profiling log snpe-net-run writes with ``--profiling_level``.

As SNPE's snpe-diagview: ``--input_log`` names the log; the report gives the initialisation times, the
average inference time and, for per-layer logs, the average time of every layer with its runtime;
``--output`` also writes the per-layer times of every inference as CSV, ``--chrometrace`` a Chrome trace
(``chrome://tracing`` / Perfetto JSON).  The log format is documented in :mod:`snpe_tools.runtime.diag_log`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from ..dlc.writer import atomic_output, output_target
from ..errors import SnpeToolsError
from ..runtime.diag_log import DiagLog, read_log
from .common import ArgumentParser, check_input_file, check_not_input, run_main

PROG = "snpe-diagview"
MAX_LOG_BYTES = 256 << 20


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Print the profiling log (SNPEDiag.log) of snpe-net-run.")
    p.required.add_argument("--input_log", required=True, help="Path to SNPEDiag.log.")
    p.optional.add_argument("--output", metavar="CSV", help="Also write the per-layer times of every inference as CSV.")
    p.optional.add_argument("--chrometrace", metavar="JSON", help="Also write a Chrome trace (chrome://tracing).")
    return p


def _avg(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def report(log: DiagLog) -> str:
    lines = [f"Container: {log.container} (snpe-tools {log.version}, created {log.created})",
             "Time Scale: 1e-06",
             f"Profiling Level: {log.profiling_level}", "",
             "Dnn Runtime Load/Deserialize/Create Statistics:",
             "----------------------------------------------"]
    for key in ("load", "deserialize", "create"):
        lines.append(f"{key.capitalize()}: {log.init.get(key, 0.0):.0f} us")
    lines += ["", f"Average SNPE Statistics ({len(log.inferences)} inference(s)):",
              "------------------------------",
              f"Total Inference Time: {_avg([i['total'] for i in log.inferences]):.0f} us"]
    timed = [i["layer_times"] for i in log.inferences if "layer_times" in i]
    if timed:
        lines += ["", "Layer Times:", "---------------"]
        for k, layer in enumerate(log.layers):
            avg = _avg([t[k] for t in timed])
            lines.append(f"{layer['id']}: {avg:.0f} us : {log.runtime} : {layer['name']} ({layer['type']})")
    else:
        lines += ["", "Layer Times: not recorded (profiling level basic; use moderate or detailed)"]
    return "\n".join(lines)


def _write_text(path: str, flag: str, example: str, text: str) -> None:
    target = output_target(path, flag, example)
    with atomic_output(target, ".tmp", f"{flag} {path}: cannot write it: {{reason}}") as fh:
        fh.write(text.encode("utf-8"))


def csv_text(log: DiagLog) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Inference", "Layer Id", "Layer Name", "Layer Type", "Runtime", "Time (us)"])
    for inf in log.inferences:
        w.writerow([inf["index"], "", "total", "", log.runtime, f"{inf['total']:.3f}"])
        for layer, t in zip(log.layers, inf.get("layer_times", [])):
            w.writerow([inf["index"], layer["id"], layer["name"], layer["type"], log.runtime, f"{t:.3f}"])
    return buf.getvalue()


def chrometrace(log: DiagLog) -> str:
    """Complete events ("ph": "X") laid end to end, one row per inference (times in microseconds)."""
    events, clock = [], 0.0
    for inf in log.inferences:
        events.append({"name": f"inference {inf['index']}", "ph": "X", "ts": clock, "dur": inf["total"],
                       "pid": 0, "tid": 0, "cat": "inference"})
        t = clock
        for layer, dur in zip(log.layers, inf.get("layer_times", [])):
            events.append({"name": layer["name"], "ph": "X", "ts": t, "dur": dur, "pid": 0, "tid": 1,
                           "cat": layer["type"], "args": {"id": layer["id"], "runtime": log.runtime}})
            t += dur
        clock += inf["total"]
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    check_input_file(args.input_log, "--input_log", "diagnostic log")
    for flag, path in (("--output", args.output), ("--chrometrace", args.chrometrace)):
        if path:
            check_not_input(path, [args.input_log], flag, "the input log")
            output_target(path, flag, "diag.csv")
    with open(args.input_log, "rb") as fh:
        raw = fh.read(MAX_LOG_BYTES + 1)
    if len(raw) > MAX_LOG_BYTES:
        raise SnpeToolsError(f"--input_log {args.input_log}: larger than {MAX_LOG_BYTES >> 20} MiB; not a "
                             "snpe-tools diagnostic log")
    log = read_log(args.input_log, raw.decode("utf-8", errors="replace"))
    if args.output:
        _write_text(args.output, "--output", "diag.csv", csv_text(log))
    if args.chrometrace:
        _write_text(args.chrometrace, "--chrometrace", "trace.json", chrometrace(log))
    print(report(log))
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

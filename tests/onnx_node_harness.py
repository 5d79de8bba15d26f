"""Run ONNX backend node test cases through snpe-onnx-to-dlc + the DLC runtime.

Each case is converted with the legacy pipeline, written to a DLC, read back and executed
on the case's inputs; outputs are compared with the stored expectations (rtol 1e-3, atol 1e-4,
after undoing the spatial-first layout of the DLC outputs).  Outcomes:

* ``pass``        - every output matches;
* ``mismatch``    - converted and ran, wrong numbers or shapes;
* ``unsupported`` - the converter refused with a one-line user error (unsupported op/attribute);
* ``crash``       - any other exception: a bug.

Harness policy: a case is first converted as it is.  If the converter refuses it, it is converted
again with its parameter-like inputs frozen into initializers holding the case's values, because a
DLC takes such operands as static parameters: integer/bool inputs (shapes, axes, pads, indices,
repeats ...) and small float operands after the first input (at most 8 elements: scales, pad values,
clip bounds).  The first input and at least one input always stay runtime inputs.

Data-dependent output lengths: ONNX NonMaxSuppression returns as many rows as it selects, a DLC
tensor has a static shape.  The DLC holds the padded ``[rows, 3]`` result plus QNN's valid-row count
(the op's second output).  For an output produced by a NonMaxSuppression op the harness therefore
reads that count too and requires: count == the expected row count, the first ``count`` rows equal
the expectation, and every padding row is zero.  No other output is compared differently.

``python tests/onnx_node_harness.py --write-baseline`` regenerates tests/data/onnx_node_baseline.json;
with ``--filter`` it updates only the filtered cases in the existing baseline (the filter must then
cover every case of each op it touches, so the per-op counts stay exact).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from snpe_tools.dlc import Metadata, read_dlc, write_dlc  # noqa: E402
from snpe_tools.errors import SnpeToolsError  # noqa: E402
from snpe_tools.frontends.onnx.converter import OnnxOptions, convert_onnx  # noqa: E402
from snpe_tools.passes import legacy_pipeline, run_pipeline  # noqa: E402
from snpe_tools.runtime import execute  # noqa: E402

BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "onnx_node_baseline.json")
RTOL, ATOL = 1e-3, 1e-4


def load_cases():
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model_tests(kind="node")


def op_key(case) -> str:
    model = case.model if case.model is not None else onnx.load(os.path.join(case.model_dir, "model.onnx"))
    types = [n.op_type for n in model.graph.node]
    if "expanded" in case.name:
        return "expanded:" + case.name.split("_expanded")[0][len("test_"):]
    return types[0] if len(set(types)) == 1 else "+".join(sorted(set(types)))


def _data_sets(case):
    if case.data_sets is not None:
        return [([_arr(x) for x in ins], [_arr(y) for y in outs]) for ins, outs in case.data_sets]
    sets = []
    for d in sorted(os.listdir(case.model_dir)):
        full = os.path.join(case.model_dir, d)
        if not d.startswith("test_data_set") or not os.path.isdir(full):
            continue
        ins = [numpy_helper.to_array(onnx.load_tensor(os.path.join(full, f)))
               for f in sorted(os.listdir(full)) if f.startswith("input_")]
        outs = [numpy_helper.to_array(onnx.load_tensor(os.path.join(full, f)))
                for f in sorted(os.listdir(full)) if f.startswith("output_")]
        sets.append((ins, outs))
    return sets


def _arr(x):
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    return x


# QNN op types whose first output is padded to a static length and whose second output holds the
# number of valid leading rows (see the module docstring)
PADDED_WITH_COUNT = {"NonMaxSuppression"}


def valid_row_counts(graph) -> dict[str, str]:
    """Graph output -> tensor holding its number of valid rows, for padded outputs only."""
    return {op.outputs[0]: op.outputs[1] for op in graph.ops
            if op.type in PADDED_WITH_COUNT and op.outputs[0] in graph.outputs}


def compare_valid_rows(name: str, got: np.ndarray, count: int, exp: np.ndarray) -> str:
    """'' if the padded output ``got`` holds exactly ``exp`` in its first ``count`` rows and zeros after."""
    if count != exp.shape[0] or count > got.shape[0]:
        return f"{name}: {count} valid rows (of {got.shape[0]}) vs {exp.shape[0]} expected"
    if not np.array_equal(got[:count].astype(exp.dtype), exp):
        return f"{name}: valid rows differ"
    if np.any(got[count:]):
        return f"{name}: padding rows past the valid count are not zero"
    return ""


def run_case(case, workdir: str) -> tuple[str, str]:
    status, detail = _run_case(case, workdir, freeze=False)
    if status == "unsupported" and detail.startswith("RETRY:"):
        status, detail = _run_case(case, workdir, freeze=True)
    return status, detail.replace("RETRY:", "")


def _run_case(case, workdir: str, freeze: bool) -> tuple[str, str]:
    from tests.helpers import from_dlc_layout, to_dlc_layout

    model = case.model if case.model is not None else onnx.load(os.path.join(case.model_dir, "model.onnx"))
    model = onnx.ModelProto.FromString(model.SerializeToString())
    path = os.path.join(workdir, "model.onnx")
    can_freeze = False
    try:
        inits = {i.name for i in model.graph.initializer}
        real_inputs = [vi.name for vi in model.graph.input if vi.name not in inits]
        sets = _data_sets(case)
        if not sets:
            return "unsupported", "no data set"
        ins0 = sets[0][0]
        if any(x is None or isinstance(x, (list, dict, tuple)) for x in ins0):
            return "unsupported", "non-tensor (sequence/optional) inputs"
        ins0 = [np.asarray(x) for x in ins0]
        if any(x.dtype == np.float64 and np.any(np.abs(x[np.isfinite(x)]) > np.finfo(np.float32).max)
               for x in ins0):
            return "unsupported", "float64 input values outside the float32 range"
        if any(x.dtype.kind in "OSU" for x in ins0):
            return "unsupported", "string tensors"
        int_inputs = {n for i, (n, x) in enumerate(zip(real_inputs, ins0)) if x.dtype.kind in "iub" and i > 0}
        # small float operands after the first input (scales, pad values, clip bounds, ratios)
        param_inputs = {n for i, (n, x) in enumerate(zip(real_inputs, ins0))
                        if i > 0 and x.dtype.kind == "f" and x.size <= 8}
        frozen_candidates = int_inputs | param_inputs
        can_freeze = bool(frozen_candidates) and len(frozen_candidates) < len(real_inputs) and len(sets) == 1
        frozen = frozen_candidates if (freeze and can_freeze) else set()
        if frozen:
            for n, x in zip(real_inputs, ins0):
                if n in frozen:
                    model.graph.initializer.append(numpy_helper.from_array(x, n))
            keep = [vi for vi in model.graph.input if vi.name not in frozen]
            del model.graph.input[:]
            model.graph.input.extend(keep)
            sets = [([x for n, x in zip(real_inputs, ins) if n not in frozen], outs) for ins, outs in sets]
            real_inputs = [n for n in real_inputs if n not in frozen]
            ins0 = sets[0][0]
        onnx.save(model, path)
        dims = {n: list(np.shape(x)) for n, x in zip(real_inputs, ins0)}
        opts = OnnxOptions(input_dims={n: d for n, d in dims.items() if d and all(v > 0 for v in d)})
        graph = convert_onnx(path, opts)
        run_pipeline(graph, legacy_pipeline())
        dlc = os.path.join(workdir, "model.dlc")
        write_dlc(graph, dlc, Metadata({"converter-command": "test"}))
        graph = read_dlc(dlc).graph
        out_names = [o.name for o in model.graph.output]
        for ins, expected in sets:
            feeds = {}
            for n, x in zip(real_inputs, ins):
                x = np.asarray(x)
                if n not in graph.inputs:
                    continue
                t = graph.tensors[n]
                feeds[n] = to_dlc_layout(x, t.axis_format).astype(t.dtype)
            counts = valid_row_counts(graph)
            res = execute(graph, feeds, outputs=list(graph.outputs) + list(counts.values()))
            for name, exp in zip(out_names, expected):
                got = from_dlc_layout(np.asarray(res[name]), graph.tensors[name].axis_format)
                exp = np.asarray(exp)
                if name in counts:
                    problem = compare_valid_rows(name, got, int(res[counts[name]][0]), exp)
                    if problem:
                        return "mismatch", problem
                    continue
                if got.shape != exp.shape:
                    if got.size == exp.size:
                        got = got.reshape(exp.shape)
                    else:
                        return "mismatch", f"{name}: shape {got.shape} vs {exp.shape}"
                if exp.dtype.kind in "fc":
                    ok = np.allclose(got.astype(np.float64), exp.astype(np.float64), rtol=RTOL, atol=ATOL,
                                     equal_nan=True)
                else:
                    ok = np.array_equal(got.astype(exp.dtype), exp)
                if not ok:
                    return "mismatch", f"{name}: values differ"
        return "pass", ""
    except SnpeToolsError as exc:
        retry = "RETRY:" if (not freeze and can_freeze) else ""
        return "unsupported", retry + str(exc)[:200]
    except Exception as exc:  # noqa: BLE001 - classified as a crash
        return "crash", f"{type(exc).__name__}: {str(exc)[:200]}"


def run_all(cases=None) -> dict[str, dict]:
    cases = cases if cases is not None else load_cases()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    status, detail = run_case(case, tmp)
            results[case.name] = {"op": op_key(case), "status": status, "detail": detail}
    return results


def summarize(results: dict[str, dict]) -> dict[str, dict[str, int]]:
    per_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in results.values():
        per_op[r["op"]][r["status"]] += 1
    return {op: dict(c) for op, c in sorted(per_op.items())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-baseline", action="store_true")
    ap.add_argument("--filter", default="")
    ap.add_argument("--show", default="", help="print details of cases with this status")
    args = ap.parse_args()
    cases = [c for c in load_cases() if args.filter in c.name]
    results = run_all(cases)
    counts = collections.Counter(r["status"] for r in results.values())
    print(dict(counts))
    if args.show:
        for name, r in sorted(results.items()):
            if r["status"] == args.show:
                print(f"{name:60s} {r['op']:25s} {r['detail']}")
    if args.write_baseline:
        base = merged_baseline(results, load_cases()) if args.filter else full_baseline(results)
        with open(BASELINE, "w") as fh:
            json.dump(base, fh, indent=1, sort_keys=True)
            fh.write("\n")
        print(f"baseline written: {base['passing']} passing of {base['total']}")


def full_baseline(results: dict[str, dict]) -> dict:
    passing = sorted(n for n, r in results.items() if r["status"] == "pass")
    return {"total": len(results), "passing": len(passing), "per_op": summarize(results), "passing_cases": passing}


def merged_baseline(results: dict[str, dict], all_cases) -> dict:
    """The committed baseline with the filtered cases' outcomes replaced (other cases keep theirs)."""
    with open(BASELINE) as fh:
        base = json.load(fh)
    ops = {r["op"] for r in results.values()}
    uncovered = sorted(c.name for c in all_cases if c.name not in results and op_key(c) in ops)
    if uncovered:
        raise SystemExit(f"--filter leaves out cases of the ops it touches ({', '.join(uncovered[:5])}); "
                         "widen the filter so per-op counts stay exact")
    passing = (set(base["passing_cases"]) - set(results)) | {n for n, r in results.items() if r["status"] == "pass"}
    per_op = dict(base["per_op"])
    per_op.update(summarize(results))
    return {"total": len(all_cases), "passing": len(passing), "per_op": dict(sorted(per_op.items())),
            "passing_cases": sorted(passing)}


if __name__ == "__main__":
    main()

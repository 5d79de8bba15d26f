"""ONNX backend node tests through convert + DLC + runtime, checked against the committed baseline.

Every case that passed when the baseline was written must still pass; the total must not
drop; no case may crash (unsupported ops are reported as clean conversion errors).
Regenerate the baseline with ``python tests/onnx_node_harness.py --write-baseline``.
"""
from __future__ import annotations

import collections
import json

import pytest

from onnx_node_harness import BASELINE, run_all, summarize


@pytest.fixture(scope="module")
def results():
    return run_all()


def test_no_case_crashes(results):
    crashes = {n: r["detail"] for n, r in results.items() if r["status"] == "crash"}
    assert not crashes, f"{len(crashes)} case(s) crashed instead of a clean error: {crashes}"


def test_pass_count_never_drops_below_baseline(results):
    with open(BASELINE) as fh:
        base = json.load(fh)
    now_passing = {n for n, r in results.items() if r["status"] == "pass"}
    lost = sorted(set(base["passing_cases"]) - now_passing)
    assert not lost, "cases that passed in the baseline now fail: " + ", ".join(
        f"{n} ({results[n]['status']}: {results[n]['detail']})" for n in lost[:20])
    assert len(now_passing) >= base["passing"]
    # per-op counts (printed with -s) document coverage for the closing notes
    per_op = summarize(results)
    print("\nONNX node tests:", dict(collections.Counter(r["status"] for r in results.values())))
    for op, counts in per_op.items():
        if counts.get("pass"):
            assert counts["pass"] >= base["per_op"].get(op, {}).get("pass", 0), op

"""Model cases shipped in the onnx wheel (pytorch-converted, pytorch-operator, simple) through convert + run.

Every case must either pass or be refused with a clean error for a reason listed here: sequence /
string / training-only op types, or float64 inputs that float32 cannot hold.  No crash, no mismatch.
"""
from __future__ import annotations

import warnings

import pytest

from onnx_node_harness import run_all

ACCEPTED_REFUSALS = ("Sequence", "SplitToSequence", "ConcatFromSequence", "string tensors",
                     "preview.training.Gradient", "float64 input values outside the float32 range", "Shrink")
MIN_PASS = {"pytorch-converted": 82, "pytorch-operator": 31, "simple": 6}


@pytest.mark.parametrize("kind", sorted(MIN_PASS))
def test_shipped_model_cases(kind):
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind=kind)
    results = run_all(cases)
    bad = {n: r for n, r in results.items() if r["status"] in ("crash", "mismatch")}
    assert not bad, bad
    odd = {n: r["detail"] for n, r in results.items()
           if r["status"] == "unsupported" and not any(k in r["detail"] for k in ACCEPTED_REFUSALS)}
    assert not odd, f"refused for a reason that is not an unsupported op family: {odd}"
    passed = sum(r["status"] == "pass" for r in results.values())
    assert passed >= MIN_PASS[kind], (passed, len(results))

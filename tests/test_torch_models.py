"""The committed PyTorch-exported sample models (models/*.onnx, built by models/make_models.py).

* every sample model converts, runs on our runtime and matches onnxruntime; BatchNorm is folded
  and the legacy layout pass leaves no Transpose behind;
* the README's command-line walk-through (snpe-onnx-to-dlc, then snpe-net-run on
  models/sample_input_list.txt from the repo root) reproduces onnxruntime's logits;
* (with torch) the model definitions in make_models.py, rebuilt in-process, give the same logits in
  torch, in onnxruntime on their fresh export, in onnxruntime on the committed file, and in ours.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import helpers

MODELS_DIR = os.path.join(helpers.ROOT, "models")
MODEL_NAMES = ["resnet_small", "mobilenetv2_small"]
INPUT_SHAPE = (1, 3, 64, 64)
TOL = dict(rtol=1e-4, atol=1e-4)


def _model_path(name: str) -> str:
    return os.path.join(MODELS_DIR, f"{name}.onnx")


def _load_make_models():
    path = os.path.join(MODELS_DIR, "make_models.py")
    spec = importlib.util.spec_from_file_location("snpe_tools_sample_make_models", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _assert_not_degenerate(y: np.ndarray, what: str) -> None:
    assert np.all(np.isfinite(y)), f"{what}: non-finite outputs"
    assert float(np.std(y)) > 1e-2, f"{what}: degenerate outputs (std {np.std(y):.3g})"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sample_model_matches_onnxruntime(name, tmp_path):
    model = _model_path(name)
    dlc = str(tmp_path / f"{name}.dlc")
    helpers.convert_in_process(model, dlc)

    x = np.random.default_rng(20240601).standard_normal(INPUT_SHAPE).astype(np.float32)
    ours = helpers.run_dlc(dlc, {"input": x})["logits"]
    ref = helpers.run_onnxruntime(model, {"input": x})["logits"]
    assert ours.shape == ref.shape == (1, 10)
    np.testing.assert_allclose(ours, ref, **TOL)
    _assert_not_degenerate(ref, f"{name} (onnxruntime)")
    _assert_not_degenerate(ours, f"{name} (ours)")

    counts = helpers.count_ops(dlc)
    assert counts.get("Transpose", 0) == 0, counts
    assert counts.get("Batchnorm", 0) == 0, counts
    # the convolutions are really there (BN folded into them, not dropped with them)
    assert counts.get("Conv2d", 0) + counts.get("DepthWiseConv2d", 0) > 0, counts


def test_sample_input_files():
    raw = os.path.join(MODELS_DIR, "sample_input.raw")
    assert os.path.getsize(raw) == 4 * int(np.prod(INPUT_SHAPE))
    with open(os.path.join(MODELS_DIR, "sample_input_list.txt")) as f:
        assert f.read().split() == ["models/sample_input.raw"]


def test_readme_cli_walkthrough(tmp_path):
    """Exactly the README commands, run from the repo root."""
    dlc = str(tmp_path / "sample.dlc")
    out = str(tmp_path / "out")
    helpers.run_tool("snpe-onnx-to-dlc", "--input_network", "models/resnet_small.onnx",
                     "--output_path", dlc, cwd=helpers.ROOT)
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", "models/sample_input_list.txt",
                     "--output_dir", out, cwd=helpers.ROOT)
    got = np.fromfile(os.path.join(out, "Result_0", "logits.raw"), dtype=np.float32)

    nhwc = np.fromfile(os.path.join(MODELS_DIR, "sample_input.raw"), dtype=np.float32)
    n, c, h, w = INPUT_SHAPE
    x = np.ascontiguousarray(nhwc.reshape(n, h, w, c).transpose(0, 3, 1, 2))
    ref = helpers.run_onnxruntime(_model_path("resnet_small"), {"input": x})["logits"]
    assert got.size == ref.size
    np.testing.assert_allclose(got.reshape(ref.shape), ref, **TOL)
    _assert_not_degenerate(ref, "resnet_small on sample_input.raw")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torch_definitions_match_export(name, tmp_path):
    """Guards the export itself: torch == onnxruntime (fresh and committed export) == ours."""
    pytest.importorskip("torch")
    mm = _load_make_models()
    model = mm.build_model(name)
    x = mm.sample_input()
    assert x.shape == INPUT_SHAPE
    ref_torch = mm.torch_forward(model, x)
    _assert_not_degenerate(ref_torch, f"{name} (torch)")

    fresh = str(tmp_path / f"{name}.onnx")
    mm.export_onnx(model, fresh)
    ort_fresh = helpers.run_onnxruntime(fresh, {"input": x})["logits"]
    np.testing.assert_allclose(ort_fresh, ref_torch, **TOL)

    # the committed file is what make_models.py produces (regenerate it if this fails)
    ort_committed = helpers.run_onnxruntime(_model_path(name), {"input": x})["logits"]
    np.testing.assert_allclose(ort_committed, ref_torch, **TOL)

    dlc = str(tmp_path / f"{name}.dlc")
    helpers.convert_in_process(fresh, dlc)
    ours = helpers.run_dlc(dlc, {"input": x})["logits"]
    np.testing.assert_allclose(ours, ref_torch, **TOL)

    # the committed NHWC sample input is the same data
    nhwc = np.fromfile(os.path.join(MODELS_DIR, "sample_input.raw"), dtype=np.float32)
    np.testing.assert_array_equal(nhwc, mm.to_nhwc(x).ravel())

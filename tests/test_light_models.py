"""The 9 ``light`` models shipped in the onnx wheel, converted and executed end to end.

1. As shipped (weights are ConstantOfShape fills; IR 3 lists initializers as inputs): the DLC
   reproduces the stored expected output on onnx's dummy input (arange / n).
2. With every fill replaced by random values (He-scaled weights, sane BN statistics, so that
   outputs are not degenerate): the DLC matches onnxruntime (rtol 1e-3, atol 1e-4).
3. ResNet-50, DenseNet-121, SqueezeNet and Inception v1/v2 convert with zero Transpose ops.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from helpers import LIGHT_DIR, convert_in_process, count_ops, run_dlc, run_onnxruntime

MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
          "squeezenet", "vgg19", "zfnet512"]
ZERO_TRANSPOSE = ["resnet50", "densenet121", "squeezenet", "inception_v1", "inception_v2"]


def _model_path(name: str) -> str:
    return os.path.join(LIGHT_DIR, f"light_{name}.onnx")


def _data_input(model: onnx.ModelProto) -> onnx.ValueInfoProto:
    inits = {i.name for i in model.graph.initializer}
    real = [vi for vi in model.graph.input if vi.name not in inits]
    assert len(real) == 1
    return real[0]


def _shape(vi) -> tuple[int, ...]:
    return tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)


@pytest.mark.parametrize("name", MODELS)
def test_light_model_reproduces_stored_output(name, tmp_path):
    model = onnx.load(_model_path(name))
    vi = _data_input(model)
    shape = _shape(vi)
    n = int(np.prod(shape))
    x = (np.arange(n).reshape(shape) / n).astype(np.float32)
    expected = numpy_helper.to_array(onnx.load_tensor(os.path.join(LIGHT_DIR, f"light_{name}_output_0.pb")))
    dlc = str(tmp_path / f"{name}.dlc")
    convert_in_process(_model_path(name), dlc)
    out = run_dlc(dlc, {vi.name: x})
    got = out[model.graph.output[0].name]
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-3, atol=1e-6)


def randomize_fills(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """Replace every ConstantOfShape weight fill by a random initializer of the same shape."""
    rng = np.random.default_rng(seed)
    m = onnx.ModelProto.FromString(model.SerializeToString())
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    role: dict[str, tuple[str, int]] = {}
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in g.node:
        for idx, name in enumerate(node.input):
            role.setdefault(name, (node.op_type, idx))
            users.setdefault(name, []).append(node)
    keep, new_inits = [], []
    for node in g.node:
        if node.op_type != "ConstantOfShape":
            keep.append(node)
            continue
        shape = tuple(int(v) for v in inits[node.input[0]])
        out = node.output[0]
        op, idx = role.get(out, ("", 0))
        if op in ("Conv", "Gemm") and idx == 1:
            fan_in = int(np.prod(shape[1:])) if op == "Conv" else shape[-1]
            val = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif op == "BatchNormalization" and idx in (1, 4):
            val = rng.uniform(0.5, 1.5, shape)
        elif op == "Unsqueeze":      # Caffe2-style scale layers: a scale (Mul) or shift (Add)
            unsq = users.get(out, [])
            is_mul = any(u.op_type == "Mul" for n2 in unsq for u in users.get(n2.output[0], []))
            val = rng.uniform(0.5, 1.5, shape) if is_mul else rng.standard_normal(shape) * 0.1
        else:
            val = rng.standard_normal(shape) * 0.1
        new_inits.append(numpy_helper.from_array(val.astype(np.float32), out))
    del g.node[:]
    g.node.extend(keep)
    g.initializer.extend(new_inits)
    return m


@pytest.mark.parametrize("name", MODELS)
def test_light_model_random_weights_match_onnxruntime(name, tmp_path):
    model = randomize_fills(onnx.load(_model_path(name)))
    path = str(tmp_path / f"{name}.onnx")
    onnx.save(model, path)
    vi = _data_input(model)
    x = np.random.default_rng(1).standard_normal(_shape(vi)).astype(np.float32)
    ref = run_onnxruntime(path, {vi.name: x})
    dlc = str(tmp_path / f"{name}.dlc")
    convert_in_process(path, dlc)
    out = run_dlc(dlc, {vi.name: x})
    for oname, r in ref.items():
        got = out[oname].reshape(r.shape)
        assert r.std() > 1e-4, f"{name}: reference output is degenerate"
        np.testing.assert_allclose(got, r, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ZERO_TRANSPOSE)
def test_standard_cnns_convert_without_transposes(name, tmp_path):
    dlc = str(tmp_path / f"{name}.dlc")
    convert_in_process(_model_path(name), dlc)
    ops = count_ops(dlc)
    assert ops.get("Transpose", 0) == 0, ops
    assert ops.get("Conv2d", 0) > 0
    if name in ("resnet50",):
        assert "Batchnorm" not in ops        # folded into the convolutions


def test_batchnorm_folding_can_be_disabled(tmp_path):
    dlc = str(tmp_path / "r.dlc")
    convert_in_process(_model_path("resnet50"), dlc, "--disable_batchnorm_folding")
    ops = count_ops(dlc)
    assert ops.get("Batchnorm") == 53 and ops.get("Transpose", 0) == 0

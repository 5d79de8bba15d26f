"""snpe_tools/ops/activation.py: shape rule, kernel against onnx.reference, parameter edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op

X = rand(2, 3, 4, 5, lo=-4, hi=4)

# op -> (params, ONNX op, ONNX attrs, extra ONNX inputs)
CASES = {
    "Relu": ({}, "Relu", {}, []),
    "ReluMinMax": ({"min_value": -1.0, "max_value": 2.5}, "Clip", {}, [np.float32(-1.0), np.float32(2.5)]),
    "Sigmoid": ({}, "Sigmoid", {}, []),
    "Tanh": ({}, "Tanh", {}, []),
    "Elu": ({"alpha": 0.7}, "Elu", {"alpha": 0.7}, []),
    "Gelu": ({}, "Gelu", {}, []),
    "HardSwish": ({}, "HardSwish", {}, []),
}
# ElementWiseNeuron operation code -> (extra params, ONNX op, attrs, extra inputs)
NEURON = {
    0: ({"alpha": 0.5}, "Elu", {"alpha": 0.5}, []),
    1: ({}, "Gelu", {}, []),
    2: ({"alpha": 0.3, "beta": 0.4}, "HardSigmoid", {"alpha": 0.3, "beta": 0.4}, []),
    3: ({}, "HardSwish", {}, []),
    4: ({}, "Relu", {}, []),
    5: ({"min_value": 0.0, "max_value": 6.0}, "Clip", {}, [np.float32(0.0), np.float32(6.0)]),
    6: ({}, "Sigmoid", {}, []),
    7: ({}, "Softplus", {}, []),
    8: ({}, "Tanh", {}, []),
}
COVERED = set(CASES) | {"ElementWiseNeuron", "Prelu"}


@pytest.mark.parametrize("type_", sorted(CASES))
def test_kernel_matches_onnx(type_):
    params, onnx_op, attrs, extra = CASES[type_]
    (y,) = run_op(type_, [X], params)
    assert_close(y, onnx_ref(onnx_op, [X] + extra, **attrs)[0])


@pytest.mark.parametrize("code", sorted(NEURON))
def test_neuron_operations_match_onnx(code):
    params, onnx_op, attrs, extra = NEURON[code]
    (y,) = run_op("ElementWiseNeuron", [X], dict(params, operation=code))
    assert_close(y, onnx_ref(onnx_op, [X] + extra, **attrs)[0])


def test_neuron_softplus_threshold_is_identity_above_it():
    x = np.asarray([-3.0, 0.5, 1.0, 1.5, 20.0], np.float32)
    (y,) = run_op("ElementWiseNeuron", [x], {"operation": 7, "threshold": 1.2})
    assert_close(y, np.where(x > 1.2, x, np.log1p(np.exp(x))))


def test_prelu_broadcasts_a_channel_last_slope():
    slope = rand(5)
    (y,) = run_op("Prelu", [X, slope], static=[1])
    assert_close(y, onnx_ref("PRelu", [X, slope])[0])


def test_relu_min_max_hand_value_and_dtype_kept():
    x = np.asarray([[-5.0, 0.25, 9.0]], np.float16)
    (y,) = run_op("ReluMinMax", [x], {"min_value": 0.0, "max_value": 6.0})
    assert y.dtype == np.float16 and y.tolist() == [[0.0, 0.25, 6.0]]


def test_table_covers_the_family():
    assert COVERED == family_ops("activation")

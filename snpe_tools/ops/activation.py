"""Activations: Relu, ReluMinMax, Sigmoid, Tanh, Elu, Gelu, HardSwish, Prelu, ElementWiseNeuron."""
from __future__ import annotations

import math

import numpy as np

from ..ir import dtypes as qd
from .registry import DlcAttr, OpDef, Param, check_enum, register


def _neuron(code: int) -> tuple[DlcAttr, ...]:
    """DLC form of an activation: Qualcomm writes each as ``ElementWiseNeuron`` with this ``operation``."""
    return (DlcAttr("operation", qd.UINT_32, code, 1),)


class _Unary(OpDef):
    layout_agnostic = "first_input"
    def f(self, op, x):
        raise NotImplementedError

    def compute(self, op, xs):
        with np.errstate(all="ignore"):
            return [np.asarray(self.f(op, xs[0])).astype(xs[0].dtype, copy=False)]


@register
class Relu(_Unary):
    type = "Relu"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(4)
    fuses_into_producer = True

    def f(self, op, x):
        return np.maximum(x, 0)


@register
class ReluMinMax(_Unary):
    type = "ReluMinMax"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(5)
    fuses_into_producer = True
    params = {"min_value": Param(qd.FLOAT_32), "max_value": Param(qd.FLOAT_32)}

    def f(self, op, x):
        return np.clip(x, op.params["min_value"], op.params["max_value"])


@register
class Sigmoid(_Unary):
    type = "Sigmoid"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(6)

    def f(self, op, x):
        return 1.0 / (1.0 + np.exp(-x))


@register
class Tanh(_Unary):
    type = "Tanh"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(8)

    def f(self, op, x):
        return np.tanh(x)


@register
class Elu(_Unary):
    type = "Elu"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(0)
    params = {"alpha": Param(qd.FLOAT_32, default=1.0)}

    def f(self, op, x):
        return np.where(x > 0, x, op.params["alpha"] * (np.exp(x) - 1))


def erf(x: np.ndarray) -> np.ndarray:
    """Error function without scipy: Numerical Recipes' erfc Chebyshev fit (|error| < 1.2e-7)."""
    x = np.asarray(x, dtype=np.float64)
    return _erf_fast(x)


def _erf_fast(x: np.ndarray) -> np.ndarray:
    t = 1.0 / (1.0 + 0.5 * np.abs(x))
    y = 1 - t * np.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    return np.where(x >= 0, y, -y)


@register
class Gelu(_Unary):
    type = "Gelu"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(1)

    def f(self, op, x):
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@register
class HardSwish(_Unary):
    type = "HardSwish"
    dlc_type, dlc_selector = "ElementWiseNeuron", _neuron(3)

    def f(self, op, x):
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


@register
class Prelu(OpDef):
    """Inputs: x, slope (broadcast to x, channel-last)."""

    type = "Prelu"
    layout_agnostic = "all_inputs"      # the slope is permuted with x

    def compute(self, op, xs):
        x, a = xs
        return [np.where(x >= 0, x, x * a).astype(x.dtype, copy=False)]


NEURON_OPS = {0: "ELU", 1: "GELU", 2: "HARD_SIGMOID", 3: "HARD_SWISH", 4: "RELU", 5: "RELU_MIN_MAX",
              6: "SIGMOID", 7: "SOFTPLUS", 8: "TANH"}


@register
class ElementWiseNeuron(_Unary):
    """Generic activation selected by ``operation`` (codes in :data:`NEURON_OPS`)."""

    type = "ElementWiseNeuron"
    params = {
        "operation": Param(qd.UINT_32),
        "alpha": Param(qd.FLOAT_32, default=0.0),
        "beta": Param(qd.FLOAT_32, default=0.0),
        "min_value": Param(qd.FLOAT_32, default=0.0, write_default=False),
        "max_value": Param(qd.FLOAT_32, default=0.0, write_default=False),
        "threshold": Param(qd.FLOAT_32, default=0.0, write_default=False),
    }

    def infer(self, op, ins):
        check_enum(op, "operation", NEURON_OPS)
        return [(ins[0].shape, ins[0].dtype)]

    def f(self, op, x):
        p = op.params
        kind = NEURON_OPS[p["operation"]]
        if kind == "ELU":
            return np.where(x > 0, x, p["alpha"] * (np.exp(x) - 1))
        if kind == "GELU":
            return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
        if kind == "HARD_SIGMOID":
            return np.clip(p["alpha"] * x + p["beta"], 0.0, 1.0)
        if kind == "HARD_SWISH":
            return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0
        if kind == "RELU":
            return np.maximum(x, 0)
        if kind == "RELU_MIN_MAX":
            return np.clip(x, p["min_value"], p["max_value"])
        if kind == "SIGMOID":
            return 1.0 / (1.0 + np.exp(-x))
        if kind == "SOFTPLUS":   # above a positive threshold softplus is the identity (PyTorch/QNN)
            y = np.logaddexp(0, x)
            return np.where(x > p["threshold"], x, y) if p["threshold"] > 0 else y
        return np.tanh(x)

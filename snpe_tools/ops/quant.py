"""Quantize / Dequantize / Convert: move between float and fixed-point tensors carrying QNN encodings.

The encodings live on the tensors (:class:`~snpe_tools.ir.graph.Encoding`), not in op params, so the
kernels are identities on real values: the runtime (:mod:`snpe_tools.ops.fixed_point`) reads a
quantized input as real numbers and stores a quantized output as integers.  The output dtype is the
output tensor's (set by the frontend), hence ``infer`` keeps the dtype a frontend gave it when re-run.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register


class _Requantizing(OpDef):
    converts_storage = True
    def compute(self, op, xs):
        return [np.asarray(xs[0], np.float32)]


@register
class Quantize(_Requantizing):
    """float -> fixed point with the output tensor's encoding (TFLite QUANTIZE of a float tensor)."""

    type = "Quantize"


@register
class Dequantize(_Requantizing):
    """fixed point -> float32 (TFLite DEQUANTIZE, ONNX lone DequantizeLinear)."""

    type = "Dequantize"

    def infer(self, op, ins):
        return [(ins[0].shape, np.float32)]


@register
class Convert(_Requantizing):
    """fixed point -> fixed point with another encoding or width (TFLite QUANTIZE of a quantized tensor)."""

    type = "Convert"
    params = {"dynamic_input_data": Param(qd.BOOL_8, default=False),
              "dynamic_output_data": Param(qd.BOOL_8, default=False)}

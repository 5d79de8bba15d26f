"""snpe_tools/ops/quant.py: Quantize/Dequantize/Convert are identities on real values; the runtime puts a
quantized output on its encoding's grid (real = (q + offset) * scale)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, one_op_graph, rand, run_op
from snpe_tools.ir.graph import Encoding
from snpe_tools.runtime.executor import execute

TYPES = ["Quantize", "Dequantize", "Convert"]


@pytest.mark.parametrize("type_", TYPES)
def test_kernel_is_identity_on_real_values(type_):
    x = rand(2, 3, 4)
    (y,) = run_op(type_, [x])
    assert y.dtype == np.float32
    assert_close(y, x, rtol=0, atol=0)


def test_dequantize_of_stored_integers_is_float32():
    (y,) = run_op("Dequantize", [np.asarray([0, 7, 255], np.uint8)])
    assert y.dtype == np.float32 and y.tolist() == [0.0, 7.0, 255.0]


def test_quantize_output_lands_on_the_encoding_grid():
    x = np.asarray([-1.0, -0.26, 0.0, 0.13, 0.9, 5.0], np.float32)
    g, op = one_op_graph("Quantize", [x])
    g.tensors[op.outputs[0]].encoding = Encoding(bitwidth=8, scale=0.25, offset=-4, min=-1.0, max=62.75)
    y = execute(g, {"x0": x})[op.outputs[0]]
    real = np.asarray(y, np.float64) if y.dtype == np.float32 else (y.astype(np.float64) - 4) * 0.25
    assert_close(real, np.asarray([-1.0, -0.25, 0.0, 0.25, 1.0, 5.0]), atol=1e-6)


def test_table_covers_the_family():
    assert family_ops("quant") == set(TYPES)

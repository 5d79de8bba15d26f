"""ops/fixed_point: how an op runs on quantized tensors (shared by the runtime, the quantizer and the passes
that fold or strip quantized constants).  Quantize/dequantize on SNPE's documented example, saturation to
the storage range, and run_op: real values in, the float kernel, re-quantized outputs."""
from __future__ import annotations

import numpy as np

from snpe_tools.ir.encodings import tf_encoding
from snpe_tools.ir.graph import Graph
from snpe_tools.ops.fixed_point import dequantize, is_quantized, quantize, run_op


def _quantized(graph: Graph, name: str, shape, enc) -> None:
    t = graph.add_input(name, shape, np.uint8)
    t.encoding = enc


def test_documented_example_round_trips():
    """SNPE's worked example: [-1.8, 0.5] on 8 bits stores -1.8, -1.0, 0, 0.5 as 0, 89, 200, 255."""
    g = Graph()
    _quantized(g, "x", (4,), tf_encoding(-1.8, 0.5, 8))
    t = g.tensors["x"]
    assert is_quantized(t)
    q = quantize(t, np.array([-1.8, -1.0, 0.0, 0.5], np.float32))
    assert q.dtype == np.uint8 and q.tolist() == [0, 89, 200, 255]
    back = dequantize(t, q)
    assert back[2] == 0.0                                   # zero is exactly representable
    assert np.abs(back - [-1.8, -1.0, 0.0, 0.5]).max() <= t.encoding.scale / 2 + 1e-7


def test_out_of_range_values_saturate():
    g = Graph()
    _quantized(g, "x", (3,), tf_encoding(-1.0, 1.0, 8))
    assert quantize(g.tensors["x"], np.array([-50.0, 0.0, 50.0], np.float32)).tolist()[::2] == [0, 255]


def test_run_op_reads_real_values_and_requantizes_the_output():
    """ElementWiseAdd of two quantized inputs: the output holds quantize(real(a) + real(b))."""
    g = Graph()
    enc = tf_encoding(-2.0, 2.0, 8)
    _quantized(g, "a", (1, 4), enc)
    _quantized(g, "b", (1, 4), enc)
    op = g.add_op("ElementWiseAdd", ["a", "b"], ["y"])
    y = g.tensors["y"]
    y.dtype, y.encoding = np.dtype(np.uint8), tf_encoding(-4.0, 4.0, 8)
    a = quantize(g.tensors["a"], np.array([[-2.0, -0.5, 0.25, 2.0]], np.float32))
    b = quantize(g.tensors["b"], np.array([[-2.0, 0.5, 1.0, 1.5]], np.float32))
    out = run_op(g, op, [a, b])[0]
    real = dequantize(g.tensors["a"], a) + dequantize(g.tensors["b"], b)
    assert out.dtype == np.uint8
    assert out.tolist() == quantize(y, real).tolist()
    assert np.abs(dequantize(y, out) - real).max() <= y.encoding.scale / 2 + 1e-6

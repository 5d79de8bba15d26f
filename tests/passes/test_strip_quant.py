"""passes/strip_quant.py (``strip_encodings``, qairt-converter --export_format=DLC_STRIP_QUANT): no tensor keeps
an encoding, quantized weights become their real values, storage conversions between floats disappear."""
from __future__ import annotations

import numpy as np

from ir_harness import check_pass, ints, op_types
from snpe_tools.ir.graph import Encoding, Graph

ENC_Q = Encoding(8, 0.1, -100, -10.0, 15.5)          # real = (q - 100) * 0.1
ENC_W = Encoding(8, 0.05, 0, -6.4, 6.35)


def _graph(output_is_dequantized=True):
    g = Graph()
    g.add_input("x", (2, 6))
    g.add_op("Quantize", ["x"], ["q"])
    g.tensors["q"].dtype, g.tensors["q"].encoding = np.dtype(np.uint8), ENC_Q
    g.add_op("Dequantize", ["q"], ["d"])
    w = g.add_const("w", ints(4, 6, lo=-128, hi=128, dtype=np.int8))
    g.tensors[w].encoding = ENC_W
    g.add_op("FullyConnected", ["d", w], ["fc"])
    g.outputs = ["fc"]
    if not output_is_dequantized:
        g.outputs = ["fc", "d"]
    return g


def _feeds():
    # values on the input grid, so that quantizing them loses nothing: the float graph after the pass must
    # compute exactly what the quantized one computed
    return {"x": (ints(2, 6, lo=-100, hi=150).astype(np.float32) * np.float32(0.1))}


def test_strip_quant_leaves_a_float_graph_computing_the_real_values():
    g = _graph()
    w_real = (g.tensors["w"].data.astype(np.float64) * 0.05).astype(np.float32)
    check_pass("strip_encodings", g, _feeds(), options={"strip_quant": True},
               pre=lambda g: op_types(g) == ["Quantize", "Dequantize", "FullyConnected"],
               post=lambda g: op_types(g) == ["FullyConnected"] and g.ops[0].inputs[0] == "x"
               and all(t.encoding is None for t in g.tensors.values())
               and g.tensors["w"].dtype == np.float32 and np.allclose(g.tensors["w"].data, w_real)
               and not g.source_encodings, rtol=1e-6, atol=1e-5)


def test_a_dequantized_graph_output_keeps_its_name():
    g = _graph(output_is_dequantized=False)
    check_pass("strip_encodings", g, _feeds(), options={"strip_quant": True},
               pre=lambda g: "d" in g.outputs,
               post=lambda g: g.outputs == ["fc", "d"] and "d" in g.tensors and "Quantize" not in op_types(g),
               rtol=1e-6, atol=1e-5)


def test_without_strip_quant_nothing_changes():
    check_pass("strip_encodings", _graph(), _feeds(), options={}, pre=lambda g: True,
               post=lambda g: g.tensors["w"].encoding is ENC_W and len(g.ops) == 3, expect_change=False)

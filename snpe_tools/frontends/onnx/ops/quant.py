"""ONNX QuantizeLinear / DequantizeLinear / QLinear* and sampling ops (GridSample ...) -> QNN ops."""
from __future__ import annotations

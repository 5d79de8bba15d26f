"""ONNX RoiAlign, Col2Im, MaxUnpool, SwiGLU -> QNN ops."""
from __future__ import annotations

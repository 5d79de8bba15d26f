"""ONNX Attention, RMSNormalization, RotaryEmbedding -> QNN ops."""
from __future__ import annotations

"""QNN ops for attention-style models (added as needed by the ONNX Attention/RMSNorm/RotaryEmbedding mappings)."""
from __future__ import annotations

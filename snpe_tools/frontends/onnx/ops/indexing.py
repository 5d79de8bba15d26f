"""ONNX scatter/gather/sort/cumulative/bitwise/loss ops -> QNN ops."""
from __future__ import annotations

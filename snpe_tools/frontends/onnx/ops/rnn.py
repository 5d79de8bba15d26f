"""ONNX LSTM / GRU / RNN -> QNN ops unrolled over the static sequence length."""
from __future__ import annotations

"""aten::lstm / aten::gru (nn.LSTM, nn.GRU) unrolled into QNN ops over the static sequence."""
from __future__ import annotations

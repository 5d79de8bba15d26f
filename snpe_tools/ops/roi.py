"""Region ops: QNN RoiAlign (and Col2Im): crop-and-resample regions of a channel-last feature map."""
from __future__ import annotations

"""aten resampling and padding ops: interpolate/upsample, pixel_shuffle, pad."""
from __future__ import annotations

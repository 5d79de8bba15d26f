"""Imports every ONNX translator module so that each registers its op types."""
from . import (attention, control, detection, indexing, linear, lp, math, misc, nn, quant, reduce, resize, rnn, roi, spatial, spectral,  # noqa: F401
               tensor, volumetric)

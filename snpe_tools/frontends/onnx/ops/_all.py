"""Imports every ONNX translator module so that each registers its op types."""
from . import (attention, control, conv, detection, indexing, linear, math, misc, norm, pool, quant, reduce, resize, rnn, roi,  # noqa: F401
               spatial, spectral, tensor)

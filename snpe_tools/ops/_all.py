"""Imports every op family so that each registers its OpDefs (one module per family)."""
from . import (activation, attention, color, conv, detection, elementwise, indexing, linear, norm, pool,  # noqa: F401
               quant, recurrent, reduce, resize, roi, sampling, scatter, shape, softmax, spatial, volumetric)

"""Imports every op family so that each registers its OpDefs (one module per family)."""
from . import (activation, attention, conv, detection, elementwise, indexing, linear, norm, pool, quant, reduce,  # noqa: F401
               resize, roi, sampling, scatter, shape, softmax, spatial, volumetric)

"""Imports every op family so that each registers its OpDefs (one module per family)."""
from . import (activation, attention, conv, elementwise, indexing, linear, norm, pool, reduce, resize, shape,  # noqa: F401
               sampling, scatter, softmax, spatial, volumetric)

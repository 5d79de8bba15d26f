"""Imports every TFLite translator module so that each registers its op names.

One module per IR family (``snpe_tools/ops/<family>.py``), named after it; ``constants`` (ops folded at
convert time) and ``sparse`` (DENSIFY of sparse weights) have no IR family.
"""
from . import (activation, constants, conv, detection, elementwise, indexing, linear, norm, pool,  # noqa: F401
               quant, recurrent, reduce, resize, scatter, shape, softmax, sparse, spatial, volumetric)

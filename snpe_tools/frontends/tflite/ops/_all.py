"""Imports every TFLite translator module so that each registers its op names."""
from . import consts, conv, detection, elementwise, indexing, nms, nn, rearrange, recurrent, shape, sparse  # noqa: F401

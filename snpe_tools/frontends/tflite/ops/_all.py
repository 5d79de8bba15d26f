"""Imports every TFLite translator module so that each registers its op names."""
from . import conv, elementwise, nn, shape  # noqa: F401

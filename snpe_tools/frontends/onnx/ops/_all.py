"""Imports every ONNX translator module so that each registers its op types."""
from . import linear, lp, math, misc, nn, reduce, resize, spatial, tensor, volumetric  # noqa: F401

"""Imports every ONNX translator module so that each registers its op types."""
from . import linear, math, nn, tensor  # noqa: F401

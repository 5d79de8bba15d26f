"""Imports every translator family so each registers its TF op types."""
from . import fake_quant, math, nn, tensor  # noqa: F401

"""Imports every translator family so each registers its TF op types."""
from . import math, nn, tensor  # noqa: F401

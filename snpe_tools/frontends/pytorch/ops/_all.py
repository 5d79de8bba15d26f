"""Imports every TorchScript translator module so that each registers its op kinds."""
from . import math, nn, rnn, tensor, transformer, vision  # noqa: F401

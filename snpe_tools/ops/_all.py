"""Imports every op family so that each registers its OpDefs (one module per family)."""
from . import activation, conv, elementwise, linear, norm, pool, reduce, shape, softmax  # noqa: F401

"""Imports every ONNX translator module so that each registers its op types.

Modules are named after the IR family (``snpe_tools/ops/<family>.py``) of the main op their translators
emit; ``control`` (If/Loop/Scan, unrolled at convert time) and ``constants`` (EyeLike/Range, values known
at convert time) have no IR family.
"""
from . import (activation, attention, constants, control, conv, detection, elementwise,  # noqa: F401
               indexing, linear, norm, pool, quant, recurrent, reduce, resize, roi, sampling, scatter,
               shape, softmax, spatial)

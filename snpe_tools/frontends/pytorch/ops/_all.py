"""Imports every TorchScript translator module so that each registers its op kinds.

One module per IR family (``snpe_tools/ops/<family>.py``), named after it; ``passthrough`` and
``factories`` hold translators that emit no IR op.
"""
from . import (activation, attention, conv, elementwise, factories, indexing, linear, norm,  # noqa: F401
               passthrough, pool, recurrent, reduce, resize, shape, softmax, spatial)

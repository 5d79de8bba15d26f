"""Imports every TensorFlow op family so that each registers its single-op translators (``@tf_op``) and
its topologies (``@resolver``).

One module per IR family (``snpe_tools/ops/<family>.py``), named after it: a family's translators and
the pattern resolvers that lower to the same IR ops live together (Conv2D + BiasAdd is in ``conv.py``).
"""
from . import (activation, conv, detection, elementwise, linear, norm, pool, quant, reduce,  # noqa: F401
               resize, shape, softmax, spatial)

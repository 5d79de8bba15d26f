"""aten ops that emit no IR op in inference: dropout (eval mode), contiguous, detach, clone.

They have no IR family: the translator returns its input value, so the next op reads it directly.
"""
from __future__ import annotations

from ....errors import ConversionError
from ..registry import aten_op


@aten_op("dropout", "feature_dropout", "alpha_dropout")
def dropout(ctx, node):
    a = node.args
    if a[2]:
        raise ConversionError("dropout in training mode; call model.eval() before tracing")
    return a[0]


@aten_op("contiguous", "detach", "clone")
def identity(ctx, node):
    a = node.args
    return a[0]

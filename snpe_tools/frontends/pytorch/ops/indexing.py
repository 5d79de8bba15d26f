"""aten gather -> QNN GatherElements."""
from __future__ import annotations

from ..context import TorchContext, axis
from ..registry import aten_op
from .shape import int_indices


@aten_op("gather")
def gather(ctx: TorchContext, node):
    a = node.args
    x, dim, idx = a[:3]
    ax = axis(int(dim), ctx.rank(x))
    idx = int_indices(ctx, idx, "gather")
    return ctx.op("GatherElements", [x, idx], node, {"axis": ax})

"""aten softmax / log_softmax -> QNN Softmax / LogSoftmax."""
from __future__ import annotations

from ..context import axis
from ..registry import aten_op


def _softmax(ctx, node, qnn):
    a = node.args
    x, dim = a[0], a[1]
    if len(a) > 2 and a[2] is not None and not isinstance(a[2], (int,)):
        pass
    return ctx.op(qnn, [x], node, {"axis": axis(int(dim), ctx.rank(x))})


aten_op("softmax")(lambda ctx, node: _softmax(ctx, node, "Softmax"))
aten_op("log_softmax")(lambda ctx, node: _softmax(ctx, node, "LogSoftmax"))

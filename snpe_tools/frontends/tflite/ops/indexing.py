"""REVERSE_SEQUENCE -> QNN GatherElements (``snpe_tools/ops/indexing.py``) with a constant index table."""
from __future__ import annotations

import numpy as np

from ..context import TfliteContext, ints
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("REVERSE_SEQUENCE")
def reverse_sequence(ctx: TfliteContext, op: TflOp) -> None:
    """GatherElements along seq_dim with a constant index table: reversed below seq_lengths[b]."""
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    lengths = ints(ctx.require_const(op, 1, "seq_lengths"))
    seq_ax = int(op.options.get("seq_dim", 0)) % len(shape)
    batch_ax = int(op.options.get("batch_dim", 0)) % len(shape)
    if len(lengths) != shape[batch_ax] or max(lengths, default=0) > shape[seq_ax] or min(lengths, default=0) < 0:
        raise ctx.fail(op, f"seq_lengths {lengths} do not fit dims {shape} (batch {batch_ax}, seq {seq_ax})")
    t = np.arange(shape[seq_ax])
    table = np.stack([np.where(t < n, n - 1 - t, t) for n in lengths])          # [batch, seq]
    view = [1] * len(shape)
    view[batch_ax], view[seq_ax] = shape[batch_ax], shape[seq_ax]
    order = (0, 1) if batch_ax < seq_ax else (1, 0)
    idx = np.broadcast_to(np.transpose(table, order).reshape(view), shape).astype(np.int32)
    index = ctx.add_const(f"{ctx.t(op.outputs[0]).name}.indices", np.ascontiguousarray(idx))
    ctx.emit_out(op, "GatherElements", [x, index], {"axis": seq_ax}, act=0)

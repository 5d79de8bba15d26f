"""ONNX Softmax / LogSoftmax -> QNN Softmax / LogSoftmax (``snpe_tools/ops/softmax.py``), and the losses
built on them: NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss as LogSoftmax, GatherElements on the
class axis, Gather of the weights, Select for ``ignore_index`` and ReduceSum/Divide for the reductions
(the ONNX function body)."""
from __future__ import annotations

import numpy as np

from ....ir import dtypes as qd
from ..context import NodeBuilder, OnnxContext, attrs, has_input, node_error, node_name, str_attr
from ..registry import onnx_op


@onnx_op("Softmax", "LogSoftmax")
def softmax(ctx: OnnxContext, node) -> None:
    qnn = "Softmax" if node.op_type == "Softmax" else "LogSoftmax"
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    rank = len(shape)
    axis = int(a.get("axis", -1 if ctx.opset >= 13 else 1))
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    if ctx.opset >= 13 or axis == rank - 1 or all(d == 1 for d in shape[axis + 1:]):
        ctx.emit(qnn, [x], [node.output[0]], {"axis": axis}, name=node_name(node))
        return
    # opset < 13: softmax over the flattened trailing block [axis:]
    flat = [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))]
    t1 = ctx.graph.unique_name(f"{node.output[0]}.2d")
    ctx.emit("Reshape", [x], [t1], {"shape": flat}, name=t1)
    t2 = ctx.graph.unique_name(f"{node.output[0]}.sm")
    ctx.emit(qnn, [t1], [t2], {"axis": 1}, name=node_name(node))
    ctx.emit("Reshape", [t2], [node.output[0]], {"shape": list(shape)}, name=f"{node_name(node)}.reshape")


# ---- losses -------------------------------------------------------------------------------------
def _nll(b: NodeBuilder, logp: str, target: str, weight: str | None, ignore: int | None, reduction: str,
         out: str) -> None:
    """ONNX NegativeLogLikelihoodLoss on log-probabilities ``logp`` [N, C, d...] (function-body semantics)."""
    shape = b.shape(logp)
    tshape = b.shape(target)
    if len(shape) < 2 or tshape != [shape[0]] + shape[2:]:
        raise node_error(b.node, f"target shape {tshape} does not fit input shape {shape}")
    dt = b.dtype(logp)
    if not np.issubdtype(dt, np.floating):
        raise node_error(b.node, f"input type {dt} is not supported (float only)")
    t = target
    if not np.issubdtype(b.dtype(t), np.signedinteger):
        t = b.op("Cast", [t], {"to": qd.INT_32}, "target_cast")
    tdt = b.dtype(t)
    keep = None
    if ignore is not None:
        keep = b.op("ElementWiseNotEqual", [t, b.const("ignore_index", ignore, tdt)], tag="keep")
        t = b.op("ElementWiseSelect", [keep, t, b.const("tzero", 0, tdt)], tag="target_safe")
    picked = b.op("GatherElements", [logp, b.reshape(t, [shape[0], 1] + shape[2:], "target_n1")], {"axis": 1},
                  "picked")
    loss = b.op("ElementWiseNeg", [b.reshape(picked, tshape, "picked_n")], tag="neg")
    zero = b.const("zero", 0, dt)
    if keep is not None:
        loss = b.op("ElementWiseSelect", [keep, loss, zero], tag="masked")
    w = None
    if weight is not None:
        w = b.op("Gather", [weight, t], {"axis": 0}, "weight")
        if keep is not None:
            w = b.op("ElementWiseSelect", [keep, w, zero], tag="weight_masked")
        loss = b.op("ElementWiseMultiply", [loss, w], tag="weighted", out=out if reduction == "none" else None)
    elif keep is not None:
        w = b.op("Cast", [keep], {"to": qd.to_qnn(dt)}, "count")
    if reduction == "none":
        b.finish(loss, out)
        return
    axes = list(range(len(tshape)))
    if reduction == "sum":
        b.op("ReduceSum", [loss], {"axes": axes, "keep_dims": False}, out=out)
    elif w is None:
        b.op("ReduceMean", [loss], {"axes": axes, "keep_dims": False}, out=out)
    else:
        total = b.op("ReduceSum", [loss], {"axes": axes, "keep_dims": False}, "loss_sum")
        wsum = b.op("ReduceSum", [w], {"axes": axes, "keep_dims": False}, "weight_sum")
        b.op("ElementWiseDivide", [total, wsum], out=out)


def _loss_args(ctx: OnnxContext, node) -> tuple[str | None, int | None, str]:
    a = attrs(node)
    reduction = str_attr(a.get("reduction"), "mean")
    if reduction not in ("none", "sum", "mean"):
        raise node_error(node, f"reduction '{reduction}' is not supported")
    weight = ctx.tensor(node.input[2]) if has_input(node, 2) else None
    ignore = int(a["ignore_index"]) if "ignore_index" in a else None
    return weight, ignore, reduction


@onnx_op("NegativeLogLikelihoodLoss")
def nll_loss(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    weight, ignore, reduction = _loss_args(ctx, node)
    _nll(b, ctx.tensor(node.input[0]), ctx.tensor(node.input[1]), weight, ignore, reduction, node.output[0])


@onnx_op("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy(ctx: OnnxContext, node) -> None:
    b = NodeBuilder(ctx, node)
    weight, ignore, reduction = _loss_args(ctx, node)
    x = ctx.tensor(node.input[0])
    if len(b.shape(x)) < 2:
        raise node_error(node, "scores must have rank >= 2")
    log_out = node.output[1] if len(node.output) > 1 and node.output[1] else None
    logp = b.op("LogSoftmax", [x], {"axis": 1}, "log_prob", out=log_out)
    _nll(b, logp, ctx.tensor(node.input[1]), weight, ignore, reduction, node.output[0])

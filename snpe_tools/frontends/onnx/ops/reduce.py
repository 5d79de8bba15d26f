"""ONNX reductions -> QNN Reduce*/Argmax/Argmin (ReduceL1/L2/LogSum/LogSumExp as decompositions; Hardmax as
Argmax + Equal against a ramp).

Axes come from the ``axes`` attribute up to ReduceSum-11 / Reduce*-13 and from the second input
from ReduceSum-13 / Reduce*-18 on; ``noop_with_empty_axes=1`` with no axes skips the reduction
but keeps the elementwise part (ReduceSumSquare then is a plain square, ReduceL1 an Abs ...).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import (OnnxContext, attrs, node_error, node_name, require_float, scalar_const, tensor_dtype,
                      tmp_name)
from ..registry import onnx_op

_QNN = {"ReduceMean": "ReduceMean", "ReduceMax": "ReduceMax", "ReduceMin": "ReduceMin",
        "ReduceSum": "ReduceSum", "ReduceProd": "ReduceProd", "ReduceSumSquare": "ReduceSumSquare"}
_DECOMPOSED = ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")


def reduce_axes(ctx: OnnxContext, node, rank: int) -> list[int] | None:
    """Sorted, non-negative reduction axes; None when the node is a no-op reduction."""
    a = attrs(node)
    from_input = ctx.opset >= (13 if node.op_type == "ReduceSum" else 18)
    if from_input:
        axes = ([int(v) for v in np.atleast_1d(ctx.require_const(node, 1, "axes"))]
                if len(node.input) > 1 and node.input[1] else [])
    else:
        axes = [int(v) for v in a.get("axes", [])]
    if not axes:
        if int(a.get("noop_with_empty_axes", 0)):
            return None
        return list(range(rank))
    bad = [ax for ax in axes if not -rank <= ax < rank]
    if bad:
        raise node_error(node, f"axes {bad} are out of range for a "
                               f"rank-{rank} input")
    return sorted({ax + rank if ax < 0 else ax for ax in axes})


@onnx_op(*_QNN, *_DECOMPOSED)
def reduce(ctx: OnnxContext, node) -> None:
    kind = node.op_type
    a = attrs(node)
    shape = ctx.shape(node.input[0])
    rank = len(shape)
    keep = bool(int(a.get("keepdims", 1)))
    axes = reduce_axes(ctx, node, rank)
    x = ctx.tensor(node.input[0])
    out = node.output[0]
    dt = tensor_dtype(ctx, x)
    if kind in ("ReduceLogSum", "ReduceLogSumExp", "ReduceL2") and not np.issubdtype(dt, np.floating):
        raise ConversionError(f"{kind} node '{node_name(node)}': integer input ({dt}) is not supported")

    def red(qnn: str, src: str, dst: str, keep_dims: bool, tag: str) -> str:
        if axes is None:   # noop_with_empty_axes: the reduction itself is skipped
            return ctx.emit("Reshape", [src], [dst], {"shape": list(ctx.graph.tensors[src].shape)},
                            name=f"{node_name(node)}.{tag}")[0]
        return ctx.emit(qnn, [src], [dst], {"axes": axes, "keep_dims": keep_dims}, name=f"{node_name(node)}.{tag}")[0]

    if kind in _QNN:
        if axes is None:
            if kind == "ReduceSumSquare":
                ctx.emit("ElementWiseMultiply", [x, x], [out], name=node_name(node))
            else:
                ctx.alias(out, node.input[0])
            return
        ctx.emit(_QNN[kind], [x], [out], {"axes": axes, "keep_dims": keep}, name=node_name(node))
        return
    if kind == "ReduceL1":
        ab = ctx.emit("ElementWiseAbs", [x], [tmp_name(ctx, node, "abs")], name=f"{node_name(node)}.abs")[0]
        red("ReduceSum", ab, out, keep, "sum")
    elif kind == "ReduceL2":
        if axes is None:
            sq = ctx.emit("ElementWiseMultiply", [x, x], [tmp_name(ctx, node, "sq")], name=f"{node_name(node)}.sq")[0]
        else:
            sq = red("ReduceSumSquare", x, tmp_name(ctx, node, "sumsq"), keep, "sumsq")
        ctx.emit("ElementWiseSquareRoot", [sq], [out], name=node_name(node))
    elif kind == "ReduceLogSum":
        s = red("ReduceSum", x, tmp_name(ctx, node, "sum"), keep, "sum")
        ctx.emit("ElementWiseLog", [s], [out], name=node_name(node))
    else:
        _log_sum_exp(ctx, node, x, axes, keep, dt)


def _log_sum_exp(ctx: OnnxContext, node, x: str, axes: list[int] | None, keep: bool, dt) -> None:
    """log(sum(exp(x - m))) + m with m the max over the finite elements (ONNX's stable form)."""
    out = node.output[0]
    n = node_name(node)
    if axes is None:
        e = ctx.emit("ElementWiseExp", [x], [tmp_name(ctx, node, "exp")], name=f"{n}.exp")[0]
        ctx.emit("ElementWiseLog", [e], [out], name=n)
        return
    ab = ctx.emit("ElementWiseAbs", [x], [tmp_name(ctx, node, "abs")], name=f"{n}.abs")[0]
    inf = ctx.emit("ElementWiseEqual", [ab, scalar_const(ctx, node, "inf", np.inf, dt)], [tmp_name(ctx, node, "isinf")],
                   name=f"{n}.isinf")[0]
    fin = ctx.emit("ElementWiseSelect", [inf, scalar_const(ctx, node, "neginf", -np.inf, dt), x],
                   [tmp_name(ctx, node, "finite")], name=f"{n}.finite")[0]
    m = ctx.emit("ReduceMax", [fin], [tmp_name(ctx, node, "max")], {"axes": axes, "keep_dims": True},
                 name=f"{n}.max")[0]
    d = ctx.emit("ElementWiseSubtract", [x, m], [tmp_name(ctx, node, "sub")], name=f"{n}.sub")[0]
    e = ctx.emit("ElementWiseExp", [d], [tmp_name(ctx, node, "exp")], name=f"{n}.exp")[0]
    s = ctx.emit("ReduceSum", [e], [tmp_name(ctx, node, "sum")], {"axes": axes, "keep_dims": True},
                 name=f"{n}.sum")[0]
    lg = ctx.emit("ElementWiseLog", [s], [tmp_name(ctx, node, "log")], name=f"{n}.log")[0]
    if keep:
        ctx.emit("ElementWiseAdd", [lg, m], [out], name=n)
        return
    r = ctx.emit("ElementWiseAdd", [lg, m], [tmp_name(ctx, node, "keep")], name=f"{n}.add")[0]
    shape = [d_ for i, d_ in enumerate(ctx.graph.tensors[x].shape) if i not in axes]
    ctx.emit("Reshape", [r], [out], {"shape": shape}, name=n)


@onnx_op("ArgMax", "ArgMin")
def arg_max_min(ctx: OnnxContext, node) -> None:
    """select_last_index=1 runs the op on the input reversed along the axis: idx = (d-1) - argmax(rev)."""
    a = attrs(node)
    qnn = "Argmax" if node.op_type == "ArgMax" else "Argmin"
    shape = ctx.shape(node.input[0])
    rank = len(shape)
    axis = int(a.get("axis", 0))
    if not -rank <= axis < rank:
        raise node_error(node, f"axis {axis} is out of range for a "
                               f"rank-{rank} input")
    axis = axis + rank if axis < 0 else axis
    keep = bool(int(a.get("keepdims", 1)))
    x = ctx.tensor(node.input[0])
    params = {"axis": axis, "keep_dims": keep}
    if not int(a.get("select_last_index", 0)) or shape[axis] == 1:
        ctx.emit(qnn, [x], [node.output[0]], params, name=node_name(node))
        return
    d = shape[axis]
    ranges = [[0, s, 1] for s in shape]
    ranges[axis] = [d - 1, -1, -1]
    rev = ctx.emit("StridedSlice", [x], [tmp_name(ctx, node, "rev")], {"ranges": ranges, "end_mask": 1 << axis},
                   name=f"{node_name(node)}.rev")[0]
    idx = ctx.emit(qnn, [rev], [tmp_name(ctx, node, "idx")], params, name=f"{node_name(node)}.arg")[0]
    last = ctx.add_const(f"{node_name(node)}.last", np.asarray(d - 1, dtype=ctx.graph.tensors[idx].dtype))
    ctx.emit("ElementWiseSubtract", [last, idx], [node.output[0]], name=node_name(node))


@onnx_op("Hardmax")
def hardmax(ctx: OnnxContext, node) -> None:
    """1 at the first maximum along the axis, 0 elsewhere: Argmax, then Equal against an index ramp.
    Before opset 13 the input is coerced to 2-D at ``axis`` (as Softmax)."""
    dt = require_float(ctx, node)
    n = node_name(node)
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    axis = int(attrs(node).get("axis", -1 if ctx.opset >= 13 else 1))
    if not -rank <= axis < rank:
        raise node_error(node, f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    x = ctx.tensor(node.input[0])
    work = shape
    if ctx.opset < 13 and axis != rank - 1 and any(d != 1 for d in shape[axis + 1:]):
        work = [int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))]
        x = ctx.emit("Reshape", [x], [tmp_name(ctx, node, "2d")], {"shape": work}, name=f"{n}.2d")[0]
        axis = 1
    idx = ctx.emit("Argmax", [x], [tmp_name(ctx, node, "argmax")], {"axis": axis, "keep_dims": True},
                   name=f"{n}.argmax")[0]
    ramp = np.arange(work[axis], dtype=np.int32).reshape([-1 if i == axis else 1 for i in range(len(work))])
    hit = ctx.emit("ElementWiseEqual", [ctx.add_const(f"{n}.ramp", ramp), idx], [tmp_name(ctx, node, "hit")],
                   name=f"{n}.hit")[0]
    if work == shape:
        ctx.emit("Cast", [hit], [node.output[0]], {"to": qd.to_qnn(dt)}, name=n)
        return
    y = ctx.emit("Cast", [hit], [tmp_name(ctx, node, "onehot")], {"to": qd.to_qnn(dt)}, name=f"{n}.cast")[0]
    ctx.emit("Reshape", [y], [node.output[0]], {"shape": shape}, name=n)

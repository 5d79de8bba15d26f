"""Element-wise, reduction, matrix and type nodes."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..layers import node_of_layer
from ..registry import tf_op

BINARY = {"Add": "ElementWiseAdd", "AddV2": "ElementWiseAdd", "BiasAdd": "ElementWiseAdd",
          "Sub": "ElementWiseSubtract", "Mul": "ElementWiseMultiply", "RealDiv": "ElementWiseDivide",
          "Div": "ElementWiseDivide", "Maximum": "ElementWiseMaximum", "Minimum": "ElementWiseMinimum",
          "Pow": "ElementWisePower", "FloorDiv": "ElementWiseFloorDiv", "FloorMod": "ElementWiseMod",
          "SquaredDifference": "ElementWiseSquaredDifference", "Greater": "ElementWiseGreater",
          "GreaterEqual": "ElementWiseGreaterEqual", "Less": "ElementWiseLess", "LessEqual": "ElementWiseLessEqual",
          "Equal": "ElementWiseEqual", "NotEqual": "ElementWiseNotEqual", "LogicalAnd": "ElementWiseAnd",
          "LogicalOr": "ElementWiseOr"}
UNARY = {"Abs": "ElementWiseAbs", "Exp": "ElementWiseExp", "Log": "ElementWiseLog", "Neg": "ElementWiseNeg",
         "Sqrt": "ElementWiseSquareRoot", "Rsqrt": "ElementWiseRsqrt", "Floor": "ElementWiseFloor",
         "Ceil": "ElementWiseCeil", "Round": "ElementWiseRound", "Sin": "ElementWiseSin", "Cos": "ElementWiseCos",
         "LogicalNot": "ElementWiseNot", "Sign": "ElementWiseSign"}
REDUCE = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin", "Prod": "ReduceProd"}


@tf_op(*BINARY)
def binary(ctx, layer):
    node = node_of_layer(ctx, layer)
    if node.op == "BiasAdd" and node.attr("data_format", "NHWC") != "NHWC":
        raise ConversionError(f"BiasAdd '{node.name}': data_format NCHW is not supported")
    a, b = node.inputs[:2]
    type_ = BINARY[node.op]
    if node.op == "Div" and np.issubdtype(ctx.model.dtype(f"{node.name}:0"), np.integer):
        type_ = "ElementWiseFloorDiv"          # TF's legacy Div floors integers
    ctx.op(type_, [ctx.tensor(a), ctx.tensor(b)], out=f"{node.name}:0", name=layer.name)


@tf_op("AddN")
def add_n(ctx, layer):
    node = node_of_layer(ctx, layer)
    acc = ctx.tensor(node.inputs[0])
    for i, t in enumerate(node.inputs[1:], 1):
        last = i == len(node.inputs) - 1
        acc = ctx.op("ElementWiseAdd", [acc, ctx.tensor(t)], out=f"{node.name}:0" if last else None,
                     name=layer.name)
    if len(node.inputs) == 1:
        ctx.alias(f"{node.name}:0", acc)


@tf_op("Square")
def square(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = ctx.tensor(node.inputs[0])
    ctx.op("ElementWiseMultiply", [x, x], out=f"{node.name}:0", name=layer.name)


@tf_op(*UNARY)
def unary(ctx, layer):
    node = node_of_layer(ctx, layer)
    ctx.op(UNARY[node.op], [ctx.tensor(node.inputs[0])], out=f"{node.name}:0", name=layer.name)


@tf_op("Select", "SelectV2")
def select(ctx, layer):
    node = node_of_layer(ctx, layer)
    if node.op == "Select" and ctx.rank(node.inputs[0]) == 1 and ctx.rank(node.inputs[1]) > 1:
        raise ConversionError(f"Select '{node.name}': a rank-1 condition selecting rows is not supported")
    ctx.op("ElementWiseSelect", [ctx.tensor(t) for t in node.inputs[:3]], out=f"{node.name}:0", name=layer.name)


def _axes(ctx, layer, t: str, rank: int) -> list[int]:
    ax = ctx.require_const(layer, t, "the axes").reshape(-1).astype(int)
    return sorted({int(a) % rank for a in ax})


@tf_op(*REDUCE)
def reduce(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    axes = _axes(ctx, layer, node.inputs[1], ctx.rank(x))
    ctx.op(REDUCE[node.op], [ctx.tensor(x)], {"axes": axes, "keep_dims": bool(node.attr("keep_dims", False))},
           out=f"{node.name}:0", name=layer.name)


@tf_op("ArgMax", "ArgMin")
def argmax(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    axis = _axes(ctx, layer, node.inputs[1], ctx.rank(x))[0]
    ctx.op("Argmax" if node.op == "ArgMax" else "Argmin", [ctx.tensor(x)], {"axis": axis},
           out=f"{node.name}:0", name=layer.name)


_NP = {np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32, np.dtype(np.uint64): np.uint32}


@tf_op("Cast")
def cast(ctx, layer):
    node = node_of_layer(ctx, layer)
    dt = np.dtype(ctx.model.dtype(f"{node.name}:0"))
    dt = np.dtype(_NP.get(dt, dt))
    try:
        code = qd.to_qnn(dt)
    except (KeyError, ValueError):
        raise ConversionError(f"Cast '{node.name}': target type {dt} is not supported") from None
    ctx.op("Cast", [ctx.tensor(node.inputs[0])], {"to": code}, out=f"{node.name}:0", name=layer.name)


def emit_matmul(ctx, layer, node, bias: np.ndarray | None, out: str, x: str | None = None) -> str:
    """MatMul with a constant right operand -> FullyConnected (weights [n_out, k]); else MatMul."""
    a, b = node.inputs[:2]
    ta = bool(node.attr("transpose_a", False) or node.attr("adj_x", False))
    tb = bool(node.attr("transpose_b", False) or node.attr("adj_y", False))
    w = ctx.const(b)
    if w is not None and not ta and np.asarray(w).ndim == 2 and ctx.model.is_dynamic(a) and (
            node.op == "MatMul" or ctx.rank(a) == 2):
        w = np.asarray(w, np.float32)
        wq = w if tb else w.T
        bb = np.zeros(wq.shape[0], np.float32) if bias is None else np.asarray(bias, np.float32).reshape(-1)
        return ctx.op("FullyConnected", [ctx.tensor(x or a), ctx.add_const(f"{b}.fc", np.ascontiguousarray(wq)),
                                         ctx.add_const(f"{layer.name}/bias", bb)], out=out, name=layer.name)
    y = ctx.op("MatMul", [ctx.tensor(a), ctx.tensor(b)], {"transpose_in0": ta, "transpose_in1": tb},
               out=None if bias is not None else out, name=layer.name)
    if bias is not None:
        y = ctx.op("ElementWiseAdd", [y, ctx.add_const(f"{layer.name}/bias", bias)], out=out, name=layer.name)
    return y


@tf_op("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def matmul(ctx, layer):
    node = node_of_layer(ctx, layer)
    emit_matmul(ctx, layer, node, None, f"{node.name}:0")


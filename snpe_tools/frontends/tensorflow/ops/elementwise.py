"""TensorFlow elementwise nodes -> QNN ElementWise* ops (``snpe_tools/ops/elementwise.py``): binary
arithmetic, comparisons and logic (BiasAdd included), AddN, Square, unary math, Select/SelectV2."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
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

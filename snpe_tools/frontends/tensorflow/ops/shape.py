"""TensorFlow data-movement nodes -> QNN Reshape / Concat / Split / Pad / Transpose / StridedSlice / Tile /
Gather / Cast (``snpe_tools/ops/shape.py``): reshapes, concat/split/pack/unpack, slices, pads, transposes,
casts."""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..layers import node_of_layer
from ..registry import tf_op


def _out_shape(ctx, node, idx: int = 0) -> tuple[int, ...]:
    return ctx.shape(f"{node.name}:{idx}")


@tf_op("Reshape", "Squeeze", "ExpandDims")
def reshape(ctx, layer):
    """Every reshape-like node becomes QNN Reshape to TF's static output shape."""
    node = node_of_layer(ctx, layer)
    ctx.op("Reshape", [ctx.tensor(node.inputs[0])], {"shape": list(ctx.shape(f"{node.name}:0"))},
           out=f"{node.name}:0", name=layer.name)


@tf_op("ConcatV2", "Concat")
def concat(ctx, layer):
    node = node_of_layer(ctx, layer)
    if node.op == "ConcatV2":
        values, axis_t = node.inputs[:-1], node.inputs[-1]
    else:
        axis_t, values = node.inputs[0], node.inputs[1:]
    rank = ctx.rank(values[0])
    axis = int(ctx.require_const(layer, axis_t, "the axis")) % rank
    ctx.op("Concat", [ctx.tensor(v) for v in values], {"axis": axis}, out=f"{node.name}:0", name=layer.name)


@tf_op("Pack")
def pack(ctx, layer):
    """Pack = Reshape each value to insert the new axis, then Concat along it."""
    node = node_of_layer(ctx, layer)
    out_shape = _out_shape(ctx, node)
    axis = int(node.attr("axis", 0)) % len(out_shape)
    piece = list(out_shape)
    piece[axis] = 1
    parts = [ctx.op("Reshape", [ctx.tensor(v)], {"shape": piece}, name=f"{layer.name}/expand_{i}")
             for i, v in enumerate(node.inputs)]
    if len(parts) == 1:
        ctx.op("Reshape", parts, {"shape": list(out_shape)}, out=f"{node.name}:0", name=layer.name)
    else:
        ctx.op("Concat", parts, {"axis": axis}, out=f"{node.name}:0", name=layer.name)


@tf_op("Unpack")
def unpack(ctx, layer):
    """Unpack = Split into size-1 pieces, then Reshape each to drop the axis."""
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    shape = ctx.shape(x)
    axis = int(node.attr("axis", 0)) % len(shape)
    n = shape[axis]
    pieces = ctx.multi("Split", [ctx.tensor(x)], [None] * n, {"axis": axis, "split_index": list(range(1, n))},
                       name=f"{layer.name}/split") if n > 1 else [ctx.tensor(x)]
    for i, p in enumerate(pieces):
        ctx.op("Reshape", [p], {"shape": list(_out_shape(ctx, node, i))}, out=f"{node.name}:{i}",
               name=f"{layer.name}_{i}" if i else layer.name)


def _split(ctx, layer, node, x: str, axis_t: str, sizes: list[int]) -> None:
    rank = ctx.rank(x)
    axis = int(ctx.require_const(layer, axis_t, "the axis")) % rank
    bounds = list(np.cumsum(sizes)[:-1])
    outs = [f"{node.name}:{i}" for i in range(len(sizes))]
    if len(sizes) == 1:
        ctx.alias(outs[0], ctx.tensor(x))
        return
    ctx.multi("Split", [ctx.tensor(x)], outs, {"axis": axis, "split_index": [int(b) for b in bounds]},
              name=layer.name)


@tf_op("Split")
def split(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[1]
    n = int(node.attr("num_split"))
    rank = ctx.rank(x)
    axis = int(ctx.require_const(layer, node.inputs[0], "the axis")) % rank
    _split(ctx, layer, node, x, node.inputs[0], [ctx.shape(x)[axis] // n] * n)


@tf_op("SplitV")
def split_v(ctx, layer):
    node = node_of_layer(ctx, layer)
    x, sizes_t, axis_t = node.inputs[:3]
    n = int(node.attr("num_split"))
    sizes = [ctx.shape(f"{node.name}:{i}")[int(ctx.require_const(layer, axis_t, "the axis")) % ctx.rank(x)]
             for i in range(n)]
    _split(ctx, layer, node, x, axis_t, sizes)


@tf_op("Pad", "PadV2", "MirrorPad")
def pad(ctx, layer):
    node = node_of_layer(ctx, layer)
    pads = ctx.require_const(layer, node.inputs[1], "the paddings").astype(np.int64)
    if (pads < 0).any():
        raise ConversionError(f"{node.op} '{node.name}': negative padding is not supported")
    params = {"pad_amount": pads.astype(np.uint32), "scheme": 0}
    if node.op == "PadV2":
        params["pad_constant_value"] = float(ctx.require_const(layer, node.inputs[2], "the constant value"))
    if node.op == "MirrorPad":
        params["scheme"] = {"REFLECT": 2, "SYMMETRIC": 1}[node.attr("mode", "REFLECT")]
    ctx.op("Pad", [ctx.tensor(node.inputs[0])], params, out=f"{node.name}:0", name=layer.name)


@tf_op("Transpose")
def transpose(ctx, layer):
    node = node_of_layer(ctx, layer)
    perm = ctx.require_const(layer, node.inputs[1], "the permutation").astype(int).tolist()
    ctx.op("Transpose", [ctx.tensor(node.inputs[0])], {"perm": perm}, out=f"{node.name}:0", name=layer.name)


def _emit_slice(ctx, layer, node, x: str, index: list) -> None:
    """Emit StridedSlice for a normalised numpy index (ints and slices over every input dim)."""
    shape = ctx.shape(x)
    ranges, shrink = [], 0
    for i, (ix, dim) in enumerate(zip(index, shape)):
        if isinstance(ix, int):
            b = ix % dim
            ranges.append([b, b + 1, 1])
            shrink |= 1 << i
        else:
            b, e, s = ix.indices(dim)
            if s < 0 and e < 0:
                e = -dim - 1          # through element 0 when stepping backwards
            ranges.append([b, e, s])
    out = f"{node.name}:0"
    target = list(ctx.shape(f"{node.name}:0"))
    view = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape, [0] * len(shape))
    sliced = list(view[tuple(index)].shape)
    params = {"ranges": np.asarray(ranges, np.int32), "shrink_axes": shrink}
    if sliced == target:
        ctx.op("StridedSlice", [ctx.tensor(x)], params, out=out, name=layer.name)
        return
    y = ctx.op("StridedSlice", [ctx.tensor(x)], params, name=layer.name)   # then insert the new axes
    ctx.op("Reshape", [y], {"shape": target}, out=out, name=f"{layer.name}/reshape")


@tf_op("Slice")
def slice_(ctx, layer):
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    begin = ctx.require_const(layer, node.inputs[1], "begin").astype(int).tolist()
    size = ctx.require_const(layer, node.inputs[2], "size").astype(int).tolist()
    shape = ctx.shape(x)
    index = [slice(b, d if s == -1 else b + s, 1) for b, s, d in zip(begin, size, shape)]
    _emit_slice(ctx, layer, node, x, index)


@tf_op("StridedSlice")
def strided_slice(ctx, layer):
    """TF's masks (begin/end/ellipsis/new-axis/shrink) are resolved into one plain index first."""
    node = node_of_layer(ctx, layer)
    x = node.inputs[0]
    begin, end, strides = (ctx.require_const(layer, node.inputs[i], w).astype(int).tolist()
                           for i, w in ((1, "begin"), (2, "end"), (3, "strides")))
    masks = {k: int(node.attr(k, 0)) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                                "shrink_axis_mask")}
    rank = ctx.rank(x)
    n_real = sum(1 for i in range(len(begin)) if not (masks["new_axis_mask"] >> i & 1)
                 and not (masks["ellipsis_mask"] >> i & 1))
    index: list = []
    for i in range(len(begin)):
        if masks["ellipsis_mask"] >> i & 1:
            index.extend([slice(None)] * (rank - n_real))
        elif masks["new_axis_mask"] >> i & 1:
            continue
        elif masks["shrink_axis_mask"] >> i & 1:
            index.append(int(begin[i]))
        else:
            b = None if masks["begin_mask"] >> i & 1 else begin[i]
            e = None if masks["end_mask"] >> i & 1 else end[i]
            index.append(slice(b, e, strides[i]))
    index.extend([slice(None)] * (rank - len(index)))
    _emit_slice(ctx, layer, node, x, index)


@tf_op("Tile")
def tile(ctx, layer):
    node = node_of_layer(ctx, layer)
    mult = ctx.require_const(layer, node.inputs[1], "the multiples").astype(int).tolist()
    ctx.op("Tile", [ctx.tensor(node.inputs[0])], {"multiples": mult}, out=f"{node.name}:0", name=layer.name)


@tf_op("GatherV2", "Gather")
def gather(ctx, layer):
    node = node_of_layer(ctx, layer)
    x, idx = node.inputs[:2]
    axis = int(ctx.require_const(layer, node.inputs[2], "the axis")) if node.op == "GatherV2" else 0
    if int(node.attr("batch_dims", 0)):
        raise ConversionError(f"GatherV2 '{node.name}': batch_dims is not supported")
    ctx.op("Gather", [ctx.tensor(x), ctx.tensor(idx)], {"axis": axis}, out=f"{node.name}:0", name=layer.name)


@tf_op("Cast")
def cast(ctx, layer):
    node = node_of_layer(ctx, layer)
    dt = qd.narrow(ctx.model.dtype(f"{node.name}:0"))
    try:
        code = qd.to_qnn(dt)
    except (KeyError, ValueError):
        raise ConversionError(f"Cast '{node.name}': target type {dt} is not supported") from None
    ctx.op("Cast", [ctx.tensor(node.inputs[0])], {"to": code}, out=f"{node.name}:0", name=layer.name)

"""SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, DEPTH_TO_SPACE, SPACE_TO_DEPTH -> QNN SpaceToBatch /
BatchToSpace / DepthToSpace / SpaceToDepth (``snpe_tools/ops/spatial.py``).

SpaceToBatch / BatchToSpace take 4-D NHWC tensors with two block dims; other ranks are built from
Pad / Reshape / Transpose / StridedSlice.  All are exact index permutations, so quantized tensors keep
their encoding and no value is recomputed.
"""
from __future__ import annotations

import numpy as np

from ..context import TfliteContext, ints
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("SPACE_TO_BATCH_ND")
def space_to_batch_nd(ctx: TfliteContext, op: TflOp) -> None:
    """Pad the M spatial dims, split each into (dim/b, b), move the block axes in front of the batch.

    TF's batch order is block-major: output batch index = (bh * bw_count + bw) * N + n, hence the
    block axes go before N in the transpose.  Padding uses the zero point, i.e. real 0.
    """
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    block = ints(ctx.require_const(op, 1, "block_shape"))
    pads = np.asarray(ctx.require_const(op, 2, "the paddings"), np.int64).reshape(-1, 2).tolist()
    m = len(block)
    if len(shape) == 4 and m == 2:
        ctx.emit_out(op, "SpaceToBatch", [x], {"block_shape": block, "pad_amount": pads}, act=0)
        return
    padded = [shape[0]] + [shape[1 + i] + pads[i][0] + pads[i][1] for i in range(m)] + shape[1 + m:]
    if any(padded[1 + i] % b for i, b in enumerate(block)):
        raise ctx.fail(op, f"padded spatial dims {padded[1:1 + m]} are not multiples of the block {block}")
    if any(p for pair in pads for p in pair):
        full = [[0, 0]] + pads + [[0, 0]] * (len(shape) - 1 - m)
        x = ctx.step(op, "Pad", [x], {"pad_amount": full, "scheme": 0}, "pad", op.inputs[0])
    split = [shape[0]]
    for i, b in enumerate(block):
        split += [padded[1 + i] // b, b]
    rest = shape[1 + m:]
    x = ctx.step(op, "Reshape", [x], {"shape": split + rest}, "split", op.inputs[0])
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + \
        list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    x = ctx.step(op, "Transpose", [x], {"perm": perm}, "blocks_first", op.inputs[0])
    out = [shape[0] * int(np.prod(block))] + [padded[1 + i] // b for i, b in enumerate(block)] + rest
    ctx.emit_out(op, "Reshape", [x], {"shape": out}, act=0)


@tflite_op("BATCH_TO_SPACE_ND")
def batch_to_space_nd(ctx: TfliteContext, op: TflOp) -> None:
    """Inverse of SPACE_TO_BATCH_ND: split the batch into (blocks..., N), interleave, then crop."""
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    block = ints(ctx.require_const(op, 1, "block_shape"))
    crops = np.asarray(ctx.require_const(op, 2, "the crops"), np.int64).reshape(-1, 2).tolist()
    m, nb = len(block), int(np.prod(block))
    if len(shape) == 4 and m == 2:
        ctx.emit_out(op, "BatchToSpace", [x], {"block_shape": block, "crops": crops}, act=0)
        return
    if shape[0] % nb:
        raise ctx.fail(op, f"batch {shape[0]} is not a multiple of the block size {nb}")
    n, spatial, rest = shape[0] // nb, shape[1:1 + m], shape[1 + m:]
    x = ctx.step(op, "Reshape", [x], {"shape": block + [n] + spatial + rest}, "split", op.inputs[0])
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
    x = ctx.step(op, "Transpose", [x], {"perm": perm}, "interleave", op.inputs[0])
    full = [n] + [s * b for s, b in zip(spatial, block)] + rest
    if not any(c for pair in crops for c in pair):
        ctx.emit_out(op, "Reshape", [x], {"shape": full}, act=0)
        return
    x = ctx.step(op, "Reshape", [x], {"shape": full}, "merged", op.inputs[0])
    ranges = [[0, n, 1]] + [[crops[i][0], full[1 + i] - crops[i][1], 1] for i in range(m)] + \
        [[0, d, 1] for d in rest]
    ctx.emit_out(op, "StridedSlice", [x], {"ranges": ranges}, act=0)


@tflite_op("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def depth_space(ctx: TfliteContext, op: TflOp) -> None:
    b = int(op.options["block_size"])
    ctx.emit_out(op, "DepthToSpace" if op.name == "DEPTH_TO_SPACE" else "SpaceToDepth",
                 [ctx.tensor(op.inputs[0])], {"block_size": [b, b], "mode": 0}, act=0)

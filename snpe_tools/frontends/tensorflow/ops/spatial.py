"""TensorFlow DepthToSpace / SpaceToDepth / SpaceToBatchND / BatchToSpaceND -> the QNN ops of
``snpe_tools/ops/spatial.py`` (NHWC; an atrous SpaceToBatchND/BatchToSpaceND pair around a convolution
is claimed by ``conv.py``'s DilatedConvolution topology first)."""
from __future__ import annotations

from ....errors import ConversionError
from ..layers import node_of_layer
from ..layout import check_nhwc
from ..registry import tf_op


@tf_op("DepthToSpace", "SpaceToDepth")
def depth_space(ctx, layer):
    node = node_of_layer(ctx, layer)
    check_nhwc(node)
    b = int(node.attr("block_size"))
    ctx.op(node.op, [ctx.tensor(node.inputs[0])], {"block_size": [b, b], "mode": 0}, out=f"{node.name}:0",
           name=layer.name)


@tf_op("SpaceToBatchND", "BatchToSpaceND")
def space_batch(ctx, layer):
    """Standalone (not part of an atrous convolution): QNN SpaceToBatch / BatchToSpace on NHWC, 2 block dims."""
    node = node_of_layer(ctx, layer)
    block = ctx.require_const(layer, node.inputs[1], "the block shape").astype(int).reshape(-1).tolist()
    amounts = ctx.require_const(layer, node.inputs[2], "the paddings/crops").astype(int).reshape(-1, 2).tolist()
    if ctx.rank(node.inputs[0]) != 4 or len(block) != 2:
        raise ConversionError(f"{node.op} '{node.name}': only 4-D NHWC inputs with 2 block dimensions are "
                              "supported")
    if node.op == "SpaceToBatchND":
        qnn, params = "SpaceToBatch", {"block_shape": block, "pad_amount": amounts}
    else:
        qnn, params = "BatchToSpace", {"block_shape": block, "crops": amounts}
    ctx.op(qnn, [ctx.tensor(node.inputs[0])], params, out=f"{node.name}:0", name=layer.name)

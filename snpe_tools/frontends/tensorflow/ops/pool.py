"""TensorFlow MaxPool / AvgPool -> QNN PoolMax2d / PoolAvg2d (``snpe_tools/ops/pool.py``), NHWC."""
from __future__ import annotations

from ....errors import ConversionError
from ..layers import node_of_layer
from ..layout import check_nhwc, spatial_pads
from ..registry import tf_op


@tf_op("MaxPool", "AvgPool")
def pool(ctx, layer):
    node = node_of_layer(ctx, layer)
    check_nhwc(node)
    k, st = node.attr("ksize"), node.attr("strides")
    if k[0] != 1 or k[3] != 1 or st[0] != 1 or st[3] != 1:
        raise ConversionError(f"{node.op} '{node.name}': pooling over batch or channels is not supported")
    x = node.inputs[0]
    pads = spatial_pads(node, ctx.shape(x), int(k[1]), int(k[2]), (int(st[1]), int(st[2])), (1, 1))
    params = {"filter_size": [int(k[1]), int(k[2])], "stride": [int(st[1]), int(st[2])], "pad_amount": pads}
    if node.op == "AvgPool":
        params["count_pad_for_edges"] = False      # TF averages over the real pixels only
    ctx.op("PoolMax2d" if node.op == "MaxPool" else "PoolAvg2d", [ctx.tensor(x)], params,
           out=f"{node.name}:0", name=layer.name)

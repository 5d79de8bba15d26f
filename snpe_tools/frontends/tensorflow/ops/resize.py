"""TensorFlow ResizeBilinear / ResizeNearestNeighbor -> QNN Resize (``snpe_tools/ops/resize.py``)."""
from __future__ import annotations

from ....ops import resize as rz
from ..layers import node_of_layer
from ..registry import tf_op


@tf_op("ResizeBilinear", "ResizeNearestNeighbor")
def resize(ctx, layer):
    """TF's three coordinate rules map onto QNN Resize's transformation modes exactly."""
    node = node_of_layer(ctx, layer)
    align, half = bool(node.attr("align_corners", False)), bool(node.attr("half_pixel_centers", False))
    if node.op == "ResizeBilinear":
        mode = rz.ALIGN_CORNERS if align else (rz.HALF_PIXEL if half else rz.ASYMMETRIC)
        params = {"interpolation_mode": rz.LINEAR, "transformation_mode": mode}
    else:
        # TF nearest: asymmetric floor; half-pixel and align-corners round half up
        if align:
            params = {"transformation_mode": rz.ALIGN_CORNERS, "nearest_mode": rz.ROUND_PREFER_CEIL}
        elif half:
            params = {"transformation_mode": rz.HALF_PIXEL, "nearest_mode": rz.ROUND_PREFER_CEIL}
        else:
            params = {"transformation_mode": rz.ASYMMETRIC, "nearest_mode": rz.FLOOR}
        params["interpolation_mode"] = rz.NEAREST
    params["shape"] = list(ctx.shape(f"{node.name}:0"))
    ctx.op("Resize", [ctx.tensor(node.inputs[0])], params, out=f"{node.name}:0", name=layer.name)

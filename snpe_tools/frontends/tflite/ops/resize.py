"""RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR -> QNN Resize (``snpe_tools/ops/resize.py``)."""
from __future__ import annotations

import numpy as np

from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize(ctx: TfliteContext, op: TflOp) -> None:
    from ....ops.resize import ALIGN_CORNERS, ASYMMETRIC, FLOOR, HALF_PIXEL, LINEAR, NEAREST, ROUND_PREFER_CEIL

    x = ctx.tensor(op.inputs[0])
    size = [int(v) for v in np.asarray(ctx.require_const(op, 1, "the output size")).reshape(-1)]
    shape = list(ctx.graph.tensors[x].shape)
    out = [shape[0], size[0], size[1], shape[3]]
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    mode = ALIGN_CORNERS if align else HALF_PIXEL if half else ASYMMETRIC
    params = {"shape": out, "transformation_mode": mode}
    if op.name == "RESIZE_BILINEAR":
        params["interpolation_mode"] = LINEAR
    else:
        # TF nearest: floor of the asymmetric coordinate, rounded (half up) with align_corners;
        # with half_pixel_centers TF takes floor((x + 0.5) * scale), which is HALF_PIXEL rounded up at .5
        params["interpolation_mode"] = NEAREST
        params["nearest_mode"] = ROUND_PREFER_CEIL if (align or half) else FLOOR
    ctx.emit_out(op, "Resize", [x], params, act=0)

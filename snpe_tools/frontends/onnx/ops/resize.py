"""ONNX Resize (opset 10-19) and Upsample (7-9) -> QNN Resize (channel-last, rank 3-5).

QNN Resize derives each axis' scale from the output/input dims, while ONNX samples with the scale
it is given (``floor(in * scale)`` output pixels, coordinates ``x / scale``).  The translator
therefore builds, for every spatial axis, the sampling ONNX prescribes (source taps and weights)
and the sampling of the QNN parameters it picks; the op is emitted only when the two are the same
linear map, otherwise the node is refused.  This also maps modes QNN does not name
(half_pixel_symmetric, Resize-10/Upsample nearest rounding) whenever they coincide for the model's
shapes.
"""
from __future__ import annotations

import math

import numpy as np

from ....ops import resize as rz
from ..context import OnnxContext, attrs, node_error
from ..registry import onnx_op

_TRANSFORMS = {"half_pixel": rz.HALF_PIXEL, "half_pixel_symmetric": rz.HALF_PIXEL,
               "pytorch_half_pixel": rz.PYTORCH_HALF_PIXEL, "align_corners": rz.ALIGN_CORNERS,
               "asymmetric": rz.ASYMMETRIC, "tf_half_pixel_for_nn": rz.HALF_PIXEL}
_INTERP = {"nearest": rz.NEAREST, "linear": rz.LINEAR, "bilinear": rz.LINEAR, "trilinear": rz.LINEAR,
           "cubic": rz.CUBIC, "bicubic": rz.CUBIC}
_NEAREST = {"round_prefer_floor": rz.ROUND_PREFER_FLOOR, "round_prefer_ceil": rz.ROUND_PREFER_CEIL,
            "floor": rz.FLOOR, "ceil": rz.CEIL}
_ATOL = 1e-6


def _onnx_coords(mode: str, in_size: int, out_size: int, scale: float) -> np.ndarray:
    """Source coordinates of ONNX Resize along one axis (``scale`` as given, not out/in)."""
    x = np.arange(out_size, dtype=np.float64)
    length = scale * in_size          # ONNX's (possibly fractional) resized length
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_size / 2 * (1 - out_size / length)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if length > 1 else np.zeros(out_size)
    if mode == "align_corners":
        return x * (in_size - 1) / (length - 1) if length != 1 else np.zeros(out_size)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    raise ValueError(mode)


def _legacy_nearest(coords: np.ndarray, in_size: int, scale: float) -> np.ndarray:
    """Resize-10 / Upsample nearest: truncate when upsampling, ceil when downsampling."""
    idx = np.ceil(coords) if scale < 1 else np.floor(coords)
    return np.clip(idx, 0, in_size - 1)


def _scales_and_sizes(ctx: OnnxContext, node, shape: list[int]) -> tuple[list[float], list[int]]:
    """Per-axis ONNX scale and output size (both full rank)."""
    a = attrs(node)
    rank = len(shape)

    def given(idx: int, what: str) -> np.ndarray | None:
        if len(node.input) <= idx or not node.input[idx]:
            return None
        v = np.atleast_1d(ctx.require_const(node, idx, what))
        return v if v.size else None   # an empty tensor stands for "not given"

    sizes = None
    if node.op_type == "Upsample" and ctx.opset < 9:
        if "scales" not in a:
            raise node_error(node, "the scales attribute is missing")
        scales = [float(v) for v in a["scales"]]
    elif node.op_type == "Upsample" or ctx.opset < 11:
        sc = given(1, "scales")
        if sc is None:
            raise node_error(node, "scales are not given")
        scales = [float(v) for v in sc.astype(np.float32)]
    else:
        sz = given(3, "sizes")
        sc = given(2, "scales") if sz is None else None
        if sz is None and sc is None:
            raise node_error(node, "neither scales nor sizes is given")
        sizes = [int(v) for v in sz] if sz is not None else None
        scales = [float(v) for v in sc.astype(np.float32)] if sc is not None else None
        axes = a.get("axes")
        if axes is not None:
            axes = [int(ax) + rank if int(ax) < 0 else int(ax) for ax in axes]
            if any(not 0 <= ax < rank for ax in axes) or len(set(axes)) != len(axes):
                raise node_error(node, f"invalid axes {list(a['axes'])} for rank {rank}")
            vals = sizes if sizes is not None else scales
            if len(vals) != len(axes):
                raise node_error(node, f"{len(vals)} scales/sizes for {len(axes)} axes")
            full = list(shape) if sizes is not None else [1.0] * rank
            for ax, v in zip(axes, vals):
                full[ax] = v
            if sizes is not None:
                sizes = full
            else:
                scales = full
        if sizes is not None:
            policy = a.get("keep_aspect_ratio_policy", "stretch")
            if policy != "stretch":
                raise node_error(node, f"keep_aspect_ratio_policy '{policy}' is not supported")
            if len(sizes) != rank:
                raise node_error(node, f"{len(sizes)} sizes for a rank-{rank} input")
            if any(v <= 0 for v in sizes):
                raise node_error(node, f"output sizes {sizes} must be positive")
            return [v / d for v, d in zip(sizes, shape)], sizes
    if len(scales) != rank:
        raise node_error(node, f"{len(scales)} scales for a rank-{rank} input")
    if any(not (v > 0 and math.isfinite(v)) for v in scales):
        raise node_error(node, f"scales {scales} must be positive and finite")
    sizes = [int(math.floor(v * d)) for v, d in zip(scales, shape)]
    if any(v <= 0 for v in sizes):
        raise node_error(node, f"scales {scales} give an empty output")
    return scales, sizes


@onnx_op("Resize", "Upsample")
def resize(ctx: OnnxContext, node) -> None:
    a = attrs(node)
    shape = list(ctx.shape(node.input[0]))
    rank = len(shape)
    legacy = node.op_type == "Upsample" or ctx.opset < 11
    mode = a.get("mode", "nearest")
    if mode not in _INTERP or (legacy and _INTERP[mode] == rz.CUBIC):
        raise node_error(node, f"mode '{mode}' is not supported")
    interp = _INTERP[mode]
    transform = "asymmetric" if legacy else a.get("coordinate_transformation_mode", "half_pixel")
    if transform == "tf_crop_and_resize":
        raise node_error(node, "coordinate_transformation_mode 'tf_crop_and_resize' is "
                               "not supported")
    if transform not in _TRANSFORMS:
        raise node_error(node, f"coordinate_transformation_mode '{transform}' is not "
                               "supported")
    if int(a.get("antialias", 0)):
        raise node_error(node, "antialias=1 is not supported")
    nearest = a.get("nearest_mode", "round_prefer_floor")
    if nearest not in _NEAREST:
        raise node_error(node, f"nearest_mode '{nearest}' is not supported")
    cubic = float(a.get("cubic_coeff_a", -0.75))
    exclude = bool(int(a.get("exclude_outside", 0)))
    if not 3 <= rank <= 5:
        raise node_error(node, f"rank-{rank} input is not supported (QNN Resize "
                               "takes rank 3 to 5)")
    dtype = ctx.graph.tensors[ctx.tensor(node.input[0])].dtype
    if interp != rz.NEAREST and not np.issubdtype(dtype, np.floating):
        raise node_error(node, f"{mode} interpolation of {dtype} data is not "
                               "supported")
    scales, sizes = _scales_and_sizes(ctx, node, shape)

    # ONNX's own sampling on every axis that is not an identity (scale 1, same size)
    wanted = {}
    for ax in range(rank):
        if math.isclose(scales[ax], 1.0) and sizes[ax] == shape[ax]:
            continue
        if ax < 2:
            raise node_error(node, f"resizing axis {ax} (batch/channel) is not "
                                   "supported; QNN Resize only resamples spatial axes")
        coords = _onnx_coords(transform, shape[ax], sizes[ax], scales[ax])
        if legacy and interp == rz.NEAREST:
            idx = _legacy_nearest(coords, shape[ax], scales[ax]).astype(np.intp)[:, None]
            wanted[ax] = rz.resample_matrix(idx, np.ones(idx.shape), shape[ax])
        else:
            idx, w = rz.axis_taps(coords, shape[ax], interp, _NEAREST[nearest], cubic, exclude)
            wanted[ax] = rz.resample_matrix(idx, w, shape[ax])

    params = _match(node, shape, sizes, scales, wanted, interp, _TRANSFORMS[transform], _NEAREST[nearest], cubic,
                    exclude)
    out_cl = [sizes[0]] + sizes[2:] + [sizes[1]]
    params.update(shape=out_cl)
    ctx.emit_channel_last("Resize", node, [node.input[0]], params)


def _match(node, shape, sizes, scales, wanted, interp, transform, nearest, cubic, exclude) -> dict:
    """First QNN (transformation_mode, nearest_mode) whose sampling equals ONNX's on every axis."""
    transforms = [transform] + [t for t in (rz.HALF_PIXEL, rz.PYTORCH_HALF_PIXEL, rz.ALIGN_CORNERS,
                                            rz.ASYMMETRIC) if t != transform]
    nearests = [nearest] + [m for m in (rz.ROUND_PREFER_FLOOR, rz.ROUND_PREFER_CEIL, rz.FLOOR, rz.CEIL)
                            if m != nearest] if interp == rz.NEAREST else [nearest]
    for t in transforms:
        for m in nearests:
            ok = True
            for ax in range(2, len(shape)):
                if sizes[ax] == shape[ax] and ax not in wanted:
                    continue   # identity both ways
                idx, w = rz.axis_taps(rz.source_coords(t, shape[ax], sizes[ax]), shape[ax], interp, m, cubic, exclude)
                got = rz.resample_matrix(idx, w, shape[ax])
                ref = wanted.get(ax)
                if ref is None:
                    ref = np.eye(shape[ax])
                if not np.allclose(got, ref, rtol=0, atol=_ATOL):
                    ok = False
                    break
            if ok:
                return {"transformation_mode": t, "interpolation_mode": interp, "nearest_mode": m,
                        "cubic_coeff": cubic, "exclude_outside": exclude}
    raise node_error(node, f"scales {[round(float(v), 6) for v in scales]} "
                           f"resize {shape} to {sizes}, whose output/input ratios differ from the scales; QNN "
                           "Resize samples with output/input, so this sampling cannot be expressed")

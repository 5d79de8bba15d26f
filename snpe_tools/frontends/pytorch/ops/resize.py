"""aten interpolate/upsample -> QNN Resize.

Resampling: PyTorch samples every spatial axis with its own rule (nearest: ``floor(dst * scale)``,
nearest-exact: ``floor((dst + 0.5) * scale)``, linear/cubic: half-pixel clamped at 0 or
align-corners), where ``scale`` is ``1 / scale_factor`` when a scale factor was given and
``in / out`` otherwise.  QNN ``Resize`` always samples with ``out / in``.  The translator builds
PyTorch's resampling matrix of every axis and the matrix of each QNN mode, and emits the first
QNN mode that gives the same linear map; otherwise the node is refused (never approximated).
"""
from __future__ import annotations

import math

import numpy as np

from ....errors import ConversionError
from ....ops import resize as rz
from ..context import Ref, TorchContext
from ..registry import aten_op
from ..schema import schema_args

_ATOL = 1e-6


def _torch_scale(in_size: int, out_size: int, scale) -> np.float32:
    """``compute_scales_value``: 1/scale when a positive scale was given, else in/out (float32)."""
    if scale is not None and float(scale) > 0:
        return np.float32(1.0 / float(scale))
    return np.float32(in_size) / np.float32(out_size)


def _torch_matrix(mode: str, in_size: int, out_size: int, scale, align_corners: bool) -> np.ndarray:
    """PyTorch's resampling of one axis as a dense [out, in] matrix (UpSample.h)."""
    dst = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        if out_size == in_size:
            idx = dst
        elif out_size == 2 * in_size and mode == "nearest":
            idx = dst >> 1
        else:
            sc = _torch_scale(in_size, out_size, scale)
            off = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
            idx = np.minimum(np.floor((dst.astype(np.float32) + off) * sc).astype(np.int64), in_size - 1)
        return rz.resample_matrix(idx[:, None], np.ones((out_size, 1)), in_size)
    cubic = mode == "cubic"
    if align_corners:
        sc = np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.float32(0)
        src = sc * dst.astype(np.float32)
    else:
        sc = _torch_scale(in_size, out_size, scale)
        src = sc * (dst.astype(np.float32) + np.float32(0.5)) - np.float32(0.5)
        if not cubic:
            src = np.maximum(src, np.float32(0))
    src = src.astype(np.float64)
    if not cubic:
        i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        lam = np.clip(src - i0, 0.0, 1.0)
        i1 = i0 + (i0 < in_size - 1)
        idx = np.stack([i0, i1], axis=1)
        w = np.stack([1.0 - lam, lam], axis=1)
        return rz.resample_matrix(idx, w, in_size)
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    a = -0.75

    def near(d):
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    w = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, in_size - 1)
    return rz.resample_matrix(idx, w, in_size)


def _qnn_params(shape, sizes, wanted: dict, interp: int) -> dict | None:
    transforms = (rz.ASYMMETRIC, rz.HALF_PIXEL, rz.PYTORCH_HALF_PIXEL, rz.ALIGN_CORNERS)
    nearests = (rz.FLOOR, rz.ROUND_PREFER_CEIL, rz.ROUND_PREFER_FLOOR, rz.CEIL) if interp == rz.NEAREST \
        else (rz.ROUND_PREFER_FLOOR,)
    for t in transforms:
        for m in nearests:
            ok = True
            for ax, ref in wanted.items():
                idx, w = rz.axis_taps(rz.source_coords(t, shape[ax], sizes[ax]), shape[ax], interp, m)
                if not np.allclose(rz.resample_matrix(idx, w, shape[ax]), ref, rtol=0, atol=_ATOL):
                    ok = False
                    break
            if ok:
                return {"transformation_mode": t, "interpolation_mode": interp, "nearest_mode": m,
                        "cubic_coeff": -0.75, "exclude_outside": False}
    return None


def _resize(ctx: TorchContext, node, x, out_size, scales, mode: str, align_corners: bool):
    shape = list(ctx.shape(x))
    rank = len(shape)
    n_sp = rank - 2
    if not 1 <= n_sp <= 3:
        raise ConversionError(f"resampling a rank-{rank} tensor is not supported (QNN Resize takes rank 3 to 5)")
    if isinstance(out_size, Ref) or isinstance(scales, Ref):
        raise ConversionError("interpolation to a run-time size is not supported")
    if scales is not None and not isinstance(scales, (list, tuple)):
        scales = [scales] * n_sp
    if scales is not None and all(s is None for s in scales):
        scales = None
    if out_size is not None and not (isinstance(out_size, (list, tuple)) and len(out_size) == 0):
        sizes = [int(s) for s in (out_size if isinstance(out_size, (list, tuple)) else [out_size] * n_sp)]
    elif scales is not None:
        sizes = [int(math.floor(shape[2 + i] * float(scales[i]))) for i in range(n_sp)]
    else:
        raise ConversionError("interpolation needs an output size or scale factors")
    if len(sizes) != n_sp or any(s <= 0 for s in sizes):
        raise ConversionError(f"invalid interpolation output size {sizes} for input {shape}")
    full = shape[:2] + sizes
    interp = {"nearest": rz.NEAREST, "nearest-exact": rz.NEAREST, "linear": rz.LINEAR, "cubic": rz.CUBIC}[mode]
    if interp != rz.NEAREST and not np.issubdtype(ctx.dtype(x), np.floating):
        raise ConversionError(f"{mode} interpolation of {ctx.dtype(x)} data is not supported")
    wanted = {}
    for i in range(n_sp):
        sc = None if scales is None else scales[i]
        m = _torch_matrix(mode, shape[2 + i], sizes[i], sc, bool(align_corners))
        if sizes[i] == shape[2 + i] and np.allclose(m, np.eye(sizes[i]), rtol=0, atol=_ATOL):
            continue
        wanted[2 + i] = m
    if not wanted:
        return x
    params = _qnn_params(shape, full, wanted, interp)
    if params is None:
        raise ConversionError(f"{mode} resampling of {shape} to {full} with scale factors {scales} samples at "
                              "positions QNN Resize (which uses output/input) cannot express")
    params["shape"] = [full[0]] + full[2:] + [full[1]]
    return ctx.channel_last("Resize", x, node, params)


def _upsample(ctx, node, mode: str):
    a = node.args
    names = schema_args(node)

    def get(name, default=None):
        return a[names.index(name)] if name in names and names.index(name) < len(a) else default

    x = a[0]
    out_size = get("output_size", a[1] if len(a) > 1 else None)
    align = bool(get("align_corners", False) or False)
    if "scale_factors" in names:
        scales = get("scale_factors")
    else:
        sc = [a[i] for i, n in enumerate(names) if n.startswith("scales") and i < len(a)]
        scales = sc if sc and any(s is not None for s in sc) else None
    return _resize(ctx, node, x, out_size, scales, mode, align)


for _k, _m in (("upsample_nearest1d", "nearest"), ("upsample_nearest2d", "nearest"),
               ("upsample_nearest3d", "nearest"), ("_upsample_nearest_exact1d", "nearest-exact"),
               ("_upsample_nearest_exact2d", "nearest-exact"), ("_upsample_nearest_exact3d", "nearest-exact"),
               ("upsample_linear1d", "linear"), ("upsample_bilinear2d", "linear"),
               ("upsample_trilinear3d", "linear"), ("upsample_bicubic2d", "cubic")):
    aten_op(_k)(lambda ctx, node, _m=_m: _upsample(ctx, node, _m))

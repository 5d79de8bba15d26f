"""aten resampling and padding ops: interpolate/upsample, pixel_shuffle, pad.

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
from .transformer import schema_args

_ATOL = 1e-6


# ---- interpolate -------------------------------------------------------------------------------

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


def _upsample(ctx, node, a, mode: str):
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
    aten_op(_k)(lambda ctx, node, a, _m=_m: _upsample(ctx, node, a, _m))


# ---- pixel shuffle -----------------------------------------------------------------------------

def _depth_space(ctx: TorchContext, node, x, r: int, qnn: str):
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise ConversionError(f"{node.kind()} on a rank-{len(shape)} tensor is not supported (rank 4 only)")
    r = int(r)
    if qnn == "DepthToSpace" and shape[1] % (r * r):
        raise ConversionError(f"pixel_shuffle: {shape[1]} channels are not a multiple of {r}x{r}")
    if qnn == "SpaceToDepth" and (shape[2] % r or shape[3] % r):
        raise ConversionError(f"pixel_unshuffle: spatial size {shape[2]}x{shape[3]} is not a multiple of {r}")
    if r == 1:
        return x
    return ctx.channel_last(qnn, x, node, {"block_size": [r, r], "mode": 1})   # CRD = PyTorch's order


aten_op("pixel_shuffle")(lambda ctx, node, a: _depth_space(ctx, node, a[0], a[1], "DepthToSpace"))
aten_op("pixel_unshuffle")(lambda ctx, node, a: _depth_space(ctx, node, a[0], a[1], "SpaceToDepth"))


# ---- padding -----------------------------------------------------------------------------------

_SCHEMES = {"constant": 0, "reflect": 2, "replicate": 3}


def _pad(ctx: TorchContext, node, x, pad, mode: str, value):
    if isinstance(pad, Ref) or any(isinstance(p, Ref) for p in pad):
        raise ConversionError("padding by a run-time amount is not supported")
    pad = [int(p) for p in pad]
    shape = list(ctx.shape(x))
    rank = len(shape)
    if len(pad) % 2 or len(pad) // 2 > rank:
        raise ConversionError(f"pad {pad} does not fit a rank-{rank} tensor")
    amounts = [[0, 0] for _ in range(rank)]
    for i in range(len(pad) // 2):   # PyTorch lists the last dim first
        amounts[rank - 1 - i] = [pad[2 * i], pad[2 * i + 1]]
    if all(a == [0, 0] for a in amounts):
        return x
    out = ctx.out_name(node)
    if mode == "circular":
        return _circular(ctx, node, x, amounts, out)
    if mode not in _SCHEMES:
        raise ConversionError(f"padding mode '{mode}' is not supported")
    neg = any(v < 0 for a in amounts for v in a)
    if neg and mode != "constant":
        raise ConversionError(f"negative {mode} padding is not supported")
    if mode == "reflect":
        for d, (lo, hi) in enumerate(amounts):
            if max(lo, hi) >= shape[d]:
                raise ConversionError(f"reflect padding {lo},{hi} must be smaller than dim {d} of size {shape[d]}")
    pos = [[max(v, 0) for v in a] for a in amounts]
    cur = x
    if any(v for a in pos for v in a):
        params = {"scheme": _SCHEMES[mode], "pad_amount": np.asarray(pos, np.uint32)}
        if mode == "constant":
            params["pad_constant_value"] = 0.0 if value is None else float(value)
        name = ctx.graph.unique_name(f"{out}.pad") if neg else out
        ctx.emit("Pad", [ctx.tensor(x)], [name], params, name=name)
        cur = Ref(name)
    if not neg:
        return cur
    padded = ctx.shape(cur)
    ranges = [[max(-lo, 0), d - max(-hi, 0), 1] for (lo, hi), d in zip(amounts, padded)]
    if any(e <= b for b, e, _ in ranges):
        raise ConversionError(f"padding {pad} crops {shape} to nothing")
    ctx.emit("StridedSlice", [ctx.tensor(cur)], [out], {"ranges": np.asarray(ranges, np.int32)}, name=out)
    return Ref(out)


def _circular(ctx: TorchContext, node, x, amounts, out: str):
    cur = x
    todo = [d for d, a in enumerate(amounts) if a != [0, 0]]
    for k, d in enumerate(todo):
        lo, hi = amounts[d]
        shape = list(ctx.shape(cur))
        n = shape[d]
        if lo < 0 or hi < 0 or lo > n or hi > n:
            raise ConversionError(f"circular padding {lo},{hi} of dim {d} (size {n}) is not supported")
        parts = []
        for tag, (b, e) in (("lo", (n - lo, n)), ("hi", (0, hi))):
            if e <= b:
                continue
            ranges = [[0, s, 1] for s in shape]
            ranges[d] = [b, e, 1]
            name = ctx.graph.unique_name(f"{out}.{tag}{d}")
            ctx.emit("StridedSlice", [ctx.tensor(cur)], [name], {"ranges": np.asarray(ranges, np.int32)}, name=name)
            parts.append((tag, Ref(name)))
        ins = [p for t, p in parts if t == "lo"] + [cur] + [p for t, p in parts if t == "hi"]
        name = out if k == len(todo) - 1 else ctx.graph.unique_name(f"{out}.circ{d}")
        ctx.emit("Concat", [ctx.tensor(i) for i in ins], [name], {"axis": d}, name=name)
        cur = Ref(name)
    return cur


@aten_op("constant_pad_nd")
def constant_pad_nd(ctx, node, a):
    return _pad(ctx, node, a[0], a[1], "constant", a[2] if len(a) > 2 else 0.0)


@aten_op("pad")
def pad(ctx, node, a):
    mode = a[2] if len(a) > 2 and a[2] is not None else "constant"
    return _pad(ctx, node, a[0], a[1], mode, a[3] if len(a) > 3 else None)


for _k, _m in (("reflection_pad1d", "reflect"), ("reflection_pad2d", "reflect"), ("reflection_pad3d", "reflect"),
               ("replication_pad1d", "replicate"), ("replication_pad2d", "replicate"),
               ("replication_pad3d", "replicate"), ("_pad_circular", "circular")):
    aten_op(_k)(lambda ctx, node, a, _m=_m: _pad(ctx, node, a[0], a[1], _m, None))

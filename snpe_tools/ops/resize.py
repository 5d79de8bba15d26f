"""QNN ``Resize``: nearest / linear / cubic resampling of the spatial axes of a channel-last tensor.

QNN has no scale parameter: every spatial axis is resampled with ``scale = out / in`` taken from
the output tensor's dims.  The IR keeps those dims as the internal param ``shape`` (like
Reshape's), rebuilt from the output tensor after reading a DLC.  Batch (axis 0) and channel
(last axis) never change.

Per axis, output index ``x`` reads the source coordinate given by ``transformation_mode``
(HALF_PIXEL 0: ``(x+0.5)/scale-0.5``; PYTORCH_HALF_PIXEL 1: the same, 0 when ``out == 1``;
ALIGN_CORNERS 2: ``x*(in-1)/(out-1)``, 0 when ``out == 1``; ASYMMETRIC 3: ``x/scale``) and
interpolates with ``interpolation_mode`` (NEAREST 0 rounded by ``nearest_mode``
ROUND_PREFER_FLOOR 0 / ROUND_PREFER_CEIL 1 / FLOOR 2 / CEIL 3; LINEAR 1; CUBIC 2 with
``cubic_coeff``), taps outside the input clamped to the edge, or dropped and the weights
renormalised when ``exclude_outside``.  Interpolation is separable, so the kernel resamples one
axis at a time with a gather and a weighted sum (no per-pixel loops).
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_enum, register

HALF_PIXEL, PYTORCH_HALF_PIXEL, ALIGN_CORNERS, ASYMMETRIC = 0, 1, 2, 3
NEAREST, LINEAR, CUBIC = 0, 1, 2
ROUND_PREFER_FLOOR, ROUND_PREFER_CEIL, FLOOR, CEIL = 0, 1, 2, 3
# the QNN names of the codes above, for the shape rule's refusal of any other code
TRANSFORMATION_MODES = {HALF_PIXEL: "HALF_PIXEL", PYTORCH_HALF_PIXEL: "PYTORCH_HALF_PIXEL",
                        ALIGN_CORNERS: "ALIGN_CORNERS", ASYMMETRIC: "ASYMMETRIC"}
INTERPOLATION_MODES = {NEAREST: "NEAREST", LINEAR: "LINEAR", CUBIC: "CUBIC"}
NEAREST_MODES = {ROUND_PREFER_FLOOR: "ROUND_PREFER_FLOOR", ROUND_PREFER_CEIL: "ROUND_PREFER_CEIL",
                 FLOOR: "FLOOR", CEIL: "CEIL"}


def source_coords(mode: int, in_size: int, out_size: int) -> np.ndarray:
    """Source coordinate of every output index along one axis (QNN transformation modes)."""
    x = np.arange(out_size, dtype=np.float64)
    scale = out_size / in_size
    if mode == HALF_PIXEL:
        return (x + 0.5) / scale - 0.5
    if mode == PYTORCH_HALF_PIXEL:
        return (x + 0.5) / scale - 0.5 if out_size > 1 else np.zeros(out_size)
    if mode == ALIGN_CORNERS:
        return x * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros(out_size)
    if mode == ASYMMETRIC:
        return x / scale
    raise ValueError(f"Resize: unknown transformation_mode {mode}")


def axis_taps(coords: np.ndarray, in_size: int, interp: int, nearest_mode: int = ROUND_PREFER_FLOOR,
              cubic_coeff: float = -0.75, exclude_outside: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``[out, n]`` (clamped into the input) and weights ``[out, n]`` of 1-D resampling.

    The left tap is ``ceil(c) - 1`` so the fraction ``r`` lies in ``(0, 1]`` (an exact integer
    coordinate takes the right tap with weight 1).
    """
    left = np.ceil(coords) - 1
    r = coords - left
    if interp == NEAREST:
        up = {ROUND_PREFER_FLOOR: r > 0.5, ROUND_PREFER_CEIL: r >= 0.5, FLOOR: r >= 1.0,
              CEIL: np.ones_like(r, bool)}[nearest_mode]
        idx = (left + up)[:, None]
        w = np.ones_like(idx)
    elif interp == LINEAR:
        idx = left[:, None] + np.arange(2)
        w = np.stack([1.0 - r, r], axis=1)
    elif interp == CUBIC:
        a = float(cubic_coeff)
        idx = left[:, None] + np.arange(-1, 3)

        def near(d):   # Keys kernel for distance |d| <= 1
            return ((a + 2) * d - (a + 3)) * d * d + 1

        def far(d):    # Keys kernel for distance 1 < |d| < 2
            return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

        w = np.stack([far(1.0 + r), near(r), near(1.0 - r), far(2.0 - r)], axis=1)
    else:
        raise ValueError(f"Resize: unknown interpolation_mode {interp}")
    if exclude_outside and interp != NEAREST:
        w = np.where((idx < 0) | (idx >= in_size), 0.0, w)
        s = w.sum(axis=1, keepdims=True)
        w = w / np.where(s == 0, 1.0, s)
    return np.clip(idx, 0, in_size - 1).astype(np.intp), w


def resample(x: np.ndarray, out_shape, taps, nearest: bool) -> np.ndarray:
    """Resample the spatial axes (1 .. rank-2) of channel-last ``x`` to ``out_shape``, one axis at a time.

    ``taps(n_in, n_out)`` gives the axis' ``(idx, w)`` from :func:`axis_taps`, or None to keep the axis as
    is; ``nearest`` gathers the single tap (exact for any dtype), otherwise the taps are weighted in float64.
    """
    out = [int(d) for d in out_shape]
    y = x if nearest else x.astype(np.float64)
    for ax in range(1, x.ndim - 1):
        t = taps(x.shape[ax], out[ax])
        if t is None:
            continue
        idx, w = t
        if nearest:
            y = np.take(y, idx[:, 0], axis=ax)
            continue
        g = np.take(y, idx, axis=ax)
        y = (g * w.reshape((1,) * ax + w.shape + (1,) * (y.ndim - ax - 1))).sum(axis=ax + 1)
    return np.ascontiguousarray(y).astype(x.dtype, copy=False)


def resample_matrix(idx: np.ndarray, w: np.ndarray, in_size: int) -> np.ndarray:
    """Dense ``[out, in]`` matrix of one axis' resampling (used to compare two samplings)."""
    m = np.zeros((idx.shape[0], in_size))
    np.add.at(m, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.reshape(-1)), w.reshape(-1))
    return m


@register
class Resize(OpDef):
    """Spatial resampling of a channel-last tensor to the output tensor's dims (see module doc)."""

    type = "Resize"
    params = {
        "exclude_outside": Param(qd.BOOL_8, default=False),
        "transformation_mode": Param(qd.UINT_32, default=HALF_PIXEL),
        "interpolation_mode": Param(qd.UINT_32, default=NEAREST),
        "nearest_mode": Param(qd.UINT_32, default=ROUND_PREFER_FLOOR),
        "cubic_coeff": Param(qd.FLOAT_32, default=-0.75),
        "shape": Param(qd.INT_32, tensor=True, internal=True),
    }

    def infer(self, op, ins):
        src = tuple(ins[0].shape)
        out = tuple(int(d) for d in op.params["shape"])
        if not 3 <= len(src) <= 5 or len(out) != len(src) or out[0] != src[0] or out[-1] != src[-1]:
            raise ValueError(f"Resize {op.name}: cannot resize {list(src)} to {list(out)} (rank 3-5, "
                             "batch and channel unchanged)")
        check_enum(op, "transformation_mode", TRANSFORMATION_MODES)
        check_enum(op, "interpolation_mode", INTERPOLATION_MODES)
        check_enum(op, "nearest_mode", NEAREST_MODES)
        return [(out, ins[0].dtype)]

    def compute(self, op, xs):
        p = op.params
        interp = p["interpolation_mode"]

        def taps(n_in, n_out):
            if n_in == n_out:
                return None
            return axis_taps(source_coords(p["transformation_mode"], n_in, n_out), n_in, interp,
                             p["nearest_mode"], p["cubic_coeff"], p["exclude_outside"])

        return [resample(xs[0], p["shape"], taps, interp == NEAREST)]

    def restore_params(self, op, ins, outs):
        op.params["shape"] = np.asarray(outs[0].shape, np.int32)


def tf_source_coords(align_corners: bool, half_pixel_centers: bool, in_size: int, out_size: int,
                     nearest: bool) -> np.ndarray:
    """Source coordinate of every output index along one axis, TensorFlow / QNN legacy convention.

    align_corners: ``x*(in-1)/(out-1)`` (0 when ``out == 1``); half_pixel_centers: ``(x+0.5)*in/out``,
    minus 0.5 for bilinear only (TF's nearest-neighbour half-pixel scaler has no -0.5); neither:
    ``x*in/out``.  Computed as exact-as-possible rationals so that integer coordinates stay integers.
    """
    if align_corners and half_pixel_centers:
        raise ValueError("align_corners and half_pixel_centers cannot both be true")
    x = np.arange(out_size, dtype=np.float64)
    if align_corners:
        return x * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros(out_size)
    if half_pixel_centers:
        c = (2 * x + 1) * in_size / (2 * out_size)
        return c if nearest else c - 0.5
    return x * in_size / out_size


class _LegacyResize(OpDef):
    """ResizeBilinear / ResizeNearestNeighbor: rank-4 NHWC, H and W resampled to the output tensor's dims.

    Like ``Resize``, the output size is no QNN parameter: the IR keeps it as the internal ``shape``.
    Qualcomm's 2.25 DLC also carries ``scale_height`` / ``scale_width`` (out/in) as IR-internal
    attributes; they do not change the computation.
    """

    nearest = False
    params = {
        "align_corners": Param(qd.BOOL_8, default=False),
        "half_pixel_centers": Param(qd.BOOL_8, default=False),
        "scale_height": Param(qd.FLOAT_32, default=None, internal=True, ir_attr=True),
        "scale_width": Param(qd.FLOAT_32, default=None, internal=True, ir_attr=True),
        "shape": Param(qd.INT_32, tensor=True, internal=True),
    }

    def infer(self, op, ins):
        src = tuple(ins[0].shape)
        out = tuple(int(d) for d in op.params["shape"])
        if len(src) != 4 or len(out) != 4 or out[0] != src[0] or out[3] != src[3] or min(out) < 1:
            raise ValueError(f"{self.type} {op.name}: cannot resize {list(src)} to {list(out)} (NHWC rank 4, "
                             "batch and channel unchanged)")
        if op.params["align_corners"] and op.params["half_pixel_centers"]:
            raise ValueError(f"{self.type} {op.name}: align_corners and half_pixel_centers cannot both be true")
        return [(out, ins[0].dtype)]

    def compute(self, op, xs):
        p = op.params
        ac, hp = p["align_corners"], p["half_pixel_centers"]
        if self.nearest:
            # TF: floor of the scaled coordinate, or round half up with align_corners
            mode = ROUND_PREFER_CEIL if ac else FLOOR
            interp = NEAREST
        else:
            mode, interp = ROUND_PREFER_FLOOR, LINEAR

        def taps(n_in, n_out):
            if n_in == n_out:      # every mode maps x to x then
                return None
            return axis_taps(tf_source_coords(ac, hp, n_in, n_out, self.nearest), n_in, interp, mode)

        return [resample(xs[0], p["shape"], taps, self.nearest)]

    def restore_params(self, op, ins, outs):
        op.params["shape"] = np.asarray(outs[0].shape, np.int32)


@register
class ResizeBilinear(_LegacyResize):
    """QNN ResizeBilinear (TF ``resize_bilinear``): 2-tap linear, taps outside the input clamped to the edge."""

    type = "ResizeBilinear"


@register
class ResizeNearestNeighbor(_LegacyResize):
    """QNN ResizeNearestNeighbor (TF ``resize_nearest_neighbor``): one tap, index clamped into the input."""

    type = "ResizeNearestNeighbor"
    data_invariant = True
    nearest = True

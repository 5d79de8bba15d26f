"""ONNX RoiAlign -> QNN RoiAlign (``snpe_tools/ops/roi.py``).

* ``RoiAlign`` (opset 10, 16, 22), mode ``avg``: QNN ``RoiAlign`` on the channel-last feature map.
  ONNX's multiplicative ``spatial_scale`` becomes QNN's ``img_size_ratio = 1 / spatial_scale`` (the
  float32 ratio is picked so that QNN's float32 ``1 / ratio`` gives back ``spatial_scale`` exactly);
  ``half_pixel`` -> ``aligned`` + ``allow_invalid_roi`` (shifted corners, roi sizes as given),
  ``output_half_pixel`` (and opset 10) -> neither (unshifted corners, rois at least 1x1).
  Mode ``max`` (QNN RoiAlign only averages) is an exact composition of elementwise ops, Gather and
  ReduceMax that repeats ONNX's float32 arithmetic step by step (see :func:`_roi_align_max`), for a
  fixed ``sampling_ratio`` or, with adaptive sampling (``sampling_ratio=0``), for constant rois (the
  per-roi sample counts are then known); adaptive max over run-time rois is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from ....ir import axis_format as af
from ....ir import dtypes as qd
from ..context import FLOATS, NodeBuilder, OnnxContext, attrs, node_error, str_attr
from ..registry import onnx_op

# ---- RoiAlign ----------------------------------------------------------------------------------
def img_size_ratio(spatial_scale: float) -> np.float32:
    """float32 ``r`` with ``float32(1) / r == float32(spatial_scale)`` when one exists near ``1 / s``.

    QNN states the image-to-feature-map ratio; the kernel multiplies image coordinates by
    ``1 / ratio`` in float32.  Picking the ratio whose reciprocal rounds back to ONNX's scale keeps
    sample positions (and the adaptive ``ceil`` grid sizes) bit-identical to ONNX's.
    """
    s = np.float32(spatial_scale)
    r = np.float32(1.0 / np.float64(s))
    cands = [r]
    up = down = r
    for _ in range(4):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        cands += [up, down]
    for c in cands:
        if np.float32(1.0) / c == s:
            return c
    return r


@dataclass(frozen=True)
class _RoiGeometry:
    """The RoiAlign attributes that place the samples (validated); plain data, not an emitter."""

    mode: str
    half_pixel: bool
    scale: float
    out_h: int
    out_w: int
    sampling: int

    def adaptive_grids(self, rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-roi adaptive sample counts ``ceil(size / out)`` (y, x), in the rois' float type as ONNX."""
        t = rois.dtype.type
        scaled = rois * t(self.scale) - t(0.5 if self.half_pixel else 0.0)
        size_w, size_h = scaled[:, 2] - scaled[:, 0], scaled[:, 3] - scaled[:, 1]
        if not self.half_pixel:
            size_w, size_h = np.maximum(size_w, t(1)), np.maximum(size_h, t(1))
        return (np.ceil(size_h / t(self.out_h)).astype(np.int64), np.ceil(size_w / t(self.out_w)).astype(np.int64))


def _roi_geometry(ctx: OnnxContext, node: onnx.NodeProto) -> _RoiGeometry:
    """Attributes with their opset defaults: RoiAlign-10 has no coordinate_transformation_mode and
    behaves as ``output_half_pixel``; from opset 16 the default is ``half_pixel``."""
    a = attrs(node)
    mode = str_attr(a.get("mode"), "avg")
    if mode not in ("avg", "max"):
        raise node_error(node, f"mode '{mode}' is not supported (avg or max)")
    transform = str_attr(a.get("coordinate_transformation_mode"), "half_pixel" if ctx.opset >= 16 else
                     "output_half_pixel")
    if transform not in ("half_pixel", "output_half_pixel"):
        raise node_error(node, f"coordinate_transformation_mode '{transform}' is not supported (half_pixel or "
                               "output_half_pixel)")
    out_h, out_w = int(a.get("output_height", 1)), int(a.get("output_width", 1))
    if out_h < 1 or out_w < 1:
        raise node_error(node, f"output size {out_h}x{out_w} must be positive")
    scale = float(a.get("spatial_scale", 1.0))
    if not np.isfinite(scale) or np.float32(scale) == 0:
        raise node_error(node, f"spatial_scale {scale} must be finite and non-zero")
    sampling = int(a.get("sampling_ratio", 0))
    if sampling < 0:
        raise node_error(node, f"sampling_ratio {sampling} must be >= 0 (0 = adaptive)")
    return _RoiGeometry(mode, transform == "half_pixel", scale, out_h, out_w, sampling)


@onnx_op("RoiAlign")
def roi_align(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    if len(node.input) < 3 or not all(node.input[:3]):
        raise node_error(node, "inputs X, rois and batch_indices are required")
    x, rois, idx = (ctx.tensor(i) for i in node.input[:3])
    xs, rs, is_ = e.shape(x), e.shape(rois), e.shape(idx)
    if len(xs) != 4 or len(rs) != 2 or rs[1] != 4 or is_ != rs[:1]:
        raise node_error(node, f"rois {rs} / batch_indices {is_} do not fit a 4-D input {xs} (rois [n, 4], "
                               "batch_indices [n])")
    if e.dtype(x) not in FLOATS:
        raise node_error(node, f"input type {e.dtype(x)} is not supported (float32/float16 only)")
    geo = _roi_geometry(ctx, node)
    if e.dtype(rois) != e.dtype(x):
        rois = e.op("Cast", [rois], {"to": qd.to_qnn(e.dtype(x))}, "rois_cast")
    idx = e.int32(idx, "batch_indices")      # ONNX int64 -> QNN int32
    if geo.mode == "max":
        _roi_align_max(e, x, rois, idx, geo, _max_grids(ctx, node, geo, e.dtype(x)))
        return
    ratio = img_size_ratio(geo.scale)
    params = {"img_size_ratio": np.array([ratio, ratio], np.float32), "num_samples_y": geo.sampling,
              "num_samples_x": geo.sampling, "aligned": geo.half_pixel, "allow_invalid_roi": geo.half_pixel,
              "output_size": [geo.out_h, geo.out_w]}
    ctx.emit_channel_last("RoiAlign", node, [node.input[0]], params, [rois, idx])


def _max_grids(ctx: OnnxContext, node: onnx.NodeProto, geo: _RoiGeometry,
               dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Samples per bin (y, x) for max mode: the fixed ratio, or per roi from constant rois."""
    if geo.sampling > 0:
        return np.array([geo.sampling]), np.array([geo.sampling])
    name = ctx.aliases.get(node.input[1], node.input[1])
    if name not in ctx.consts:
        raise node_error(node, "mode 'max' with adaptive sampling (sampling_ratio=0) needs constant rois: its "
                               "sample count depends on the roi sizes; set sampling_ratio > 0")
    return geo.adaptive_grids(np.asarray(ctx.consts[name]).astype(dtype))


def _max_axis_taps(e: NodeBuilder, start: str, size: str, out: int, grids: np.ndarray, length: int,
                   tag: str) -> tuple[dict[str, str], int]:
    """Bilinear taps of one axis' samples, each ``[R, out, G]`` (and ``G``), in ONNX's float32 order.

    Sample ``y = (start + p * bin) + ((i + 0.5) * bin) / g`` with ``bin = size / out``; it is valid
    when ``-1 <= y <= length``; then ``y = max(y, 0)``, ``low = floor(y)``, and a sample at or past the
    last row reads that row only (``low = high = length - 1``, fraction 0).  ``grids`` holds ``g`` for
    every roi (or one for all); a roi with fewer than ``G = max(g)`` samples repeats its last one
    (harmless under max) and a roi with none (``g <= 0``) has no valid sample.
    """
    dt = e.dtype(start)
    n_roi = e.shape(start)[0]
    big = max(int(grids.max()), 1)
    sub_i = np.minimum(np.arange(big)[None, :], np.maximum(grids, 1)[:, None] - 1) + 0.5      # [Rg, G]

    def c(name, v):
        return e.const(f"{tag}.{name}", v, dt)

    def op(qnn, ins, name):
        return e.op(qnn, ins, tag=f"{tag}.{name}")

    bin3 = e.reshape(op("ElementWiseDivide", [size, c("out", out)], "bin"), [n_roi, 1, 1], f"{tag}.bin3")
    step = op("ElementWiseMultiply", [c("p", np.arange(out).reshape(1, out, 1)), bin3], "step")
    sub = op("ElementWiseDivide", [op("ElementWiseMultiply", [c("i", sub_i[:, None, :]), bin3], "sub_bin"),
                                   c("grid", np.maximum(grids, 1).reshape(-1, 1, 1))], "sub")
    y = op("ElementWiseAdd", [op("ElementWiseAdd", [e.reshape(start, [n_roi, 1, 1], f"{tag}.start3"), step],
                                 "bin_start"), sub], "sample")
    valid = op("ElementWiseAnd", [op("ElementWiseGreaterEqual", [y, c("m1", -1.0)], "ge"),
                                  op("ElementWiseLessEqual", [y, c("len", length)], "le")], "valid")
    if grids.min() <= 0:
        valid = op("ElementWiseAnd", [valid, e.const(f"{tag}.nonempty", (grids > 0).reshape(-1, 1, 1))], "sampled")
    y = op("ElementWiseMaximum", [y, c("zero", 0.0)], "clamped")
    low = op("ElementWiseFloor", [y], "floor")
    edge = op("ElementWiseGreaterEqual", [low, c("last", length - 1)], "edge")
    last = c("last_v", length - 1)
    low = op("ElementWiseSelect", [edge, last, low], "low")
    high = op("ElementWiseSelect", [edge, last, op("ElementWiseAdd", [low, c("one", 1.0)], "next")], "high")
    frac = op("ElementWiseSubtract", [op("ElementWiseSelect", [edge, low, y], "at"), low], "frac")
    taps = {"valid": valid, "low": e.op("Cast", [low], {"to": qd.INT_32}, f"{tag}.low_i"),
            "high": e.op("Cast", [high], {"to": qd.INT_32}, f"{tag}.high_i"),
            "w_low": op("ElementWiseSubtract", [c("one_w", 1.0), frac], "w_low"), "w_high": frac}
    return taps, big


def _roi_boxes(e: NodeBuilder, rois: str, geo: _RoiGeometry) -> tuple[str, str, str, str]:
    """Feature-map ``x1, y1`` and roi ``width, height`` (each ``[R, 1]``): ``rois * scale`` (minus 0.5
    for half_pixel); output_half_pixel grows malformed rois to at least 1x1 (legacy Detectron)."""
    dt, n_roi = e.dtype(rois), e.shape(rois)[0]
    scaled = e.op("ElementWiseMultiply", [rois, e.const("scale", geo.scale, dt)], tag="scaled_rois")
    if geo.half_pixel:
        scaled = e.op("ElementWiseSubtract", [scaled, e.const("half", 0.5, dt)], tag="shifted_rois")
    x1, y1, x2, y2 = (e.op("StridedSlice", [scaled], {"ranges": [[0, n_roi, 1], [j, j + 1, 1]]}, f"roi_col{j}")
                      for j in range(4))
    sizes = []
    for lo, hi, tag in ((x1, x2, "w"), (y1, y2, "h")):
        size = e.op("ElementWiseSubtract", [hi, lo], tag=f"roi_{tag}")
        if not geo.half_pixel:
            size = e.op("ElementWiseMaximum", [size, e.const(f"min_{tag}", 1.0, dt)], tag=f"roi_{tag}_min1")
        sizes.append(size)
    return x1, y1, sizes[0], sizes[1]


def _roi_align_max(e: NodeBuilder, x: str, rois: str, idx: str, geo: _RoiGeometry,
                   grids: tuple[np.ndarray, np.ndarray]) -> None:
    """ONNX RoiAlign mode 'max': per bin, the largest ``weight * value`` over all samples and their four
    bilinear corners (out-of-range samples give 0, a bin without samples 0).

    Samples are laid out ``[R, out_h, Gy, out_w, Gx]``; the feature map is read channel-last as
    ``[N * H * W, C]`` rows with Gather at ``(b * H + y) * W + x``; ReduceMax over both grid axes
    leaves ``[R, out_h, out_w, C]``, transposed back to ONNX's ``[R, C, out_h, out_w]``.
    """
    ctx, dt = e.ctx, e.dtype(x)
    n, c, h, w = e.shape(x)
    n_roi = e.shape(rois)[0]
    oh, ow = geo.out_h, geo.out_w
    x1, y1, size_w, size_h = _roi_boxes(e, rois, geo)
    ty, gy = _max_axis_taps(e, y1, size_h, oh, grids[0], h, "y")
    tx, gx = _max_axis_taps(e, x1, size_w, ow, grids[1], w, "x")
    ys, xs = [n_roi, oh, gy, 1, 1], [n_roi, 1, 1, ow, gx]
    valid = e.op("ElementWiseAnd", [e.reshape(ty["valid"], ys, "vy"), e.reshape(tx["valid"], xs, "vx")], tag="valid")
    b = e.reshape(idx, [n_roi, 1, 1], "b3")
    b_rows = e.op("ElementWiseMultiply", [b, e.const("h", h, np.int32)], tag="b_rows")
    feat = e.reshape(ctx.to_channel_last(e.node.input[0]), [n * h * w, c], "pixels")
    zero = e.const("zero_w", 0.0, dt)
    corners = []
    for yk in ("low", "high"):
        row = e.op("ElementWiseMultiply", [e.op("ElementWiseAdd", [b_rows, ty[yk]], tag=f"row_{yk}"),
                                           e.const("w", w, np.int32)], tag=f"row_{yk}_base")
        for xk in ("low", "high"):
            flat = e.op("ElementWiseAdd", [e.reshape(row, ys, f"row_{yk}5"), e.reshape(tx[xk], xs, f"col_{xk}5")],
                        tag=f"pix_{yk}_{xk}")
            wt = e.op("ElementWiseMultiply", [e.reshape(ty[f"w_{yk}"], ys, f"wy_{yk}5"),
                                              e.reshape(tx[f"w_{xk}"], xs, f"wx_{xk}5")], tag=f"w_{yk}_{xk}")
            wt = e.op("ElementWiseSelect", [valid, wt, zero], tag=f"wv_{yk}_{xk}")
            vals = e.op("Gather", [feat, flat], {"axis": 0}, f"val_{yk}_{xk}")           # [R, oh, gy, ow, gx, C]
            corners.append(e.op("ElementWiseMultiply", [e.reshape(wt, [n_roi, oh, gy, ow, gx, 1], f"w6_{yk}_{xk}"),
                                                        vals], tag=f"wval_{yk}_{xk}"))
    best = corners[0]
    for k, other in enumerate(corners[1:]):
        best = e.op("ElementWiseMaximum", [best, other], tag=f"corner_max{k}")
    out_cl = ctx.graph.derived_name(e.node.output[0], "nhwc")
    ctx.emit("ReduceMax", [best], [out_cl], {"axes": [2, 4], "keep_dims": False}, name=f"{e.n}.bin_max",
             fmt=af.TO_SPATIAL_FIRST[af.onnx_default(4)][0])
    ctx.from_channel_last(out_cl, e.node.output[0])

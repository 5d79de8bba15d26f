"""Region ops: QNN RoiAlign, crop-and-resample regions of a channel-last feature map.

(ONNX Col2Im has no QNN op of its own; the ONNX frontend composes it from ScatterNd, see
``frontends/onnx/ops/roi.py``.)

RoiAlign (Mask R-CNN, average mode - the only mode QNN defines)
---------------------------------------------------------------
Inputs: ``in[0]`` feature map ``[batch, height, width, depth]`` (channel-last), ``rois``
``[num_rois, 4]`` holding ``(x1, y1, x2, y2)`` in *input image* coordinates, ``batch_indices``
``[num_rois]`` int32 (the image of each roi).  Output ``[num_rois, out_h, out_w, depth]``.

Params (the QNN ``RoiAlign`` definition):

* ``img_size_ratio`` float32 ``[2]``: (height, width) ratio of the input *image* to the feature map,
  i.e. the feature stride.  Image coordinates become feature-map coordinates by multiplying with
  ``1 / ratio`` (computed in float32), so ONNX's multiplicative ``spatial_scale`` is ``1 / ratio``;
* ``num_samples_y`` / ``num_samples_x`` int32: sampling points per output bin along each axis;
  ``<= 0`` means adaptive: ``ceil(roi_size / out_size)`` for that roi;
* ``aligned`` bool: shift the scaled roi corners by -0.5 so pixel ``i`` is centred on ``i + 0.5``
  (ONNX ``half_pixel``); False keeps the legacy Detectron convention (ONNX ``output_half_pixel``);
* ``allow_invalid_roi`` bool: False forces each roi to span at least one feature-map pixel per axis
  (legacy Detectron, what ONNX ``output_half_pixel`` does); True takes the roi size as given, so an
  empty or inverted roi samples nothing in adaptive mode and yields 0;
* ``output_size`` (IR only): ``[out_h, out_w]``, rebuilt from the output tensor after reading a DLC
  (QNN takes it from the output tensor's dims, like Resize).

Each output bin ``(ph, pw)`` averages ``gy * gx`` bilinear samples taken at the centres of a regular
sub-grid of the bin: ``y = y1 + ph * bin_h + (iy + 0.5) * bin_h / gy``.  A sample outside
``[-1, height] x [-1, width]`` contributes 0 (it still counts in the average); otherwise its
coordinates are clamped to ``>= 0`` and a sample at or beyond the last row/column reads that edge.
Sample validity and bilinear weights factor per axis, so one roi is the exact linear map
``out = Wy @ X[b] @ Wx^T / (gy * gx)`` with ``Wy`` ``[out_h, height]`` / ``Wx`` ``[out_w, width]``
built by scattering the sample weights: a weighted sum over the crop of rows/columns that carry a
non-zero weight, no per-pixel loops (one loop over rois, whose grids differ).
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register


def axis_sample_weights(start: np.float32, size: np.float32, out: int, grid: int, length: int) -> np.ndarray:
    """Dense ``[out, length]`` matrix summing the bilinear weights of one axis' samples per bin.

    Coordinates are float32 throughout (as the ONNX reference and onnxruntime compute them), so the
    edge tests (``< -1``, ``>= length - 1``) decide the same way they do.
    """
    m = np.zeros((out, length), np.float64)
    if grid <= 0:
        return m
    f32 = np.float32
    bin_size = f32(size / f32(out))
    ph = np.arange(out, dtype=f32)[:, None]
    sub = (np.arange(grid, dtype=f32)[None, :] + f32(0.5)) * bin_size / f32(grid)
    c = (f32(start) + ph * bin_size + sub).astype(f32)                # [out, grid]
    valid = (c >= f32(-1.0)) & (c <= f32(length))
    c = np.maximum(c, f32(0.0))
    low = np.floor(c).astype(np.int64)
    edge = low >= length - 1
    low = np.where(edge, length - 1, low)
    high = np.where(edge, length - 1, low + 1)
    frac = np.where(edge, f32(0.0), c - low.astype(f32)).astype(f32)
    w_low = np.where(valid, f32(1.0) - frac, f32(0.0))
    w_high = np.where(valid, frac, f32(0.0))
    rows = np.broadcast_to(np.arange(out)[:, None], low.shape)
    np.add.at(m, (rows, low), w_low.astype(np.float64))
    np.add.at(m, (rows, high), w_high.astype(np.float64))
    return m


def _support(m: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The columns ``[lo, hi)`` of a sample-weight matrix holding non-zero weights, and those columns."""
    used = np.flatnonzero(np.any(m != 0, axis=0))
    if used.size == 0:
        return m[:, :0], (0, 0)
    lo, hi = int(used[0]), int(used[-1]) + 1
    return m[:, lo:hi], (lo, hi)


def _grid(num_samples: int, size: np.float32, out: int) -> int:
    """Sampling points per bin along one axis: fixed, or adaptive ``ceil(size / out)``."""
    if num_samples > 0:
        return int(num_samples)
    return int(np.ceil(np.float32(size / np.float32(out))))


@register
class RoiAlign(OpDef):
    """Average-pooled bilinear crops of channel-last feature maps (see module doc)."""

    type = "RoiAlign"
    params = {
        "img_size_ratio": Param(qd.FLOAT_32, tensor=True),
        "num_samples_y": Param(qd.INT_32, default=-1),
        "num_samples_x": Param(qd.INT_32, default=-1),
        "aligned": Param(qd.BOOL_8, default=False),
        "allow_invalid_roi": Param(qd.BOOL_8, default=False),
        "output_size": Param(qd.INT_32, tensor=True, internal=True),
    }

    def infer(self, op, ins):
        x, rois, idx = (tuple(t.shape) for t in ins[:3])
        out_hw = tuple(int(d) for d in op.params["output_size"])
        ratio = np.asarray(op.params["img_size_ratio"])
        if len(x) != 4 or len(rois) != 2 or rois[1] != 4 or idx != rois[:1]:
            raise ValueError(f"RoiAlign {op.name}: rois {list(rois)} / batch indices {list(idx)} do not fit "
                             f"a [batch, h, w, c] feature map {list(x)} (rois [n, 4], indices [n])")
        if len(out_hw) != 2 or min(out_hw) < 1:
            raise ValueError(f"RoiAlign {op.name}: output size {list(out_hw)} must be two positive dims")
        if ratio.shape != (2,) or not np.all(np.isfinite(ratio)) or np.any(ratio == 0):
            raise ValueError(f"RoiAlign {op.name}: img_size_ratio {ratio.tolist()} must hold two finite, "
                             "non-zero values")
        return [((rois[0],) + out_hw + (x[3],), ins[0].dtype)]

    def compute(self, op, xs):
        x, rois, idx = xs[0], np.asarray(xs[1], np.float32), np.asarray(xs[2]).astype(np.int64)
        p = op.params
        out_h, out_w = (int(d) for d in p["output_size"])
        f32 = np.float32
        scale = f32(1.0) / np.asarray(p["img_size_ratio"], f32)        # (h, w) image -> feature map
        offset = f32(0.5) if p["aligned"] else f32(0.0)
        _, height, width, depth = x.shape
        y = np.zeros((rois.shape[0], out_h, out_w, depth), np.float64)
        for r in range(rois.shape[0]):   # the sampling grid depends on each roi's size
            b = int(idx[r]) + (x.shape[0] if idx[r] < 0 else 0)
            x1, x2 = rois[r, 0] * scale[1] - offset, rois[r, 2] * scale[1] - offset
            y1, y2 = rois[r, 1] * scale[0] - offset, rois[r, 3] * scale[0] - offset
            rw, rh = f32(x2 - x1), f32(y2 - y1)
            if not p["allow_invalid_roi"]:
                rw, rh = max(rw, f32(1.0)), max(rh, f32(1.0))
            gy, gx = _grid(p["num_samples_y"], rh, out_h), _grid(p["num_samples_x"], rw, out_w)
            wy, (r0, r1) = _support(axis_sample_weights(y1, rh, out_h, gy, height))
            wx, (c0, c1) = _support(axis_sample_weights(x1, rw, out_w, gx, width))
            if r1 > r0 and c1 > c0:   # only the crop the samples touch is read
                crop = x[b, r0:r1, c0:c1].astype(np.float64)
                rows = np.tensordot(wy, crop, axes=(1, 0))                          # [out_h, crop w, depth]
                y[r] = np.matmul(wx, rows) / max(gy * gx, 1)                            # [out_h, out_w, depth]
        return [y.astype(x.dtype)]

    def macs(self, op, ins, outs):
        """Four bilinear taps per sample; an adaptive grid (known only at run time) counts as one sample."""
        samples = max(op.params["num_samples_y"], 1) * max(op.params["num_samples_x"], 1)
        return int(np.prod(outs[0].shape)) * 4 * samples

    def restore_params(self, op, ins, outs):
        op.params["output_size"] = np.asarray(outs[0].shape[1:3], np.int32)

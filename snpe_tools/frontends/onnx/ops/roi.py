"""ONNX RoiAlign, Col2Im, MaxUnpool, SwiGLU -> QNN ops.

* ``RoiAlign`` (opset 10, 16, 22), mode ``avg``: QNN ``RoiAlign`` on the channel-last feature map.
  ONNX's multiplicative ``spatial_scale`` becomes QNN's ``img_size_ratio = 1 / spatial_scale`` (the
  float32 ratio is picked so that QNN's float32 ``1 / ratio`` gives back ``spatial_scale`` exactly);
  ``half_pixel`` -> ``aligned`` + ``allow_invalid_roi`` (shifted corners, roi sizes as given),
  ``output_half_pixel`` (and opset 10) -> neither (unshifted corners, rois at least 1x1).
  Mode ``max`` (QNN RoiAlign only averages) is an exact composition of elementwise ops, Gather and
  ReduceMax that repeats ONNX's float32 arithmetic step by step (see :func:`_roi_align_max`), for a
  fixed ``sampling_ratio`` or, with adaptive sampling (``sampling_ratio=0``), for constant rois (the
  per-roi sample counts are then known); adaptive max over run-time rois is refused.
* ``Col2Im``: no QNN op folds columns back into an image, so it is the exact composition
  ``Reshape -> Transpose -> ScatterNd(add) -> [StridedSlice] -> Transpose -> Reshape``: every column
  entry ``(k, l)`` (kernel offset, block) is added into its image position, a static index table
  computed from ``image_shape`` / ``block_shape`` / strides / pads / dilations; entries falling into the
  padding are sent to one spare row that is sliced off.
* ``MaxUnpool``: ``ScatterNd`` of the flattened ``X`` into a zero vector of the inferred output size
  at the (whole-tensor) flat indices ``I``, ``Reshape``, and a zero ``Pad`` at the end of each spatial
  axis when ``output_shape`` is larger (the ONNX reference and conformance data place the inferred
  output in the leading corner; onnxruntime instead re-reads the indices in ``output_shape``).
* ``SwiGLU`` (opset 28): ``A * Sigmoid(alpha * A) * B`` (its ONNX function body, Swish then Mul).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import onnx

from ....errors import ConversionError
from ....ir import axis_format as af
from ....ir import dtypes as qd
from ....ops.scatter import REDUCTION_ADD, REDUCTION_NONE
from ..context import NodeBuilder, OnnxContext, attrs
from ..registry import onnx_op

_FLOATS = (np.dtype(np.float32), np.dtype(np.float16))


def _name(node: onnx.NodeProto) -> str:
    return node.name or node.output[0]


def _fail(node: onnx.NodeProto, msg: str) -> ConversionError:
    return ConversionError(f"{node.op_type} node '{_name(node)}': {msg}")


def _str(v, default: str) -> str:
    if v is None:
        return default
    return v.decode() if isinstance(v, bytes) else str(v)


def _ints(node: onnx.NodeProto, a: dict, key: str, default: list[int], n: int) -> list[int]:
    vals = [int(v) for v in a.get(key, default)]
    if len(vals) != n:
        raise _fail(node, f"{key} {vals} has {len(vals)} values, expected {n}")
    return vals


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
    """The RoiAlign attributes that place the samples (validated)."""

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
    mode = _str(a.get("mode"), "avg")
    if mode not in ("avg", "max"):
        raise _fail(node, f"mode '{mode}' is not supported (avg or max)")
    transform = _str(a.get("coordinate_transformation_mode"), "half_pixel" if ctx.opset >= 16 else
                     "output_half_pixel")
    if transform not in ("half_pixel", "output_half_pixel"):
        raise _fail(node, f"coordinate_transformation_mode '{transform}' is not supported (half_pixel or "
                          "output_half_pixel)")
    out_h, out_w = int(a.get("output_height", 1)), int(a.get("output_width", 1))
    if out_h < 1 or out_w < 1:
        raise _fail(node, f"output size {out_h}x{out_w} must be positive")
    scale = float(a.get("spatial_scale", 1.0))
    if not np.isfinite(scale) or np.float32(scale) == 0:
        raise _fail(node, f"spatial_scale {scale} must be finite and non-zero")
    sampling = int(a.get("sampling_ratio", 0))
    if sampling < 0:
        raise _fail(node, f"sampling_ratio {sampling} must be >= 0 (0 = adaptive)")
    return _RoiGeometry(mode, transform == "half_pixel", scale, out_h, out_w, sampling)


@onnx_op("RoiAlign")
def roi_align(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    if len(node.input) < 3 or not all(node.input[:3]):
        raise _fail(node, "inputs X, rois and batch_indices are required")
    x, rois, idx = (ctx.tensor(i) for i in node.input[:3])
    xs, rs, is_ = e.shape(x), e.shape(rois), e.shape(idx)
    if len(xs) != 4 or len(rs) != 2 or rs[1] != 4 or is_ != rs[:1]:
        raise _fail(node, f"rois {rs} / batch_indices {is_} do not fit a 4-D input {xs} (rois [n, 4], "
                          "batch_indices [n])")
    if e.dtype(x) not in _FLOATS:
        raise _fail(node, f"input type {e.dtype(x)} is not supported (float32/float16 only)")
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
        raise _fail(node, "mode 'max' with adaptive sampling (sampling_ratio=0) needs constant rois: its "
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
    out_cl = ctx.graph.unique_name(f"{e.node.output[0]}.nhwc")
    ctx.emit("ReduceMax", [best], [out_cl], {"axes": [2, 4], "keep_dims": False}, name=f"{e.n}.bin_max",
             fmt=af.TO_SPATIAL_FIRST[af.onnx_default(4)][0])
    ctx.from_channel_last(out_cl, e.node.output[0])


# ---- Col2Im ------------------------------------------------------------------------------------
def col2im_positions(image: list[int], block: list[int], strides: list[int], pads: list[int],
                     dilations: list[int]) -> tuple[np.ndarray, int]:
    """Flat image position of every column entry ``(k, l)`` (k-major), and the number of blocks L.

    Entries landing in the padding get position ``prod(image)`` (one spare slot).  Row-major order
    of both the kernel offsets and the blocks, as ONNX lays out ``[N, C * prod(block), L]``.
    """
    k = len(image)
    counts = [(image[i] + pads[i] + pads[k + i] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1
              for i in range(k)]
    if min(counts) < 1:
        return np.zeros(0, np.int64), 0
    offs = np.array(list(itertools.product(*[range(b) for b in block])), np.int64).reshape(-1, k)
    blocks = np.array(list(itertools.product(*[range(c) for c in counts])), np.int64).reshape(-1, k)
    pos = (blocks[None, :, :] * np.array(strides) - np.array(pads[:k])
           + offs[:, None, :] * np.array(dilations))                    # [K, L, k]
    inside = np.all((pos >= 0) & (pos < np.array(image)), axis=-1)
    flat = np.ravel_multi_index(tuple(np.clip(pos, 0, np.array(image) - 1).reshape(-1, k).T), image)
    flat = np.where(inside.reshape(-1), flat, int(np.prod(image)))
    return flat, int(np.prod(counts))


@onnx_op("Col2Im")
def col2im(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    a = attrs(node)
    x = ctx.tensor(node.input[0])
    image = [int(v) for v in np.asarray(ctx.require_const(node, 1, "image_shape")).reshape(-1)]
    block = [int(v) for v in np.asarray(ctx.require_const(node, 2, "block_shape")).reshape(-1)]
    k = len(image)
    if k < 1 or len(block) != k:
        raise _fail(node, f"image_shape {image} and block_shape {block} must have the same, non-zero length")
    strides = _ints(node, a, "strides", [1] * k, k)
    dilations = _ints(node, a, "dilations", [1] * k, k)
    pads = _ints(node, a, "pads", [0] * 2 * k, 2 * k)
    if min(image) < 1 or min(block) < 1 or min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise _fail(node, "image_shape, block_shape, strides and dilations must be positive, pads >= 0")
    xs = e.shape(x)
    kk = int(np.prod(block))
    if len(xs) != 3 or xs[1] % kk:
        raise _fail(node, f"input {xs} is not [N, C * {kk}, L] for block_shape {block}")
    pos, n_blocks = col2im_positions(image, block, strides, pads, dilations)
    if n_blocks != xs[2]:
        raise _fail(node, f"input has {xs[2]} blocks but image_shape {image}, block_shape {block}, strides "
                          f"{strides}, pads {pads}, dilations {dilations} give {n_blocks}")
    n, c, p = xs[0], xs[1] // kk, int(np.prod(image))
    spare = bool(np.any(pos == p))
    cols = e.transpose(e.reshape(x, [n, c, kk * n_blocks], "cols"), [2, 0, 1], "cols_t")      # [K*L, N, C]
    zeros = e.const("zeros", np.zeros((p + spare, n, c), e.dtype(x)))
    img = e.op("ScatterNd", [zeros, e.const("positions", pos.reshape(-1, 1).astype(np.int32)), cols],
               {"reduction": REDUCTION_ADD}, "scatter")
    if spare:
        ranges = [[0, p, 1], [0, n, 1], [0, c, 1]]
        img = e.op("StridedSlice", [img], {"ranges": ranges}, "crop")
    e.reshape(e.transpose(img, [1, 2, 0], "image_t"), [n, c] + image, out=node.output[0])


# ---- MaxUnpool ---------------------------------------------------------------------------------
@onnx_op("MaxUnpool")
def max_unpool(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    a = attrs(node)
    x, ind = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    xs = e.shape(x)
    k = len(xs) - 2
    if k < 1:
        raise _fail(node, f"input {xs} has no spatial axes")
    if e.shape(ind) != xs:
        raise _fail(node, f"indices {e.shape(ind)} must have the shape of X {xs}")
    if "kernel_shape" not in a:
        raise _fail(node, "the kernel_shape attribute is required")
    kernel = _ints(node, a, "kernel_shape", [], k)
    strides = _ints(node, a, "strides", [1] * k, k)
    pads = _ints(node, a, "pads", [0] * 2 * k, 2 * k)
    inferred = xs[:2] + [(xs[2 + i] - 1) * strides[i] - pads[i] - pads[k + i] + kernel[i] for i in range(k)]
    if min(inferred) < 1:
        raise _fail(node, f"kernel_shape {kernel}, strides {strides}, pads {pads} give an empty output "
                          f"{inferred}")
    target = inferred
    if len(node.input) > 2 and node.input[2]:
        target = [int(v) for v in np.asarray(ctx.require_const(node, 2, "output_shape")).reshape(-1)]
        if len(target) != len(xs) or target[:2] != xs[:2] or any(t < i for t, i in zip(target, inferred)):
            raise _fail(node, f"output_shape {target} must keep N, C of {xs} and be at least the inferred "
                              f"shape {inferred} on every spatial axis")
    total = int(np.prod(inferred))
    flat_x = e.reshape(x, [int(np.prod(xs))], "values")
    flat_i = e.reshape(e.int32(ind, "indices_i32"), [int(np.prod(xs)), 1], "flat_indices")
    zeros = e.const("zeros", np.zeros(total, e.dtype(x)))
    y = e.op("ScatterNd", [zeros, flat_i, flat_x], {"reduction": REDUCTION_NONE}, "scatter")
    if target == inferred:
        e.reshape(y, inferred, out=node.output[0])
        return
    y = e.reshape(y, inferred, "unpooled")
    pad = [[0, t - i] for t, i in zip(target, inferred)]
    e.op("Pad", [y], {"pad_amount": pad, "pad_constant_value": 0.0}, "pad", out=node.output[0])


# ---- SwiGLU ------------------------------------------------------------------------------------
@onnx_op("SwiGLU")
def swiglu(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    e = NodeBuilder(ctx, node)
    gate, value = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    if e.shape(gate) != e.shape(value):
        raise _fail(node, f"A {e.shape(gate)} and B {e.shape(value)} must have the same shape (SwiGLU does "
                          "not broadcast)")
    dt = e.dtype(gate)
    if dt not in _FLOATS or e.dtype(value) != dt:
        raise _fail(node, f"input types {dt} / {e.dtype(value)} are not supported (float32/float16 only)")
    alpha = float(attrs(node).get("alpha", 1.0))
    z = gate if alpha == 1.0 else e.op("ElementWiseMultiply", [gate, e.const("alpha", alpha, dt)], tag="scaled")
    swish = e.op("ElementWiseMultiply", [gate, e.op("Sigmoid", [z], tag="sigmoid")], tag="swish")
    e.op("ElementWiseMultiply", [swish, value], out=node.output[0])

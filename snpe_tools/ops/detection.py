"""Detection post-processing ops (QNN NonMaxSuppression; DetectionOutput): boxes in, fixed-size results out.

Both ops select a data-dependent number of boxes, but every tensor of a QNN graph has a static
shape.  So each op writes its selections into a fixed-size output, zero-padded past the valid
entries, and reports how many entries are valid in a separate count output (QNN's own outputs,
which real SNPE exposes too).  Zero padding is chosen because it is always in range: a
downstream Gather fed with the padded rows reads real (if meaningless) data on any backend,
where -1 would index out of bounds on runtimes that do not wrap negative indices.

Shared rules, kept in one place so the two ops cannot drift apart:

* boxes are corners ``(y1, x1, y2, x2)`` in either order per axis (each box is first
  normalised to ``min``/``max`` corners, as ONNX and TensorFlow allow);
* IoU is computed in float32 in the same operation order as the ONNX reference / onnxruntime
  (``inter = dx * dy``, ``union = area_a + area_b - inter``) so results at an exact threshold
  match; boxes that do not overlap or have no area never suppress one another;
* greedy NMS visits candidates by descending score, equal scores by ascending box index, and
  drops every remaining candidate whose IoU with the newly selected box exceeds the threshold.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

# QNN DetectionOutput ``nms_type`` values
NMS_FAST, NMS_REGULAR = 0, 1


# ---- shared box geometry ------------------------------------------------------------------
def box_extents(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, area)`` of corner boxes ``[..., 4]``: lo/hi are ``[..., 2]`` (y, x) minima/maxima.

    ONNX lets corners come in either order, so each box is normalised once here instead of in
    every IoU evaluation.  The area is ``width * height`` in float32, the order ONNX uses.
    """
    b = np.asarray(boxes, dtype=np.float32)
    lo = np.minimum(b[..., 0:2], b[..., 2:4])
    hi = np.maximum(b[..., 0:2], b[..., 2:4])
    area = (hi[..., 1] - lo[..., 1]) * (hi[..., 0] - lo[..., 0])
    return lo, hi, area


def suppressed_by(top: int, rest: np.ndarray, lo: np.ndarray, hi: np.ndarray, area: np.ndarray,
                  iou_threshold: float) -> np.ndarray:
    """Boolean mask over ``rest``: IoU(box ``top``, box) > ``iou_threshold``.

    Vectorised over the remaining candidates.  Disjoint boxes, zero-area boxes and a non-positive
    union never suppress (the ONNX rule; it also keeps degenerate boxes from vanishing through a
    0/0 IoU).
    """
    ilo = np.maximum(lo[rest], lo[top])
    ihi = np.minimum(hi[rest], hi[top])
    dy, dx = ihi[:, 0] - ilo[:, 0], ihi[:, 1] - ilo[:, 1]
    inter = dx * dy
    union = area[rest] + area[top] - inter
    valid = (dy > 0) & (dx > 0) & (inter > 0) & (area[rest] > 0) & (area[top] > 0) & (union > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / np.where(valid, union, np.float32(1))
    return valid & (iou > np.float32(iou_threshold))


def greedy_nms(lo: np.ndarray, hi: np.ndarray, area: np.ndarray, scores: np.ndarray,
               candidates: np.ndarray, iou_threshold: float, limit: int, eta: float = 1.0) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, in selection order (at most ``limit``).

    ``candidates`` masks the boxes allowed to compete (score threshold already applied).  The loop
    runs once per *selected* box and suppresses all remaining candidates at once, so the cost is
    ``O(selected * boxes)`` with no ``boxes x boxes`` IoU matrix.  ``eta < 1`` is Caffe's adaptive
    NMS: after each selection the threshold is multiplied by ``eta`` while it is above 0.5.
    """
    cand = np.flatnonzero(candidates)
    # descending score, ties by ascending index (a stable sort of the negated scores)
    order = cand[np.argsort(-scores[cand], kind="stable")]
    selected: list[int] = []
    thr = float(iou_threshold)
    while order.size and len(selected) < limit:
        top, order = int(order[0]), order[1:]
        selected.append(top)
        if order.size:
            order = order[~suppressed_by(top, order, lo, hi, area, thr)]
        if eta < 1.0 and thr > 0.5:
            thr *= eta
    return np.asarray(selected, dtype=np.int64)


# ---- NonMaxSuppression ----------------------------------------------------------------------
@register
class NonMaxSuppression(OpDef):
    """Per-(batch, class) greedy NMS with ONNX's output convention.

    Inputs: ``boxes [batch, num_boxes, 4]`` corners (y1, x1, y2, x2), ``scores [batch, num_classes,
    num_boxes]``.  ``max_boxes_selected`` is the most boxes each (batch, class) pair may select (QNN's
    meaning of the parameter: ONNX's ``max_output_boxes_per_class``), so the output holds
    ``batch * num_classes * max_boxes_selected`` rows - every pair's full quota fits and no pair
    can crowd out another.  A box competes when its score exceeds ``score_threshold``; a threshold
    of -inf means "no threshold" (every box competes, as when ONNX omits score_threshold).

    Outputs: ``selected_indices [rows, 3]`` int32 ``(batch, class, box)`` in ONNX order (batch,
    then class, then selection order), zero rows past the valid count; ``num_boxes_selected [1]``
    int32, the number of valid rows.
    """

    type = "NonMaxSuppression"
    params = {"iou_threshold": Param(qd.FLOAT_32), "score_threshold": Param(qd.FLOAT_32),
              "max_boxes_selected": Param(qd.UINT_32)}

    def num_outputs(self, params, n_inputs):
        return 2

    def infer(self, op, ins):
        boxes, scores = tuple(ins[0].shape), tuple(ins[1].shape)
        if len(boxes) != 3 or boxes[2] != 4:
            raise ValueError(f"NonMaxSuppression {op.name}: boxes must be [batch, num_boxes, 4], got {list(boxes)}")
        if len(scores) != 3 or scores[0] != boxes[0] or scores[2] != boxes[1]:
            raise ValueError(f"NonMaxSuppression {op.name}: scores {list(scores)} must be "
                             f"[batch={boxes[0]}, num_classes, num_boxes={boxes[1]}]")
        k = op.params["max_boxes_selected"]
        if k < 1:
            raise ValueError(f"NonMaxSuppression {op.name}: max_boxes_selected must be at least 1")
        return [((boxes[0] * scores[1] * k, 3), np.int32), ((1,), np.int32)]

    def compute(self, op, xs):
        boxes, scores = np.asarray(xs[0], np.float32), np.asarray(xs[1], np.float32)
        p = op.params
        batch, num_classes, _ = scores.shape
        k = p["max_boxes_selected"]
        lo, hi, area = box_extents(boxes)
        thr = np.float32(p["score_threshold"])
        rows = []
        for b in range(batch):
            for c in range(num_classes):
                s = scores[b, c]
                cand = np.ones(s.shape, bool) if thr == -np.inf else s > thr
                sel = greedy_nms(lo[b], hi[b], area[b], s, cand, p["iou_threshold"], k)
                rows.append(np.stack([np.full_like(sel, b), np.full_like(sel, c), sel], axis=1))
        valid = np.concatenate(rows) if rows else np.zeros((0, 3), np.int64)
        out = np.zeros((batch * num_classes * k, 3), np.int32)
        out[:len(valid)] = valid
        return [out, np.array([len(valid)], np.int32)]


# ---- DetectionOutput ------------------------------------------------------------------------
def decode_boxes(deltas: np.ndarray, anchors: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """SSD / TFLite box decoding: ``deltas [..., 4]`` (dy, dx, dh, dw) against anchors (yc, xc, h, w).

    ``yc = dy / y_scale * h_a + y_a``, ``h = exp(dh / h_scale) * h_a`` (x, w alike); the corners are
    ``centre -/+ size / 2``, returned as ``(y1, x1, y2, x2)`` in float32.
    """
    d = np.asarray(deltas, np.float32)
    a = np.asarray(anchors, np.float32)
    s = np.asarray(scales, np.float32)
    yc = d[..., 0] / s[0] * a[..., 2] + a[..., 0]
    xc = d[..., 1] / s[1] * a[..., 3] + a[..., 1]
    half_h = np.float32(0.5) * np.exp(d[..., 2] / s[2]) * a[..., 2]
    half_w = np.float32(0.5) * np.exp(d[..., 3] / s[3]) * a[..., 3]
    return np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=-1).astype(np.float32)


@register
class DetectionOutput(OpDef):
    """SSD-style post-processing: decode box deltas against anchors, threshold, NMS, top detections.

    Inputs: ``[0]`` box deltas ``[batch, num_anchors, 4]`` (dy, dx, dh, dw), or ``[batch,
    num_anchors, num_classes * 4]`` with ``share_location`` False (one box per class, Caffe's
    layout); ``[1]`` class scores ``[batch, num_anchors, num_classes]``, already activated;
    ``[2]`` anchors ``[num_anchors, 4]`` (shared by the batch) or ``[batch * num_anchors, 4]`` as
    (y_center, x_center, h, w).  Decoding divides by ``delta_scaling_factors`` (y, x, h, w), like
    TFLite's ``TFLite_Detection_PostProcess`` scale options.

    A (box, class) pair is a candidate when its score is at least ``confidence_threshold``.  The
    background column (``background_class_idx``; an index >= num_classes means there is none) only
    competes when ``use_bg_in_nms``; its detections are then reported only with ``output_background``.

    ``nms_type`` FAST (0): one class-agnostic NMS over every anchor's best class (ties: lowest
    class index), results in selection order.  REGULAR (1): NMS per class (at most
    ``detection_limit`` each, IoU threshold adapted by ``nms_eta`` < 1 as in Caffe), then all
    classes merged by descending score (ties: class order, then selection order).  At most
    ``detection_limit`` detections are reported per image.

    Outputs: ``scores [batch, limit]`` f32, ``boxes [batch, limit, 4]`` (y1, x1, y2, x2) f32,
    ``classes [batch, limit]`` f32 score-column index, ``num_detections [batch]`` int32; rows past
    ``num_detections`` are zero.
    """

    type = "DetectionOutput"
    params = {
        "delta_scaling_factors": Param(qd.FLOAT_32, tensor=True,
                                       default=np.array([10.0, 10.0, 5.0, 5.0], np.float32)),
        "confidence_threshold": Param(qd.FLOAT_32),
        "iou_threshold": Param(qd.FLOAT_32),
        "nms_type": Param(qd.UINT_32, default=NMS_FAST),
        "background_class_idx": Param(qd.UINT_32, default=0),
        "use_bg_in_nms": Param(qd.BOOL_8, default=False),
        "output_background": Param(qd.BOOL_8, default=True),
        "share_location": Param(qd.BOOL_8, default=True),
        "nms_eta": Param(qd.FLOAT_32, default=1.0),
        "detection_limit": Param(qd.INT_32),
    }

    def num_outputs(self, params, n_inputs):
        return 4

    def infer(self, op, ins):
        deltas, scores, anchors = (tuple(t.shape) for t in ins[:3])
        p = op.params
        if len(scores) != 3:
            raise ValueError(f"DetectionOutput {op.name}: scores must be [batch, num_anchors, num_classes], "
                             f"got {list(scores)}")
        batch, n, classes = scores
        box_cols = 4 if p["share_location"] else 4 * classes
        if deltas != (batch, n, box_cols):
            raise ValueError(f"DetectionOutput {op.name}: box deltas {list(deltas)} must be "
                             f"[{batch}, {n}, {box_cols}] for scores {list(scores)}")
        if anchors not in ((n, 4), (batch * n, 4)):
            raise ValueError(f"DetectionOutput {op.name}: anchors {list(anchors)} must be [{n}, 4] or "
                             f"[{batch * n}, 4]")
        if np.asarray(p["delta_scaling_factors"]).shape != (4,) or not np.all(p["delta_scaling_factors"]):
            raise ValueError(f"DetectionOutput {op.name}: delta_scaling_factors must be 4 non-zero values")
        if p["nms_type"] not in (NMS_FAST, NMS_REGULAR):
            raise ValueError(f"DetectionOutput {op.name}: unknown nms_type {p['nms_type']}")
        limit = p["detection_limit"]
        if limit < 1:
            raise ValueError(f"DetectionOutput {op.name}: detection_limit must be at least 1")
        return [((batch, limit), np.float32), ((batch, limit, 4), np.float32), ((batch, limit), np.float32),
                ((batch,), np.int32)]

    def compute(self, op, xs):
        p = op.params
        scores = np.asarray(xs[1], np.float32)
        batch, n, classes = scores.shape
        anchors = np.asarray(xs[2], np.float32).reshape(-1, n, 4)
        deltas = np.asarray(xs[0], np.float32)
        if not p["share_location"]:
            deltas = deltas.reshape(batch, n, classes, 4)
            anchors = anchors[:, :, None, :]
        boxes = decode_boxes(deltas, anchors, p["delta_scaling_factors"])
        if boxes.shape[0] != batch:
            boxes = np.broadcast_to(boxes, (batch,) + boxes.shape[1:])
        limit = p["detection_limit"]
        out = [np.zeros((batch, limit), np.float32), np.zeros((batch, limit, 4), np.float32),
               np.zeros((batch, limit), np.float32), np.zeros((batch,), np.int32)]
        for b in range(batch):
            det_s, det_c, det_a = self._detect(p, boxes[b], scores[b])
            m = len(det_s)
            cls_box = boxes[b][det_a] if p["share_location"] else boxes[b][det_a, det_c]
            out[0][b, :m], out[1][b, :m], out[2][b, :m], out[3][b] = det_s, cls_box, det_c, m
        return out

    # -- per-image selection -------------------------------------------------------------
    @staticmethod
    def _competing(p, classes: int) -> np.ndarray:
        """Mask of the score columns that take part in NMS."""
        cols = np.ones(classes, bool)
        bg = p["background_class_idx"]
        if bg < classes and not p["use_bg_in_nms"]:
            cols[bg] = False
        return cols

    def _detect(self, p, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores, classes, anchor indices) of one image's reported detections, in output order."""
        classes = scores.shape[1]
        cols = self._competing(p, classes)
        bg = p["background_class_idx"]
        drop_bg = bool(p["use_bg_in_nms"]) and not p["output_background"] and bg < classes
        limit = p["detection_limit"]
        # with background detections dropped afterwards, NMS must not stop at `limit` selections
        nms_limit = scores.shape[0] if drop_bg else limit
        conf = np.float32(p["confidence_threshold"])
        if p["nms_type"] == NMS_FAST:
            det_s, det_c, det_a = self._fast(p, boxes, scores, cols, conf, nms_limit)
        else:
            det_s, det_c, det_a = self._regular(p, boxes, scores, cols, conf, nms_limit)
        if drop_bg:
            keep = det_c != bg
            det_s, det_c, det_a = det_s[keep], det_c[keep], det_a[keep]
        return det_s[:limit], det_c[:limit], det_a[:limit]

    @staticmethod
    def _fast(p, boxes, scores, cols, conf, limit):
        """Class-agnostic NMS over each anchor's best competing class."""
        masked = np.where(cols, scores, -np.inf)
        best = np.argmax(masked, axis=1)
        best_s = np.take_along_axis(masked, best[:, None], axis=1)[:, 0]
        cls_boxes = boxes if boxes.ndim == 2 else boxes[np.arange(len(best)), best]
        lo, hi, area = box_extents(cls_boxes)
        sel = greedy_nms(lo, hi, area, best_s, best_s >= conf, p["iou_threshold"], limit)
        return best_s[sel], best[sel], sel

    @staticmethod
    def _regular(p, boxes, scores, cols, conf, limit):
        """Per-class NMS, then every class's selections merged by descending score."""
        found_s, found_c, found_a = [], [], []
        for c in np.flatnonzero(cols):
            cls_boxes = boxes if boxes.ndim == 2 else boxes[:, c]
            lo, hi, area = box_extents(cls_boxes)
            s = scores[:, c]
            sel = greedy_nms(lo, hi, area, s, s >= conf, p["iou_threshold"], limit, p["nms_eta"])
            found_s.append(s[sel])
            found_c.append(np.full(len(sel), c, np.int64))
            found_a.append(sel)
        if not found_s:
            return np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        s, c, a = np.concatenate(found_s), np.concatenate(found_c), np.concatenate(found_a)
        order = np.argsort(-s, kind="stable")
        return s[order], c[order], a[order]

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
# kept boxes compared per block when a queue window is entered (bounds the [rows, window, block] temporaries)
_KEPT_BLOCK = 64


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


def overlap(lo_a: np.ndarray, hi_a: np.ndarray, area_a: np.ndarray,
            lo_b: np.ndarray, hi_b: np.ndarray, area_b: np.ndarray) -> np.ndarray:
    """IoU (float32) of boxes a and b (broadcast); -inf for pairs that never suppress.

    Pairs without a positive intersection (disjoint, touching or zero-area boxes, or an underflowing
    product) or with a non-positive union never suppress whatever the threshold (the ONNX rule; it
    also keeps degenerate boxes from vanishing through a 0/0 IoU), hence -inf rather than 0.
    Positive box areas follow from a positive intersection, so they need no test of their own.
    """
    ilo = np.maximum(lo_a, lo_b)
    ihi = np.minimum(hi_a, hi_b)
    dy, dx = ihi[..., 0] - ilo[..., 0], ihi[..., 1] - ilo[..., 1]
    inter = dx * dy
    union = area_a + area_b - inter
    valid = (dy > 0) & (dx > 0) & (inter > 0) & (union > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / np.where(valid, union, np.float32(1))
    return np.where(valid, iou, np.float32(-np.inf)).astype(np.float32, copy=False)


def queue_order(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Per row: candidate indices by descending score (ties: ascending index), then the others.

    The same order as ``np.lexsort((-scores, ~candidates))`` (zeros of either sign equal, NaN after
    +inf) but about 3x faster on large queues: each entry becomes one unique uint64 key - candidate
    flag, order-preserving bits of ``-score``, index - so a plain (unstable, SIMD) sort gives the
    exact order and the index is read back from the low bits.
    """
    neg = -scores.astype(np.float32) + np.float32(0.0)             # -0.0 + 0.0 = +0.0
    neg = np.where(np.isnan(neg), np.float32(np.nan), neg)          # one NaN, ordered after +inf
    bits = neg.view(np.uint32).astype(np.uint64)
    ordered = np.where(bits >> np.uint64(31), ~bits & np.uint64(0xFFFFFFFF), bits | np.uint64(0x80000000))
    index = np.arange(scores.shape[-1], dtype=np.uint64)
    keys = ((~candidates).astype(np.uint64) << np.uint64(63)) | (ordered << np.uint64(31)) | index
    return (np.sort(keys, axis=-1) & np.uint64(0x7FFFFFFF)).astype(np.int64)


class _Queues:
    """Every NMS problem's candidates as one padded ``[problems, L]`` queue, best first.

    Row ``p`` holds problem ``p``'s candidate boxes sorted by descending score (ties: ascending box
    index) with their corner extents, the highest IoU each has with a box kept so far (``worst``)
    and whether it is still ``alive``; rows are padded to the longest queue with dead entries.  The
    boxes kept so far are stored per row too (``kept_*``), in selection order.
    """

    def __init__(self, lo, hi, area, box_set, scores, candidates, limit: int) -> None:
        order = queue_order(scores, candidates)
        n_cand = candidates.sum(axis=1)
        length = int(n_cand.max(initial=0))
        self.order = np.ascontiguousarray(order[:, :length])
        sets = box_set[:, None]
        self.lo, self.hi, self.area = lo[sets, self.order], hi[sets, self.order], area[sets, self.order]
        self.alive = np.arange(length) < n_cand[:, None]
        self.worst = np.full(self.order.shape, -np.inf, np.float32)
        problems = scores.shape[0]
        self.selected = np.full((problems, limit), -1, np.int64)
        self.counts = np.zeros(problems, np.int64)
        self.kept_lo = np.zeros((problems, limit, 2), np.float32)
        self.kept_hi = np.zeros((problems, limit, 2), np.float32)
        self.kept_area = np.zeros((problems, limit), np.float32)

    def keep(self, rows: np.ndarray, pos: np.ndarray) -> None:
        """Select entry ``pos`` of each row in ``rows``."""
        k = self.counts[rows]
        self.selected[rows, k] = self.order[rows, pos]
        self.kept_lo[rows, k], self.kept_hi[rows, k] = self.lo[rows, pos], self.hi[rows, pos]
        self.kept_area[rows, k] = self.area[rows, pos]
        self.counts[rows] += 1
        self.alive[rows, pos] = False

    def catch_up(self, rows: np.ndarray, cols: slice, block: int) -> None:
        """Set ``worst`` of the entries in ``cols`` to their highest IoU with every box kept so far."""
        worst = np.full((rows.size, cols.stop - cols.start), -np.inf, np.float32)
        counts = self.counts[rows]
        for k0 in range(0, int(counts.max(initial=0)), block):
            k1 = min(k0 + block, int(counts.max()))
            iou = overlap(self.lo[rows, cols][:, :, None], self.hi[rows, cols][:, :, None],
                          self.area[rows, cols][:, :, None], self.kept_lo[rows, None, k0:k1],
                          self.kept_hi[rows, None, k0:k1], self.kept_area[rows, None, k0:k1])
            filled = np.arange(k0, k1) < counts[:, None, None]            # slots kept in that row
            worst = np.maximum(worst, np.where(filled, iou, np.float32(-np.inf)).max(axis=2))
        self.worst[rows, cols] = worst


def greedy_nms(lo: np.ndarray, hi: np.ndarray, area: np.ndarray, box_set: np.ndarray, scores: np.ndarray,
               candidates: np.ndarray, iou_threshold: float, limit: int, eta: float = 1.0,
               window: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS for many independent problems at once.

    Problem ``p`` ranks boxes ``lo/hi/area[box_set[p]]`` (``[sets, n, ...]``) by ``scores[p]``; only
    boxes with ``candidates[p]`` compete (score threshold already applied).  A candidate is kept
    when its IoU with every box kept before it is at most the threshold; at most ``limit`` are kept.
    Returns ``(selected [problems, limit]`` box indices in selection order padded with -1, ``counts)``.

    Cost: the queues are walked in windows of ``window`` candidates.  On entering a window its
    entries are compared with every box kept so far; then all problems advance in lockstep, each
    step keeping every row's first alive entry and killing the window entries whose IoU with it
    exceeds the threshold.  So the Python loop runs about ``limit`` times in all, not once per kept
    box of every class (80 classes x 100 boxes would be 8000 iterations), and the boxes far down a
    queue are only looked at if the queue gets that far - no ``boxes x boxes`` matrix is built.
    ``eta < 1`` is Caffe's adaptive NMS: after each selection a row's threshold is multiplied by
    ``eta`` while it is above 0.5; since it only decreases, checking a candidate's highest IoU with
    all kept boxes against the current value is exactly Caffe's "compare at the candidate's turn".
    """
    q = _Queues(lo, hi, area, box_set, scores, candidates, limit)
    thr = np.full(scores.shape[0], float(iou_threshold))
    for c0 in range(0, q.order.shape[1], window):
        cols = slice(c0, min(c0 + window, q.order.shape[1]))
        rows = np.flatnonzero(q.counts < limit)
        if rows.size == 0:
            break
        q.catch_up(rows, cols, _KEPT_BLOCK)
        q.alive[rows, cols] &= ~(q.worst[rows, cols] > thr[rows, None].astype(np.float32))
        while True:
            live = q.alive[:, cols]
            rows = np.flatnonzero(live.any(axis=1) & (q.counts < limit))
            if rows.size == 0:
                break
            first = cols.start + np.argmax(live[rows], axis=1)
            q.keep(rows, first)
            if eta < 1.0:
                thr[rows] = np.where(thr[rows] > 0.5, thr[rows] * eta, thr[rows])
            iou = overlap(q.lo[rows, cols], q.hi[rows, cols], q.area[rows, cols],
                          q.lo[rows, first][:, None], q.hi[rows, first][:, None], q.area[rows, first][:, None])
            worst = np.maximum(q.worst[rows, cols], iou)
            q.worst[rows, cols] = worst
            q.alive[rows, cols] &= ~(worst > thr[rows, None].astype(np.float32))
    return q.selected, q.counts


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
        batch, num_classes, n = scores.shape
        k = p["max_boxes_selected"]
        thr = np.float32(p["score_threshold"])
        flat = scores.reshape(batch * num_classes, n)
        candidates = np.ones(flat.shape, bool) if thr == -np.inf else flat > thr
        box_set = np.repeat(np.arange(batch), num_classes)
        selected, _ = greedy_nms(*box_extents(boxes), box_set, flat, candidates, p["iou_threshold"], k)
        pair, _step = np.nonzero(selected >= 0)            # row-major: (batch, class), then selection order
        valid = np.stack([pair // num_classes, pair % num_classes, selected[selected >= 0]], axis=1)
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
    ``classes [batch, limit]`` f32, ``num_detections [batch]`` int32; rows past ``num_detections``
    are zero.  A class is reported as its score-column index, background column included in the
    numbering, so one rule serves every source: a TFLite mapping, whose scores carry the background
    in column 0 but whose labels do not, subtracts its label offset after the op.
    """

    type = "DetectionOutput"
    index_outputs = (2,)            # class ids
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
        boxes = decode_boxes(deltas, anchors, p["delta_scaling_factors"])      # anchors broadcast over the batch
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
        lo, hi, area = box_extents(cls_boxes[None])
        selected, counts = greedy_nms(lo, hi, area, np.zeros(1, np.int64), best_s[None], (best_s >= conf)[None],
                                      p["iou_threshold"], limit)
        sel = selected[0, :counts[0]]
        return best_s[sel], best[sel], sel

    @staticmethod
    def _regular(p, boxes, scores, cols, conf, limit):
        """Per-class NMS (all competing classes in one lockstep run), then merged by descending score."""
        classes = np.flatnonzero(cols)
        per_class = scores[:, classes].T                                   # [competing classes, anchors]
        if boxes.ndim == 2:                                                # one box per anchor
            lo, hi, area = box_extents(boxes[None])
            box_set = np.zeros(len(classes), np.int64)
        else:                                                              # one box per (anchor, class)
            lo, hi, area = box_extents(boxes[:, classes].transpose(1, 0, 2))
            box_set = np.arange(len(classes))
        selected, _ = greedy_nms(lo, hi, area, box_set, per_class, per_class >= conf, p["iou_threshold"], limit,
                                 p["nms_eta"])
        row, _step = np.nonzero(selected >= 0)        # class order, then selection order
        a = selected[selected >= 0]
        c = classes[row]
        s = scores[a, c]
        order = np.argsort(-s, kind="stable")
        return s[order], c[order], a[order]

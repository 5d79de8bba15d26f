"""snpe_tools/ops/detection.py: NonMaxSuppression against ONNX NonMaxSuppression under onnx.reference;
DetectionOutput (no ONNX equivalent) on hand-built anchors with hand-computed results."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError


def _boxes(batch, n, seed):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, 10, (batch, n, 2))
    s = rng.uniform(1, 4, (batch, n, 2))
    b = np.concatenate([c - s / 2, c + s / 2], -1).astype(np.float32)
    b[..., [0, 2]] = b[..., [2, 0]] * (rng.random((batch, n, 1)) < 0.3) + b[..., [0, 2]] * (
        rng.random((batch, n, 1)) >= 0.3)   # some boxes with flipped y corners
    return b


@pytest.mark.parametrize("iou,score,k", [(0.3, 0.2, 4), (0.5, -np.inf, 10), (0.0, 0.5, 2)])
def test_nms_matches_onnx(iou, score, k):
    boxes = _boxes(2, 12, 1)
    scores = rand(2, 3, 12, lo=0, hi=1)
    sel, count = run_op("NonMaxSuppression", [boxes, scores],
                        {"iou_threshold": iou, "score_threshold": score, "max_boxes_selected": k})
    extra = [] if score == -np.inf else [np.asarray([score], np.float32)]
    ref = onnx_ref("NonMaxSuppression", [boxes, scores, np.asarray([k], np.int64), np.asarray([iou], np.float32)]
                   + extra)[0]
    n = int(count[0])
    assert n == len(ref)
    assert_close(sel[:n], ref)
    assert not sel[n:].any()          # zero padding past the count


def test_nms_rejects_scores_that_do_not_fit_the_boxes():
    with pytest.raises(ConversionError, match="must be"):
        run_op("NonMaxSuppression", [rand(1, 5, 4), rand(1, 2, 4)],
               {"iou_threshold": 0.5, "score_threshold": 0.0, "max_boxes_selected": 3})


# three anchors (yc, xc, h, w): 0 and 1 overlap with IoU 14/18, 2 is apart
ANCHORS = np.asarray([[5.0, 5.0, 4.0, 4.0], [5.0, 5.5, 4.0, 4.0], [20.0, 20.0, 2.0, 2.0]], np.float32)
CORNERS = np.asarray([[3.0, 3.0, 7.0, 7.0], [3.0, 3.5, 7.0, 7.5], [19.0, 19.0, 21.0, 21.0]], np.float32)
# columns: background, class 1, class 2
SCORES = np.asarray([[[0.1, 0.9, 0.2], [0.1, 0.3, 0.8], [0.1, 0.4, 0.7]]], np.float32)


def _detect(**params):
    base = {"confidence_threshold": 0.5, "iou_threshold": 0.5, "detection_limit": 5}
    return run_op("DetectionOutput", [np.zeros((1, 3, 4), np.float32), SCORES, ANCHORS], dict(base, **params),
                  static=[2])


def test_detection_output_fast_is_class_agnostic():
    scores, boxes, classes, n = _detect(nms_type=0)
    # best classes: a0 -> 1 (0.9), a1 -> 2 (0.8, suppressed by a0: IoU 0.78), a2 -> 2 (0.7)
    assert n.tolist() == [2]
    assert_close(scores[0, :3], [0.9, 0.7, 0.0])
    assert_close(classes[0, :3], [1.0, 2.0, 0.0])
    assert_close(boxes[0, :2], CORNERS[[0, 2]])
    assert not boxes[0, 2:].any()


def test_detection_output_regular_runs_nms_per_class():
    scores, boxes, classes, n = _detect(nms_type=1)
    # class 1: a0 0.9; class 2: a1 0.8 and a2 0.7 (a1 and a0 are in different classes)
    assert n.tolist() == [3]
    assert_close(scores[0, :3], [0.9, 0.8, 0.7])
    assert_close(classes[0, :3], [1.0, 2.0, 2.0])
    assert_close(boxes[0, :3], CORNERS)


def test_detection_output_limit_and_background():
    _, _, classes, n = _detect(nms_type=1, detection_limit=2)
    assert n.tolist() == [2] and classes.shape == (1, 2)
    _, _, classes, n = _detect(nms_type=1, confidence_threshold=0.05, use_bg_in_nms=True, output_background=False,
                               iou_threshold=0.99)
    assert 0.0 not in classes[0, :int(n[0])].tolist()


def test_detection_output_decodes_deltas():
    deltas = np.asarray([[[1.0, -2.0, 0.5, -1.0]]], np.float32)
    anchor = np.asarray([[10.0, 20.0, 4.0, 8.0]], np.float32)
    scores = np.asarray([[[0.0, 1.0]]], np.float32)
    _, boxes, _, n = run_op("DetectionOutput", [deltas, scores, anchor],
                            {"confidence_threshold": 0.5, "iou_threshold": 0.5, "detection_limit": 1}, static=[2])
    yc, xc = 1.0 / 10 * 4 + 10, -2.0 / 10 * 8 + 20
    h, w = np.exp(0.5 / 5) * 4, np.exp(-1.0 / 5) * 8
    assert n.tolist() == [1]
    assert_close(boxes[0, 0], [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], rtol=1e-6)


def test_detection_output_rejects_mismatched_anchors():
    with pytest.raises(ConversionError, match="anchors"):
        run_op("DetectionOutput", [np.zeros((1, 3, 4), np.float32), SCORES, ANCHORS[:2]],
               {"confidence_threshold": 0.5, "iou_threshold": 0.5, "detection_limit": 5}, static=[2])


def test_table_covers_the_family():
    assert family_ops("detection") == {"NonMaxSuppression", "DetectionOutput"}

"""Detection post-processing: ONNX NonMaxSuppression end to end and the QNN DetectionOutput kernel.

* A torch-free detector head (two convs -> box deltas + class logits, anchor decoding with
  Mul/Add/Exp, Sigmoid scores, Transpose to ``[batch, classes, boxes]``, NonMaxSuppression) is
  converted with snpe-onnx-to-dlc and compared with onnxruntime: the valid rows of the padded
  ``selected_indices`` exactly, boxes/scores at rtol 1e-3 / atol 1e-4;
* the DLC round trip and snpe-net-run on the same model;
* DetectionOutput against an independent per-box Python-loop implementation written here, against
  ``tf.image.combined_non_max_suppression`` when TensorFlow is installed, and through a DLC round trip.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import helpers
from onnx_node_harness import compare_valid_rows, valid_row_counts
from snpe_tools.dlc import Metadata, read_dlc, write_dlc
from snpe_tools.errors import ConversionError
from snpe_tools.ir.graph import Graph
from snpe_tools.runtime import execute

BATCH, IMG, CELLS, ANCHORS_PER_CELL, CLASSES = 2, 8, 4, 2, 3
NUM_BOXES = CELLS * CELLS * ANCHORS_PER_CELL
MAX_OUT, IOU, SCORE = 10, 0.3, 0.7
COUNT = "selected_indices_num_boxes_selected"


# ---- the detector-head model ----------------------------------------------------------------
def head_anchors() -> np.ndarray:
    """(y_c, x_c, h, w) per box, in the order the head's Transpose+Reshape lays boxes out (y, x, anchor)."""
    rows = []
    for i in range(CELLS):
        for j in range(CELLS):
            for h, w in ((0.45, 0.45), (0.6, 0.3)):
                rows.append(((i + 0.5) / CELLS, (j + 0.5) / CELLS, h, w))
    return np.asarray(rows, np.float32)


def _node(op: str, ins: list[str], out: str, **kw) -> onnx.NodeProto:
    return helper.make_node(op, ins, [out], name=out, **kw)


def detector_head(opset: int, center_point_box: int, flipped: bool = False) -> onnx.ModelProto:
    """Image -> convs -> decoded boxes + sigmoid scores -> NonMaxSuppression.

    Outputs: ``selected_indices``, ``boxes`` (the NMS input: corners, or (x_c, y_c, w, h) for
    ``center_point_box`` 1) and ``scores`` ``[batch, classes, boxes]``.  ``flipped`` writes corners
    as (y2, x2, y1, x1), which ONNX allows.
    """
    rng = np.random.default_rng(7)
    anchors = head_anchors()
    c = np.float32

    def init(name, arr):
        return numpy_helper.from_array(np.asarray(arr), name)

    inits = [
        init("Wb", (rng.standard_normal((ANCHORS_PER_CELL * 4, 3, 3, 3)) * 0.3).astype(c)),
        init("Bb", np.zeros(ANCHORS_PER_CELL * 4, c)),
        init("Wc", rng.standard_normal((ANCHORS_PER_CELL * CLASSES, 3, 3, 3)).astype(c) * c(0.5)),
        init("Bc", np.zeros(ANCHORS_PER_CELL * CLASSES, c)),
        init("box_shape", np.array([BATCH, NUM_BOXES, 4], np.int64)),
        init("cls_shape", np.array([BATCH, NUM_BOXES, CLASSES], np.int64)),
        init("delta_scale", np.array([0.1, 0.1, 0.2, 0.2], c)),
        init("anchor_yx", anchors[:, :2]), init("anchor_hw", anchors[:, 2:]),
        init("s0", np.array([0], np.int64)), init("s2", np.array([2], np.int64)),
        init("s4", np.array([4], np.int64)), init("ax2", np.array([2], np.int64)),
        init("max_out", np.array([MAX_OUT], np.int64)), init("iou", np.array([IOU], c)),
        init("score_thr", np.array([SCORE], c)),
    ]
    conv = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    nodes = [
        _node("Conv", ["x", "Wb", "Bb"], "box_raw", **conv),
        _node("Transpose", ["box_raw"], "box_t", perm=[0, 2, 3, 1]),
        _node("Reshape", ["box_t", "box_shape"], "deltas"),
        _node("Mul", ["deltas", "delta_scale"], "d"),
        _node("Slice", ["d", "s0", "s2", "ax2"], "d_ctr"),
        _node("Slice", ["d", "s2", "s4", "ax2"], "d_size"),
        _node("Mul", ["d_ctr", "anchor_hw"], "ctr_off"),
        _node("Add", ["ctr_off", "anchor_yx"], "ctr"),
        _node("Exp", ["d_size"], "size_f"),
        _node("Mul", ["size_f", "anchor_hw"], "size"),
        _node("Conv", ["x", "Wc", "Bc"], "cls_raw", **conv),
        _node("Transpose", ["cls_raw"], "cls_t", perm=[0, 2, 3, 1]),
        _node("Reshape", ["cls_t", "cls_shape"], "logits"),
        _node("Sigmoid", ["logits"], "probs"),
        _node("Transpose", ["probs"], "scores", perm=[0, 2, 1]),
    ]
    if center_point_box:
        inits.append(init("swap", np.array([1, 0], np.int64)))
        nodes += [_node("Gather", ["ctr", "swap"], "ctr_xy", axis=2),
                  _node("Gather", ["size", "swap"], "size_wh", axis=2),
                  _node("Concat", ["ctr_xy", "size_wh"], "boxes", axis=2)]
    else:
        inits.append(init("half", np.array(0.5, c)))
        nodes += [_node("Mul", ["size", "half"], "half_size"),
                  _node("Sub", ["ctr", "half_size"], "lo"),
                  _node("Add", ["ctr", "half_size"], "hi"),
                  _node("Concat", ["hi", "lo"] if flipped else ["lo", "hi"], "boxes", axis=2)]
    nodes.append(helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score_thr"],
                                  ["selected_indices"], name="nms", center_point_box=center_point_box))
    graph = helper.make_graph(
        nodes, "detector_head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, 3, IMG, IMG])],
        [helper.make_tensor_value_info("selected_indices", TensorProto.INT64, [None, 3]),
         helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [BATCH, NUM_BOXES, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [BATCH, CLASSES, NUM_BOXES])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=7)
    onnx.checker.check_model(model, full_check=True)
    return model


def head_input(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((BATCH, 3, IMG, IMG)).astype(np.float32)


def convert(tmp_path, model: onnx.ModelProto, *extra: str) -> str:
    path, dlc = str(tmp_path / "head.onnx"), str(tmp_path / "head.dlc")
    onnx.save(model, path)
    helpers.convert_in_process(path, dlc, *extra)
    return dlc


def assert_indices_match(padded: np.ndarray, count: int, expected: np.ndarray) -> None:
    rows = BATCH * CLASSES * min(MAX_OUT, NUM_BOXES)
    assert padded.shape == (rows, 3) and padded.dtype == np.int32
    assert count == expected.shape[0], f"{count} valid rows, onnxruntime selected {expected.shape[0]}"
    np.testing.assert_array_equal(padded[:count], expected)
    assert not padded[count:].any(), "rows past the valid count must be zero"


def assert_nms_was_exercised(expected: np.ndarray, scores: np.ndarray) -> None:
    """The case is only meaningful if NMS both suppressed boxes and hit the per-class cap somewhere."""
    pairs, per_pair = np.unique(expected[:, :2], axis=0, return_counts=True)
    assert len(pairs) >= 4, "too few (batch, class) pairs selected anything"
    assert MAX_OUT in per_pair, "no (batch, class) pair reached max_output_boxes_per_class"
    assert per_pair.min() < MAX_OUT, "every pair filled its quota: the padding rows go untested"
    suppressed = 0
    for b, c in pairs:
        chosen = expected[(expected[:, 0] == b) & (expected[:, 1] == c), 2]
        top = np.argsort(-scores[b, c], kind="stable")[:len(chosen)]
        suppressed += list(chosen) != list(top)      # a higher-scored box was suppressed
    assert suppressed >= 2, "IoU suppression never changed a selection"


@pytest.mark.parametrize("opset,center_point_box,flipped", [(11, 0, False), (11, 1, False), (10, 0, True),
                                                            (10, 1, False)])
def test_detector_head_matches_onnxruntime(tmp_path, opset, center_point_box, flipped):
    model = detector_head(opset, center_point_box, flipped)
    dlc = convert(tmp_path, model, "--out_node", "selected_indices", "--out_node", COUNT,
                  "--out_node", "boxes", "--out_node", "scores")
    x = head_input()
    ref = helpers.run_onnxruntime(model, {"x": x})
    got = helpers.run_dlc(dlc, {"x": x})
    assert_nms_was_exercised(ref["selected_indices"], ref["scores"])
    assert_indices_match(got["selected_indices"], int(got[COUNT][0]), ref["selected_indices"])
    assert got[COUNT].shape == (1,) and got[COUNT].dtype == np.int32
    for name in ("boxes", "scores"):
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-3, atol=1e-4)
    ops = helpers.count_ops(dlc)
    assert ops["NonMaxSuppression"] == 1
    assert ("MatMul" in ops) == bool(center_point_box)     # centre boxes -> corners


def test_default_outputs_keep_the_count_tensor_reachable(tmp_path):
    """Without --out_node the DLC outputs are ONNX's; the count stays the NMS op's second output."""
    model = detector_head(11, 0)
    dlc = convert(tmp_path, model)
    graph = read_dlc(dlc).graph
    assert graph.outputs == ["selected_indices", "boxes", "scores"]
    assert valid_row_counts(graph) == {"selected_indices": COUNT}
    x = head_input(seed=5)
    feeds = {"x": helpers.to_dlc_layout(x, graph.tensors["x"].axis_format)}
    res = execute(graph, feeds, outputs=["selected_indices", COUNT])
    ref = helpers.run_onnxruntime(model, {"x": x})
    assert_indices_match(res["selected_indices"], int(res[COUNT][0]), ref["selected_indices"])


def test_dlc_round_trip_and_dlc_info(tmp_path):
    model = detector_head(11, 1)
    dlc = convert(tmp_path, model)
    first = read_dlc(dlc).graph
    again = str(tmp_path / "again.dlc")
    write_dlc(first, again, Metadata({"converter-command": "round trip"}))
    second = read_dlc(again).graph
    assert [(o.type, o.inputs, o.outputs) for o in first.ops] == [(o.type, o.inputs, o.outputs) for o in second.ops]
    (nms1,), (nms2,) = ([o for o in g.ops if o.type == "NonMaxSuppression"] for g in (first, second))
    assert nms1.params == nms2.params == {"iou_threshold": pytest.approx(IOU), "score_threshold":
                                          pytest.approx(SCORE), "max_boxes_selected": MAX_OUT}
    assert np.float32(nms2.params["iou_threshold"]) == np.float32(IOU)
    x = head_input(seed=11)
    a, b = helpers.run_dlc(dlc, {"x": x}), helpers.run_dlc(again, {"x": x})
    np.testing.assert_array_equal(a["selected_indices"], b["selected_indices"])
    info = helpers.run_tool("snpe-dlc-info", "-i", again)
    assert "NonMaxSuppression" in info.stdout and "max_boxes_selected" in info.stdout


def test_snpe_net_run_writes_padded_indices_and_count(tmp_path):
    model = detector_head(11, 0)
    path, dlc = str(tmp_path / "head.onnx"), str(tmp_path / "head.dlc")
    onnx.save(model, path)
    helpers.run_tool("snpe-onnx-to-dlc", "-i", path, "-o", dlc)
    x = head_input(seed=9)
    graph = read_dlc(dlc).graph
    raw = tmp_path / "x.raw"
    helpers.to_dlc_layout(x, graph.tensors["x"].axis_format).astype(np.float32).tofile(raw)
    lst = tmp_path / "list.txt"
    lst.write_text(f"x:={raw}\n")
    out = tmp_path / "out"
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", str(lst), "--output_dir", str(out),
                     "--set_output_tensors", f"selected_indices,{COUNT}", "--use_native_output_files")
    rows = BATCH * CLASSES * MAX_OUT
    padded = np.fromfile(out / "Result_0" / "selected_indices.raw", np.int32).reshape(rows, 3)
    count = np.fromfile(out / "Result_0" / f"{COUNT}.raw", np.int32)
    ref = helpers.run_onnxruntime(model, {"x": x})
    assert count.shape == (1,)
    assert_indices_match(padded, int(count[0]), ref["selected_indices"])


def tricky_nms_inputs(seed: int) -> dict[str, np.ndarray]:
    """Many tied scores, flipped corners, zero-area and duplicate boxes, -inf scores."""
    rng = np.random.default_rng(seed)
    batch, n, classes = 2, 48, 3
    lo = rng.uniform(0, 1, (batch, n, 2))
    hi = lo + rng.uniform(0.05, 0.5, (batch, n, 2))
    boxes = np.concatenate([lo, hi], axis=2)
    flip = rng.uniform(size=(batch, n)) < 0.3
    boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    boxes[:, 5, 2:] = boxes[:, 5, :2]                       # zero-area box
    boxes[:, 7] = boxes[:, 6]                               # duplicate box
    scores = rng.integers(0, 6, (batch, classes, n)) / 5.0  # six levels: many ties
    scores[0, 1, 3] = -np.inf
    return {"boxes": boxes.astype(np.float32), "scores": scores.astype(np.float32)}


@pytest.mark.parametrize("score_threshold", [None, 0.2])
def test_nms_ties_and_degenerate_boxes_match_onnx(tmp_path, score_threshold):
    """Tie order (lower box index first), degenerate boxes and -inf scores follow ONNX and onnxruntime."""
    from onnx.reference import ReferenceEvaluator

    inits = [numpy_helper.from_array(np.array([40], np.int64), "max_out"),
             numpy_helper.from_array(np.array([0.25], np.float32), "iou")]
    names = ["boxes", "scores", "max_out", "iou"]
    if score_threshold is not None:
        inits.append(numpy_helper.from_array(np.array([score_threshold], np.float32), "thr"))
        names.append("thr")
    graph = helper.make_graph(
        [helper.make_node("NonMaxSuppression", names, ["sel"], name="nms")], "nms",
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [2, 48, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2, 3, 48])],
        [helper.make_tensor_value_info("sel", TensorProto.INT64, [None, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7)
    dlc = convert(tmp_path, model, "--out_node", "sel", "--out_node", "sel_num_boxes_selected")
    for seed in range(4):
        feeds = tricky_nms_inputs(seed)
        got = helpers.run_dlc(dlc, feeds)
        count = int(got["sel_num_boxes_selected"][0])
        assert got["sel"].shape == (2 * 3 * 40, 3)
        for ref in (helpers.run_onnxruntime(model, feeds)["sel"], ReferenceEvaluator(model).run(None, feeds)[0]):
            assert compare_valid_rows("sel", got["sel"], count, ref) == ""


# ---- translator limits and errors -------------------------------------------------------------
def nms_model(max_out=None, runtime_iou: bool = False, center_point_box: int = 0) -> onnx.ModelProto:
    inits, ins = [], [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 6, 4]),
                      helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2, 6])]
    names = ["boxes", "scores", "", ""]
    if max_out is not None:
        inits.append(numpy_helper.from_array(np.array([max_out], np.int64), "max_out"))
        names[2] = "max_out"
    if runtime_iou:
        ins.append(helper.make_tensor_value_info("iou", TensorProto.FLOAT, [1]))
        names[3] = "iou"
    node = helper.make_node("NonMaxSuppression", [n for n in names], ["sel"], name="nms",
                            center_point_box=center_point_box)
    graph = helper.make_graph([node], "nms", ins, [helper.make_tensor_value_info("sel", TensorProto.INT64, [None, 3])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7)


def _convert_error(tmp_path, model) -> str:
    from snpe_tools.frontends.onnx.converter import OnnxOptions, convert_onnx

    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    with pytest.raises(ConversionError) as exc:
        convert_onnx(path, OnnxOptions())
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_runtime_threshold_is_refused(tmp_path):
    msg = _convert_error(tmp_path, nms_model(max_out=3, runtime_iou=True))
    assert "nms" in msg and "iou_threshold is computed at run time" in msg and "initializer" in msg


@pytest.mark.parametrize("max_out,shown", [(None, "absent"), (0, "0"), (-2, "-2")])
def test_no_selection_is_refused(tmp_path, max_out, shown):
    msg = _convert_error(tmp_path, nms_model(max_out=max_out))
    assert f"max_output_boxes_per_class is {shown}, so ONNX always selects nothing" in msg


def test_unknown_center_point_box_is_refused(tmp_path):
    assert "center_point_box 2" in _convert_error(tmp_path, nms_model(max_out=3, center_point_box=2))


def test_absent_thresholds_select_like_onnx(tmp_path):
    """No iou/score threshold: every box competes (even negative scores), IoU > 0 suppresses."""
    model = nms_model(max_out=4)
    path, dlc = str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc")
    onnx.save(model, path)
    helpers.convert_in_process(path, dlc, "--out_node", "sel", "--out_node", "sel_num_boxes_selected")
    rng = np.random.default_rng(2)
    lo = rng.uniform(0, 1, (1, 6, 2)).astype(np.float32)
    feeds = {"boxes": np.concatenate([lo, lo + rng.uniform(0.1, 0.6, (1, 6, 2)).astype(np.float32)], axis=2),
             "scores": rng.standard_normal((1, 2, 6)).astype(np.float32) - 1}
    ref = helpers.run_onnxruntime(model, feeds)["sel"]
    got = helpers.run_dlc(dlc, feeds)
    assert got["sel"].shape == (8, 3)
    assert compare_valid_rows("sel", got["sel"], int(got["sel_num_boxes_selected"][0]), ref) == ""


def test_harness_valid_row_rule_is_strict():
    exp = np.array([[0, 0, 3], [0, 1, 2]], np.int64)
    good = np.array([[0, 0, 3], [0, 1, 2], [0, 0, 0]], np.int32)
    assert compare_valid_rows("o", good, 2, exp) == ""
    assert "valid rows" in compare_valid_rows("o", good, 3, exp)
    assert "differ" in compare_valid_rows("o", good[[1, 0, 2]], 2, exp)
    assert "not zero" in compare_valid_rows("o", np.array([[0, 0, 3], [0, 1, 2], [0, 0, 1]], np.int32), 2, exp)


# ---- DetectionOutput: independent per-box reference ------------------------------------------
DEFAULTS = dict(delta_scaling_factors=[10.0, 10.0, 5.0, 5.0], nms_type=0, background_class_idx=0,
                use_bg_in_nms=False, output_background=True, share_location=True, nms_eta=1.0)


def ref_decode(delta, anchor, scales) -> list[float]:
    dy, dx, dh, dw = (float(v) for v in delta)
    ya, xa, ha, wa = (float(v) for v in anchor)
    sy, sx, sh, sw = scales
    yc, xc = dy / sy * ha + ya, dx / sx * wa + xa
    h, w = math.exp(dh / sh) * ha, math.exp(dw / sw) * wa
    return [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2]


def ref_iou(a, b) -> float:
    ay0, ay1, ax0, ax1 = min(a[0], a[2]), max(a[0], a[2]), min(a[1], a[3]), max(a[1], a[3])
    by0, by1, bx0, bx1 = min(b[0], b[2]), max(b[0], b[2]), min(b[1], b[3]), max(b[1], b[3])
    ih, iw = min(ay1, by1) - max(ay0, by0), min(ax1, bx1) - max(ax0, bx0)
    area_a, area_b = (ay1 - ay0) * (ax1 - ax0), (by1 - by0) * (bx1 - bx0)
    if ih <= 0 or iw <= 0 or area_a <= 0 or area_b <= 0:
        return 0.0
    return ih * iw / (area_a + area_b - ih * iw)


def ref_nms(cands: list[tuple[float, int, list[float]]], thr: float, limit: int, eta: float) -> list:
    """Greedy NMS over (score, tiebreak, box) tuples; returns the kept tuples in selection order."""
    kept: list = []
    for cand in sorted(cands, key=lambda t: (-t[0], t[1])):
        if len(kept) == limit:
            break
        if all(ref_iou(cand[2], k[2]) <= thr for k in kept):
            kept.append(cand)
            if eta < 1 and thr > 0.5:
                thr *= eta
    return kept


def ref_detection_output(deltas, scores, anchors, p) -> list[np.ndarray]:
    batch, n, classes = scores.shape
    limit, bg = p["detection_limit"], p["background_class_idx"]
    out = [np.zeros((batch, limit), np.float32), np.zeros((batch, limit, 4), np.float32),
           np.zeros((batch, limit), np.float32), np.zeros(batch, np.int32)]
    anchors = anchors.reshape(-1, n, 4)
    for b in range(batch):
        anc = anchors[b if anchors.shape[0] > 1 else 0]

        def box(a, c):
            d = deltas[b, a] if p["share_location"] else deltas[b, a, 4 * c:4 * c + 4]
            return ref_decode(d, anc[a], p["delta_scaling_factors"])

        competing = [c for c in range(classes) if c != bg or p["use_bg_in_nms"]]
        drop_bg = p["use_bg_in_nms"] and not p["output_background"]
        nms_limit = n if drop_bg else limit
        dets = []     # (score, class, anchor, box)
        if p["nms_type"] == 0:
            cands = []
            for a in range(n):
                best = competing[0]
                for c in competing:
                    if scores[b, a, c] > scores[b, a, best]:
                        best = c
                if scores[b, a, best] >= p["confidence_threshold"]:
                    cands.append((float(scores[b, a, best]), a, box(a, best), best))
            dets = [(s, cl, a, bx) for s, a, bx, cl in ref_nms(cands, p["iou_threshold"], nms_limit, 1.0)]
        else:
            for c in competing:
                cands = [(float(scores[b, a, c]), a, box(a, c)) for a in range(n)
                         if scores[b, a, c] >= p["confidence_threshold"]]
                dets += [(s, c, a, bx) for s, a, bx in ref_nms(cands, p["iou_threshold"], nms_limit, p["nms_eta"])]
            dets.sort(key=lambda d: -d[0])           # stable: class order, then selection order
        dets = [d for d in dets if not (drop_bg and d[1] == bg)][:limit]
        for i, (s, c, _, bx) in enumerate(dets):
            out[0][b, i], out[1][b, i], out[2][b, i] = s, bx, c
        out[3][b] = len(dets)
    return out


def detection_graph(batch, n, classes, params, anchors, share_location=True) -> Graph:
    g = Graph("det")
    g.add_input("deltas", (batch, n, 4 if share_location else 4 * classes))
    g.add_input("class_scores", (batch, n, classes))
    g.add_const("anchors", anchors)
    g.add_op("DetectionOutput", ["deltas", "class_scores", "anchors"],
             ["det_scores", "det_boxes", "det_classes", "num_det"], params, name="det")
    g.outputs = ["det_scores", "det_boxes", "det_classes", "num_det"]
    return g


def detection_inputs(batch, n, classes, seed, share_location=True, per_image_anchors=False, tied=False):
    rng = np.random.default_rng(seed)
    side = int(math.ceil(math.sqrt(n)))
    ys, xs = (np.arange(n) // side + 0.5) / side, (np.arange(n) % side + 0.5) / side
    anchors = np.stack([ys, xs, np.full(n, 2.2 / side), np.full(n, 1.8 / side)], axis=1).astype(np.float32)
    if per_image_anchors:
        anchors = np.concatenate([anchors + np.float32(0.01 * i) for i in range(batch)])
    cols = 4 if share_location else 4 * classes
    deltas = rng.standard_normal((batch, n, cols)).astype(np.float32)
    scores = rng.uniform(0, 1, (batch, n, classes)).astype(np.float32)
    if tied:                                   # five score levels: ties across anchors and classes
        scores = (np.floor(scores * 5) / 4).astype(np.float32)
    return deltas, scores, anchors


CONFIGS = {
    "fast": dict(confidence_threshold=0.3, iou_threshold=0.3, detection_limit=10),
    "regular": dict(confidence_threshold=0.5, iou_threshold=0.35, nms_type=1, detection_limit=12),
    "regular_eta": dict(confidence_threshold=0.2, iou_threshold=0.7, nms_type=1, nms_eta=0.8, detection_limit=15),
    "fast_bg_in_nms_not_output": dict(confidence_threshold=0.3, iou_threshold=0.3, use_bg_in_nms=True,
                                      output_background=False, detection_limit=10),
    "regular_bg_output": dict(confidence_threshold=0.6, iou_threshold=0.3, nms_type=1, use_bg_in_nms=True,
                              background_class_idx=2, detection_limit=30),
    "regular_per_class_boxes": dict(confidence_threshold=0.5, iou_threshold=0.3, nms_type=1, share_location=False,
                                    background_class_idx=1, delta_scaling_factors=[8.0, 9.0, 4.0, 3.0],
                                    detection_limit=9),
    "fast_per_class_boxes": dict(confidence_threshold=0.4, iou_threshold=0.3, share_location=False,
                                 delta_scaling_factors=[10.0, 7.0, 5.0, 6.0], detection_limit=8),
    "regular_bg_in_nms_not_output": dict(confidence_threshold=0.5, iou_threshold=0.3, nms_type=1, use_bg_in_nms=True,
                                         output_background=False, background_class_idx=3, detection_limit=20),
    "regular_tied": dict(confidence_threshold=0.5, iou_threshold=0.3, nms_type=1, detection_limit=25),
    "fast_tied": dict(confidence_threshold=0.5, iou_threshold=0.3, detection_limit=12),
    "fast_no_background": dict(confidence_threshold=0.4, iou_threshold=0.25, background_class_idx=7,
                               detection_limit=6),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_detection_output_matches_per_box_reference(config):
    params = dict(DEFAULTS, **CONFIGS[config])
    batch, n, classes = 2, 36, 4
    share = params["share_location"]
    deltas, scores, anchors = detection_inputs(batch, n, classes, seed=len(config), share_location=share,
                                               per_image_anchors=config.startswith("regular"),
                                               tied=config.endswith("tied"))
    g = detection_graph(batch, n, classes, {k: v for k, v in params.items()}, anchors, share)
    got = execute(g, {"deltas": deltas, "class_scores": scores})
    ref = ref_detection_output(deltas, scores, anchors, params)
    names = ["det_scores", "det_boxes", "det_classes", "num_det"]
    np.testing.assert_array_equal(got["num_det"], ref[3])
    assert ref[3].min() > 0, "every image must report detections for the comparison to mean anything"
    np.testing.assert_array_equal(got["det_classes"], ref[2])
    np.testing.assert_allclose(got["det_scores"], ref[0], rtol=0, atol=0)
    np.testing.assert_allclose(got["det_boxes"], ref[1], rtol=1e-5, atol=1e-6)
    assert [got[k].dtype for k in names] == [np.float32, np.float32, np.float32, np.int32]
    bg = params["background_class_idx"]
    if not params["use_bg_in_nms"] or not params["output_background"]:
        assert not any((got["det_classes"][b, :ref[3][b]] == bg).any() for b in range(batch))


@pytest.mark.parametrize("iou,eta", [(0.4, 1.0), (0.7, 0.85)])
def test_greedy_nms_is_independent_of_the_window(iou, eta):
    """The kernel walks long queues in windows; any window size gives the plain greedy result."""
    from snpe_tools.ops.detection import box_extents, greedy_nms

    rng = np.random.default_rng(8)
    problems, n = 5, 300
    lo = rng.uniform(0, 1, (problems, n, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.02, 0.3, (problems, n, 2))], axis=2).astype(np.float32)
    scores = (rng.integers(0, 40, (problems, n)) / 39).astype(np.float32)
    candidates = scores > 0.1
    extents = box_extents(boxes)
    suppressed = 0
    for window in (1, 7, 64, 256):
        selected, counts = greedy_nms(*extents, np.arange(problems), scores, candidates, iou, 80, eta, window=window)
        for p in range(problems):
            cands = [(float(scores[p, i]), i, boxes[p, i].tolist()) for i in range(n) if candidates[p, i]]
            expect = [i for _, i, _ in ref_nms(cands, iou, 80, eta)]
            assert selected[p, :counts[p]].tolist() == expect, (window, p)
            assert (selected[p, counts[p]:] == -1).all()
            by_score = sorted((i for i in range(n) if candidates[p, i]), key=lambda i: (-scores[p, i], i))
            suppressed += expect != by_score[:len(expect)]
    assert suppressed == 4 * problems, "every problem must lose boxes to IoU suppression"


def test_detection_output_parameters_change_the_result():
    """FAST vs REGULAR and nms_eta really change the detections here, and the kernel follows the reference."""
    batch, n, classes = 2, 36, 4
    deltas, scores, anchors = detection_inputs(batch, n, classes, seed=3)
    base = dict(DEFAULTS, confidence_threshold=0.2, iou_threshold=0.7, detection_limit=15)
    runs = {}
    for name, extra in {"fast": {}, "regular": {"nms_type": 1}, "eta": {"nms_type": 1, "nms_eta": 0.8}}.items():
        params = dict(base, **extra)
        got = execute(detection_graph(batch, n, classes, params, anchors), {"deltas": deltas, "class_scores": scores})
        ref = ref_detection_output(deltas, scores, anchors, params)
        np.testing.assert_array_equal(got["det_classes"], ref[2])
        np.testing.assert_allclose(got["det_boxes"], ref[1], rtol=1e-5, atol=1e-6)
        runs[name] = got
    assert not np.array_equal(runs["fast"]["det_classes"], runs["regular"]["det_classes"])
    assert not np.array_equal(runs["regular"]["det_boxes"], runs["eta"]["det_boxes"])


def test_detection_output_matches_tensorflow_combined_nms():
    tf = pytest.importorskip("tensorflow")
    from snpe_tools.ops.detection import decode_boxes

    batch, n, classes, limit = 2, 49, 5, 20
    deltas, scores, anchors = detection_inputs(batch, n, classes, seed=21)
    params = dict(DEFAULTS, confidence_threshold=0.55, iou_threshold=0.4, nms_type=1, detection_limit=limit)
    got = execute(detection_graph(batch, n, classes, params, anchors),
                  {"deltas": deltas, "class_scores": scores})
    boxes = decode_boxes(deltas, anchors[None], params["delta_scaling_factors"])
    res = tf.image.combined_non_max_suppression(
        boxes[:, :, None, :], scores[:, :, 1:], max_output_size_per_class=limit, max_total_size=limit,
        iou_threshold=params["iou_threshold"], score_threshold=params["confidence_threshold"], clip_boxes=False)
    valid = res.valid_detections.numpy()
    np.testing.assert_array_equal(got["num_det"], valid)
    for b in range(batch):
        k = valid[b]
        np.testing.assert_array_equal(got["det_classes"][b, :k], res.nmsed_classes.numpy()[b, :k] + 1)
        np.testing.assert_allclose(got["det_scores"][b, :k], res.nmsed_scores.numpy()[b, :k], rtol=1e-6)
        np.testing.assert_allclose(got["det_boxes"][b, :k], res.nmsed_boxes.numpy()[b, :k], rtol=1e-5, atol=1e-6)


def test_detection_output_dlc_round_trip(tmp_path):
    batch, n, classes = 2, 25, 3
    params = dict(confidence_threshold=0.4, iou_threshold=0.45, nms_type=1, background_class_idx=1,
                  use_bg_in_nms=True, output_background=False, share_location=False, nms_eta=0.9,
                  delta_scaling_factors=[8.0, 9.0, 4.0, 3.0], detection_limit=7)
    deltas, scores, anchors = detection_inputs(batch, n, classes, seed=4, share_location=False)
    g = detection_graph(batch, n, classes, params, anchors, share_location=False)
    path = str(tmp_path / "det.dlc")
    write_dlc(g, path, Metadata({"converter-command": "test"}))
    back = read_dlc(path).graph
    (op,) = back.ops
    assert op.type == "DetectionOutput"
    assert set(op.params) == set(params)
    for k, v in params.items():
        if k == "delta_scaling_factors":
            assert op.params[k].dtype == np.float32
            np.testing.assert_array_equal(op.params[k], np.float32(v))
        else:
            assert op.params[k] == pytest.approx(v) and type(op.params[k]) is type(g.ops[0].params[k])
    assert [tuple(back.tensors[o].shape) for o in op.outputs] == [(batch, 7), (batch, 7, 4), (batch, 7), (batch,)]
    feeds = {"deltas": deltas, "class_scores": scores}
    before, after = execute(g, feeds), execute(back, feeds)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    assert before["num_det"].max() > 0
    info = helpers.run_tool("snpe-dlc-info", "-i", path).stdout
    assert "DetectionOutput" in info and "nms_eta" in info and "detection_limit: 7" in info


def test_detection_output_rejects_bad_shapes():
    deltas, scores, anchors = detection_inputs(1, 16, 3, seed=0)
    with pytest.raises(ConversionError, match="anchors"):
        detection_graph(1, 16, 3, dict(confidence_threshold=0.5, iou_threshold=0.5, detection_limit=4),
                        anchors[:8])
    with pytest.raises(ConversionError, match="box deltas"):
        detection_graph(1, 16, 3, dict(confidence_threshold=0.5, iou_threshold=0.5, detection_limit=4,
                                       share_location=False), anchors, share_location=True)


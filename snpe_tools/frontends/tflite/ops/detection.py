"""Detection builtins -> QNN DetectionOutput / NonMaxSuppression (``snpe_tools/ops/detection.py``).

``TFLite_Detection_PostProcess`` (TFLite's SSD post-processing custom op) -> ``DetectionOutput``.
Its options are a FlexBuffer map (``max_detections``, ``max_classes_per_detection``,
``detections_per_class``, ``use_regular_nms``, ``nms_score_threshold``, ``nms_iou_threshold``,
``num_classes``, ``y_scale``/``x_scale``/``h_scale``/``w_scale``).  The class scores carry the
background in column 0 while TFLite's labels do not, so the label offset is subtracted after the op;
the output order (boxes, classes, scores, count) and the float count are TFLite's.

NON_MAX_SUPPRESSION_V4 / V5 -> ``NonMaxSuppression`` on a single (batch, class) problem.
TFLite's kernels take ``boxes [N, 4]`` and ``scores [N]`` and return the selected box indices padded
with 0 to ``max_output_size`` plus the valid count (V5 also the selected scores, padded with 0).
QNN returns ``(batch, class, box)`` rows zero-padded the same way and a ``[1]`` count, so the box
column is sliced out and the count reshaped to a scalar.  Both select a box when its score is above
score_threshold and its IoU with every kept box is at most iou_threshold (suppress on ``>``).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def _options(op: TflOp) -> dict:
    from flatbuffers import flexbuffers

    try:
        opts = flexbuffers.Loads(op.custom_options) if op.custom_options else {}
    except Exception as exc:  # malformed FlexBuffer
        raise ConversionError(f"TFLite_Detection_PostProcess op #{op.index}: unreadable custom options ({exc})") \
            from None
    return opts if isinstance(opts, dict) else {}


@tflite_op("TFLite_Detection_PostProcess")
def detection_postprocess(ctx: TfliteContext, op: TflOp) -> None:
    o = _options(op)
    where = f"TFLite_Detection_PostProcess op #{op.index} ({ctx.out_label(op)})"
    max_det = int(o.get("max_detections", 10))
    regular = bool(o.get("use_regular_nms", False))
    if not regular and int(o.get("max_classes_per_detection", 1)) != 1:
        raise ConversionError(f"{where}: max_classes_per_detection > 1 is not supported (QNN DetectionOutput keeps "
                              "each anchor's best class); re-export with max_classes_per_detection=1")
    if regular and int(o.get("detections_per_class", 100)) < max_det:
        raise ConversionError(f"{where}: detections_per_class below max_detections cannot be expressed with QNN "
                              "DetectionOutput (one limit for both)")
    deltas, scores = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    anchors = ctx.weight(op.inputs[2], quantized=False) if ctx.is_const(op.inputs[2]) else ctx.tensor(op.inputs[2])
    num_cols = ctx.graph.tensors[scores].shape[-1]
    num_classes = int(o.get("num_classes", num_cols - 1))
    offset = num_cols - num_classes                  # 1: background column first
    params = {
        "delta_scaling_factors": np.asarray([o.get("y_scale", 10.0), o.get("x_scale", 10.0),
                                             o.get("h_scale", 5.0), o.get("w_scale", 5.0)], np.float32),
        "confidence_threshold": float(o.get("nms_score_threshold", 0.0)),
        "iou_threshold": float(o.get("nms_iou_threshold", 0.5)),
        "nms_type": 1 if regular else 0,
        "background_class_idx": 0 if offset else num_cols,
        "use_bg_in_nms": False, "output_background": False,
        "detection_limit": max_det,
    }
    base = ctx.t(op.outputs[0]).name
    names = [ctx.graph.unique_name(f"{base}.{k}") for k in ("scores", "boxes", "classes", "count")]
    ctx.emit("DetectionOutput", [deltas, scores, anchors], names, params, name=names[0])
    boxes_out, classes_out, scores_out, count_out = (ctx.out_name(i) for i in op.outputs[:4])
    ctx.emit("Reshape", [names[1]], [boxes_out], {"shape": list(ctx.t(op.outputs[0]).shape)}, name=boxes_out)
    cls = names[2]
    if offset:
        cls = ctx.emit("ElementWiseSubtract", [cls, ctx.add_const(f"{base}.label_offset",
                                                                  np.asarray(offset, np.float32))],
                       None, name=f"{base}.labels")[0]
    ctx.emit("Reshape", [cls], [classes_out], {"shape": list(ctx.t(op.outputs[1]).shape)}, name=classes_out)
    ctx.emit("Reshape", [names[0]], [scores_out], {"shape": list(ctx.t(op.outputs[2]).shape)}, name=scores_out)
    cnt = ctx.emit("Cast", [names[3]], None, {"to": qd.FLOAT_32}, name=f"{base}.count_f")[0]
    ctx.emit("Reshape", [cnt], [count_out], {"shape": list(ctx.t(op.outputs[3]).shape)}, name=count_out)
    for name, idx in zip((boxes_out, classes_out, scores_out, count_out), op.outputs):
        ctx.like(name, idx)


@tflite_op("NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5")
def non_max_suppression(ctx: TfliteContext, op: TflOp) -> None:
    base = ctx.t(op.outputs[0]).name
    k = int(ctx.const_scalar(op, 2, "max_output_size"))
    iou = ctx.const_scalar(op, 3, "iou_threshold")
    score_thr = ctx.const_scalar(op, 4, "score_threshold")
    if op.name == "NON_MAX_SUPPRESSION_V5" and ctx.const_scalar(op, 5, "soft_nms_sigma") != 0.0:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): soft-NMS (soft_nms_sigma > 0) has no "
                              "QNN counterpart; export with soft_nms_sigma=0")
    if k < 1:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): max_output_size {k} must be >= 1")
    boxes, scores = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    n = ctx.graph.tensors[scores].shape[0]
    b3 = ctx.emit("Reshape", [boxes], None, {"shape": [1, n, 4]}, name=f"{base}.boxes")[0]
    s3 = ctx.emit("Reshape", [scores], None, {"shape": [1, 1, n]}, name=f"{base}.scores")[0]
    rows, count = ctx.emit("NonMaxSuppression", [b3, s3], None,
                           {"iou_threshold": iou, "score_threshold": score_thr, "max_boxes_selected": k},
                           name=f"{base}.nms")
    idx = ctx.emit_out(op, "StridedSlice", [rows], {"ranges": [[0, k, 1], [2, 3, 1]], "shrink_axes": 2}, act=0)
    ctx.emit_out(op, "Reshape", [count], {"shape": []}, act=0, k=len(op.outputs) - 1)
    if op.name == "NON_MAX_SUPPRESSION_V5":
        _selected_scores(ctx, op, scores, idx, count, k, base)


def _selected_scores(ctx: TfliteContext, op: TflOp, scores: str, idx: str, count: str, k: int, base: str) -> None:
    """scores[idx] for the valid rows, 0 for the padding (rows at or past the count)."""
    picked = ctx.emit("Gather", [scores, idx], None, {"axis": 0}, name=f"{base}.picked_scores")[0]
    ramp = ctx.add_const(f"{base}.row", np.arange(k, dtype=np.int32))
    valid = ctx.emit("ElementWiseLess", [ramp, count], None, name=f"{base}.valid")[0]
    zero = ctx.add_const(f"{base}.zero", np.zeros(1, np.float32))
    ctx.emit_out(op, "ElementWiseSelect", [valid, picked, zero], act=0, k=1)

"""TFLite's SSD post-processing custom op ``TFLite_Detection_PostProcess`` -> QNN ``DetectionOutput``.

Its options are a FlexBuffer map (``max_detections``, ``max_classes_per_detection``,
``detections_per_class``, ``use_regular_nms``, ``nms_score_threshold``, ``nms_iou_threshold``,
``num_classes``, ``y_scale``/``x_scale``/``h_scale``/``w_scale``).  The class scores carry the
background in column 0 while TFLite's labels do not, so the label offset is subtracted after the op;
the output order (boxes, classes, scores, count) and the float count are TFLite's.
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

"""NON_MAX_SUPPRESSION_V4 / V5 -> QNN NonMaxSuppression on a single (batch, class) problem.

TFLite's kernels take ``boxes [N, 4]`` and ``scores [N]`` and return the selected box indices padded
with 0 to ``max_output_size`` plus the valid count (V5 also the selected scores, padded with 0).
QNN returns ``(batch, class, box)`` rows zero-padded the same way and a ``[1]`` count, so the box
column is sliced out and the count reshaped to a scalar.  Both select a box when its score is above
score_threshold and its IoU with every kept box is at most iou_threshold (suppress on ``>``).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


def _const_scalar(ctx: TfliteContext, op: TflOp, k: int, what: str) -> float:
    ctx.require_const(op, k, what)
    return float(np.asarray(ctx.real_const(op.inputs[k])).reshape(-1)[0])


@tflite_op("NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5")
def non_max_suppression(ctx: TfliteContext, op: TflOp) -> None:
    base = ctx.t(op.outputs[0]).name
    k = int(_const_scalar(ctx, op, 2, "max_output_size"))
    iou = _const_scalar(ctx, op, 3, "iou_threshold")
    score_thr = _const_scalar(ctx, op, 4, "score_threshold")
    if op.name == "NON_MAX_SUPPRESSION_V5" and _const_scalar(ctx, op, 5, "soft_nms_sigma") != 0.0:
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

"""ONNX detection ops (NonMaxSuppression) -> QNN detection ops.

NonMaxSuppression (opsets 10 and 11, identical semantics) -> QNN ``NonMaxSuppression``.

ONNX's output ``selected_indices`` has a data-dependent length, a DLC tensor a static one.  The DLC
therefore holds the *padded* result under the ONNX output name: ``[batch * num_classes * k, 3]``
int32 rows with ``k = min(max_output_boxes_per_class, num_boxes)`` (every (batch, class) pair's
full quota fits), valid rows first in ONNX order, zero rows after them.  The number of valid rows
is QNN's second output, ``<output>_num_boxes_selected`` (int32 ``[1]``): read it with
``snpe-net-run --set_output_tensors <output>,<output>_num_boxes_selected``, or make it a DLC output
with ``--out_node <output> --out_node <output>_num_boxes_selected`` at conversion.

* ``center_point_box`` 1 boxes ``(x_c, y_c, w, h)`` become corners ``(y1, x1, y2, x2)`` through a
  MatMul with a static 4x4 matrix of 0, +-1 and +-0.5 entries: every corner is one exactly halved
  size plus one centre, rounded once, so the corners equal ONNX's own ``centre -/+ size / 2``;
* ``max_output_boxes_per_class``, ``iou_threshold`` and ``score_threshold`` become QNN parameters and
  must be known at conversion time; an absent ``score_threshold`` is passed as -inf, which the QNN
  kernel reads as "no threshold" (ONNX then filters nothing).  ``max_output_boxes_per_class`` is
  QNN's per-(batch, class) ``max_boxes_selected``, capped at ``num_boxes`` (no class can select more).

Nodes after NonMaxSuppression consume the padded tensor; a ``Shape``/``Size`` of it is folded to the
padded length at conversion time, so a model that derives its detection count from the output's
length must read ``<output>_num_boxes_selected`` instead (stated in docs/onnx-support.rst).
"""
from __future__ import annotations

import numpy as np
import onnx

from ..context import OnnxContext, attrs, node_error, node_name
from ..registry import onnx_op

# Conversion limits shown in docs/onnx-support.rst (docs/gen_onnx_support.py reads LIMITS).
LIMITS = {
    "NonMaxSuppression": (
        "max_output_boxes_per_class (> 0), iou_threshold and score_threshold must be constants; the DLC "
        "output is padded to ``batch * classes * min(max_output_boxes_per_class, num_boxes)`` rows (zeros after the "
        "valid ones) and the valid row count is the extra tensor ``<output>_num_boxes_selected``.  Nodes "
        "after NonMaxSuppression see the padded rows: a Shape/Size of its output folds to the padded length, "
        "so models that take the number of detections from it must read the count tensor instead"),
}

# (x_c, y_c, w, h) @ _CENTER_TO_CORNERS = (y_c - h/2, x_c - w/2, y_c + h/2, x_c + w/2)
_CENTER_TO_CORNERS = np.array([[0.0, 1.0, 0.0, 1.0],
                               [1.0, 0.0, 1.0, 0.0],
                               [0.0, -0.5, 0.0, 0.5],
                               [-0.5, 0.0, 0.5, 0.0]], np.float32)

COUNT_SUFFIX = "_num_boxes_selected"


def _static_scalar(ctx: OnnxContext, node: onnx.NodeProto, idx: int, what: str) -> float | None:
    """Value of optional scalar input ``idx`` (None when absent); run-time values are refused."""
    if len(node.input) <= idx or not node.input[idx]:
        return None
    value = ctx.const(node.input[idx])
    if value is None:
        raise node_error(node, f"{what} is computed at run time, but a DLC needs it at conversion time; "
                               "make it an initializer or Constant")
    arr = np.asarray(value).reshape(-1)
    if arr.size == 0:
        return None
    if arr.size != 1:
        raise node_error(node, f"{what} must hold one value, it has {arr.size}; pass a scalar")
    return arr[0].item()


def _corner_boxes(ctx: OnnxContext, node: onnx.NodeProto, boxes: str, center_point_box: int) -> str:
    """IR tensor of the boxes as corners (y1, x1, y2, x2)."""
    if center_point_box == 0:
        return boxes
    m = ctx.add_const(f"{node_name(node)}.center_to_corners", _CENTER_TO_CORNERS)
    out = ctx.graph.unique_name(f"{node.output[0]}.corners")
    return ctx.emit("MatMul", [boxes, m], [out], name=out)[0]


@onnx_op("NonMaxSuppression")
def nonmaxsuppression(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    """ONNX NonMaxSuppression -> QNN NonMaxSuppression (padded output + valid-count output)."""
    center_point_box = int(attrs(node).get("center_point_box", 0))
    if center_point_box not in (0, 1):
        raise node_error(node, f"center_point_box {center_point_box} is not defined by ONNX; use 0 (corners) or 1 "
                               "(centre, size)")
    boxes, scores = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    bshape, sshape = ctx.shape(node.input[0]), ctx.shape(node.input[1])
    if len(bshape) != 3 or bshape[2] != 4 or len(sshape) != 3 or sshape[0] != bshape[0] or sshape[2] != bshape[1]:
        raise node_error(node, f"boxes {list(bshape)} / scores {list(sshape)} must be [batch, num_boxes, 4] / "
                               "[batch, num_classes, num_boxes]")
    max_out = _static_scalar(ctx, node, 2, "max_output_boxes_per_class")
    if max_out is None or int(max_out) <= 0:
        given = "absent" if max_out is None else int(max_out)
        raise node_error(node, f"max_output_boxes_per_class is {given}, so ONNX always selects nothing and a DLC "
                               "cannot hold the empty result; give it a positive value or remove the node")
    iou = _static_scalar(ctx, node, 3, "iou_threshold")
    score = _static_scalar(ctx, node, 4, "score_threshold")
    params = {"iou_threshold": 0.0 if iou is None else float(iou),
              "score_threshold": -np.inf if score is None else float(score),
              "max_boxes_selected": min(int(max_out), int(bshape[1]))}
    out = node.output[0]
    count = ctx.graph.unique_name(out + COUNT_SUFFIX)
    ctx.emit("NonMaxSuppression", [_corner_boxes(ctx, node, boxes, center_point_box), scores], [out, count],
             params, name=node_name(node))

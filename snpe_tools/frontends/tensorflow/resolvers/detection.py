"""SSD post-processing: a scope (``Postprocessor``) that decodes boxes and runs NMS -> one DetectionOutput.

The scope is found from its NMS node (``CombinedNonMaxSuppression``) and claimed whole.  Its two
dynamic inputs are the box encodings ``[batch, anchors, 4]`` and the class predictions.  Rather
than pattern-matching every way a graph can write SSD's centre-size decoding, the decoding is
*measured*: TensorFlow runs the scope on chosen encodings (zeros give the anchors, ones give the
scale factors) and the result is verified on random encodings against DetectionOutput's formula
(``y = dy / y_scale * h_a + y_a``, ``h = exp(dh / h_scale) * h_a``, ...).  The score path is
likewise identified as sigmoid / softmax / identity, with or without a leading background column.
A scope that does not fit this form is a clear conversion error naming what differs.
"""
from __future__ import annotations

import logging

import numpy as np

from ....errors import ConversionError
from ..layers import make_layer
from ..model import node_of
from ..registry import resolver
from .common import candidates

log = logging.getLogger("snpe_tools")
NMS_OPS = ("CombinedNonMaxSuppression",)


def _ancestors_inside(model, tensor: str, inside: set[str]) -> set[str]:
    """Tensors entering ``inside`` that ``tensor`` depends on."""
    found, stack, seen = set(), [tensor], set()
    while stack:
        t = stack.pop()
        n = node_of(t)
        if n in seen:
            continue
        seen.add(n)
        if n not in inside:
            if model.is_dynamic(t):
                found.add(t)
            continue
        stack.extend(model.nodes[n].inputs)
    return found


@resolver("DetectionOutput", 5)
def detection_output(model, claimed):
    out = []
    for nms in candidates(model, claimed, NMS_OPS):
        scope = nms.name.split("/")[0] if "/" in nms.name else ""
        if not scope:
            continue
        inside = {n for n in model.topo if n.startswith(scope + "/") and n in model.dynamic and n not in claimed}
        boxes_in = _ancestors_inside(model, nms.inputs[0], inside)
        scores_in = _ancestors_inside(model, nms.inputs[1], inside)
        if len(boxes_in) != 1 or len(scores_in) != 1 or boxes_in == scores_in:
            continue
        outs = [f"{nms.name}:{i}" for i in range(4)]
        out.append(make_layer(model, "DetectionOutput", sorted(inside), outs, _translate, nms=nms.name,
                              encodings=boxes_in.pop(), predictions=scores_in.pop(), scope=scope))
    return out


def _measure_decoding(model, layer, nms, enc: str, shape) -> tuple[np.ndarray, np.ndarray]:
    """(anchors [A,4] as yc,xc,h,w; scales [4]) of the scope's box decoding, verified numerically."""
    from ....ops.detection import decode_boxes

    boxes_t = nms.inputs[0]
    feeds = {layer.info["predictions"]: np.zeros(model.static_shape(layer.info["predictions"]), np.float32)}

    def decode(e):
        b = model.run([boxes_t], dict(feeds, **{enc: e.astype(np.float32)}))[0]
        return np.asarray(b, np.float64).reshape(shape[0], shape[1], 4)[0]

    b0 = decode(np.zeros(shape))
    anchors = np.stack([(b0[:, 0] + b0[:, 2]) / 2, (b0[:, 1] + b0[:, 3]) / 2, b0[:, 2] - b0[:, 0],
                        b0[:, 3] - b0[:, 1]], axis=1)
    if (anchors[:, 2:] <= 0).any():
        raise ConversionError(f"{layer.name}: decoding zero box encodings gives empty anchors; the scope is not "
                              "SSD's centre-size box decoding")
    b1 = decode(np.ones(shape))
    c1 = np.stack([(b1[:, 0] + b1[:, 2]) / 2, (b1[:, 1] + b1[:, 3]) / 2, b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sy = np.median(anchors[:, 2] / (c1[:, 0] - anchors[:, 0]))
        sx = np.median(anchors[:, 3] / (c1[:, 1] - anchors[:, 1]))
        sh, sw = np.median(1 / np.log(c1[:, 2] / anchors[:, 2])), np.median(1 / np.log(c1[:, 3] / anchors[:, 3]))
    scales = np.asarray([sy, sx, sh, sw], np.float32)
    anchors = anchors.astype(np.float32)
    e = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32)
    want = decode(e)
    got = decode_boxes(e[0], anchors, scales)
    if not np.all(np.isfinite(scales)) or not np.allclose(got, want, rtol=1e-3, atol=1e-4):
        raise ConversionError(f"{layer.name}: the box decoding in scope '{layer.info['scope']}' is not SSD's "
                              "centre-size decoding (y = dy/y_scale*h_a + y_a, h = exp(dh/h_scale)*h_a); it cannot "
                              "become a DetectionOutput layer")
    return anchors, scales


def _measure_scores(model, layer, nms, shape_enc, shape_pred) -> tuple[str, int]:
    """How NMS scores derive from the class predictions: (activation, first class column)."""
    p = np.random.default_rng(1).normal(0, 2, shape_pred).astype(np.float32)
    s = np.asarray(model.run([nms.inputs[1]], {layer.info["predictions"]: p,
                                               layer.info["encodings"]: np.zeros(shape_enc, np.float32)})[0])
    s = s.reshape(s.shape[0], s.shape[1], -1)
    e = np.exp(p - p.max(-1, keepdims=True))
    forms = {"Sigmoid": 1 / (1 + np.exp(-p)), "Softmax": e / e.sum(-1, keepdims=True), "": p}
    for act, val in forms.items():
        for first in (0, 1):
            cand = val[..., first:]
            if cand.shape == s.shape and np.allclose(cand, s, rtol=1e-4, atol=1e-6):
                return act, first
    raise ConversionError(f"{layer.name}: the class scores fed to NMS are not sigmoid/softmax/identity of the "
                          "class predictions (optionally without the background column)")


def _translate(ctx, layer):
    model = ctx.model
    nms = model.nodes[layer.info["nms"]]
    enc, pred = layer.info["encodings"], layer.info["predictions"]
    shape_enc, shape_pred = ctx.shape(enc), ctx.shape(pred)
    if len(shape_pred) != 3 or int(np.prod(shape_enc)) != shape_pred[0] * shape_pred[1] * 4:
        raise ConversionError(f"{layer.name}: expected box encodings [batch, anchors, 4] and class predictions "
                              f"[batch, anchors, classes], got {list(shape_enc)} and {list(shape_pred)}")
    if shape_pred[0] != 1:
        raise ConversionError(f"{layer.name}: DetectionOutput supports batch 1 only")
    if nms.attr("clip_boxes", True):
        raise ConversionError(f"{layer.name}: CombinedNonMaxSuppression with clip_boxes=True is not supported "
                              "(DetectionOutput does not clip); build the graph with clip_boxes=False")
    per_class = int(ctx.require_const(layer, nms.inputs[2], "max_output_size_per_class"))
    total = int(ctx.require_const(layer, nms.inputs[3], "max_total_size"))
    if per_class < total:
        raise ConversionError(f"{layer.name}: max_output_size_per_class ({per_class}) below max_total_size "
                              f"({total}) has no DetectionOutput equivalent")
    iou = float(ctx.require_const(layer, nms.inputs[4], "iou_threshold"))
    conf = float(ctx.require_const(layer, nms.inputs[5], "score_threshold"))
    anchors, scales = _measure_decoding(model, layer, nms, enc, (shape_pred[0], shape_pred[1], 4))
    act, first = _measure_scores(model, layer, nms, shape_enc, shape_pred)
    x = ctx.tensor(enc)
    if tuple(shape_enc) != (shape_pred[0], shape_pred[1], 4):
        x = ctx.op("Reshape", [x], {"shape": [shape_pred[0], shape_pred[1], 4]}, name=f"{layer.name}/box_encodings")
    s = ctx.tensor(pred)
    if act:
        params = {"axis": 2} if act == "Softmax" else {}
        s = ctx.op(act, [s], params, name=f"{layer.name}/scores")
    if first:
        n = shape_pred[2]
        s = ctx.op("StridedSlice", [s], {"ranges": np.asarray([[0, shape_pred[0], 1], [0, shape_pred[1], 1],
                                                                 [first, n, 1]], np.int32)},
                   name=f"{layer.name}/drop_background")
    classes = shape_pred[2] - first
    params = {"delta_scaling_factors": scales, "confidence_threshold": conf, "iou_threshold": iou,
              "nms_type": 1, "background_class_idx": classes, "use_bg_in_nms": False, "output_background": False,
              "share_location": True, "detection_limit": total}
    a = ctx.add_const(f"{layer.name}/anchors", anchors)
    # QNN outputs: scores, boxes, classes, num_detections; TF: boxes, scores, classes, valid_detections
    ctx.multi("DetectionOutput", [x, s, a], [f"{nms.name}:1", f"{nms.name}:0", f"{nms.name}:2", f"{nms.name}:3"],
              params, name=layer.name)

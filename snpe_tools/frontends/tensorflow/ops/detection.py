"""SSD post-processing: a scope (``Postprocessor``) that decodes boxes and runs NMS -> one DetectionOutput.

Two forms of the NMS are recognised:

* ``CombinedNonMaxSuppression`` (TF2 exports);
* the Object Detection API's ``BatchMultiClassNonMaxSuppression``: a TF1 ``map`` (``while`` loop) over
  the batch with one ``NonMaxSuppressionV2..V5`` per class, a sort by score, ``ClipToWindow`` and
  padding to the total detection limit.  The whole ``.../BatchMultiClassNonMaxSuppression`` scope is
  the layer's name, as in SNPE's model tips.

The layer claims the whole top-level scope (decoding included).  Its two dynamic inputs are the box
encodings ``[batch, anchors, 4]`` and the class predictions.  Rather than pattern-matching every way a
graph can write SSD's centre-size decoding, the decoding is *measured*: TensorFlow runs the scope on
chosen encodings (zeros give the anchors, ones give the scale factors) and the result is verified on
random encodings against DetectionOutput's formula.  The score path is likewise identified as
sigmoid / softmax / identity, with or without a leading background column.  Finally the whole layer -
DetectionOutput plus clipping - is run against TensorFlow on random inputs, which also tells which
TensorFlow output is which result; any difference is a conversion error naming it.

DLC names follow SNPE: ``<layer>_scores``, ``_boxes``, ``_classes``, ``_num_detections``; an
``--out_node`` that only passes one of them on (``detection_boxes``) names the layer's tensors.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from ....errors import ConversionError
from ..layers import make_layer
from ..model import node_of
from ..patterns import candidates
from ..registry import resolver


log = logging.getLogger("snpe_tools")


NMS_OPS = ("CombinedNonMaxSuppression",)


PER_CLASS_NMS = ("NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5")


BATCH_NMS_SCOPE = "BatchMultiClassNonMaxSuppression"


RESULTS = ("scores", "boxes", "classes", "num_detections")       # QNN DetectionOutput's output order


SEED_ORDER = ("classes", "boxes", "scores")                         # DLC outputs, as SNPE's model tips list them


def _ancestors_inside(model, tensor: str, inside: set[str]) -> set[str]:
    """Dynamic tensors entering ``inside`` that ``tensor`` depends on."""
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


def _batch_scope(name: str) -> str | None:
    parts = name.split("/")
    for k, p in enumerate(parts[:-1]):
        if p == BATCH_NMS_SCOPE or p.startswith(BATCH_NMS_SCOPE + "_"):
            return "/".join(parts[:k + 1])
    return None


def _layer_outputs(model, nodes: set[str]) -> list[str]:
    outs = []
    for n in sorted(nodes, key=lambda m: model.index[m]):
        for i in range(model.n_outputs(model.nodes[n])):
            t = f"{n}:{i}"
            if t in model.outputs or any(c not in nodes and c in model.dynamic for c in model.consumers.get(t, [])):
                outs.append(t)
    return outs


@resolver("DetectionOutput", 5)
def detection_output(model, claimed):
    out, done = [], set()
    for nms in candidates(model, claimed, NMS_OPS + PER_CLASS_NMS):
        top = nms.name.split("/")[0] if "/" in nms.name else ""
        if not top or top in done:
            continue
        if nms.op in PER_CLASS_NMS:
            scope = _batch_scope(nms.name)
            if scope is None:
                continue
            nms_nodes = {n for n in model.topo if n.startswith(scope + "/") and n in model.dynamic}
            entries = {t for n in nms_nodes for t in model.nodes[n].inputs
                       if node_of(t) not in nms_nodes and model.is_dynamic(t)}
            boxes_t = _ancestors_inside(model, nms.inputs[0], nms_nodes) & entries
            scores_t = _ancestors_inside(model, nms.inputs[1], nms_nodes) & entries
            # loop bookkeeping (sizes, counters) can make one path also reach the other input
            boxes_t, scores_t = (boxes_t - scores_t or boxes_t), (scores_t - boxes_t or scores_t)
            if len(boxes_t) != 1 or len(scores_t) != 1 or boxes_t == scores_t:
                continue
            boxes_t, scores_t, name = boxes_t.pop(), scores_t.pop(), scope
        else:
            boxes_t, scores_t, name = nms.inputs[0], nms.inputs[1], top
        inside = {n for n in model.topo if n.startswith(top + "/") and n in model.dynamic and n not in claimed}
        enc_in = _ancestors_inside(model, boxes_t, inside)
        pred_in = _ancestors_inside(model, scores_t, inside)
        if len(enc_in) != 1 or len(pred_in) != 1 or enc_in == pred_in:
            continue
        done.add(top)
        layer = make_layer(model, "DetectionOutput", sorted(inside), _layer_outputs(model, inside), _translate,
                           nms=nms.name, encodings=enc_in.pop(), predictions=pred_in.pop(), scope=top,
                           boxes=boxes_t, scores=scores_t, per_class=nms.op in PER_CLASS_NMS,
                           nms_nodes=sorted(n for n in inside if model.nodes[n].op in PER_CLASS_NMS))
        layer.name = name
        out.append(layer)
    return out


# ---- measuring what the scope computes ---------------------------------------------------------------
def _measure_decoding(model, layer, enc: str, shape, shape_enc, shape_pred) -> tuple[np.ndarray, np.ndarray]:
    """(anchors [A,4] as yc,xc,h,w; scales [4]) of the scope's box decoding, verified numerically."""
    from ....ops.detection import decode_boxes

    feeds = {layer.info["predictions"]: np.zeros(shape_pred, np.float32)}

    def decode(e):
        b = model.run([layer.info["boxes"]], dict(feeds, **{enc: e.reshape(shape_enc).astype(np.float32)}))[0]
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
    for k, s in enumerate(scales):                  # scale factors are round numbers (10, 10, 5, 5)
        if abs(s - round(float(s), 3)) < 1e-4 * max(1.0, abs(float(s))):
            scales[k] = round(float(s), 3)
    anchors = anchors.astype(np.float32)
    e = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32)
    want = decode(e)
    got = decode_boxes(e[0], anchors, scales)
    if not np.all(np.isfinite(scales)) or not np.allclose(got, want, rtol=1e-3, atol=1e-4):
        raise ConversionError(f"{layer.name}: the box decoding in scope '{layer.info['scope']}' is not SSD's "
                              "centre-size decoding (y = dy/y_scale*h_a + y_a, h = exp(dh/h_scale)*h_a); it cannot "
                              "become a DetectionOutput layer")
    return anchors, scales


def _measure_scores(model, layer, shape_enc, shape_pred) -> tuple[str, int]:
    """How NMS scores derive from the class predictions: (activation, first class column)."""
    p = np.random.default_rng(1).normal(0, 2, shape_pred).astype(np.float32)
    s = np.asarray(model.run([layer.info["scores"]], {layer.info["predictions"]: p,
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


def _scalar(ctx, layer, t: str, what: str) -> float:
    """A constant NMS argument; ``min(limit, number of boxes)`` counts as ``limit``."""
    model = ctx.model
    v = ctx.const(t)
    if v is None:
        node = model.node(t)
        if node.op == "Minimum":
            vals = [ctx.const(i) for i in node.inputs]
            v = next((x for x in vals if x is not None), None)
    if v is None or np.size(v) != 1:
        raise ConversionError(f"{layer.name}: the NMS {what} ('{t}') must be a constant")
    return float(np.asarray(v).reshape(-1)[0])


def _nms_params(ctx, layer, total: int | None) -> dict:
    """(per-class limit, total limit, IoU threshold, score threshold, clip) of either NMS form."""
    model = ctx.model
    if not layer.info["per_class"]:
        nms = model.nodes[layer.info["nms"]]
        return {"per_class": int(_scalar(ctx, layer, nms.inputs[2], "max_output_size_per_class")),
                "total": int(_scalar(ctx, layer, nms.inputs[3], "max_total_size")),
                "iou": _scalar(ctx, layer, nms.inputs[4], "iou_threshold"),
                "score": _scalar(ctx, layer, nms.inputs[5], "score_threshold"),
                "clip": (0.0, 0.0, 1.0, 1.0) if nms.attr("clip_boxes", True) else None}
    found = set()
    for n in layer.info["nms_nodes"]:
        node = model.nodes[n]
        score = _scalar(ctx, layer, node.inputs[4], "score_threshold") if len(node.inputs) > 4 else -np.inf
        if node.op == "NonMaxSuppressionV5" and _scalar(ctx, layer, node.inputs[5], "soft_nms_sigma") != 0:
            raise ConversionError(f"{layer.name}: soft NMS (NonMaxSuppressionV5 '{n}' with soft_nms_sigma > 0) has "
                                  "no DetectionOutput equivalent")
        found.add((int(_scalar(ctx, layer, node.inputs[2], "max_output_size")),
                   _scalar(ctx, layer, node.inputs[3], "iou_threshold"), score))
    if len(found) != 1:
        raise ConversionError(f"{layer.name}: the per-class NMS ops use different limits or thresholds "
                              f"({sorted(found)}); DetectionOutput has one set")
    per_class, iou, score = found.pop()
    return {"per_class": per_class, "total": total, "iou": iou, "score": score, "clip": _clip_window(ctx, layer)}


def _clip_window(ctx, layer) -> tuple | None:
    """The constant [ymin, xmin, ymax, xmax] window the scope clips to (one per image, all equal), if any."""
    model = ctx.model
    scope = layer.name + "/"
    windows = set()
    # static values the scope reads directly, or through the TensorArray that hands them to the loop
    direct = {t for n in layer.nodes if n.startswith(scope) for t in model.nodes[n].inputs if not model.is_dynamic(t)}
    for t in list(direct):
        if model.node(t).op == "TensorArrayScatterV3":
            direct.add(model.node(t).inputs[2])
    for t in sorted(direct):
        if node_of(t) in model.frames or not model.tf_tensor(t).dtype.is_floating:
            continue
        v = np.asarray(ctx.const(t))                 # static shape may be unknown (batch from an image input)
        if v.ndim not in (1, 2) or v.shape[-1] != 4:
            continue
        v = v.reshape(-1, 4)
        if len(np.unique(v, axis=0)) == 1:
            windows.add(tuple(float(x) for x in v[0]))
    if len(windows) > 1:
        raise ConversionError(f"{layer.name}: several constant clip windows {sorted(windows)}; cannot tell which "
                              "one the scope uses")
    return windows.pop() if windows else None


# ---- the numpy model of what we emit, checked against TensorFlow ---------------------------------------
def _reference(params: dict, enc, pred, anchors, scales, act: str, first: int) -> dict[str, np.ndarray]:
    from ....ops.detection import DetectionOutput

    s = np.asarray(pred, np.float32)
    if act == "Sigmoid":
        s = 1 / (1 + np.exp(-s))
    elif act == "Softmax":
        e = np.exp(s - s.max(-1, keepdims=True))
        s = e / e.sum(-1, keepdims=True)
    s = s[..., first:].astype(np.float32)
    op = SimpleNamespace(name="check", params=params)
    res = DetectionOutput().compute(op, [np.asarray(enc, np.float32).reshape(s.shape[0], s.shape[1], 4), s, anchors])
    return dict(zip(RESULTS, res))


def _clip(boxes: np.ndarray, window) -> np.ndarray:
    lo = np.asarray(window[:2] * 2, np.float32)
    hi = np.asarray(window[2:] * 2, np.float32)
    return np.maximum(np.minimum(boxes, hi), lo)


def _verify(ctx, layer, params: dict, clip, anchors, scales, act, first, shape_enc, shape_pred) -> dict[str, str]:
    """Run the scope in TF on random inputs; map each layer output to a result ({tf tensor: result}).

    Raises when TensorFlow's outputs differ from DetectionOutput (+ clipping) on these inputs.
    """
    model = ctx.model
    rng = np.random.default_rng(7)
    mapping: dict[str, list[str]] = {}
    for trial in range(2):
        enc = rng.normal(0, 1, shape_enc).astype(np.float32)
        pred = rng.normal(-1.5 if trial else 0.0, 2, shape_pred).astype(np.float32)
        tf_out = model.run(layer.outputs, {layer.info["encodings"]: enc, layer.info["predictions"]: pred})
        ours = _reference(params, enc, pred, anchors, scales, act, first)
        if clip is not None:
            ours["boxes"] = _clip(ours["boxes"], clip)
        for t, v in zip(layer.outputs, tf_out):
            v = np.asarray(v)
            match = [r for r in RESULTS if np.shape(ours[r]) == v.shape and (
                np.array_equal(ours[r], v) if r in ("classes", "num_detections") else
                np.allclose(ours[r], v, rtol=1e-4, atol=1e-5))]
            if not match:
                raise ConversionError(
                    f"{layer.name}: output '{t}' of the scope does not equal any DetectionOutput result on a test "
                    f"input (TF gives shape {list(v.shape)}); this post-processing has no exact DetectionOutput "
                    "equivalent")
            left = [r for r in match if t not in mapping or r in mapping[t]]
            if not left:
                raise ConversionError(f"{layer.name}: output '{t}' of the scope is not one DetectionOutput result")
            mapping[t] = left
    return {t: rs[0] for t, rs in mapping.items()}


def _translate(ctx, layer):
    model = ctx.model
    enc, pred = layer.info["encodings"], layer.info["predictions"]
    shape_enc, shape_pred = ctx.shape(enc), ctx.shape(pred)
    if len(shape_pred) != 3 or int(np.prod(shape_enc)) != shape_pred[0] * shape_pred[1] * 4:
        raise ConversionError(f"{layer.name}: expected box encodings [batch, anchors, 4] and class predictions "
                              f"[batch, anchors, classes], got {list(shape_enc)} and {list(shape_pred)}")
    if shape_pred[0] != 1:
        raise ConversionError(f"{layer.name}: DetectionOutput supports batch 1 only")
    box_outs = [t for t in layer.outputs if len(ctx.shape(t)) == 3 and ctx.shape(t)[-1] == 4]
    params = _nms_params(ctx, layer, ctx.shape(box_outs[0])[1] if box_outs else None)
    if params["total"] is None:
        raise ConversionError(f"{layer.name}: no [batch, detections, 4] boxes output; not an SSD post-processing")
    if params["per_class"] < params["total"]:
        raise ConversionError(f"{layer.name}: max_output_size_per_class ({params['per_class']}) below "
                              f"max_total_size ({params['total']}) has no DetectionOutput equivalent")
    anchors, scales = _measure_decoding(model, layer, enc, (shape_pred[0], shape_pred[1], 4), shape_enc, shape_pred)
    act, first = _measure_scores(model, layer, shape_enc, shape_pred)
    classes = shape_pred[2] - first
    # TF keeps scores strictly above the threshold, DetectionOutput at or above it
    conf = float(np.nextafter(np.float32(params["score"]), np.float32(np.inf))) if np.isfinite(params["score"]) \
        else float(np.finfo(np.float32).min)
    qnn = {"delta_scaling_factors": scales, "confidence_threshold": conf, "iou_threshold": params["iou"],
           "nms_type": 1, "background_class_idx": classes, "use_bg_in_nms": False, "output_background": False,
           "share_location": True, "nms_eta": 1.0, "detection_limit": params["total"]}
    mapping = _verify(ctx, layer, qnn, params["clip"], anchors, scales, act, first, shape_enc, shape_pred)

    x = ctx.tensor(enc)
    if tuple(shape_enc) != (shape_pred[0], shape_pred[1], 4):
        x = ctx.op("Reshape", [x], {"shape": [shape_pred[0], shape_pred[1], 4]}, name=f"{layer.name}/box_encodings")
    s = ctx.tensor(pred)
    if act:
        s = ctx.op(act, [s], {"axis": 2} if act == "Softmax" else {}, name=f"{layer.name}/scores")
    if first:
        s = ctx.op("StridedSlice", [s], {"ranges": np.asarray([[0, shape_pred[0], 1], [0, shape_pred[1], 1],
                                                                 [first, shape_pred[2], 1]], np.int32)},
                   name=f"{layer.name}/drop_background")
    a = ctx.add_const(f"{layer.name}/anchors", anchors)
    names = {r: f"{layer.name}_{r}" for r in RESULTS}
    raw = dict(names)
    if params["clip"] is not None:
        raw["boxes"] = f"{layer.name}/unclipped_boxes"
    res = dict(zip(RESULTS, ctx.multi("DetectionOutput", [x, s, a], [raw[r] for r in RESULTS], qnn,
                                      name=layer.name)))
    if params["clip"] is not None:
        y0, x0, y1, x1 = params["clip"]
        if (y0, x0) == (0.0, 0.0) and (y1, x1) == (1.0, 1.0):
            res["boxes"] = ctx.op("ReluMinMax", [res["boxes"]], {"min_value": 0.0, "max_value": 1.0},
                                  out=names["boxes"], name=f"{layer.name}/clip")
        else:
            lo = ctx.add_const(f"{layer.name}/clip_min", np.asarray([y0, x0, y0, x0], np.float32))
            hi = ctx.add_const(f"{layer.name}/clip_max", np.asarray([y1, x1, y1, x1], np.float32))
            m = ctx.op("ElementWiseMinimum", [res["boxes"], hi], name=f"{layer.name}/clip_max")
            res["boxes"] = ctx.op("ElementWiseMaximum", [m, lo], out=names["boxes"], name=f"{layer.name}/clip")
    group = [res[r] for r in SEED_ORDER]
    for t, r in mapping.items():
        ir = res[r]
        want = np.dtype(model.dtype(t))
        if want != ctx.graph.tensors[ir].dtype:          # num_detections as float (the export's ToFloat)
            from ....ir import dtypes as qd
            ir = ctx.op("Cast", [ir], {"to": qd.to_qnn(want)}, name=f"{layer.name}_{r}_{want.name}")
        ctx.alias(t, ir)
        if r in SEED_ORDER:
            ctx.output_groups[ir] = group

"""Graphs shaped like the public TF1 exports the seed's model tips convert, built with tf.compat.v1 code.

The Object Detection API and DeepLab cannot be installed here, so their frozen exports are rebuilt
node for node where it matters to a converter, at small width (channels) but full input resolution:

* ``ssd_mobilenet_v2``: ``image_tensor`` (uint8 [?,?,?,3]) -> ``Preprocessor`` (ToFloat, a ``map``
  ``while`` loop resizing each image to 300x300, ``mul`` by 2/255, ``sub`` 1) -> ``FeatureExtractor/
  MobilenetV2`` (inverted residual blocks, ``layer_19_*`` extra layers) -> ``BoxPredictor_0..5`` (six
  feature maps 19/10/5/3/2/1, 3 or 6 anchors per cell: 1917 anchors) -> ``concat``/``Squeeze``/
  ``concat_1`` -> ``Postprocessor`` (anchors folded to a constant, ``Decode`` with scale factors
  10/10/5/5, ``convert_scores`` sigmoid, ``Slice`` dropping the background column,
  ``BatchMultiClassNonMaxSuppression`` as ``map/while`` over the batch with one ``NonMaxSuppressionV3``
  (or ``V5``) per class, sort by score, ``ClipToWindow`` with the non-overlap filter, padding to
  ``max_total_size``) -> ``detection_boxes`` / ``detection_scores`` / ``detection_classes`` (+1 label
  offset, node ``add``) / ``num_detections``.  With ``qat=True`` the graph is what TF's
  quantization-aware rewrite exports: batch norms folded into the weights, ``weights_quant/
  FakeQuantWithMinMaxVars`` (narrow range) on every filter, ``act_quant/FakeQuantWithMinMaxVars``
  after every convolution/activation and residual ``add`` (ranges calibrated on sample images).
  The clip window derives, as in the OD API, from the resize loop's "true image shape" output, so
  the kept graph still reads ``image_tensor`` (for a value that does not depend on it).
* ``deeplabv3_mnv2``: ``ImageTensor`` (uint8 [1,?,?,3]) -> ``ToFloat`` -> aspect-preserving
  ``ResizeBilinear`` to 513 on the long side -> ``pad_to_bounding_box`` with the mean pixel 128 ->
  ``mul_1`` by 0.00784313771874 -> ``sub_7`` -> ``MobilenetV2`` (atrous depthwise convs via
  SpaceToBatchND/BatchToSpaceND, output stride 8) -> ASPP (image pooling, 1x1, atrous branch) ->
  ``logits/semantic`` -> ``ResizeBilinear_2`` -> ``ArgMax``.
"""
from __future__ import annotations

import contextlib

import numpy as np

from tf_models import Slim, tf, v1, write_pb

SSD_SIZE = 300
SSD_MAPS = (19, 10, 5, 3, 2, 1)
SSD_ANCHORS_PER_CELL = (3, 6, 6, 6, 6, 6)
SSD_SCALES = (10.0, 10.0, 5.0, 5.0)
SSD_CLASSES = 6                     # without background (COCO has 90)
SSD_MAX_DET = 20                    # max_detections_per_class = max_total_detections (as in the COCO configs)
SSD_IOU, SSD_SCORE = 0.6, 0.6


@contextlib.contextmanager
def v1_control_flow():
    """Build with TF1 control flow (Enter/Exit/Switch/Merge/TensorArrayV3), as the 2018/2019 exports have it."""
    from tensorflow.python.ops import control_flow_util

    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved


# ---- quantization-aware layers ------------------------------------------------------------------
class QatSlim(Slim):
    """Slim layers plus TF's quantization-aware rewrite: folded batch norm, FakeQuant on weights/activations.

    ``ranges`` maps an activation's scope to its calibrated (min, max); ``None`` builds the float graph
    and records the activations to calibrate in ``self.acts``.
    """

    def __init__(self, seed: int, ranges: dict | None, qat: bool) -> None:
        super().__init__(seed, variables=False)
        self.ranges, self.qat, self.acts = ranges, qat, {}

    def act_quant(self, y, scope: str, name: str = "act_quant"):
        self.acts[scope] = y
        if not self.qat or self.ranges is None:
            return y
        lo, hi = self.ranges[scope]
        with v1.variable_scope(name):
            mn = tf.constant(np.float32(lo), name="min")
            mx = tf.constant(np.float32(hi), name="max")
            return tf.quantization.fake_quant_with_min_max_vars(y, mn, mx, num_bits=8, narrow_range=False,
                                                                name="FakeQuantWithMinMaxVars")

    def weights_quant(self, w, per_channel: bool = False):
        if not self.qat:
            return w
        with v1.variable_scope("weights_quant"):
            if per_channel:
                mn = tf.constant(w.min(axis=(0, 1, 2)), name="min")
                mx = tf.constant(w.max(axis=(0, 1, 2)), name="max")
                return tf.quantization.fake_quant_with_min_max_vars_per_channel(
                    tf.constant(w, name="weights_fold"), mn, mx, num_bits=8, narrow_range=True,
                    name="FakeQuantWithMinMaxVarsPerChannel")
            return tf.quantization.fake_quant_with_min_max_vars(
                tf.constant(w, name="weights_fold"), tf.constant(np.float32(w.min()), name="min"),
                tf.constant(np.float32(w.max()), name="max"), num_bits=8, narrow_range=True,
                name="FakeQuantWithMinMaxVars")

    def qconv(self, x, depth: int, k: int, stride: int = 1, scope: str = "Conv", act: str | None = "relu6",
              depthwise: bool = False, bn: bool = True, rate: int = 1, per_channel: bool = False,
              gain: float = 1.0, shift: float = 0.0):
        """Conv (or depthwise) + bias (folded BN) + activation, each output FakeQuant'ed under QAT."""
        cin = int(x.shape[-1])
        with v1.variable_scope(scope):
            shape = (k, k, cin, 1) if depthwise else (k, k, cin, depth)
            fan = k * k * (1 if depthwise else cin)
            w = self.rng.normal(0, (2.0 / fan) ** 0.5, shape).astype(np.float32)
            b = self.rng.normal(0, 0.1, shape[2] * shape[3] if depthwise else depth).astype(np.float32)
            if bn:
                gamma = self.rng.uniform(0.5, 1.5, b.shape).astype(np.float32)
                var = self.rng.uniform(0.5, 1.5, b.shape).astype(np.float32)
                scale = gamma / np.sqrt(var + 1e-3)
                w = (w * (scale.reshape(shape[2], shape[3]) if depthwise else scale)).astype(np.float32)
                b = (b * scale).astype(np.float32)
            w, b = (w * gain).astype(np.float32), (b * gain + shift).astype(np.float32)
            wt = self.weights_quant(w, per_channel) if self.qat else tf.constant(w, name="weights")
            if depthwise:
                y = tf.nn.depthwise_conv2d(x, wt, [1, stride, stride, 1], "SAME", dilations=[rate, rate],
                                           name="depthwise")
            else:
                y = tf.nn.conv2d(x, wt, [1, stride, stride, 1], "SAME", name="Conv2D_Fold" if self.qat else "Conv2D")
            y = tf.add(y, tf.constant(b, name="biases"), name="add_fold" if self.qat else "BiasAdd")
            if act == "relu6":
                y = tf.nn.relu6(y, name="Relu6")
            elif act == "relu":
                y = tf.nn.relu(y, name="Relu")
            return self.act_quant(y, v1.get_variable_scope().name)


def _inverted_residual(s: QatSlim, x, expand: int, out: int, stride: int, scope: str, rate: int = 1):
    with v1.variable_scope(scope):
        cin = int(x.shape[-1])
        net = x if expand == 1 else s.qconv(x, cin * expand, 1, scope="expand")
        net = s.qconv(net, 0, 3, stride, scope="depthwise", depthwise=True, rate=rate)
        net = s.qconv(net, out, 1, scope="project", act=None)
        if stride == 1 and cin == out:
            net = s.act_quant(tf.add(net, x, name="add"), v1.get_variable_scope().name + "/add", "add_quant")
        return net


# ---- SSD MobileNet V2 (Object Detection API export) ---------------------------------------------
def ssd_anchor_corners() -> np.ndarray:
    """The grid anchors of the six feature maps as corners (ymin, xmin, ymax, xmax), anchor-generator order."""
    rows = []
    scales = np.linspace(0.2, 0.95, len(SSD_MAPS) + 1)
    for m, (size, per_cell) in enumerate(zip(SSD_MAPS, SSD_ANCHORS_PER_CELL)):
        ratios = (1.0, 2.0, 0.5) if per_cell == 3 else (1.0, 2.0, 0.5, 3.0, 1 / 3, 1.0)
        for i in range(size):
            for j in range(size):
                for k, r in enumerate(ratios):
                    sc = scales[m] if k < 5 else (scales[m] * scales[m + 1]) ** 0.5
                    if per_cell == 3 and k == 0:
                        sc = 0.1
                    h, w = sc / r ** 0.5, sc * r ** 0.5
                    yc, xc = (i + 0.5) / size, (j + 0.5) / size
                    rows.append([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2])
    return np.asarray(rows, np.float32)


def _feature_extractor(s: QatSlim, x):
    feats = []
    with v1.variable_scope("FeatureExtractor/MobilenetV2"):
        net = s.qconv(x, 8, 3, 2, scope="Conv")                                   # 150
        net = _inverted_residual(s, net, 1, 8, 1, "expanded_conv")
        net = _inverted_residual(s, net, 3, 8, 2, "expanded_conv_1")              # 75
        net = _inverted_residual(s, net, 3, 8, 1, "expanded_conv_2")
        net = _inverted_residual(s, net, 3, 12, 2, "expanded_conv_3")             # 38
        net = _inverted_residual(s, net, 3, 16, 2, "expanded_conv_4")             # 19
        net = _inverted_residual(s, net, 3, 16, 1, "expanded_conv_5")
        feats.append(net)
        net = _inverted_residual(s, net, 3, 24, 2, "expanded_conv_6")             # 10
        net = s.qconv(net, 32, 1, scope="Conv_1")
        feats.append(net)
        for i, depth in enumerate((32, 16, 16, 16), start=2):
            net = s.qconv(net, depth // 2, 1, scope=f"layer_19_1_Conv2d_{i}_1x1_{depth // 2}")
            net = s.qconv(net, depth, 3, 2, scope=f"layer_19_2_Conv2d_{i}_3x3_s2_{depth}")
            feats.append(net)
    return feats


def _box_predictors(s: QatSlim, feats):
    encs, preds = [], []
    for i, (f, per_cell) in enumerate(zip(feats, SSD_ANCHORS_PER_CELL)):
        with v1.variable_scope(f"BoxPredictor_{i}"):
            e = s.qconv(f, per_cell * 4, 1, scope="BoxEncodingPredictor", act=None, bn=False, per_channel=True,
                        gain=0.5)
            c = s.qconv(f, per_cell * (SSD_CLASSES + 1), 1, scope="ClassPredictor", act=None, bn=False, gain=0.25,
                        shift=-1.0)
            batch = tf.shape(f)[0]           # the export's reshapes keep the batch dynamic
            encs.append(tf.reshape(e, tf.stack([batch, -1, 1, 4]), name="Reshape"))
            preds.append(tf.reshape(c, tf.stack([batch, -1, SSD_CLASSES + 1]), name="Reshape_1"))
    enc = tf.concat(encs, 1, name="concat")
    return tf.squeeze(enc, 2, name="Squeeze"), tf.concat(preds, 1, name="concat_1")


def _decode(enc, anchors: np.ndarray):
    """faster_rcnn_box_coder.decode on the batch, as SSDMetaArch._batch_decode writes it."""
    with v1.name_scope("Decode"):
        a = tf.constant(anchors, name="anchors")
        with v1.name_scope("get_center_coordinates_and_sizes"):
            ymin, xmin, ymax, xmax = tf.unstack(tf.transpose(a))
            ha, wa = ymax - ymin, xmax - xmin
            yca, xca = ymin + ha / 2.0, xmin + wa / 2.0
        ty, tx, th, tw = tf.unstack(tf.transpose(tf.reshape(enc, [-1, 4])))
        ty, tx, th, tw = ty / SSD_SCALES[0], tx / SSD_SCALES[1], th / SSD_SCALES[2], tw / SSD_SCALES[3]
        w, h = tf.exp(tw) * wa, tf.exp(th) * ha
        yc, xc = ty * ha + yca, tx * wa + xca
        boxes = tf.transpose(tf.stack([yc - h / 2.0, xc - w / 2.0, yc + h / 2.0, xc + w / 2.0]))
    return tf.reshape(boxes, tf.stack([tf.shape(enc)[0], tf.shape(enc)[1], 4]), name="Reshape_1")


def _multiclass_nms(boxes, scores, clip_window, v5: bool, soft_sigma: float = 0.0):
    """post_processing.multiclass_non_max_suppression for one image: per-class NMS, sort, clip, top-k."""
    with v1.name_scope("MultiClassNonMaxSuppression"):
        num_scores = tf.shape(scores)[0]
        per_class_boxes = tf.unstack(boxes, axis=1)[0]
        sel_boxes, sel_scores, sel_classes = [], [], []
        for c in range(SSD_CLASSES):
            class_scores = tf.reshape(tf.slice(scores, [0, c], tf.stack([num_scores, 1])), [-1])
            size = tf.minimum(SSD_MAX_DET, tf.shape(per_class_boxes)[0])
            if v5:
                idx, _ = tf.image.non_max_suppression_with_scores(per_class_boxes, class_scores, size, SSD_IOU,
                                                                  SSD_SCORE, soft_nms_sigma=soft_sigma)
            else:
                idx = tf.image.non_max_suppression(per_class_boxes, class_scores, size, SSD_IOU, SSD_SCORE)
            sc = tf.gather(class_scores, idx)
            sel_boxes.append(tf.gather(per_class_boxes, idx))
            sel_scores.append(sc)
            sel_classes.append(tf.zeros_like(sc) + c)
        b, sc, cl = tf.concat(sel_boxes, 0), tf.concat(sel_scores, 0), tf.concat(sel_classes, 0)
        with v1.name_scope("SortByField"):
            _, order = tf.nn.top_k(sc, tf.size(sc), sorted=True)
            b, sc, cl = tf.gather(b, order), tf.gather(sc, order), tf.gather(cl, order)
        with v1.name_scope("ClipToWindow"):
            y0, x0, y1, x1 = tf.split(b, 4, axis=1)
            wy0, wx0, wy1, wx1 = tf.unstack(clip_window)
            y0 = tf.maximum(tf.minimum(y0, wy1), wy0)
            y1 = tf.maximum(tf.minimum(y1, wy1), wy0)
            x0 = tf.maximum(tf.minimum(x0, wx1), wx0)
            x1 = tf.maximum(tf.minimum(x1, wx1), wx0)
            b = tf.concat([y0, x0, y1, x1], 1)
            area = tf.squeeze((y1 - y0) * (x1 - x0), [1])
            keep = tf.cast(tf.reshape(tf.where(tf.greater(area, 0.0)), [-1]), tf.int32)
            b, sc, cl = tf.gather(b, keep), tf.gather(sc, keep), tf.gather(cl, keep)
        total = tf.minimum(SSD_MAX_DET, tf.shape(sc)[0])
        rng = tf.range(total)
        return tf.gather(b, rng), tf.gather(sc, rng), tf.gather(cl, rng), total


def _pad_to(t, n: int):
    """box_list_ops.pad_or_clip_box_list: zero rows up to ``n``."""
    pad = [[0, n - tf.shape(t)[0]]] + [[0, 0]] * (len(t.shape) - 1)
    out = tf.pad(t, pad)
    out.set_shape([n] + t.shape.as_list()[1:])
    return out


def _postprocessor(enc, pred, preprocessed, true_shapes, v5: bool, soft_sigma: float = 0.0):
    with v1.name_scope("Postprocessor"):
        boxes = tf.identity(_decode(enc, ssd_anchor_corners()), name="raw_box_locations")
        boxes = tf.expand_dims(boxes, 2, name="ExpandDims")
        scores = tf.identity(tf.sigmoid(pred, name="convert_scores"), name="raw_box_scores")
        scores = tf.slice(scores, [0, 0, 1], [-1, -1, -1], name="Slice")
        # SSDMetaArch._compute_clip_window: true image size over the padded (preprocessed) size
        shape = tf.shape(preprocessed)
        true_h, true_w, _ = tf.unstack(tf.cast(true_shapes, tf.float32), axis=1)
        padded_h, padded_w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        clip_window = tf.stack([tf.zeros_like(true_h), tf.zeros_like(true_w), true_h / padded_h, true_w / padded_w],
                               axis=1, name="clip_window")
        with v1.name_scope("BatchMultiClassNonMaxSuppression"):
            num_valid = tf.ones([tf.shape(boxes)[0]], tf.int32) * tf.shape(boxes)[1]

            def one_image(args):
                b, s, w, n = args
                b = tf.reshape(tf.slice(b, [0, 0, 0], tf.stack([n, -1, -1])), [-1, 1, 4])
                s = tf.reshape(tf.slice(s, [0, 0], tf.stack([n, -1])), [-1, SSD_CLASSES])
                nb, ns, nc, count = _multiclass_nms(b, s, w, v5, soft_sigma)
                return [_pad_to(nb, SSD_MAX_DET), _pad_to(ns, SSD_MAX_DET), _pad_to(nc, SSD_MAX_DET), count]

            nb, ns, nc, count = tf.map_fn(one_image, [boxes, scores, clip_window, num_valid],
                                          dtype=[tf.float32, tf.float32, tf.float32, tf.int32],
                                          parallel_iterations=32)
        num = tf.cast(count, tf.float32, name="ToFloat")
    tf.identity(nb, name="detection_boxes")
    tf.identity(ns, name="detection_scores")
    tf.identity(tf.add(nc, 1.0, name="add"), name="detection_classes")
    tf.identity(num, name="num_detections")


def _preprocessor(size: int):
    image = v1.placeholder(tf.uint8, [None, None, None, 3], name="image_tensor")
    with v1.name_scope("Preprocessor"):
        x = tf.cast(image, tf.float32, name="ToFloat")

        def resize(im):          # the fixed-shape resizer returns the image and its "true" shape
            out = v1.image.resize_bilinear(im[None], [size, size], name="ResizeImage")[0]
            return [out, tf.stack([size, size, tf.shape(im)[2]])]

        resized, true_shapes = tf.map_fn(resize, x, dtype=[tf.float32, tf.int32])
        resized.set_shape([None, size, size, 3])
        return tf.subtract(tf.multiply(2.0 / 255.0, resized, name="mul"), 1.0, name="sub"), true_shapes


def _ssd_graph(seed: int, ranges: dict | None, qat: bool, v5: bool, soft_sigma: float = 0.0):
    s = QatSlim(seed, ranges, qat)
    g = tf.Graph()
    with v1_control_flow(), g.as_default():
        x, true_shapes = _preprocessor(SSD_SIZE)
        x = s.act_quant(x, "Preprocessor/sub")
        enc, pred = _box_predictors(s, _feature_extractor(s, x))
        _postprocessor(enc, pred, x, true_shapes, v5, soft_sigma)
    return g, s.acts


SSD_OUTPUTS = ["detection_boxes", "detection_scores", "detection_classes", "num_detections"]


def ssd_sample_images(n: int, seed: int = 11) -> list[np.ndarray]:
    """Synthetic uint8 photos: smooth backgrounds with a few bright rectangles (objects)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = rng.integers(240, 480, 2)
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(yy * rng.uniform(0.1, 0.5) + xx * rng.uniform(0.1, 0.5)) % 256] * 3, -1)
        for _ in range(4):
            y0, x0 = rng.integers(0, h - 40), rng.integers(0, w - 40)
            img[y0:y0 + rng.integers(30, 120), x0:x0 + rng.integers(30, 120)] = rng.integers(0, 256, 3)
        out.append(np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)[None])
    return out


def ssd_mobilenet_v2(path: str, qat: bool = False, seed: int = 3, soft_sigma: float = 0.0) -> str:
    """The SSD MobileNet V2 export (float, or quantization-aware with FakeQuant ranges calibrated here);
    ``soft_sigma`` > 0: soft NMS (``NonMaxSuppressionV5``), which has no DetectionOutput equivalent."""
    ranges = None
    if qat:
        g, acts = _ssd_graph(seed, None, True, v5=True)
        names = sorted(acts)
        with v1.Session(graph=g) as sess:
            lo = {k: np.inf for k in names}
            hi = {k: -np.inf for k in names}
            for img in ssd_sample_images(3, seed=5):
                vals = sess.run([acts[k] for k in names], {"image_tensor:0": img})
                for k, v in zip(names, vals):
                    lo[k], hi[k] = min(lo[k], float(v.min())), max(hi[k], float(v.max()))
        ranges = {k: (min(lo[k], 0.0), max(hi[k], 0.0)) for k in names}
    g, _ = _ssd_graph(seed, ranges, qat, v5=qat or soft_sigma > 0, soft_sigma=soft_sigma)
    return write_pb(g.as_graph_def(), path)


def preprocess_ssd(img: np.ndarray) -> np.ndarray:
    """What the graph's Preprocessor computes (the app's job once the graph is cut at Preprocessor/sub)."""
    with tf.Graph().as_default(), v1.Session() as sess:
        x = tf.constant(img.astype(np.float32))
        return sess.run(v1.image.resize_bilinear(x, [SSD_SIZE, SSD_SIZE]) * (2.0 / 255.0) - 1.0)


# ---- DeepLabv3 MobileNetV2 (DeepLab export) ------------------------------------------------------
DEEPLAB_SIZE = 513
DEEPLAB_CLASSES = 21


def deeplabv3_mnv2(path: str, seed: int = 4) -> str:
    s = QatSlim(seed, None, qat=False)
    g = tf.Graph()
    with g.as_default():
        image = v1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        x = tf.cast(image, tf.float32, name="ToFloat")
        shape = tf.cast(tf.shape(x)[1:3], tf.float32)
        ratio = DEEPLAB_SIZE / tf.reduce_max(shape)
        new = tf.cast(tf.round(shape * ratio), tf.int32)
        x = v1.image.resize_bilinear(x, new, align_corners=True, name="ResizeBilinear")
        with v1.name_scope("pad_to_bounding_box"):
            pad = tf.stack([[0, 0], [0, DEEPLAB_SIZE - new[0]], [0, DEEPLAB_SIZE - new[1]], [0, 0]])
            x = tf.pad(x - 128.0, pad) + 128.0
        x = tf.reshape(x, [1, DEEPLAB_SIZE, DEEPLAB_SIZE, 3])
        x = tf.subtract(tf.multiply(x, 0.00784313771874, name="mul_1"), 1.0, name="sub_7")
        with v1.variable_scope("MobilenetV2"):
            net = s.qconv(x, 8, 3, 2, scope="Conv")                                  # 257
            net = _inverted_residual(s, net, 1, 8, 1, "expanded_conv")
            net = _inverted_residual(s, net, 3, 8, 2, "expanded_conv_1")             # 129
            net = _inverted_residual(s, net, 3, 12, 2, "expanded_conv_2")            # 65
            net = _inverted_residual(s, net, 3, 12, 1, "expanded_conv_3", rate=2)    # atrous (output stride 8)
            net = _inverted_residual(s, net, 3, 16, 1, "expanded_conv_4", rate=2)
            net = _inverted_residual(s, net, 3, 16, 1, "expanded_conv_5", rate=4)
        h = int(net.shape[1])
        with v1.variable_scope("image_pooling"):
            p = tf.reduce_mean(net, [1, 2], keepdims=True, name="Mean")
        p = s.qconv(p, 8, 1, scope="image_pooling/conv", act="relu")
        p = v1.image.resize_bilinear(p, [h, h], align_corners=True, name="ResizeBilinear_1")
        a0 = s.qconv(net, 8, 1, scope="aspp0", act="relu")
        a1 = s.qconv(net, 0, 3, scope="aspp1_depthwise", depthwise=True, rate=6, act="relu")
        a1 = s.qconv(a1, 8, 1, scope="aspp1_pointwise", act="relu")
        net = tf.concat([p, a0, a1], 3, name="concat")
        net = s.qconv(net, 8, 1, scope="concat_projection", act="relu")
        logits = s.qconv(net, DEEPLAB_CLASSES, 1, scope="logits/semantic", act=None, bn=False)
        up = v1.image.resize_bilinear(logits, [DEEPLAB_SIZE, DEEPLAB_SIZE], align_corners=True,
                                      name="ResizeBilinear_2")
        arg = tf.argmax(up, 3, name="ArgMax")
        crop = tf.slice(arg, [0, 0, 0], tf.stack([1, new[0], new[1]]))
        out = v1.image.resize_nearest_neighbor(tf.expand_dims(crop, 3), tf.shape(image)[1:3], align_corners=True)
        tf.squeeze(out, 3, name="SemanticPredictions")
    return write_pb(g.as_graph_def(), path)


def deeplab_sample_images(n: int, seed: int = 13) -> list[np.ndarray]:
    return ssd_sample_images(n, seed)

"""TensorFlow test models, built at test time (nothing large is committed).

* ``slim_inception_v3``: the InceptionV3 topology with TF1/slim names (``InceptionV3/Conv2d_1a_3x3/...``,
  output ``InceptionV3/Predictions/Reshape_1``) at reduced width, frozen like
  ``inception_v3_2016_08_28_frozen.pb`` (variables -> Const + ``/read`` Identity).
* Keras 3 / tf_keras applications with re-randomised weights (``weights=None`` gives degenerate
  outputs), frozen to ``.pb``, exported as a SavedModel, or saved as ``.meta`` + checkpoint.
* DeepLab-style (atrous conv through SpaceToBatchND/BatchToSpaceND, ResizeBilinear, ArgMax) and
  SSD-style (box decoding + combined NMS in a ``Postprocessor`` scope) graphs.
"""
from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1


# ---- TF1 helpers -------------------------------------------------------------------------------
class Slim:
    """Just enough of slim's conv2d/batch_norm/pooling, with slim's scope names, on random weights."""

    def __init__(self, seed: int = 0, variables: bool = True) -> None:
        self.rng = np.random.default_rng(seed)
        self.variables = variables

    def var(self, name: str, value: np.ndarray):
        value = value.astype(np.float32)
        if self.variables:
            return v1.get_variable(name, initializer=tf.constant(value), trainable=True)
        return tf.constant(value, name=name)

    def conv(self, x, depth: int, k, stride: int = 1, padding: str = "SAME", scope: str = "Conv", bn: bool = True,
             relu: bool = True, rate: int = 1):
        kh, kw = (k, k) if isinstance(k, int) else k
        cin = int(x.shape[-1])
        with v1.variable_scope(scope):
            w = self.var("weights", self.rng.normal(0, (1.0 / (kh * kw * cin)) ** 0.5, (kh, kw, cin, depth)))
            y = tf.nn.conv2d(x, w, [1, stride, stride, 1], padding, dilations=[1, rate, rate, 1], name="Conv2D")
            if bn:
                with v1.variable_scope("BatchNorm"):
                    gamma = self.var("gamma", self.rng.uniform(0.5, 1.5, depth))
                    beta = self.var("beta", self.rng.normal(0, 0.1, depth))
                    mean = self.var("moving_mean", self.rng.normal(0, 0.1, depth))
                    var = self.var("moving_variance", self.rng.uniform(0.5, 1.5, depth))
                    y, _, _ = v1.nn.fused_batch_norm(y, gamma, beta, mean, var, epsilon=1e-3, is_training=False,
                                                     name="FusedBatchNormV3")
            else:
                b = self.var("biases", self.rng.normal(0, 0.1, depth))
                y = tf.nn.bias_add(y, b, name="BiasAdd")
            if relu:
                y = tf.nn.relu(y, name="Relu")
        return y


def freeze_session(sess, out_nodes: list[str]):
    return v1.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), out_nodes)


def write_pb(graph_def, path: str) -> str:
    with open(path, "wb") as fh:
        fh.write(graph_def.SerializeToString())
    return path


def run_graph_def(graph_def, feeds: dict[str, np.ndarray], fetches: list[str]) -> list[np.ndarray]:
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with v1.Session(graph=g) as sess:
        return sess.run([g.get_tensor_by_name(f if ":" in f else f + ":0") for f in fetches],
                        {g.get_tensor_by_name(k if ":" in k else k + ":0"): v for k, v in feeds.items()})


# ---- slim InceptionV3 --------------------------------------------------------------------------
def _inception_v3(s: Slim, x, m: float):
    def d(n):
        return max(int(n * m), 2)

    def concat(branches, name="concat"):
        return tf.concat(branches, axis=3, name=name)

    with v1.variable_scope("InceptionV3"):
        net = s.conv(x, d(32), 3, 2, "VALID", "Conv2d_1a_3x3")
        net = s.conv(net, d(32), 3, 1, "VALID", "Conv2d_2a_3x3")
        net = s.conv(net, d(64), 3, 1, "SAME", "Conv2d_2b_3x3")
        net = tf.nn.max_pool2d(net, 3, 2, "VALID", name="MaxPool_3a_3x3/MaxPool")
        net = s.conv(net, d(80), 1, 1, "VALID", "Conv2d_3b_1x1")
        net = s.conv(net, d(192), 3, 1, "VALID", "Conv2d_4a_3x3")
        net = tf.nn.max_pool2d(net, 3, 2, "VALID", name="MaxPool_5a_3x3/MaxPool")
        for name, pool_depth in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            with v1.variable_scope(name):
                with v1.variable_scope("Branch_0"):
                    b0 = s.conv(net, d(64), 1, scope="Conv2d_0a_1x1")
                with v1.variable_scope("Branch_1"):
                    b1 = s.conv(s.conv(net, d(48), 1, scope="Conv2d_0a_1x1"), d(64), 5, scope="Conv2d_0b_5x5")
                with v1.variable_scope("Branch_2"):
                    b2 = s.conv(net, d(64), 1, scope="Conv2d_0a_1x1")
                    b2 = s.conv(s.conv(b2, d(96), 3, scope="Conv2d_0b_3x3"), d(96), 3, scope="Conv2d_0c_3x3")
                with v1.variable_scope("Branch_3"):
                    b3 = tf.nn.avg_pool2d(net, 3, 1, "SAME", name="AvgPool_0a_3x3/AvgPool")
                    b3 = s.conv(b3, d(pool_depth), 1, scope="Conv2d_0b_1x1")
                net = concat([b0, b1, b2, b3])
        with v1.variable_scope("Mixed_6a"):
            with v1.variable_scope("Branch_0"):
                b0 = s.conv(net, d(384), 3, 2, "VALID", "Conv2d_1a_1x1")
            with v1.variable_scope("Branch_1"):
                b1 = s.conv(s.conv(net, d(64), 1, scope="Conv2d_0a_1x1"), d(96), 3, scope="Conv2d_0b_3x3")
                b1 = s.conv(b1, d(96), 3, 2, "VALID", "Conv2d_1a_1x1")
            with v1.variable_scope("Branch_2"):
                b2 = tf.nn.max_pool2d(net, 3, 2, "VALID", name="MaxPool_1a_3x3/MaxPool")
            net = concat([b0, b1, b2])
        for name, c in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            with v1.variable_scope(name):
                with v1.variable_scope("Branch_0"):
                    b0 = s.conv(net, d(192), 1, scope="Conv2d_0a_1x1")
                with v1.variable_scope("Branch_1"):
                    b1 = s.conv(net, d(c), 1, scope="Conv2d_0a_1x1")
                    b1 = s.conv(b1, d(c), (1, 7), scope="Conv2d_0b_1x7")
                    b1 = s.conv(b1, d(192), (7, 1), scope="Conv2d_0c_7x1")
                with v1.variable_scope("Branch_2"):
                    b2 = s.conv(net, d(c), 1, scope="Conv2d_0a_1x1")
                    b2 = s.conv(b2, d(c), (7, 1), scope="Conv2d_0b_7x1")
                    b2 = s.conv(b2, d(c), (1, 7), scope="Conv2d_0c_1x7")
                    b2 = s.conv(b2, d(c), (7, 1), scope="Conv2d_0d_7x1")
                    b2 = s.conv(b2, d(192), (1, 7), scope="Conv2d_0e_1x7")
                with v1.variable_scope("Branch_3"):
                    b3 = tf.nn.avg_pool2d(net, 3, 1, "SAME", name="AvgPool_0a_3x3/AvgPool")
                    b3 = s.conv(b3, d(192), 1, scope="Conv2d_0b_1x1")
                net = concat([b0, b1, b2, b3])
        with v1.variable_scope("Mixed_7a"):
            with v1.variable_scope("Branch_0"):
                b0 = s.conv(s.conv(net, d(192), 1, scope="Conv2d_0a_1x1"), d(320), 3, 2, "VALID", "Conv2d_1a_3x3")
            with v1.variable_scope("Branch_1"):
                b1 = s.conv(net, d(192), 1, scope="Conv2d_0a_1x1")
                b1 = s.conv(b1, d(192), (1, 7), scope="Conv2d_0b_1x7")
                b1 = s.conv(b1, d(192), (7, 1), scope="Conv2d_0c_7x1")
                b1 = s.conv(b1, d(192), 3, 2, "VALID", "Conv2d_1a_3x3")
            with v1.variable_scope("Branch_2"):
                b2 = tf.nn.max_pool2d(net, 3, 2, "VALID", name="MaxPool_1a_3x3/MaxPool")
            net = concat([b0, b1, b2])
        for name in ("Mixed_7b", "Mixed_7c"):
            with v1.variable_scope(name):
                with v1.variable_scope("Branch_0"):
                    b0 = s.conv(net, d(320), 1, scope="Conv2d_0a_1x1")
                with v1.variable_scope("Branch_1"):
                    b1 = s.conv(net, d(384), 1, scope="Conv2d_0a_1x1")
                    b1 = concat([s.conv(b1, d(384), (1, 3), scope="Conv2d_0b_1x3"),
                                 s.conv(b1, d(384), (3, 1), scope="Conv2d_0b_3x1")])
                with v1.variable_scope("Branch_2"):
                    b2 = s.conv(s.conv(net, d(448), 1, scope="Conv2d_0a_1x1"), d(384), 3, scope="Conv2d_0b_3x3")
                    b2 = concat([s.conv(b2, d(384), (1, 3), scope="Conv2d_0c_1x3"),
                                 s.conv(b2, d(384), (3, 1), scope="Conv2d_0d_3x1")])
                with v1.variable_scope("Branch_3"):
                    b3 = tf.nn.avg_pool2d(net, 3, 1, "SAME", name="AvgPool_0a_3x3/AvgPool")
                    b3 = s.conv(b3, d(192), 1, scope="Conv2d_0b_1x1")
                net = concat([b0, b1, b2, b3])
        with v1.variable_scope("Logits"):
            net = tf.nn.avg_pool2d(net, 8, 2, "VALID", name="AvgPool_1a_8x8/AvgPool")
            net = tf.identity(net, name="Dropout_1b/Identity")       # dropout at inference
            logits = s.conv(net, 11, 1, scope="Conv2d_1c_1x1", bn=False, relu=False)
            logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
        with v1.variable_scope("Predictions"):
            flat = tf.reshape(logits, [-1, 11], name="Reshape")
            prob = tf.nn.softmax(flat, name="Softmax")
            return tf.reshape(prob, tf.shape(logits), name="Reshape_1")


def slim_inception_v3(path: str, multiplier: float = 0.125, meta: bool = False,
                      x: np.ndarray | None = None) -> tuple[str, np.ndarray | None]:
    """Frozen (or .meta + checkpoint) slim-style InceptionV3 for 299x299 inputs.

    Returns the model path and, when ``x`` is given, TensorFlow's output for it.
    """
    g = tf.Graph()
    with g.as_default():
        inp = v1.placeholder(tf.float32, [None, 299, 299, 3], name="input")
        out = _inception_v3(Slim(0), inp, multiplier)
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            ref = sess.run(out, {inp: x}) if x is not None else None
            if meta:
                v1.train.Saver().save(sess, path)
                return path + ".meta", ref
            return write_pb(freeze_session(sess, ["InceptionV3/Predictions/Reshape_1"]), path), ref


# ---- Keras applications -----------------------------------------------------------------------
KERAS_APPS = {   # name -> (application class name, input size, constructor kwargs)
    "MobileNetV2": ("MobileNetV2", 32, {"alpha": 0.35}),
    "InceptionV3": ("InceptionV3", 75, {}),
    "ResNet50": ("ResNet50", 32, {}),
}


def randomise(model, seed: int = 0) -> None:
    """Give every weight a non-degenerate random value (kernels ~ 1/sqrt(fan_in), BN stats positive)."""
    rng = np.random.default_rng(seed)
    new = []
    for w in model.weights:
        shape = tuple(w.shape)
        name = w.name if hasattr(w, "path") is False else getattr(w, "path", w.name)
        lname = name.lower()
        if "variance" in lname:
            val = rng.uniform(0.5, 1.5, shape)
        elif "gamma" in lname:
            val = rng.uniform(0.5, 1.5, shape)
        elif "beta" in lname or "mean" in lname or "bias" in lname:
            val = rng.normal(0, 0.1, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            if "depthwise" in lname:
                fan_in = int(np.prod(shape[:2]))
            val = rng.normal(0, (1.0 / max(fan_in, 1)) ** 0.5, shape)
        new.append(val.astype(np.float32))
    model.set_weights(new)


def keras_app(flavour: str, name: str):
    """A re-randomised application from Keras 3 (``flavour='keras3'``) or tf_keras (``'tf_keras'``)."""
    if flavour == "keras3":
        import keras
        apps = keras.applications
    else:
        import tf_keras
        apps = tf_keras.applications
    cls, size, kw = KERAS_APPS[name]
    m = getattr(apps, cls)(weights=None, input_shape=(size, size, 3), classifier_activation=None, **kw)
    randomise(m)
    return m, size


def freeze_keras(model, size: int, path: str) -> str:
    """Frozen GraphDef with placeholder ``input`` and output node ``Identity``."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, size, size, 3), tf.float32, name="input"))
    return write_pb(convert_variables_to_constants_v2(fn).graph.as_graph_def(), path)


def keras_reference(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(tf.constant(x), training=False))


# ---- DeepLab-style segmentation -----------------------------------------------------------------
def deeplab_style(path: str, size: int = 513) -> str:
    """Input ``sub_7`` [1,size,size,3] -> backbone -> atrous (SpaceToBatchND/BatchToSpaceND) ASPP with
    image pooling -> logits -> ResizeBilinear(align_corners) -> ``ArgMax``, like DeepLabv3's frozen graph."""
    s = Slim(1, variables=False)
    rng = s.rng
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, size, size, 3], name="sub_7")
        net = s.conv(x, 8, 3, 2, "SAME", "MobilenetV2/Conv")
        with v1.variable_scope("MobilenetV2/expanded_conv"):
            dw = s.var("depthwise_weights", rng.normal(0, 1 / 3, (3, 3, 8, 1)))
            net = tf.nn.depthwise_conv2d(net, dw, [1, 2, 2, 1], "SAME", name="depthwise")
            net = tf.nn.relu6(net, name="Relu6")
        net = s.conv(net, 12, 1, scope="MobilenetV2/expanded_conv/project")
        with v1.variable_scope("MobilenetV2/atrous_conv"):
            w = s.var("weights", rng.normal(0, (1 / (9 * 12)) ** 0.5, (3, 3, 12, 12)))
            b = s.var("biases", rng.normal(0, 0.1, 12))
            net = tf.nn.relu(tf.nn.bias_add(tf.nn.atrous_conv2d(net, w, rate=2, padding="SAME"), b), name="Relu")
        h = int(net.shape[1])
        with v1.variable_scope("aspp0"):
            a0 = s.conv(net, 8, 1, scope="conv")
        with v1.variable_scope("aspp1_depthwise"):
            dw = s.var("depthwise_weights", rng.normal(0, 1 / 3, (3, 3, 12, 1)))
            a1 = v1.nn.depthwise_conv2d(net, dw, [1, 1, 1, 1], "SAME", rate=[4, 4], name="depthwise")
            a1 = tf.nn.relu(a1)
        a1 = s.conv(a1, 8, 1, scope="aspp1_pointwise")
        with v1.variable_scope("image_pooling"):
            p = tf.reduce_mean(net, [1, 2], keepdims=True, name="Mean")
        p = s.conv(p, 8, 1, scope="image_pooling/conv")
        p = v1.image.resize_bilinear(p, [h, h], align_corners=True, name="ResizeBilinear")
        net = tf.concat([p, a0, a1], 3, name="concat")
        net = s.conv(net, 8, 1, scope="concat_projection")
        logits = s.conv(net, 5, 1, scope="logits/semantic", bn=False, relu=False)
        up = v1.image.resize_bilinear(logits, [size, size], align_corners=True, name="ResizeBilinear_2")
        tf.argmax(up, 3, name="ArgMax")
        tf.identity(up, name="logits_up")
    return write_pb(g.as_graph_def(), path)


# ---- MobileNet-SSD-style detection ------------------------------------------------------------
def ssd_anchors(sizes: list[int], per_cell: int = 2) -> np.ndarray:
    """Anchors (y_center, x_center, h, w) for square feature maps, ``per_cell`` aspect ratios each."""
    rows = []
    for size in sizes:
        for i in range(size):
            for j in range(size):
                for k in range(per_cell):
                    scale = 2.0 / size * (1.0 + 0.5 * k)
                    rows.append([(i + 0.5) / size, (j + 0.5) / size, scale, scale * (0.75 + 0.5 * k)])
    return np.asarray(rows, np.float32)


SSD_SCALES = (10.0, 10.0, 5.0, 5.0)


def ssd_style(path: str, size: int = 64, num_classes: int = 6, max_det: int = 10, clip_boxes: bool = False) -> str:
    """Input ``Preprocessor/sub`` -> small MobileNet-like feature extractor -> two box predictors ->
    ``Postprocessor`` scope (centre-size decode against constant anchors, sigmoid minus background,
    combined NMS) -> ``detection_boxes`` / ``detection_scores`` / ``detection_classes`` / ``num_detections``."""
    s = Slim(2, variables=False)
    rng = s.rng
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, size, size, 3], name="Preprocessor/sub")
        with v1.variable_scope("FeatureExtractor/MobilenetV1"):
            net = s.conv(x, 8, 3, 2, scope="Conv2d_0")
            with v1.variable_scope("Conv2d_1_depthwise"):
                dw = s.var("depthwise_weights", rng.normal(0, 1 / 3, (3, 3, 8, 1)))
                net = tf.nn.relu6(tf.nn.depthwise_conv2d(net, dw, [1, 2, 2, 1], "SAME"), name="Relu6")
            net = s.conv(net, 16, 1, scope="Conv2d_1_pointwise")
            f0 = s.conv(net, 16, 3, 2, scope="Conv2d_2")                  # size/8
            f1 = s.conv(f0, 16, 3, 2, scope="Conv2d_3")                   # size/16
        encs, preds = [], []
        for i, f in enumerate((f0, f1)):
            h = int(f.shape[1])
            with v1.variable_scope(f"BoxPredictor_{i}"):
                e = s.conv(f, 2 * 4, 1, scope="BoxEncodingPredictor", bn=False, relu=False)
                encs.append(tf.reshape(e, [1, h * h * 2, 4], name="Reshape"))
                c = s.conv(f, 2 * (num_classes + 1), 1, scope="ClassPredictor", bn=False, relu=False)
                preds.append(tf.reshape(c, [1, h * h * 2, num_classes + 1], name="Reshape_1"))
        enc = tf.concat(encs, 1, name="concat")
        pred = tf.concat(preds, 1, name="concat_1")
        anchors = ssd_anchors([int(f0.shape[1]), int(f1.shape[1])])
        with v1.variable_scope("Postprocessor"):
            a = tf.constant(anchors, name="anchors")
            ya, xa, ha, wa = tf.unstack(a, axis=1)
            ty, tx, th, tw = tf.unstack(enc, axis=2)
            yc = ty / SSD_SCALES[0] * ha + ya
            xc = tx / SSD_SCALES[1] * wa + xa
            hh = tf.exp(th / SSD_SCALES[2]) * ha * 0.5
            hw = tf.exp(tw / SSD_SCALES[3]) * wa * 0.5
            boxes = tf.stack([yc - hh, xc - hw, yc + hh, xc + hw], axis=2)
            scores = tf.sigmoid(pred)[:, :, 1:]
            nmsed = tf.image.combined_non_max_suppression(
                tf.expand_dims(boxes, 2), scores, max_output_size_per_class=max_det, max_total_size=max_det,
                iou_threshold=0.5, score_threshold=0.3, clip_boxes=clip_boxes)
        tf.identity(nmsed.nmsed_boxes, name="detection_boxes")
        tf.identity(nmsed.nmsed_scores, name="detection_scores")
        tf.identity(nmsed.nmsed_classes, name="detection_classes")
        tf.identity(nmsed.valid_detections, name="num_detections")
    return write_pb(g.as_graph_def(), path)


# ---- converting and running ---------------------------------------------------------------------
def convert(model_path: str, dlc_path: str, inputs: dict[str, str], outputs: list[str], *extra: str) -> float:
    """snpe-tensorflow-to-dlc's main() in this process; returns the conversion time in seconds."""
    import time

    from snpe_tools.tools.tensorflow_to_dlc import main

    args = ["--input_network", model_path, "--output_path", dlc_path]
    for name, dims in inputs.items():
        args += ["--input_dim", name, dims]
    for o in outputs:
        args += ["--out_node", o]
    t0 = time.perf_counter()
    assert main(args + list(extra)) == 0
    return time.perf_counter() - t0


def run_dlc(dlc_path: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a DLC on NHWC inputs keyed by TF tensor name (TF graphs need no layout change)."""
    from snpe_tools.dlc import read_dlc
    from snpe_tools.runtime import execute

    graph = read_dlc(dlc_path).graph
    return execute(graph, {n: feeds[n] for n in graph.inputs})


def op_counts(dlc_path: str) -> dict[str, int]:
    from snpe_tools.dlc import read_dlc

    counts: dict[str, int] = {}
    for op in read_dlc(dlc_path).graph.ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    return counts


def load_graph_def(path: str):
    gd = v1.GraphDef()
    with open(path, "rb") as fh:
        gd.ParseFromString(fh.read())
    return gd


TIMES: dict[str, float] = {}      # conversion times measured by the tests (printed at the end of a run)


# ---- small graphs for error paths ---------------------------------------------------------------
def small_graph(path: str, kind: str = "plain") -> str:
    """Input ``x`` [1,8,8,3] (fully defined) -> conv -> ... -> ``out/Reshape_1``.

    ``kind``: ``plain``; ``two_layers`` (one Conv2D feeding BiasAdds in two scopes: a node in two layers);
    ``unsupported`` (an ``Erf`` on the path, which no SNPE layer covers).
    """
    rng = np.random.default_rng(7)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        w = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32), name="shared/weights")
        y = tf.nn.conv2d(x, w, 1, "SAME", name="shared/Conv2D")
        if kind == "two_layers":
            a = tf.nn.bias_add(y, tf.constant(rng.normal(0, 1, 4).astype(np.float32)), name="branch_a/BiasAdd")
            b = tf.nn.bias_add(y, tf.constant(rng.normal(0, 1, 4).astype(np.float32)), name="branch_b/BiasAdd")
            y = tf.add(a, b, name="sum/Add")
        elif kind == "unsupported":
            y = tf.math.erf(y, name="gelu/Erf")
        y = tf.nn.relu(y, name="act/Relu")
        tf.reshape(y, [1, -1], name="out/Reshape_1")
        tf.constant(1.0, name="unrelated")
    return write_pb(g.as_graph_def(), path)

"""The seed's TensorFlow topology list, one small TF1 graph per family: each converts to the expected QNN
ops (counted) and matches TensorFlow on random inputs (rtol 1e-3, atol 1e-4)."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import tf_models as M  # noqa: E402

v1 = tf.compat.v1
RNG = np.random.default_rng(11)


def _c(*shape, scale=0.5):
    return tf.constant(RNG.normal(0, scale, shape).astype(np.float32))


def _check(tmp_path, build, in_shape=(1, 8, 8, 4), extra=(), x=None):
    """Build ``build(x) -> {name: tensor}`` in a TF1 graph, convert, run, compare; returns the op counts."""
    g = tf.Graph()
    with g.as_default():
        inp = v1.placeholder(tf.float32, in_shape, name="x")
        outs = build(inp)
        names = []
        for k, t in outs.items():
            names.append(tf.identity(t, name=k).op.name)
    pb = M.write_pb(g.as_graph_def(), str(tmp_path / "g.pb"))
    dlc = str(tmp_path / "g.dlc")
    M.convert(pb, dlc, {"x": ",".join(map(str, in_shape))}, names, *extra)
    x = RNG.uniform(-1, 1, in_shape).astype(np.float32) if x is None else x
    refs = M.run_graph_def(g.as_graph_def(), {"x": x}, names)
    ours = M.run_dlc(dlc, {"x:0": x})
    for n, r in zip(names, refs):
        got = ours[f"{n}:0"]
        assert got.shape == r.shape, (n, got.shape, r.shape)
        np.testing.assert_allclose(got.astype(np.float64), r.astype(np.float64), rtol=1e-3, atol=1e-4, err_msg=n)
    return M.op_counts(dlc)


def test_convolutions(tmp_path):
    def build(x):
        a = tf.nn.bias_add(tf.nn.conv2d(x, _c(3, 3, 4, 6), [1, 2, 2, 1], "SAME"), _c(6), name="conv/BiasAdd")
        b = tf.nn.conv2d(x, _c(3, 3, 4, 5), 1, "VALID", dilations=2)                 # native dilation
        c = v1.nn.depthwise_conv2d(x, _c(3, 3, 4, 2), [1, 1, 1, 1], "SAME") + _c(8)   # multiplier 2 + bias
        d = v1.nn.atrous_conv2d(x, _c(3, 3, 4, 3), rate=3, padding="VALID")          # SpaceToBatch form
        e = tf.nn.conv2d_transpose(a, _c(3, 3, 5, 6), [1, 8, 8, 5], 2, "SAME") + _c(5)
        f = tf.nn.conv2d_transpose(x, _c(2, 2, 3, 4), [1, 17, 17, 3], 2, "VALID")
        return {"conv": a, "dilated": b, "depthwise": c, "atrous": d, "deconv": e, "deconv_valid": f}
    counts = _check(tmp_path, build, (1, 8, 8, 4))
    assert counts["Conv2d"] == 3 and counts["DepthWiseConv2d"] == 1 and counts["TransposeConv2d"] == 2
    assert "ElementWiseAdd" not in counts                      # every bias folded into its layer


def test_batchnorm_forms_fold_into_conv(tmp_path):
    def build(x):
        y = tf.nn.conv2d(x, _c(1, 1, 4, 6), 1, "SAME")
        y, _, _ = v1.nn.fused_batch_norm(y, _c(6) + 1, _c(6), _c(6), tf.abs(_c(6)) + 0.5, is_training=False)
        z = tf.nn.conv2d(x, _c(3, 3, 4, 6), 1, "SAME")
        z = tf.nn.batch_normalization(z, _c(6), tf.abs(_c(6)) + 0.5, _c(6), _c(6) + 1, 1e-3)   # mul/add form
        w, _, _ = v1.nn.fused_batch_norm(tf.nn.relu(z), _c(6) + 1, _c(6), _c(6), tf.abs(_c(6)) + 0.5,
                                         is_training=False)                                     # not after a conv
        return {"fused": y, "decomposed": z, "standalone": w}
    counts = _check(tmp_path, build)
    assert counts["Conv2d"] == 2 and counts["Batchnorm"] == 1
    kept = _check(tmp_path, build, extra=("--disable_batchnorm_folding",))
    assert kept["Batchnorm"] == 3


def test_fully_connected_flatten_and_matmul(tmp_path):
    def build(x):
        flat = tf.reshape(x, [1, -1], name="flatten/Reshape")
        fc = tf.nn.bias_add(tf.matmul(flat, _c(256, 10)), _c(10), name="fc/BiasAdd")
        fc2 = tf.matmul(tf.nn.relu(fc), _c(7, 10), transpose_b=True) + _c(7)
        dyn = tf.matmul(tf.reshape(x, [8, 32]), tf.reshape(x, [32, 8]))               # two run-time operands
        return {"fc": fc, "fc2": fc2, "matmul": dyn}
    counts = _check(tmp_path, build)
    assert counts["FullyConnected"] == 2 and counts["MatMul"] == 1 and "ElementWiseAdd" not in counts


def test_activations_softmax_lrn_eltwise(tmp_path):
    def build(x):
        return {"relu6": tf.nn.relu6(x * 8), "elu": tf.nn.elu(x), "tanh": tf.tanh(x), "sigmoid": tf.sigmoid(x),
                "leaky": tf.nn.leaky_relu(x, 0.1), "softmax": tf.nn.softmax(x), "lrn": tf.nn.lrn(x, 2, 1.0, 0.5, 0.75),
                "sum": x + tf.nn.relu(x), "mul": x * tf.sigmoid(x), "max": tf.maximum(x, tf.tanh(x)),
                "div": x / (tf.abs(x) + 1), "sub": x - _c(4), "addn": tf.add_n([x, x * 2, tf.nn.relu(x)])}
    counts = _check(tmp_path, build)
    assert counts["Lrn"] == 1 and counts["Softmax"] == 1 and counts["Prelu"] == 1 and counts["Elu"] == 1


def test_prelu_decompositions(tmp_path):
    def build(x):
        alpha = _c(4, scale=0.2)
        keras_form = tf.nn.relu(x) + (-alpha) * tf.nn.relu(-x)                       # tf_keras / Keras 3 PReLU
        tflearn_form = tf.nn.relu(x) + alpha * (x - tf.abs(x)) * 0.5                  # TFLearn prelu
        return {"keras_prelu": keras_form, "tflearn_prelu": tflearn_form}
    counts = _check(tmp_path, build)
    assert counts == {"Prelu": 2}


def test_keras3_prelu_layer(tmp_path):
    import keras

    inp = keras.Input((6, 6, 3))
    model = keras.Model(inp, keras.layers.PReLU()(keras.layers.Conv2D(4, 3)(inp)))
    model.layers[-1].set_weights([RNG.uniform(0.05, 0.5, (4, 4, 4)).astype(np.float32)])
    pb = M.freeze_keras(model, 6, str(tmp_path / "p.pb"))
    dlc = str(tmp_path / "p.dlc")
    M.convert(pb, dlc, {"input": "1,6,6,3"}, ["Identity"])
    x = RNG.uniform(-1, 1, (1, 6, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(M.run_dlc(dlc, {"input:0": x})["Identity:0"], M.keras_reference(model, x),
                               rtol=1e-3, atol=1e-4)
    assert M.op_counts(dlc) == {"Conv2d": 1, "Prelu": 1}


def test_pooling_mean_pad_resize_argmax(tmp_path):
    def build(x):
        return {"maxpool": tf.nn.max_pool2d(x, 3, 2, "SAME"), "avgpool": tf.nn.avg_pool2d(x, 3, 2, "SAME"),
                "avg_valid": tf.nn.avg_pool2d(x, 2, 2, "VALID"), "mean": tf.reduce_mean(x, [1, 2], keepdims=True),
                "mean2": tf.reduce_mean(x, [1, 2]), "sum": tf.reduce_sum(x, 3),
                "pad": tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]]),
                "pad_const": tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=0.5),
                "reflect": tf.pad(x, [[0, 0], [2, 2], [1, 1], [0, 0]], "REFLECT"),
                "symmetric": tf.pad(x, [[0, 0], [2, 2], [1, 1], [0, 0]], "SYMMETRIC"),
                "bilinear": v1.image.resize_bilinear(x, [13, 11]),
                "bilinear_ac": v1.image.resize_bilinear(x, [13, 11], align_corners=True),
                "bilinear_hp": v1.image.resize_bilinear(x, [13, 11], half_pixel_centers=True),
                "nearest": v1.image.resize_nearest_neighbor(x, [13, 11]),
                "nearest_ac": v1.image.resize_nearest_neighbor(x, [13, 11], align_corners=True),
                "nearest_hp": v1.image.resize_nearest_neighbor(x, [13, 11], half_pixel_centers=True),
                "argmax": tf.cast(tf.argmax(x, 3), tf.float32), "cast": tf.cast(tf.cast(x * 4, tf.int32), tf.float32)}
    counts = _check(tmp_path, build)
    assert counts["Resize"] == 6 and counts["Argmax"] == 1 and counts["Pad"] >= 4


def test_shape_ops(tmp_path):
    def build(x):
        a, b = tf.split(x, 2, axis=3)
        c, d, e = tf.split(x, [1, 2, 5], axis=1)
        un = tf.unstack(x, axis=1)
        return {"split_a": a, "split_b": b * 2, "splitv_c": c, "splitv_d": d, "splitv_e": e,
                "pack": tf.stack([un[0], un[3], un[7]], axis=2), "unpack": un[5] + 1,
                "concat": tf.concat([a, x, b], axis=3), "transpose": tf.transpose(x, [0, 3, 1, 2]),
                "squeeze": tf.squeeze(tf.reduce_max(x, 3, keepdims=True), [3]),
                "expand": tf.expand_dims(x, 1), "reshape": tf.reshape(x, [1, 16, 16]),
                "slice": tf.slice(x, [0, 1, 2, 0], [1, 4, -1, 2]),
                "strided": x[:, 1:7:2, ::-1, 1:3], "shrink": x[0, :, 3, :], "newaxis": x[:, tf.newaxis, 2:4, ..., 0],
                "ellipsis": x[..., 1], "tile": tf.tile(a, [1, 1, 2, 1])}
    counts = _check(tmp_path, build)
    assert counts["Split"] >= 3 and counts["StridedSlice"] >= 5 and counts["Transpose"] == 1


@pytest.mark.parametrize("v2", [True, False], ids=["If", "Switch-Merge"])
def test_training_only_branches_are_dropped(tmp_path, v2):
    """``tf.cond`` on a frozen ``is_training`` (TF2 ``If`` or TF1 ``Switch``/``Merge``): the inference
    branch is kept, the training branch (here with an op no layer supports) disappears."""
    if not v2:
        v1.disable_control_flow_v2()
    try:
        def build(x):
            is_training = v1.placeholder_with_default(False, [], name="is_training")
            y = tf.nn.conv2d(x, _c(3, 3, 4, 4), 1, "SAME")
            y = tf.cond(is_training, lambda: tf.math.erf(y) * 2.0, lambda: tf.nn.relu(y) + 1.0)
            return {"out": y}
        counts = _check(tmp_path, build)
    finally:
        if not v2:
            v1.enable_control_flow_v2()
    assert counts == {"Conv2d": 1, "Relu": 1, "ElementWiseAdd": 1}


@pytest.mark.parametrize("flavour", ["keras3", "tf_keras"])
def test_keras_layer_zoo(tmp_path, flavour):
    """Everyday Keras layers in one model: separable/transposed/dilated convs, BatchNorm after Dense,
    Flatten -> Dense, UpSampling, ZeroPadding, Cropping, Concatenate, pooling, LeakyReLU, ELU, softmax."""
    if flavour == "keras3":
        import keras as k
    else:
        k = pytest.importorskip("tf_keras")
    L = k.layers
    inp = k.Input((16, 16, 3))
    a = L.SeparableConv2D(8, 3, padding="same", activation="relu")(inp)
    a = L.BatchNormalization()(a)
    b = L.Conv2D(8, 3, padding="same", dilation_rate=2)(inp)
    b = L.LeakyReLU(0.2)(b)
    x = L.Concatenate()([a, b])
    x = L.MaxPooling2D()(x)
    x = L.Conv2DTranspose(6, 3, strides=2, padding="same")(x)
    x = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = L.Cropping2D(((1, 2), (0, 1)))(x)
    x = L.UpSampling2D(interpolation="bilinear")(L.AveragePooling2D(2)(x))
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="elu")(x)
    y = L.Flatten()(x)
    y = L.Dense(12)(y)
    y = L.BatchNormalization()(y)
    y = L.Activation("tanh")(y)
    y = L.Dense(5, activation="softmax")(L.Dropout(0.5)(y))
    model = k.Model(inp, y)
    M.randomise(model, seed=3)
    pb = M.freeze_keras(model, 16, str(tmp_path / "zoo.pb"))
    dlc = str(tmp_path / "zoo.dlc")
    M.convert(pb, dlc, {"input": "1,16,16,3"}, ["Identity"])
    x_in = RNG.uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(M.run_dlc(dlc, {"input:0": x_in})["Identity:0"], M.keras_reference(model, x_in),
                               rtol=1e-3, atol=1e-4)
    counts = M.op_counts(dlc)
    assert counts["FullyConnected"] == 2 and counts["TransposeConv2d"] == 1 and "Transpose" not in counts
    assert counts.get("Batchnorm", 0) <= 1          # the one after the separable conv's ReLU cannot fold


def test_standalone_space_to_batch_and_back(tmp_path):
    """SpaceToBatchND / BatchToSpaceND that are not an atrous convolution map to QNN SpaceToBatch / BatchToSpace."""
    def build(x):
        s2b = tf.space_to_batch_nd(x, [2, 3], [[1, 1], [2, 0]])
        b2s = tf.batch_to_space(tf.nn.relu(s2b), [2, 3], [[1, 1], [0, 2]])
        return {"s2b": s2b, "b2s": b2s}
    counts = _check(tmp_path, build, (2, 6, 7, 3))
    assert counts["SpaceToBatch"] == 1 and counts["BatchToSpace"] == 1

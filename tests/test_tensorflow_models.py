"""snpe-tensorflow-to-dlc on whole networks: slim InceptionV3 with the seed's command line, Keras 3 and
tf_keras applications (frozen .pb, SavedModel, .meta + checkpoint), DeepLab-style and SSD-style graphs.
Every DLC is run on the reference runtime and compared with TensorFlow on random inputs."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import tf_models as M  # noqa: E402
from helpers import run_tool  # noqa: E402

RTOL, ATOL = 1e-3, 1e-4


@pytest.fixture(scope="module", autouse=True)
def _conversion_times():
    """Prints the conversion times the tests measured (shown with ``pytest -s``)."""
    yield
    for k, v in M.TIMES.items():
        print(f"conversion time {k}: {v:.2f} s")


def _close(ours, ref):
    np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(ref, np.float64), rtol=RTOL, atol=ATOL)


# ---- slim InceptionV3 with the seed's exact command line -----------------------------------------
def test_slim_inception_v3_seed_command_line(tmp_path):
    """The seed's first example, paths replaced, run as a user would (launcher + snpe-net-run)."""
    x = np.random.default_rng(0).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    pb, ref = M.slim_inception_v3(str(tmp_path / "inception_v3_2016_08_28_frozen.pb"), x=x)
    proc = run_tool("snpe-tensorflow-to-dlc", "--input_network", pb,
                    "--input_dim", "input", "1,299,299,3", "--out_node", "InceptionV3/Predictions/Reshape_1",
                    "--output_path", "inception_v3.dlc", cwd=str(tmp_path))
    assert "INFO_CONVERSION_SUCCESS" in proc.stderr
    dlc = str(tmp_path / "inception_v3.dlc")
    counts = M.op_counts(dlc)
    assert counts.get("Transpose", 0) == 0 and "Batchnorm" not in counts       # NHWC kept, BN folded
    assert counts["Conv2d"] == 95 and counts["Concat"] == 15 and counts["Softmax"] == 1
    from snpe_tools.dlc import read_dlc

    names = {op.name for op in read_dlc(dlc).graph.ops}
    # layer names come from the TF scopes: Conv2D + BiasAdd of the logits is one layer named by its scope
    assert "InceptionV3/Logits/Conv2d_1c_1x1" in names and "InceptionV3/Mixed_7c/concat" in names

    x.tofile(tmp_path / "input.raw")
    (tmp_path / "input_list.txt").write_text("input.raw\n")
    run_tool("snpe-net-run", "--container", dlc, "--input_list", "input_list.txt", "--output_dir", "out",
             cwd=str(tmp_path))
    raw = tmp_path / "out" / "Result_0" / "InceptionV3" / "Predictions" / "Reshape_1:0.raw"
    ours = np.fromfile(raw, np.float32).reshape(1, 11)
    _close(ours, ref)


def test_slim_inception_v3_meta_checkpoint(tmp_path):
    """<model>.meta + checkpoint of the same stem: variables restored and frozen in-process."""
    x = np.random.default_rng(3).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    meta, ref = M.slim_inception_v3(str(tmp_path / "inception_v3"), multiplier=0.0625, meta=True, x=x)
    assert os.path.exists(meta) and os.path.exists(str(tmp_path / "inception_v3.index"))
    dlc = str(tmp_path / "m.dlc")
    M.TIMES["slim InceptionV3 (.meta + ckpt)"] = M.convert(meta, dlc, {"input": "1,299,299,3"},
                                                          ["InceptionV3/Predictions/Reshape_1"])
    _close(M.run_dlc(dlc, {"input:0": x})["InceptionV3/Predictions/Reshape_1:0"], ref)


# ---- Keras applications -------------------------------------------------------------------------
_APPS: dict = {}


def _app(flavour: str, name: str):
    """Each application is built (and re-randomised) once per session: building dominates the run time."""
    if (flavour, name) not in _APPS:
        _APPS[(flavour, name)] = M.keras_app(flavour, name)
    return _APPS[(flavour, name)]


@pytest.fixture(scope="module")
def keras3_saved_model(tmp_path_factory):
    model, size = _app("keras3", "MobileNetV2")
    sm = str(tmp_path_factory.mktemp("saved") / "mobilenet_v2")
    model.export(sm, verbose=False)
    import tensorflow as tf

    key = next(iter(tf.saved_model.load(sm).signatures["serving_default"].structured_input_signature[1]))
    return model, size, sm, key

@pytest.mark.parametrize("flavour", ["keras3", "tf_keras"])
@pytest.mark.parametrize("name", ["MobileNetV2", "InceptionV3", "ResNet50"])
def test_keras_application_frozen_pb(tmp_path, flavour, name):
    if flavour == "tf_keras":
        pytest.importorskip("tf_keras")
    model, size = _app(flavour, name)
    pb = M.freeze_keras(model, size, str(tmp_path / f"{name}.pb"))
    ops = {n.op for n in M.load_graph_def(pb).node}
    # the two Keras generations freeze BatchNorm differently; both must convert
    assert ("FusedBatchNormV3" in ops) == (flavour == "tf_keras")
    dlc = str(tmp_path / f"{name}.dlc")
    M.TIMES[f"{flavour} {name} (.pb)"] = M.convert(pb, dlc, {"input": f"1,{size},{size},3"}, ["Identity"])
    counts = M.op_counts(dlc)
    assert counts.get("Transpose", 0) == 0 and "Batchnorm" not in counts
    x = np.random.default_rng(1).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    _close(M.run_dlc(dlc, {"input:0": x})["Identity:0"], M.keras_reference(model, x))


def test_keras3_saved_model(tmp_path, keras3_saved_model):
    """A Keras 3 ``model.export`` SavedModel; -d/--out_node may use the signature's keys."""
    model, size, sm, key = keras3_saved_model
    dlc = str(tmp_path / "sm.dlc")
    M.TIMES["keras3 MobileNetV2 (SavedModel)"] = M.convert(sm, dlc, {key: f"1,{size},{size},3"},
                                                           ["output_0"], "--saved_model_tag", "serve")
    x = np.random.default_rng(2).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    outs = M.run_dlc(dlc, {f"{key}:0": x})
    _close(next(iter(outs.values())), M.keras_reference(model, x))


def test_saved_model_falls_back_to_first_tag_and_signature(tmp_path, keras3_saved_model):
    """SNPE's behaviour: an unknown tag / signature key falls back to the first one with a warning."""
    model, size, sm, key = keras3_saved_model
    proc = run_tool("snpe-tensorflow-to-dlc", "-i", sm, "-d", key, f"1,{size},{size},3",
                    "--out_node", "output_0", "--saved_model_tag", "train", "--saved_model_signature_key", "nope",
                    "-o", str(tmp_path / "f.dlc"))
    assert "WARNING_TF_SAVED_MODEL_TAG_NOT_FOUND" in proc.stderr
    assert "WARNING_TF_SAVED_MODEL_SIGNATURE_KEY_NOT_FOUND" in proc.stderr
    assert os.path.exists(tmp_path / "f.dlc")


def test_tf_keras_meta_checkpoint(tmp_path):
    """A tf_keras model built in a TF1 graph and saved as .meta + checkpoint.  Its BatchNorms sit behind
    ``If`` nodes on the learning phase (a training-only branch): the converter keeps the inference branch."""
    import tensorflow as tf
    import tf_keras
    import tf_keras.src.backend as kb

    g = tf.Graph()
    with g.as_default():
        sess = tf.compat.v1.Session(graph=g)
        kb.set_session(sess)
        model = tf_keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classifier_activation=None)
        M.randomise(model)
        x = np.random.default_rng(4).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
        ref = sess.run(model.outputs[0], {model.inputs[0]: x})
        stem = str(tmp_path / "resnet50")
        tf.compat.v1.train.Saver().save(sess, stem)
        in_name, out_name = model.inputs[0].op.name, model.outputs[0].op.name
        assert any(n.op in ("If", "StatelessIf") for n in g.as_graph_def().node)
        sess.close()
    dlc = str(tmp_path / "r.dlc")
    M.TIMES["tf_keras ResNet50 (.meta + ckpt)"] = M.convert(stem + ".meta", dlc, {in_name: "1,32,32,3"}, [out_name])
    _close(M.run_dlc(dlc, {f"{in_name}:0": x})[f"{out_name}:0"], ref)


# ---- DeepLab- and SSD-style graphs ---------------------------------------------------------------
def test_deeplab_style_argmax(tmp_path):
    pb = M.deeplab_style(str(tmp_path / "deeplab.pb"))
    dlc = str(tmp_path / "deeplab.dlc")
    M.TIMES["DeepLab-style 513x513"] = M.convert(pb, dlc, {"sub_7": "1,513,513,3"}, ["ArgMax", "logits_up"])
    counts = M.op_counts(dlc)
    assert counts.get("Transpose", 0) == 0 and counts["Resize"] == 2 and counts["Argmax"] == 1
    from snpe_tools.dlc import read_dlc

    graph = read_dlc(dlc).graph
    dilations = sorted(int(op.params["dilation"][0]) for op in graph.ops if op.type in ("Conv2d", "DepthWiseConv2d"))
    assert dilations[-2:] == [2, 4]                 # SpaceToBatchND/BatchToSpaceND became dilated convs
    x = np.random.default_rng(5).uniform(-1, 1, (1, 513, 513, 3)).astype(np.float32)
    ours = M.run_dlc(dlc, {"sub_7:0": x})
    ref_arg, ref_logits = M.run_graph_def(M.load_graph_def(pb), {"sub_7": x}, ["ArgMax", "logits_up"])
    _close(ours["logits_up:0"], ref_logits)
    assert ours["ArgMax:0"].shape == (1, 513, 513)
    assert (ours["ArgMax:0"] != ref_arg).mean() < 1e-4


@pytest.mark.parametrize("clip_boxes", [False, True])
def test_ssd_style_detection_output(tmp_path, clip_boxes):
    pb = M.ssd_style(str(tmp_path / "ssd.pb"), clip_boxes=clip_boxes)
    dlc = str(tmp_path / "ssd.dlc")
    outs = ["detection_classes", "detection_boxes", "detection_scores"]        # the seed's MobileNetSSD flags
    M.TIMES[f"SSD-style (clip_boxes={clip_boxes})"] = M.convert(pb, dlc, {"Preprocessor/sub": "1,64,64,3"}, outs)
    counts = M.op_counts(dlc)
    from snpe_tools.dlc import read_dlc

    clips = [op for op in read_dlc(dlc).graph.ops if op.name == "Postprocessor/clip"]
    assert [op.type for op in clips] == (["ReluMinMax"] if clip_boxes else [])   # clip_boxes: boxes into [0, 1]
    assert counts["DetectionOutput"] == 1 and counts.get("Transpose", 0) == 0
    assert "CombinedNonMaxSuppression" not in counts and "ElementWiseExp" not in counts   # decode is inside
    x = np.random.default_rng(6).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    ours = M.run_dlc(dlc, {"Preprocessor/sub:0": x})
    refs = M.run_graph_def(M.load_graph_def(pb), {"Preprocessor/sub": x}, outs + ["num_detections"])
    assert int(refs[3][0]) > 3                                   # the test exercises real detections
    # as in SNPE's model tips, outputs that only pass a DetectionOutput result on are named by the layer
    assert read_dlc(dlc).graph.outputs == [f"Postprocessor_{r}" for r in ("classes", "boxes", "scores")]
    for name, ref in zip(("classes", "boxes", "scores"), refs):
        _close(ours[f"Postprocessor_{name}"], ref)

"""The seed's TensorFlow model tips end to end, on graphs shaped like the public exports (tf_export_models.py).

* MobilenetSSD: the seed's exact command line (``-d Preprocessor/sub`` cuts the uint8 ``image_tensor`` and the
  resize loop away; the ``BatchMultiClassNonMaxSuppression`` ``while`` loop becomes one DetectionOutput);
  detections equal TensorFlow's on 3 synthetic photos; the quantization-aware export becomes a DLC with
  the FakeQuant grids as encodings whose fixed-point run stays within one quantization step of TF.
* DeepLabv3: the seed's exact command line (``-d sub_7``); the label map equals TF's on >= 99.5% of pixels,
  also through ``models/model_tips.py``'s pre/post-processing from a photo file.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import tf_export_models as E  # noqa: E402
from dlc_conformance import violations  # noqa: E402
from helpers import ROOT, run_tool  # noqa: E402
from tf_models import load_graph_def, run_graph_def  # noqa: E402

from snpe_tools.dlc import read_dlc  # noqa: E402
from snpe_tools.runtime import execute  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "models"))
import model_tips  # noqa: E402

NMS = "Postprocessor/BatchMultiClassNonMaxSuppression"
SSD_SEED = ["--input_dim", "Preprocessor/sub", "1,300,300,3", "--out_node", "detection_classes", "--out_node",
            "detection_boxes", "--out_node", "detection_scores", "--output_path", "mobilenet_ssd.dlc",
            "--allow_unconsumed_nodes"]
DEEPLAB_SEED = ["--input_dim", "sub_7", "1,513,513,3", "--out_node", "ArgMax", "--output_path", "deeplabv3.dlc"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("model_tips")


def _net_run(dlc: str, raws: list[str], cwd) -> list[str]:
    """snpe-net-run over the raw files; returns the Result_i folders."""
    (cwd / "list.txt").write_text("".join(f"{r}\n" for r in raws))
    run_tool("snpe-net-run", "--container", dlc, "--input_list", "list.txt", "--output_dir", "out", cwd=str(cwd))
    return [str(cwd / "out" / f"Result_{i}") for i in range(len(raws))]


def _raw(result: str, name: str) -> np.ndarray:
    return np.fromfile(os.path.join(result, *name.split("/")) + ".raw", np.float32)


# ---- MobilenetSSD ---------------------------------------------------------------------------------
def test_ssd_seed_command_line(work):
    """The seed's command, paths replaced; detections equal TF's on 3 photos (snpe-net-run)."""
    (work / "exported").mkdir()
    pb = E.ssd_mobilenet_v2(str(work / "exported" / "frozen_inference_graph.pb"))
    proc = run_tool("snpe-tensorflow-to-dlc", "--input_network", pb, *SSD_SEED, cwd=str(work))
    assert "INFO_CONVERSION_SUCCESS" in proc.stderr
    # the interior -d cuts the uint8 placeholder and the resize loop away, listed at INFO
    cut = [ln for ln in proc.stderr.splitlines() if "INFO_TF_GRAPH_CUT" in ln]
    assert len(cut) == 2 and "Preprocessor/sub" in cut[0] and "graph inputs cut away: image_tensor" in cut[0]
    assert "ResizeBilinear x1" in cut[0] and "Enter x" in cut[0]             # the resize loop is gone
    # the clip window still comes from the loop's true-shape output, as in the OD API: checked constant
    assert "cut-away input image_tensor" in cut[1] and "do not depend on it" in cut[1]
    assert "WARNING_TF_ALLOW_UNCONSUMED_OPTION_USED" in proc.stderr and "UNSUPPORTED_OPS" not in proc.stderr
    dlc = str(work / "mobilenet_ssd.dlc")
    assert violations(dlc) == []
    graph = read_dlc(dlc).graph
    assert graph.inputs == ["Preprocessor/sub:0"] and graph.tensors["Preprocessor/sub:0"].shape == (1, 300, 300, 3)
    # output names and order as the seed lists them: +1 labels, then the layer's classes / boxes / scores
    assert graph.outputs == ["detection_classes:0", f"{NMS}_classes", f"{NMS}_boxes", f"{NMS}_scores"]
    types = [op.type for op in graph.ops]
    assert types.count("DetectionOutput") == 1 and "ReluMinMax" in types[types.index("DetectionOutput"):]
    det = next(op for op in graph.ops if op.type == "DetectionOutput")
    assert det.name == NMS and det.params["detection_limit"] == E.SSD_MAX_DET
    np.testing.assert_allclose(det.params["delta_scaling_factors"], E.SSD_SCALES)

    gd = load_graph_def(pb)
    images = E.ssd_sample_images(3)
    raws = []
    for i, img in enumerate(images):
        x = run_graph_def(gd, {"image_tensor": img}, ["Preprocessor/sub"])[0]
        # the app-side preprocessing of models/model_tips.py is the graph's own
        np.testing.assert_allclose(model_tips.ssd_pre(img[0]), x, atol=2e-5)
        x.astype(np.float32).tofile(work / f"ssd_{i}.raw")
        raws.append(f"ssd_{i}.raw")
    results = _net_run(dlc, raws, work)
    detections, worst = 0, 0.0
    for img, res in zip(images, results):
        boxes, scores, classes, num = run_graph_def(gd, {"image_tensor": img}, E.SSD_OUTPUTS)
        n = int(num[0])
        detections += n
        np.testing.assert_array_equal(_raw(res, "detection_classes:0"), classes.reshape(-1))
        np.testing.assert_array_equal(_raw(res, f"{NMS}_classes") + 1, classes.reshape(-1))
        np.testing.assert_allclose(_raw(res, f"{NMS}_boxes"), boxes.reshape(-1), atol=1e-5)
        np.testing.assert_allclose(_raw(res, f"{NMS}_scores"), scores.reshape(-1), atol=1e-5)
        # the documented decoding: python models/model_tips.py ssd-post output/Result_N
        lines = subprocess.run([sys.executable, os.path.join(ROOT, "models", "model_tips.py"), "ssd-post", res,
                                "--threshold", "0.7"], capture_output=True, text=True, check=True).stdout.splitlines()
        assert len(lines) == int((scores > 0.7).sum()) and all(ln.startswith("class ") for ln in lines)
        if lines:
            assert lines[0].split()[1] == str(int(classes[0, 0]))
        worst = max(worst, float(np.abs(_raw(res, f"{NMS}_boxes") - boxes.reshape(-1)).max()),
                    float(np.abs(_raw(res, f"{NMS}_scores") - scores.reshape(-1)).max()))
    # real detections of several classes, and fewer than the limit somewhere (zero padding)
    assert 30 <= detections < 3 * E.SSD_MAX_DET and len(set(_raw(results[0], "detection_classes:0"))) > 1
    print(f"\nSSD vs TF on 3 photos: {detections} detections, classes equal, worst box/score difference {worst:.2e}")


def test_ssd_qat_converts_to_a_quantized_dlc(work, capsys):
    """FakeQuant grids become the DLC's encodings; the fixed-point run stays within one step of TF."""
    pb = E.ssd_mobilenet_v2(str(work / "ssd_qat.pb"), qat=True)
    from snpe_tools.tools.tensorflow_to_dlc import main

    dlc = str(work / "mobilenet_ssd_qat.dlc")
    args = ["--input_network", pb, *SSD_SEED]
    args[args.index("mobilenet_ssd.dlc")] = dlc
    assert main(args) == 0
    assert violations(dlc) == []
    graph = read_dlc(dlc).graph
    gd = load_graph_def(pb)
    fq = [n for n in gd.node if n.op.startswith("FakeQuant")]
    convs = [op for op in graph.ops if op.type in ("Conv2d", "DepthWiseConv2d")]
    assert len(convs) == 42 and all(graph.tensors[op.inputs[1]].encoding is not None for op in convs)
    per_channel = [op for op in convs if graph.tensors[op.inputs[1]].encoding.axis is not None]
    assert len(per_channel) == 6                             # BoxEncodingPredictor filters: ...PerChannel
    with_enc = [t for t in graph.tensors.values() if t.encoding is not None and t.data is None]
    assert len(with_enc) + len(convs) == len(fq)             # one encoding per FakeQuant node
    # every activation encoding is TF's nudged grid: 0 on the grid, 8 bits
    assert all(t.encoding.bitwidth == 8 and -255 <= t.encoding.offset <= 0 for t in with_enc)

    preds = [f"BoxPredictor_{i}/{kind}/add_fold:0" for i in range(6) for kind in ("ClassPredictor",
                                                                                   "BoxEncodingPredictor")]
    step_cls = max(graph.tensors[p].encoding.scale for p in preds if "Class" in p)
    step_box = max(graph.tensors[p].encoding.scale for p in preds if "Box" in p)
    report = []
    for img in E.ssd_sample_images(3):
        # the DLC input carries the input FakeQuant's encoding: feed it on that grid, as a fixed-point runtime does
        x = run_graph_def(gd, {"image_tensor": img}, ["act_quant/FakeQuantWithMinMaxVars"])[0]
        ours = execute(graph, {"Preprocessor/sub:0": x}, outputs=graph.outputs + preds)
        refs = run_graph_def(gd, {"image_tensor": img},
                             E.SSD_OUTPUTS + [p.replace("add_fold:0", "act_quant/FakeQuantWithMinMaxVars") for p in preds])
        boxes, scores, classes = refs[:3]
        steps = np.concatenate([(np.abs(ours[p] - r) / graph.tensors[p].encoding.scale).ravel()
                                for p, r in zip(preds, refs[4:])])
        np.testing.assert_array_equal(ours["detection_classes:0"], classes)
        # one step of the class logits moves a sigmoid score by at most step/4; one step of a box code moves a
        # corner by at most step/10 * anchor size (<= 1.65) + half the box size * (exp(step/5) - 1)
        d_score = np.abs(ours[f"{NMS}_scores"] - scores).max()
        size = np.maximum(boxes[..., 2:] - boxes[..., :2], 0)
        bound = step_box / 10 * 1.65 + 0.5 * np.concatenate([size, size], -1) * np.expm1(step_box / 5)
        d_box = np.abs(ours[f"{NMS}_boxes"] - boxes)
        assert d_score <= step_cls / 4 and (d_box <= bound + 1e-6).all()
        report.append((float((steps <= 1.0001).mean()), float(d_score / (step_cls / 4)),
                       float((d_box / bound).max())))
    with capsys.disabled():
        print("\nQAT SSD vs TF per photo: (share of predictor values within one step, score error / one step, "
              "box error / one step):", [tuple(round(v, 4) for v in r) for r in report])


def test_ssd_qat_quantized_by_snpe_dlc_quant_keeps_class_ids(work):
    """The QAT DLC through snpe-dlc-quant --override_params (FakeQuant grids kept, the rest calibrated on
    the 3 photos) and snpe-net-run: class ids stay exact integers (an integer grid, not a 6/255 grid on
    which 3 reads back as 3.0118), and each photo's detected classes agree with TensorFlow's."""
    pb = str(work / "ssd_qat.pb")
    if not os.path.exists(pb):
        E.ssd_mobilenet_v2(pb, qat=True)
    gd = load_graph_def(pb)
    run_tool("snpe-tensorflow-to-dlc", "--input_network", pb, "--input_dim", "Preprocessor/sub", "1,300,300,3",
             "--out_node", "detection_classes", "--out_node", "detection_boxes", "--out_node", "detection_scores",
             "--output_path", "qat_float.dlc", "--allow_unconsumed_nodes", cwd=str(work))
    images = E.ssd_sample_images(3)
    raws = []
    for i, img in enumerate(images):
        x = run_graph_def(gd, {"image_tensor": img}, ["Preprocessor/sub"])[0]
        x.astype(np.float32).tofile(work / f"qat_in{i}.raw")
        raws.append(f"qat_in{i}.raw")
    (work / "qat_list.txt").write_text("".join(f"{r}\n" for r in raws))
    run_tool("snpe-dlc-quant", "--input_dlc", "qat_float.dlc", "--input_list", "qat_list.txt",
             "--output_dlc", "qat_int.dlc", "--override_params", cwd=str(work))
    graph = read_dlc(str(work / "qat_int.dlc")).graph
    assert graph.tensors["detection_classes:0"].encoding.scale == 1.0
    results = _net_run("qat_int.dlc", raws, work)
    agree = []
    for img, res in zip(images, results):
        classes = _raw(res, "detection_classes:0")
        np.testing.assert_array_equal(classes, np.round(classes))
        ref = run_graph_def(gd, {"image_tensor": img}, ["detection_classes"])[0].ravel()
        n = len(ref)
        # detections of equal score may come out in another order after 8-bit rounding: compare as multisets
        common = sum(min(int((classes[:n] == c).sum()), int((ref == c).sum())) for c in np.unique(ref))
        agree.append(common / n)
    assert min(agree) >= 0.8, agree


# ---- DeepLabv3 ------------------------------------------------------------------------------------
def test_deeplab_seed_command_line(work):
    """The seed's command, paths replaced; ArgMax and the photo-sized label map equal TF's on >= 99.5%."""
    folder = work / "deeplabv3_mnv2_pascal_train_aug"
    folder.mkdir()
    pb = E.deeplabv3_mnv2(str(folder / "frozen_inference_graph.pb"))
    proc = run_tool("snpe-tensorflow-to-dlc", "--input_network",
                    "deeplabv3_mnv2_pascal_train_aug/frozen_inference_graph.pb", *DEEPLAB_SEED, cwd=str(work))
    assert "INFO_CONVERSION_SUCCESS" in proc.stderr and "ImageTensor" in proc.stderr   # the cut lists it
    dlc = str(work / "deeplabv3.dlc")
    assert violations(dlc) == []
    graph = read_dlc(dlc).graph
    assert graph.inputs == ["sub_7:0"] and graph.outputs == ["ArgMax:0"]
    counts: dict[str, int] = {}
    for op in graph.ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    assert counts["Argmax"] == 1 and counts["Resize"] == 2 and counts.get("Transpose", 0) == 0
    assert max(int(op.params["dilation"][0]) for op in graph.ops if op.type == "DepthWiseConv2d") == 6

    gd = load_graph_def(pb)
    images = E.deeplab_sample_images(2)
    raws = []
    for i, img in enumerate(images):
        model_tips.write_ppm(str(work / f"photo_{i}.ppm"), img[0])
        # run as a user would: python models/model_tips.py deeplab-pre photo.ppm input.raw
        subprocess.run([sys.executable, os.path.join(ROOT, "models", "model_tips.py"), "deeplab-pre",
                        f"photo_{i}.ppm", f"deeplab_{i}.raw"], cwd=str(work), check=True)
        raws.append(f"deeplab_{i}.raw")
    results = _net_run(dlc, raws, work)
    for i, (img, res) in enumerate(zip(images, results)):
        x, arg, labels = run_graph_def(gd, {"ImageTensor": img}, ["sub_7", "ArgMax", "SemanticPredictions"])
        pre = np.fromfile(work / f"deeplab_{i}.raw", np.float32).reshape(x.shape)
        assert np.abs(pre - x).max() < 1e-3                     # the script's preprocessing is the graph's
        ours = _raw(res, "ArgMax:0").reshape(arg.shape)
        assert (ours == arg).mean() >= 0.995 and len(np.unique(arg)) > 1
        print(f"\nDeepLab photo {i}: ArgMax equal on {(ours == arg).mean():.6f} of the pixels", end="")
        model_tips.main(["deeplab-post", str(work / f"photo_{i}.ppm"), os.path.join(res, "ArgMax:0.raw"),
                         str(work / f"labels_{i}.npy")])
        mine = np.load(work / f"labels_{i}.npy")
        assert mine.shape == labels.shape[1:] and (mine == labels[0]).mean() >= 0.995
        print(f", photo-sized labels (models/model_tips.py) on {(mine == labels[0]).mean():.6f}", end="")


def test_interior_input_dim_is_checked(work, capsys):
    """-d on an interior node: dims that contradict TF's inferred shape are refused, nothing is written."""
    from snpe_tools.tools.common import run_main
    from snpe_tools.tools.tensorflow_to_dlc import main

    folder = work / "deeplabv3_mnv2_pascal_train_aug"
    pb = str(folder / "frozen_inference_graph.pb")
    if not os.path.exists(pb):
        folder.mkdir(exist_ok=True)
        E.deeplabv3_mnv2(pb)
    out = work / "bad.dlc"
    rc = run_main(main, ["-i", pb, "-d", "sub_7", "1,512,513,3", "--out_node", "ArgMax", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and not out.exists()
    assert "ERROR_TF_UNEXPECTED_INPUT_SHAPE" in err[-1] and "[1,513,513,3]" in err[-1] and "Sub" in err[-1]
    # DeepLab's photo-sized output needs the photo's size, which the cut removed: refused, naming the input
    rc = run_main(main, ["-i", pb, "-d", "sub_7", "1,513,513,3", "--out_node", "SemanticPredictions", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and not out.exists() and "ImageTensor" in err[-1] and "changes with that input" in err[-1]
    # a node inside a while loop (the SSD's per-image NMS) cannot be a DLC input
    pb = E.ssd_mobilenet_v2(str(work / "ssd_cut.pb"))
    inner = f"{NMS}/map/while/MultiClassNonMaxSuppression/Reshape"
    rc = run_main(main, ["-i", pb, "-d", inner, "1917,1,4", "--out_node", "detection_boxes", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and not out.exists() and "inside the while loop" in err[-1] and inner in err[-1]


def test_ssd_soft_nms_is_refused(work, capsys):
    """Soft NMS has no DetectionOutput equivalent: one line naming it, no DLC written."""
    from snpe_tools.tools.common import run_main
    from snpe_tools.tools.tensorflow_to_dlc import main

    pb = E.ssd_mobilenet_v2(str(work / "ssd_soft.pb"), soft_sigma=0.5)
    out = work / "soft.dlc"
    args = ["--input_network", pb, *SSD_SEED]
    args[args.index("mobilenet_ssd.dlc")] = str(out)
    assert run_main(main, args) != 0 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert NMS in err and "soft NMS" in err and "NonMaxSuppressionV5" in err


def test_fake_quant_args_grid_is_tensorflows(work):
    """FakeQuantWithMinMaxArgs (attributes) and a range TF must nudge: the DLC encoding is TF's grid."""
    from tf_models import tf, v1, write_pb

    from snpe_tools.frontends.tensorflow.converter import TFOptions, convert_tensorflow

    rng = np.random.default_rng(2)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        y = tf.nn.conv2d(x, tf.constant(rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32)), 1, "SAME")
        y = tf.quantization.fake_quant_with_min_max_args(y, min=-1.3, max=2.9, num_bits=8, name="act_quant")
        tf.nn.relu(y, name="out")
    pb = write_pb(g.as_graph_def(), str(work / "fq_args.pb"))
    graph = convert_tensorflow(pb, TFOptions(input_dims=[("x", [1, 8, 8, 3])], out_names=["out"]))
    enc = graph.source_encodings[next(iter(graph.source_encodings))].encoding
    xs = rng.normal(0, 2, (1, 8, 8, 3)).astype(np.float32)
    ref = run_graph_def(g.as_graph_def(), {"x": xs}, ["act_quant"])[0]
    q = ref / enc.scale - enc.offset
    # every TF output is a level of the encoding, and the extreme levels are the nudged range's ends
    assert np.abs(q - np.round(q)).max() < 1e-3 and 0 <= q.min() and q.max() <= 255
    assert enc.offset == -round(1.3 / (4.2 / 255)) and enc.scale == float(np.float32(4.2) / np.float32(255))
    assert abs(ref.min() - enc.min) < 1e-6 and abs(ref.max() - enc.max) < 1e-6

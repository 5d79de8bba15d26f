"""ONNX RoiAlign, Col2Im, MaxUnpool and SwiGLU through snpe-onnx-to-dlc and the DLC runtime.

Every model is built with ``onnx.helper`` (mostly a single node), converted in process, run from the
written DLC and compared (rtol 1e-3, atol 1e-4) with onnxruntime, or with the ONNX reference
evaluator where onnxruntime is not the spec or cannot run the model:

* SwiGLU (opset 28) and RoiAlign-22: onnxruntime 1.32 has no kernel for them;
* Col2Im: onnxruntime 1.32 drops some sums for a 1-D dilated + padded case (checked against it
  everywhere else);
* MaxUnpool with ``output_shape``: onnxruntime re-reads the flat indices in ``output_shape``; the
  spec's reference and conformance data place the unpooled tensor in the leading corner.

RoiAlign-10 is checked against onnxruntime only: the reference evaluator applies opset 16's
``half_pixel`` default to it.  The QNN RoiAlign params survive a DLC write/read (``output_size`` is
rebuilt from the output tensor) and the op computes the same before and after.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import helpers
from snpe_tools.dlc import Metadata, read_dlc, write_dlc
from snpe_tools.errors import ConversionError
from snpe_tools.frontends.onnx.converter import OnnxOptions, convert_onnx
from snpe_tools.frontends.onnx.ops.roi import img_size_ratio
from snpe_tools.ir.graph import Graph
from snpe_tools.runtime import execute

RTOL, ATOL = 1e-3, 1e-4
_ELEM = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float16): TensorProto.FLOAT16,
         np.dtype(np.int64): TensorProto.INT64}


def single_node(op: str, feeds: dict[str, np.ndarray], consts: dict[str, np.ndarray], opset: int,
                n_inputs: list[str], out_type: int = TensorProto.FLOAT, **attrs) -> onnx.ModelProto:
    """One ``op`` node over runtime inputs ``feeds`` and initializers ``consts`` (in ``n_inputs`` order)."""
    node = helper.make_node(op, n_inputs, ["y"], name="node", **attrs)
    inputs = [helper.make_tensor_value_info(k, _ELEM[v.dtype], list(v.shape)) for k, v in feeds.items()]
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", out_type, None)],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_converted(model: onnx.ModelProto, feeds: dict[str, np.ndarray], tmp_path) -> np.ndarray:
    """Convert with snpe-onnx-to-dlc's main(), run the DLC; int64 feeds go in as the DLC's int32."""
    path, dlc = str(tmp_path / "m.onnx"), str(tmp_path / "m.dlc")
    onnx.save(model, path)
    helpers.convert_in_process(path, dlc)
    graph = read_dlc(dlc).graph
    dlc_feeds = {k: v.astype(graph.tensors[k].dtype) for k, v in feeds.items()}
    return helpers.run_dlc(dlc, dlc_feeds)["y"]


def ort_out(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return helpers.run_onnxruntime(model, feeds)["y"]


def ref_out(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return ReferenceEvaluator(model).run(None, feeds)[0]


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL)


def node_types(model: onnx.ModelProto, tmp_path) -> set[str]:
    path, dlc = str(tmp_path / "t.onnx"), str(tmp_path / "t.dlc")
    onnx.save(model, path)
    helpers.convert_in_process(path, dlc)
    return set(helpers.count_ops(dlc))


# ---- RoiAlign ----------------------------------------------------------------------------------
def roi_inputs(rng, batch: int, c: int, h: int, w: int, scale: float):
    """Feature map plus rois in image coordinates: inside, crossing the border, tiny (< 1 feature
    pixel), far outside, inverted, and one spanning the whole image."""
    x = rng.standard_normal((batch, c, h, w)).astype(np.float32)
    ih, iw = h / scale, w / scale
    rois = np.array([[0.1 * iw, 0.2 * ih, 0.7 * iw, 0.9 * ih],
                     [-0.2 * iw, 0.5 * ih, 0.4 * iw, 1.3 * ih],
                     [0.3 * iw, 0.3 * ih, 0.3 * iw + 0.4 / scale, 0.3 * ih + 0.3 / scale],
                     [1.5 * iw, 1.5 * ih, 2.0 * iw, 2.2 * ih],
                     [0.6 * iw, 0.7 * ih, 0.2 * iw, 0.1 * ih],
                     [0.0, 0.0, iw, ih]], np.float32)
    idx = (np.arange(len(rois)) % batch).astype(np.int64)
    return x, rois, idx


ROI_CASES = [
    # opset, transform, sampling_ratio, spatial_scale, out_h, out_w, batch, c, h, w
    (10, None, 2, 1.0, 5, 5, 1, 1, 10, 10),
    (10, None, 0, 0.25, 3, 4, 2, 3, 8, 9),
    (16, "half_pixel", 0, 0.5, 2, 3, 2, 4, 7, 6),
    (16, "half_pixel", 3, 1.0 / 16, 4, 4, 1, 2, 9, 11),
    (16, "output_half_pixel", 0, 1.0 / 16, 7, 7, 2, 3, 12, 10),
    (16, None, 1, 0.125, 1, 1, 3, 2, 6, 5),
    (22, "half_pixel", 2, 0.3, 3, 2, 2, 3, 8, 8),
    (22, "output_half_pixel", 0, 0.1, 2, 2, 1, 2, 9, 7),
]


@pytest.mark.parametrize("opset,transform,sampling,scale,out_h,out_w,batch,c,h,w", ROI_CASES)
def test_roi_align_matches_onnxruntime(tmp_path, opset, transform, sampling, scale, out_h, out_w, batch, c, h, w):
    rng = np.random.default_rng(opset * 100 + out_h * 10 + out_w)
    x, rois, idx = roi_inputs(rng, batch, c, h, w, scale)
    kw = dict(output_height=out_h, output_width=out_w, sampling_ratio=sampling, spatial_scale=scale)
    if transform is not None:
        kw["coordinate_transformation_mode"] = transform
    feeds = {"x": x, "rois": rois, "idx": idx}
    model = single_node("RoiAlign", feeds, {}, opset, ["x", "rois", "idx"], **kw)
    want = ort_out(model, feeds) if opset < 22 else ref_out(model, feeds)   # onnxruntime has no RoiAlign-22
    assert_close(run_converted(model, feeds, tmp_path), want)
    assert np.abs(want).max() > 0.1   # the cases really sample the feature map


def test_roi_align_constant_rois_and_indices(tmp_path):
    """rois and (int64) batch indices as initializers: static int32 / float32 operands of the op."""
    rng = np.random.default_rng(3)
    x, rois, idx = roi_inputs(rng, 2, 3, 8, 8, 0.5)
    model = single_node("RoiAlign", {"x": x}, {"rois": rois, "idx": idx[::-1].copy()}, 16, ["x", "rois", "idx"],
                        output_height=3, output_width=3, sampling_ratio=2, spatial_scale=0.5)
    assert_close(run_converted(model, {"x": x}, tmp_path), ort_out(model, {"x": x}))
    assert "RoiAlign" in node_types(model, tmp_path)


def test_roi_align_float16(tmp_path):
    """float16 feature map and rois stay float16 through the QNN op."""
    rng = np.random.default_rng(6)
    x, rois, idx = roi_inputs(rng, 2, 3, 8, 8, 0.5)
    feeds = {"x": x.astype(np.float16), "rois": rois.astype(np.float16), "idx": idx}
    model = single_node("RoiAlign", feeds, {}, 16, ["x", "rois", "idx"], out_type=TensorProto.FLOAT16,
                        output_height=2, output_width=3, sampling_ratio=2, spatial_scale=0.5)
    got = run_converted(model, feeds, tmp_path)
    assert got.dtype == np.float16
    assert_close(got, ort_out(model, feeds))


def test_roi_align_half_pixel_differs_from_output_half_pixel(tmp_path):
    """The two coordinate modes must give different numbers (guards against ignoring the attribute)."""
    rng = np.random.default_rng(5)
    x, rois, idx = roi_inputs(rng, 1, 2, 8, 8, 1.0)
    feeds = {"x": x, "rois": rois, "idx": idx}
    outs = []
    for mode in ("half_pixel", "output_half_pixel"):
        model = single_node("RoiAlign", feeds, {}, 16, ["x", "rois", "idx"], output_height=2, output_width=2,
                            coordinate_transformation_mode=mode)
        outs.append(run_converted(model, feeds, tmp_path))
        assert_close(outs[-1], ort_out(model, feeds))
    assert not np.allclose(outs[0], outs[1], rtol=RTOL, atol=ATOL)


MAX_CASES = [
    # opset, transform, sampling_ratio, spatial_scale, out_h, out_w, batch, c, h, w
    (10, None, 2, 1.0, 5, 5, 1, 1, 10, 10),
    (16, "half_pixel", 1, 0.5, 3, 2, 2, 3, 7, 6),
    (16, "output_half_pixel", 3, 0.25, 2, 4, 2, 2, 8, 9),
    (16, "half_pixel", 2, 0.1, 4, 3, 1, 2, 9, 7),
]


@pytest.mark.parametrize("opset,transform,sampling,scale,out_h,out_w,batch,c,h,w", MAX_CASES)
def test_roi_align_max_matches_onnxruntime(tmp_path, opset, transform, sampling, scale, out_h, out_w, batch, c, h, w):
    """Mode max: an exact composition (no QNN RoiAlign) over run-time rois and batch indices."""
    rng = np.random.default_rng(opset + sampling)
    x, rois, idx = roi_inputs(rng, batch, c, h, w, scale)
    kw = dict(mode="max", output_height=out_h, output_width=out_w, sampling_ratio=sampling, spatial_scale=scale)
    if transform is not None:
        kw["coordinate_transformation_mode"] = transform
    feeds = {"x": x, "rois": rois, "idx": idx}
    model = single_node("RoiAlign", feeds, {}, opset, ["x", "rois", "idx"], **kw)
    want = ort_out(model, feeds)
    if opset >= 16:   # the reference evaluator applies opset 16's half_pixel default to RoiAlign-10 too
        assert_close(want, ref_out(model, feeds))
    assert_close(run_converted(model, feeds, tmp_path), want)
    types = node_types(model, tmp_path)
    assert "RoiAlign" not in types and {"Gather", "ReduceMax"} <= types


@pytest.mark.parametrize("transform,scale", [("half_pixel", 0.5), ("output_half_pixel", 0.25)])
def test_roi_align_adaptive_max_with_constant_rois(tmp_path, transform, scale):
    """sampling_ratio=0 in max mode: per-roi sample counts from the constant rois (including the
    inverted roi, which samples nothing under half_pixel), batch indices at run time."""
    rng = np.random.default_rng(8)
    x, rois, idx = roi_inputs(rng, 2, 3, 9, 8, scale)
    feeds = {"x": x, "idx": idx}
    model = single_node("RoiAlign", feeds, {"rois": rois}, 16, ["x", "rois", "idx"], mode="max", sampling_ratio=0,
                        output_height=3, output_width=2, spatial_scale=scale, coordinate_transformation_mode=transform)
    want = ort_out(model, feeds)
    assert_close(want, ref_out(model, feeds))
    assert_close(run_converted(model, feeds, tmp_path), want)


def test_roi_align_adaptive_max_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    x, rois, idx = roi_inputs(rng, 1, 1, 6, 6, 1.0)
    feeds = {"x": x, "rois": rois, "idx": idx}
    model = single_node("RoiAlign", feeds, {}, 16, ["x", "rois", "idx"], mode="max", sampling_ratio=0)
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    with pytest.raises(ConversionError, match="RoiAlign node 'node'.*max"):
        convert_onnx(path, OnnxOptions())


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_between_convolutions(tmp_path, mode):
    """Conv -> RoiAlign -> Conv: the layout pass keeps the feature map channel-last around the op."""
    rng = np.random.default_rng(21)
    x, rois, idx = roi_inputs(rng, 2, 3, 12, 10, 0.5)
    w1 = (0.3 * rng.standard_normal((4, 3, 3, 3))).astype(np.float32)
    w2 = (0.3 * rng.standard_normal((5, 4, 2, 2))).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["f"], pads=[1, 1, 1, 1]),
             helper.make_node("RoiAlign", ["f", "rois", "idx"], ["r"], mode=mode, output_height=4, output_width=3,
                              sampling_ratio=2, spatial_scale=0.5),
             helper.make_node("Conv", ["r", "w2"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)),
                     helper.make_tensor_value_info("rois", TensorProto.FLOAT, list(rois.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
                     numpy_helper.from_array(idx, "idx")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    feeds = {"x": x, "rois": rois}
    assert_close(run_converted(model, feeds, tmp_path), ort_out(model, feeds))


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25, 1.0 / 16, 0.1, 0.3, 1.0 / 3, 0.07])
def test_img_size_ratio_round_trips_spatial_scale(scale):
    r = img_size_ratio(scale)
    assert r.dtype == np.float32
    assert np.float32(1.0) / r == np.float32(scale)
    assert abs(float(r) * scale - 1.0) < 1e-6


def roi_graph(params: dict, x: np.ndarray, rois: np.ndarray, idx: np.ndarray, out_hw: tuple[int, int]) -> Graph:
    g = Graph("roi")
    g.add_input("x", x.shape, np.float32)
    g.add_input("rois", rois.shape, np.float32)
    g.add_input("idx", idx.shape, np.int32)
    g.add_op("RoiAlign", ["x", "rois", "idx"], ["y"], dict(params, output_size=list(out_hw)), name="roi")
    g.outputs = ["y"]
    return g


def test_roi_align_dlc_round_trip(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 9, 7, 3)).astype(np.float32)          # NHWC
    rois = np.array([[2.0, 4.0, 20.0, 30.0], [-4.0, 0.0, 12.0, 9.0], [8.0, 8.0, 8.5, 8.25]], np.float32)
    idx = np.array([1, 0, 1], np.int32)
    params = {"img_size_ratio": np.array([4.0, 2.0], np.float32), "num_samples_y": 3, "num_samples_x": 0,
              "aligned": True, "allow_invalid_roi": True}
    g = roi_graph(params, x, rois, idx, (3, 2))
    feeds = {"x": x, "rois": rois, "idx": idx}
    before = execute(g, feeds)["y"]
    path = str(tmp_path / "roi.dlc")
    write_dlc(g, path, Metadata({"converter-command": "test"}))
    g2 = read_dlc(path).graph
    (op,) = [o for o in g2.ops if o.type == "RoiAlign"]
    np.testing.assert_array_equal(op.params["img_size_ratio"], [4.0, 2.0])
    assert (op.params["num_samples_y"], op.params["num_samples_x"]) == (3, 0)
    assert op.params["aligned"] is True and op.params["allow_invalid_roi"] is True
    np.testing.assert_array_equal(op.params["output_size"], [3, 2])
    after = execute(g2, feeds)["y"]
    assert after.shape == (3, 3, 2, 3)
    np.testing.assert_array_equal(before, after)
    # a different ratio must change the result (the param is really read back and used)
    g3 = roi_graph(dict(params, img_size_ratio=np.array([2.0, 2.0], np.float32)), x, rois, idx, (3, 2))
    assert not np.allclose(execute(g3, feeds)["y"], after)


def test_roi_align_kernel_matches_onnx_reference_loops():
    """The vectorised kernel against the ONNX reference evaluator on the equivalent NCHW node,
    with the non-ONNX param combination (aligned without allow_invalid_roi) checked by hand."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 6, 5)).astype(np.float32)
    rois = np.array([[0.5, 1.0, 4.0, 5.5], [1.0, 1.0, 1.2, 1.1]], np.float32)
    idx = np.zeros(2, np.int32)
    feeds = {"x": x, "rois": rois, "idx": idx.astype(np.int64)}
    model = single_node("RoiAlign", feeds, {}, 16, ["x", "rois", "idx"], output_height=3, output_width=2,
                        sampling_ratio=0, coordinate_transformation_mode="half_pixel")
    want = ref_out(model, feeds)
    params = {"img_size_ratio": np.ones(2, np.float32), "num_samples_y": 0, "num_samples_x": 0,
              "aligned": True, "allow_invalid_roi": True}
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    got = execute(roi_graph(params, x_cl, rois, idx, (3, 2)), {"x": x_cl, "rois": rois, "idx": idx})["y"]
    assert_close(got.transpose(0, 3, 1, 2), want)
    # allow_invalid_roi=False grows the tiny second roi to 1x1 feature pixels: a different crop
    clamped = execute(roi_graph(dict(params, allow_invalid_roi=False), x_cl, rois, idx, (3, 2)),
                      {"x": x_cl, "rois": rois, "idx": idx})["y"]
    np.testing.assert_array_equal(clamped[0], got[0])
    assert not np.allclose(clamped[1], got[1])


# ---- Col2Im ------------------------------------------------------------------------------------
def col2im_blocks(image, block, strides, pads, dilations) -> int:
    k = len(image)
    n = 1
    for i in range(k):
        n *= (image[i] + pads[i] + pads[k + i] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1
    return n


COL2IM_CASES = [
    # image, block, strides, pads, dilations, n, c, onnxruntime agrees with the spec
    ([5, 5], [1, 5], None, None, None, 1, 1, True),
    ([5, 5], [2, 2], None, None, None, 2, 3, True),
    ([6, 7], [3, 2], [2, 1], None, None, 1, 2, True),
    ([5, 5], [2, 2], None, [1, 0, 1, 2], None, 2, 1, True),
    ([9, 8], [2, 3], [2, 2], [1, 1, 0, 2], [2, 1], 1, 3, True),
    ([3, 4, 5], [1, 2, 2], [1, 2, 1], None, None, 1, 2, True),
    # onnxruntime 1.32 drops some sums here (y[0, 0, 5] should be x[0, 1, 2] + x[0, 2, 1])
    ([7], [3], [2], [1, 1], [2], 2, 2, False),
]


@pytest.mark.parametrize("image,block,strides,pads,dilations,n,c,ort_ok", COL2IM_CASES)
def test_col2im_matches_reference(tmp_path, image, block, strides, pads, dilations, n, c, ort_ok):
    k = len(image)
    st, pd, dl = strides or [1] * k, pads or [0] * 2 * k, dilations or [1] * k
    L = col2im_blocks(image, block, st, pd, dl)
    rng = np.random.default_rng(L)
    x = rng.standard_normal((n, c * int(np.prod(block)), L)).astype(np.float32)
    kw = {key: v for key, v in (("strides", strides), ("pads", pads), ("dilations", dilations)) if v is not None}
    consts = {"image": np.array(image, np.int64), "block": np.array(block, np.int64)}
    model = single_node("Col2Im", {"x": x}, consts, 18, ["x", "image", "block"], **kw)
    want = ref_out(model, {"x": x})
    assert want.shape == (n, c, *image)
    if ort_ok:
        assert_close(ort_out(model, {"x": x}), want)
    assert_close(run_converted(model, {"x": x}, tmp_path), want)
    assert "ScatterNd" in node_types(model, tmp_path)


def test_col2im_runtime_image_shape_is_refused(tmp_path):
    x = np.zeros((1, 4, 16), np.float32)
    feeds = {"x": x, "image": np.array([5, 5], np.int64)}
    model = single_node("Col2Im", feeds, {"block": np.array([2, 2], np.int64)}, 18, ["x", "image", "block"])
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    with pytest.raises(ConversionError, match="Col2Im node 'node': image_shape must be a constant"):
        convert_onnx(path, OnnxOptions())


# ---- MaxUnpool ---------------------------------------------------------------------------------
def max_pool_with_indices(x: np.ndarray, kernel, strides, pads) -> tuple[np.ndarray, np.ndarray]:
    """Pooled values and whole-tensor flat indices from onnxruntime's MaxPool (what MaxUnpool inverts)."""
    k = len(kernel)
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=kernel, strides=strides, pads=pads)
    graph = helper.make_graph([node], "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("i", TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    out = helpers.run_onnxruntime(model, {"x": x})
    assert out["y"].ndim == k + 2
    return out["y"], out["i"]


UNPOOL_CASES = [
    # x shape, kernel, strides, pads, output_shape (spatial) or None, opset
    ((1, 1, 4, 4), [2, 2], [2, 2], [0, 0, 0, 0], None, 11),
    ((2, 3, 5, 5), [3, 2], [2, 1], [1, 0, 1, 0], None, 22),
    ((1, 2, 8), [2], [2], [0, 0], None, 9),
    ((1, 2, 4, 4, 6), [2, 2, 3], [2, 2, 3], [0, 0, 0, 0, 0, 0], None, 22),
    ((2, 2, 6, 6), [2, 2], [2, 2], [0, 0, 0, 0], [7, 8], 11),
    ((1, 3, 5, 7), [3, 3], [2, 2], [1, 1, 1, 1], [6, 8], 22),
]


@pytest.mark.parametrize("shape,kernel,strides,pads,out_spatial,opset", UNPOOL_CASES)
def test_max_unpool(tmp_path, shape, kernel, strides, pads, out_spatial, opset):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    pooled, ind = max_pool_with_indices(x, kernel, strides, pads)
    feeds = {"x": pooled, "i": ind}
    kw = dict(kernel_shape=kernel, strides=strides, pads=pads)
    if out_spatial is None:
        model = single_node("MaxUnpool", feeds, {}, opset, ["x", "i"], **kw)
        want = ort_out(model, feeds)
        assert_close(want, ref_out(model, feeds))
    else:
        consts = {"shape": np.array(list(shape[:2]) + out_spatial, np.int64)}
        model = single_node("MaxUnpool", feeds, consts, opset, ["x", "i", "shape"], **kw)
        want = ref_out(model, feeds)
        assert want.shape == tuple(shape[:2]) + tuple(out_spatial)
    got = run_converted(model, feeds, tmp_path)
    assert_close(got, want)
    assert np.count_nonzero(got) == len(np.unique(ind))   # overlapping windows repeat indices


def test_max_unpool_constant_indices(tmp_path):
    """Indices frozen into an initializer (int64 -> static int32) unpool the same way."""
    rng = np.random.default_rng(4)
    pooled, ind = max_pool_with_indices(rng.standard_normal((1, 2, 4, 6)).astype(np.float32), [2, 2], [2, 2],
                                        [0, 0, 0, 0])
    model = single_node("MaxUnpool", {"x": pooled}, {"i": ind}, 11, ["x", "i"], kernel_shape=[2, 2], strides=[2, 2])
    assert_close(run_converted(model, {"x": pooled}, tmp_path), ort_out(model, {"x": pooled}))


def test_max_unpool_too_small_output_shape_is_refused(tmp_path):
    pooled = np.zeros((1, 1, 2, 2), np.float32)
    ind = np.zeros((1, 1, 2, 2), np.int64)
    model = single_node("MaxUnpool", {"x": pooled, "i": ind}, {"shape": np.array([1, 1, 3, 3], np.int64)}, 11,
                        ["x", "i", "shape"], kernel_shape=[2, 2], strides=[2, 2])
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    with pytest.raises(ConversionError, match="MaxUnpool node 'node': output_shape"):
        convert_onnx(path, OnnxOptions())


# ---- SwiGLU ------------------------------------------------------------------------------------
@pytest.mark.skipif(not onnx.defs.has("SwiGLU"), reason="this onnx has no SwiGLU")
@pytest.mark.parametrize("shape,alpha", [((2, 4), None), ((3, 5, 8), 0.5), ((1, 7), 1.702), ((4, 2, 3, 6), -0.25)])
def test_swiglu_matches_reference(tmp_path, shape, alpha):
    rng = np.random.default_rng(len(shape))
    feeds = {"a": (3 * rng.standard_normal(shape)).astype(np.float32),
             "b": rng.standard_normal(shape).astype(np.float32)}
    kw = {} if alpha is None else {"alpha": alpha}
    model = single_node("SwiGLU", feeds, {}, 28, ["a", "b"], **kw)
    want = ref_out(model, feeds)
    a, b, al = feeds["a"].astype(np.float64), feeds["b"].astype(np.float64), 1.0 if alpha is None else alpha
    np.testing.assert_allclose(want, a / (1 + np.exp(-al * a)) * b, rtol=1e-5, atol=1e-6)
    assert_close(run_converted(model, feeds, tmp_path), want)
    assert node_types(model, tmp_path) <= {"ElementWiseMultiply", "Sigmoid"}


@pytest.mark.skipif(not onnx.defs.has("SwiGLU"), reason="this onnx has no SwiGLU")
def test_swiglu_shape_mismatch_is_refused(tmp_path):
    feeds = {"a": np.zeros((2, 4), np.float32), "b": np.zeros((1, 4), np.float32)}
    model = single_node("SwiGLU", feeds, {}, 28, ["a", "b"])
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    with pytest.raises(ConversionError, match="SwiGLU node 'node'.*same shape"):
        convert_onnx(path, OnnxOptions())

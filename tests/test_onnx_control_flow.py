"""ONNX If / Loop / Scan known at convert time are unrolled (a DLC has no control flow); compared with
onnxruntime.  Run-time conditions / trip counts are refused with one clear line."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from helpers import convert_in_process, count_ops, run_dlc, run_onnxruntime

from snpe_tools.errors import ConversionError

F = TensorProto.FLOAT
RNG = np.random.default_rng(9)


def _vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def _save_and_compare(tmp_path, model, feeds):
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    dlc = str(tmp_path / "m.dlc")
    convert_in_process(path, dlc)
    ours, ref = run_dlc(dlc, feeds), run_onnxruntime(model, feeds)
    for name, r in ref.items():
        np.testing.assert_allclose(ours[name], r, rtol=1e-3, atol=1e-4, err_msg=name)
    return count_ops(dlc)


def _loop_body(stop_after: int | None):
    """y_out = y_in * 0.5 + x * i; scan_out = y_out; cond_out = i < stop_after (or passes cond_in through)."""
    nodes = [
        helper.make_node("Cast", ["i"], ["i_f"], to=F),
        helper.make_node("Mul", ["x", "i_f"], ["xi"]),
        helper.make_node("Mul", ["y_in", "half"], ["y_half"]),
        helper.make_node("Add", ["y_half", "xi"], ["y_out"]),
        helper.make_node("Identity", ["y_out"], ["scan_out"]),
    ]
    if stop_after is None:
        nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
    else:
        nodes.append(helper.make_node("Less", ["i", "stop"], ["cond_out"]))
    inits = [helper.make_tensor("half", F, [], [0.5])]
    if stop_after is not None:
        inits.append(helper.make_tensor("stop", TensorProto.INT64, [], [stop_after]))
    return helper.make_graph(nodes, "body", [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL),
                                             _vi("y_in", [2, 3])],
                             [_vi("cond_out", [], TensorProto.BOOL), _vi("y_out", [2, 3]), _vi("scan_out", [2, 3])],
                             initializer=inits)


@pytest.mark.parametrize("trips,stop_after", [(5, None), (10, 3)])
def test_loop_with_static_trip_count_is_unrolled(tmp_path, trips, stop_after):
    loop = helper.make_node("Loop", ["M", "", "y0"], ["y", "ys"], body=_loop_body(stop_after))
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y0"]), loop], "loop",
                          [_vi("x", [2, 3])], [_vi("y", [2, 3]), _vi("ys", None)],
                          initializer=[helper.make_tensor("M", TensorProto.INT64, [], [trips])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    counts = _save_and_compare(tmp_path, model, {"x": RNG.standard_normal((2, 3)).astype(np.float32)})
    assert counts["Concat"] == 1                     # the scan output: one stack of every iteration


def test_if_with_constant_condition_takes_its_branch(tmp_path):
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [_vi("t", [4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [_vi("e", [4])])
    for cond in (True, False):
        g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)], "if",
                              [_vi("x", [4])], [_vi("y", [4])],
                              initializer=[helper.make_tensor("c", TensorProto.BOOL, [], [cond])])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        counts = _save_and_compare(tmp_path, model, {"x": RNG.standard_normal(4).astype(np.float32)})
        assert ("Relu" in counts) == cond


@pytest.mark.parametrize("in_dir,out_dir,out_axis", [(0, 0, 0), (1, 0, 1), (0, 1, 0)])
def test_scan_is_unrolled(tmp_path, in_dir, out_dir, out_axis):
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "a"], ["s_out"]), helper.make_node("Mul", ["a", "b"], ["ab"]),
         helper.make_node("Add", ["ab", "s_out"], ["o"])], "body",
        [_vi("s_in", [3]), _vi("a", [3]), _vi("b", [3])], [_vi("s_out", [3]), _vi("o", [3])])
    node = helper.make_node("Scan", ["s0", "xa", "xb"], ["s", "os"], body=body, num_scan_inputs=2,
                            scan_input_axes=[0, 1], scan_input_directions=[in_dir, 0],
                            scan_output_axes=[out_axis], scan_output_directions=[out_dir])
    g = helper.make_graph([node], "scan", [_vi("s0", [3]), _vi("xa", [4, 3]), _vi("xb", [3, 4])],
                          [_vi("s", [3]), _vi("os", None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)])
    feeds = {"s0": RNG.standard_normal(3).astype(np.float32), "xa": RNG.standard_normal((4, 3)).astype(np.float32),
             "xb": RNG.standard_normal((3, 4)).astype(np.float32)}
    _save_and_compare(tmp_path, model, feeds)


def test_run_time_loop_is_refused(tmp_path):
    loop = helper.make_node("Loop", ["M", "", "x"], ["y", "ys"], body=_loop_body(None))
    g = helper.make_graph([loop], "loop", [_vi("M", [], TensorProto.INT64), _vi("x", [2, 3])],
                          [_vi("y", [2, 3]), _vi("ys", None)])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ConversionError, match="computed at run time"):
        convert_in_process(path, str(tmp_path / "m.dlc"))

"""Shape rules refuse what their kernels cannot compute.

A model or DLC is untrusted: parameters out of range (axes, enum codes) or inputs that do not fit must be
refused when the op is added (``Graph.add_op`` turns the shape rule's error into a one-line
ConversionError), never accepted and then crash in the kernel with a traceback or compute something else.
Cases marked xfail are shape rules that accept them today (bugs, listed for the op owners; strict, so a
fix shows up here as XPASS)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import one_op_graph, rand
from snpe_tools.errors import ConversionError

X4 = rand(1, 4, 4, 4)


def _bug(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


CASES = [   # (op type, inputs, params, static inputs, marks)
    ("ScatterElements", [rand(3, 4), np.zeros((1, 4), np.int32), rand(1, 4)], {"reduction": 7}, [1], ()),
    ("GridSample", [X4, rand(1, 2, 2, 2)], {"mode": 5}, [], ()),
    ("ArgbToRgb", [X4], {"input_order": 5}, [], ()),
    ("Concat", [X4, X4], {"axis": 7}, [], ()),
    ("Argmax", [X4], {"axis": 7}, [], ()),
    ("StridedSlice", [X4], {"ranges": [[0, 1, 0], [0, 4, 1], [0, 4, 1], [0, 4, 1]]}, [], ()),
    ("RmsNorm", [X4, rand(4)], {"axes": [7]}, [1], ()),
    ("ElementWiseNeuron", [X4], {"operation": 9}, [], ()),
    ("Pad", [X4], {"pad_amount": [[0, 0], [1, 1], [1, 1], [0, 0]], "scheme": 4}, [], ()),
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "transformation_mode": 7}, [], ()),
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "interpolation_mode": 5}, [], ()),
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "nearest_mode": 7}, [], ()),
    ("DepthToSpace", [X4], {"block_size": [2, 2], "mode": 2}, [], ()),
    ("SpaceToDepth", [X4], {"block_size": [2, 2], "mode": 2}, [], ()),
    ("PoolMax2d", [X4], {"filter_size": [2, 2], "rounding_mode": 3}, [], ()),
    ("Softmax", [X4], {"axis": 7}, [], ()),
    ("CumulativeSum", [X4], {"axis": 7}, [], ()),
    ("ReduceSum", [X4], {"axes": [7]}, [], ()),
    ("LayerNorm", [X4, rand(4)], {"axes": [7]}, [1], ()),
    ("Gather", [X4, np.zeros(2, np.int32)], {"axis": 7}, [1], ()),
    ("Transpose", [X4], {"perm": [0, 1, 2, 2]}, [], ()),
    ("Split", [X4], {"axis": 3, "split_index": [3, 1]}, [], ()),
    ("Tile", [X4], {"multiples": [1, 2]}, [], ()),
    ("Concat", [X4, rand(1, 4, 5, 4)], {"axis": 1}, [], ()),
    ("Conv2d", [X4, rand(3, 3, 2, 5)], {"group": 3}, [1], ()),
    # the same checks on the ops that share the parameter
    ("LogSoftmax", [X4], {"axis": 4}, [], ()),
    ("ReduceMean", [X4], {"axes": [1, 1]}, [], ()),
    ("PoolAvg2d", [X4], {"filter_size": [2, 2], "rounding_mode": 2}, [], ()),
    ("PoolMax3d", [rand(1, 4, 4, 4, 2)], {"filter_size": [2, 2, 2], "rounding_mode": 2}, [], ()),
    ("Gather", [X4, np.zeros(2, np.int32)], {"axis": -5}, [1], ()),
    ("GatherElements", [X4, np.zeros((1, 4, 4, 4), np.int32)], {"axis": 4}, [1], ()),
    ("ScatterElements", [rand(3, 4), np.zeros((1, 4), np.int32), rand(1, 4)], {"axis": 2}, [1], ()),
    ("Transpose", [X4], {"perm": [0, 1, 2]}, [], ()),
    ("Split", [X4], {"axis": 3, "split_index": [1, 5]}, [], ()),
    ("Split", [X4], {"axis": 4, "split_index": [1]}, [], ()),
    ("Tile", [X4], {"multiples": [1, 1, 1, 1, 2]}, [], ()),
    ("Concat", [X4, rand(4, 4, 4)], {"axis": 0}, [], ()),
    ("Pad", [X4], {"pad_amount": [[1, 1], [1, 1]]}, [], ()),
    ("Conv3d", [rand(1, 3, 3, 3, 4), rand(1, 1, 1, 2, 6)], {"group": 3}, [1], ()),
    ("TransposeConv2d", [X4, rand(2, 2, 4, 2)], {"group": 3}, [1], ()),
    ("DepthWiseConv2d", [X4, rand(3, 3, 1, 6)], {}, [1], ()),
    ("Lrn", [X4], {"radius": 1, "region": 2}, [], ()),
    ("InstanceNorm", [X4, rand(4), rand(4)], {"mode": 1}, [1, 2], ()),
]


@pytest.mark.parametrize("type_,inputs,params,static", [
    pytest.param(t, i, p, s, marks=m, id=f"{t}-{'-'.join(f'{k}={v}' for k, v in p.items() if k != 'ranges')}")
    for t, i, p, s, m in CASES])
def test_shape_rule_refuses_what_the_kernel_cannot_compute(type_, inputs, params, static):
    with pytest.raises(ConversionError, match="invalid inputs or parameters"):
        one_op_graph(type_, inputs, params, static)


@pytest.mark.parametrize("type_,inputs,params,static,words", [
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "nearest_mode": 7}, [],
     ["Resize", "nearest_mode 7", "0 ROUND_PREFER_FLOOR, 1 ROUND_PREFER_CEIL, 2 FLOOR, 3 CEIL"]),
    ("Softmax", [X4], {"axis": 7}, [], ["Softmax", "axis 7", "rank 4", "0 .. 3"]),
    ("Gather", [X4, np.zeros(2, np.int32)], {"axis": 7}, [1], ["Gather", "axis 7", "-4 .. 3"]),
    ("InstanceNorm", [X4, rand(4), rand(4)], {"region": 2}, [1, 2], ["InstanceNorm", "region 2", "0 ACROSS_SPATIAL"]),
])
def test_refusal_is_one_line_naming_op_param_value_and_what_is_supported(type_, inputs, params, static, words):
    with pytest.raises(ConversionError) as exc:
        one_op_graph(type_, inputs, params, static)
    msg = str(exc.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("type_,inputs,params,static", [
    ("Gather", [X4, np.zeros(2, np.int32)], {"axis": -1}, [1]),
    ("GatherElements", [X4, np.zeros((1, 4, 4, 2), np.int32)], {"axis": -1}, [1]),
    ("Conv2d", [X4, rand(3, 3, 2, 6)], {"group": 2}, [1]),
    ("Conv3d", [rand(1, 3, 3, 3, 4), rand(1, 1, 1, 2, 6)], {"group": 2}, [1]),
    ("TransposeConv2d", [X4, rand(2, 2, 4, 3)], {"group": 2}, [1]),
    ("Split", [X4], {"axis": 3, "split_index": [1, 1, 4]}, []),
])
def test_valid_edges_still_accepted(type_, inputs, params, static):
    """Negative axes where QNN's axis is signed, grouped convolutions, empty split pieces stay valid."""
    one_op_graph(type_, inputs, params, static)

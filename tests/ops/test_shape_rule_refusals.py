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
    ("ElementWiseNeuron", [X4], {"operation": 9}, [],
     _bug("ElementWiseNeuron: unknown operation code accepted by infer, KeyError in the kernel")),
    ("Pad", [X4], {"pad_amount": [[0, 0], [1, 1], [1, 1], [0, 0]], "scheme": 4}, [],
     _bug("Pad: unknown scheme accepted by infer, KeyError in the kernel")),
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "transformation_mode": 7}, [],
     _bug("Resize: unknown transformation_mode accepted by infer, ValueError in the kernel")),
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "interpolation_mode": 5}, [],
     _bug("Resize: unknown interpolation_mode accepted by infer, ValueError in the kernel")),
    ("Resize", [X4], {"shape": [1, 8, 8, 4], "nearest_mode": 7}, [],
     _bug("Resize: unknown nearest_mode accepted by infer, KeyError in the kernel")),
    ("DepthToSpace", [X4], {"block_size": [2, 2], "mode": 2}, [],
     _bug("DepthToSpace: mode 2 (neither DCR nor CRD) silently computed as CRD")),
    ("SpaceToDepth", [X4], {"block_size": [2, 2], "mode": 2}, [],
     _bug("SpaceToDepth: mode 2 (neither DCR nor CRD) silently computed as CRD")),
    ("PoolMax2d", [X4], {"filter_size": [2, 2], "rounding_mode": 3}, [],
     _bug("PoolMax2d/PoolAvg2d: rounding_mode 3 (neither floor 0 nor ceil 1) silently computed as floor")),
    ("Softmax", [X4], {"axis": 7}, [], _bug("Softmax/LogSoftmax: axis out of range accepted, AxisError in the kernel")),
    ("CumulativeSum", [X4], {"axis": 7}, [],
     _bug("CumulativeSum: axis out of range accepted, AxisError in the kernel")),
    ("ReduceSum", [X4], {"axes": [7]}, [], _bug("Reduce*: axes out of range accepted, AxisError in the kernel")),
    ("LayerNorm", [X4, rand(4)], {"axes": [7]}, [1],
     _bug("LayerNorm: axes out of range accepted, AxisError in the kernel (RmsNorm checks them)")),
    ("Gather", [X4, np.zeros(2, np.int32)], {"axis": 7}, [1],
     _bug("Gather: axis 7 on rank 4 silently wrapped to axis 3 (axis % rank)")),
    ("Transpose", [X4], {"perm": [0, 1, 2, 2]}, [], _bug("Transpose: repeated axis in perm accepted, ValueError in "
                                                          "the kernel")),
    ("Split", [X4], {"axis": 3, "split_index": [3, 1]}, [],
     _bug("Split: decreasing split_index accepted, infer gives a negative dim [1, 4, 4, -2]")),
    ("Tile", [X4], {"multiples": [1, 2]}, [], _bug("Tile: multiples shorter than the rank accepted, infer truncates "
                                                   "the shape to [1, 8] while the kernel makes [1, 4, 4, 8]")),
    ("Concat", [X4, rand(1, 4, 5, 4)], {"axis": 1}, [],
     _bug("Concat: inputs differing off the axis accepted, ValueError in the kernel")),
    ("Conv2d", [X4, rand(3, 3, 2, 5)], {"group": 3}, [1],
     _bug("Conv2d: group that does not divide the channels (4 in, weights for 2 x 3 groups) accepted, "
          "ValueError in the kernel")),
]


@pytest.mark.parametrize("type_,inputs,params,static", [
    pytest.param(t, i, p, s, marks=m, id=f"{t}-{'-'.join(f'{k}={v}' for k, v in p.items() if k != 'ranges')}")
    for t, i, p, s, m in CASES])
def test_shape_rule_refuses_what_the_kernel_cannot_compute(type_, inputs, params, static):
    with pytest.raises(ConversionError, match="invalid inputs or parameters"):
        one_op_graph(type_, inputs, params, static)

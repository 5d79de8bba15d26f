"""passes/input_cast.py: ``--input_dtype`` (InputInfo.dtype, applied by ``insert_color_transform``) gives the
DLC input the requested type and a Cast to the type the model was built for; the rest keeps its types."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import check_pass, ints, op_types
from snpe_tools.errors import ConversionError
from snpe_tools.ir import axis_format as af
from snpe_tools.ir.graph import Graph, InputInfo
from snpe_tools.passes.input_cast import cast_input, model_input_dtype


def _graph(dtype=None, enc=("bgr", "bgr")):
    g = Graph()
    g.add_input("x", (1, 2, 2, 3), np.float32, axis_format=af.NSC, info=InputInfo(dtype=dtype, encoding_in=enc[0], encoding_out=enc[1]))
    g.add_op("ElementWiseDivide", ["x", g.add_const("d", np.float32([255.0]))], ["n"])
    g.outputs = ["n"]
    return g


def test_uint8_input_feeds_a_cast_to_float():
    x = ints(1, 2, 2, 3, lo=0, hi=256)
    check_pass("insert_color_transform", _graph("uint8"), {"x": x.astype(np.float32)},
               pre=lambda g: op_types(g) == ["ElementWiseDivide"],
               post=lambda g: op_types(g) == ["Cast", "ElementWiseDivide"] and g.tensors["x"].dtype == np.uint8
               and g.ops[0].outputs == ["x_cast_float32"] and g.tensors["x_cast_float32"].dtype == np.float32
               and g.tensors["n"].dtype == np.float32,
               feeds_after=lambda f: {"x": x.astype(np.uint8)})


def test_input_dtype_of_the_model_type_changes_nothing():
    check_pass("insert_color_transform", _graph("float32"), {"x": np.ones((1, 2, 2, 3), np.float32)},
               pre=lambda g: len(g.ops) == 1, post=lambda g: op_types(g) == ["ElementWiseDivide"],
               expect_change=False)


def test_colour_op_reads_the_camera_type_and_the_cast_feeds_the_model():
    g = _graph("uint8", ("bgr", "rgb"))
    x = ints(1, 2, 2, 3, lo=0, hi=256)
    check_pass("insert_color_transform", g, {"x": x.astype(np.float32)}, pre=lambda g: len(g.ops) == 1,
               post=lambda g: op_types(g) == ["Gather", "Cast", "ElementWiseDivide"]
               and g.tensors[g.ops[0].outputs[0]].dtype == np.uint8,
               feeds_after=lambda f: {"x": x[..., ::-1].astype(np.uint8)})


def test_unknown_type_name_is_refused_and_model_types_reported():
    with pytest.raises(ConversionError, match="not a data type"):
        cast_input(_graph(), "x", "float7")
    assert model_input_dtype(None, np.float32) == (np.float32, None)
    assert model_input_dtype("float32", np.float32) == (np.float32, None)
    assert model_input_dtype("uint8", np.float32) == (np.float32, "uint8")

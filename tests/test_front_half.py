"""The converters' shared front half (issue 16 step 2): one dtype table (ir.dtypes), one translator call with
central node context (translator_registry.translate), input declaration / output naming / unsupported-op
report (frontends/front_half.py) and the one --dry_run path (tools/dry_run.py) for all four frameworks."""
from __future__ import annotations

import numpy as np
import pytest

import helpers
from snpe_tools.errors import ConversionError, UnsupportedOpError
from snpe_tools.frontends.front_half import (OpSurvey, bind_output, check_input_names, closest, declare_input,
                                             unsupported_ops)
from snpe_tools.frontends.onnx.converter import OnnxOptions
from snpe_tools.frontends.translator_registry import translate
from snpe_tools.ir import axis_format as af
from snpe_tools.ir import dtypes as qd
from snpe_tools.ir.graph import Graph
from snpe_tools.tools.dry_run import print_survey


# ---- ir.dtypes ---------------------------------------------------------------------------------------
def test_narrow_has_no_64_bit_types():
    assert qd.narrow(np.int64) == np.int32 and qd.narrow("float64") == np.float32
    assert qd.narrow(np.uint64) == np.uint32 and qd.narrow(np.float16) == np.float16
    arr = qd.narrow_array(np.array([2 ** 40, -2 ** 40, 7], np.int64))
    assert arr.dtype == np.int32 and arr.tolist() == [2 ** 31 - 1, -2 ** 31, 7]      # clipped, not wrapped
    assert qd.narrow_array(np.array([2 ** 40], np.uint64)).tolist() == [2 ** 32 - 1]


def test_type_names_mean_the_source_type_and_int64_is_int32_in_a_dlc():
    assert qd.from_name("int64") == np.int64 and qd.dlc_from_name("int64") == np.int32
    assert qd.dlc_from_name("uint8") == np.uint8 and qd.from_name("bool") == np.bool_
    with pytest.raises(ValueError, match="'int4' is not a data type"):
        qd.from_name("int4")


# ---- translate(): node context added once ------------------------------------------------------------
def _raiser(exc):
    def fn(ctx, node):
        raise exc
    return fn


def test_translate_prefixes_the_node_once():
    with pytest.raises(ConversionError) as info:
        translate(_raiser(ConversionError("axis 5 is out of range")), None, None, "Conv node 'c1'")
    assert str(info.value) == "Conv node 'c1': axis 5 is out of range"
    with pytest.raises(ConversionError) as info:      # the translator already named it: unchanged
        translate(_raiser(ConversionError("Conv node 'c1': bad")), None, None, lambda: "Conv node 'c1'")
    assert str(info.value) == "Conv node 'c1': bad"
    with pytest.raises(ConversionError) as info:      # key: the name is enough (TensorFlow layers)
        translate(_raiser(ConversionError("node 'b/x' reads ...")), None, None, "Conv2D layer 'b/x'", key="b/x")
    assert str(info.value) == "node 'b/x' reads ..."
    with pytest.raises(UnsupportedOpError):           # the error's type is kept
        translate(_raiser(UnsupportedOpError("no")), None, None, "X node 'x'")


def test_translate_turns_out_of_range_values_into_one_line():
    with pytest.raises(ConversionError, match=r"^Pad node 'p': cannot be converted \(OverflowError: big\); a "
                                              r"dimension or attribute value is out of range"):
        translate(_raiser(OverflowError("big")), None, None, "Pad node 'p'")
    with pytest.raises(KeyError):                     # not declared malformed: a bug, not reworded
        translate(_raiser(KeyError("k")), None, None, "op")
    with pytest.raises(ConversionError, match=r"^ADD op #3 \(y\): cannot be converted \(KeyError: 'k'\)$"):
        translate(_raiser(KeyError("k")), None, None, "ADD op #3 (y)", malformed=(KeyError,))
    assert translate(lambda ctx, node: (ctx, node), 1, 2, "n") == (1, 2)      # returns what fn returns


# ---- inputs, outputs, unsupported ops ----------------------------------------------------------------
def test_unknown_input_names_the_flag_and_the_nearest_input():
    opts = OnnxOptions(input_dtypes={"imagee": "uint8"})
    with pytest.raises(ConversionError) as info:
        check_input_names(opts, ["mask", "image"])
    assert str(info.value) == ("input 'imagee' given on the command line (--input_dtype) is not an input of the "
                               "model; model inputs: mask, image (closest: image)")
    check_input_names(OnnxOptions(input_dims={"mask": [1, 4]}), ["mask", "image"])
    assert closest("x", []) == ""


def test_declare_input_applies_the_per_input_flags():
    g = Graph()
    opts = OnnxOptions(input_dtypes={"img": "uint8", "ids": "int64"}, input_layouts={"img": "NHWC"},
                       input_encodings={"img": ("bgr", "rgb")}, input_types={"img": "image"})
    t = declare_input(g, opts, "img", [1, 8, 8, 3], np.float32, af.onnx_default(4))
    info = g.input_info["img"]
    assert t.dtype == np.float32 and info.dtype == "uint8"           # a Cast from uint8 (passes/input_cast)
    assert t.axis_format == af.LAYOUT_NAMES["NHWC"] and (info.encoding_in, info.encoding_out) == ("bgr", "rgb")
    assert info.input_type == "image"
    ids = declare_input(g, opts, "ids", [1, 4], np.int64, af.onnx_default(2))
    assert ids.dtype == np.int32 and g.input_info["ids"].dtype is None   # int64 data is int32 in a DLC
    # TensorFlow: the flags may name x or x:0
    tf = declare_input(g, OnnxOptions(input_dtypes={"x": "uint8"}), "x:0", [1, 2], np.float32, af.NF,
                       lookup=["x", "x"])
    assert g.input_info[tf.name].dtype == "uint8"


def _graph_with_input() -> Graph:
    g = Graph()
    g.add_input("x", [1, 4], np.float32, af.NF)
    g.add_op("Relu", ["x"], ["r"], name="relu")
    return g


def test_bind_output_renames_or_copies():
    g = _graph_with_input()
    assert bind_output(g, "r", "y") == "y" and "r" not in g.tensors and g.ops[-1].outputs == ["y"]
    g = _graph_with_input()
    assert bind_output(g, "x", "out") == "out" and g.ops[-1].type == "Reshape"      # an input keeps its name
    g = _graph_with_input()
    assert bind_output(g, "r", "x") == "x_1" and g.ops[-1].inputs == ["r"]           # the name is taken
    g = _graph_with_input()
    assert bind_output(g, "r", "y", keep=["r"]) == "y" and "r" in g.tensors          # another output


def test_unsupported_ops_is_one_line_with_counts_and_the_fix():
    err = unsupported_ops({"Det": ["a", "b", "c", "d"], "Unique": ["u"]}, hint=" (hint)")
    assert isinstance(err, UnsupportedOpError)
    assert str(err) == ("5 node(s) use op types the converter does not support: Det x4 (a, b, c, ...); Unique x1 "
                        "(u) (hint); replace them in the source model; --dry_run lists which op types are "
                        "supported and which are not supported")


def test_dry_run_table(capsys):
    def check():
        raise unsupported_ops({"Det": ["d"]})
    print_survey(OpSurvey.from_census({"Relu": 2, "Det": 1}, lambda t: t != "Det", check, details=["Det d"]),
                 debug=True)
    assert capsys.readouterr().out.splitlines() == [
        "Op type  Count  Status", "Det          1  unsupported", "Relu         2  supported", "  Det d",
        "Unsupported: 1 node(s) use op types the converter does not support: Det x1 (d); replace them in the "
        "source model; --dry_run lists which op types are supported and which are not supported"]


def test_qairt_dry_run_of_a_torchscript_model(tmp_path):
    """qairt-converter --dry_run goes through the same path as snpe-pytorch-to-dlc (it used to be refused)."""
    torch = pytest.importorskip("torch")
    pt = str(tmp_path / "m.pt")
    torch.jit.trace(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval(),
                    torch.zeros(1, 3, 8, 8)).save(pt)
    proc = helpers.run_tool("qairt-converter", "--input_network", pt, "--source_model_input_shape", "x", "1,3,8,8",
                            "--dry_run")
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()[1:] if ln.startswith("aten::")}
    assert rows["aten::relu"] == ["1", "supported"] and proc.stdout.strip().endswith("All ops are supported.")
    assert not list(tmp_path.glob("*.dlc"))

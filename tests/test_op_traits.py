"""Per-family tests of the OpDef traits that passes, quantizer and runtime read instead of op-name lists.

Each test checks a trait against the op's own kernel, so a wrong trait (an op declared data-invariant that
computes new values, a weight axis that is not the output channel ...) fails here rather than as a subtly
wrong conversion.  Every op declaring a trait must have a sample in the tables below (checked too), so a
new op cannot declare one untested.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ir_harness import run_op
from snpe_tools.ir import dtypes as qd
from snpe_tools.ir.graph import Op, Tensor
from snpe_tools.ops.registry import OpDef, all_op_types, get_op_def

RNG = np.random.default_rng(16)


def _op(type_: str, params: dict[str, Any] | None = None, n_in: int = 1, n_out: int | None = None) -> Op:
    d = get_op_def(type_)
    p = d.complete_params(dict(params or {}))
    n_out = d.num_outputs(p, n_in) if n_out is None else n_out
    return Op(f"{type_}_0", type_, [f"in{i}" for i in range(n_in)], [f"out{i}" for i in range(n_out)], p)


def _distinct(*shape: int) -> np.ndarray:
    """Values that are all different, so an output value can be traced to one input value."""
    n = int(np.prod(shape))
    return (RNG.permutation(n).astype(np.float32) * 0.37 + 1.0).reshape(shape)


def _declaring(trait: str) -> set[str]:
    return {t for t in all_op_types() if getattr(get_op_def(t), trait)}


def _overrides(method: str) -> set[str]:
    return {t for t in all_op_types() if getattr(type(get_op_def(t)), method) is not getattr(OpDef, method)}


# ---- weights, biases, accumulators -------------------------------------------------------------------
# op -> (params, [x, w] shapes); weights are float, activations NHWC (QNN layouts)
WEIGHTED = {
    "Conv2d": ({"pad_amount": [[1, 1], [0, 1]]}, [(2, 5, 6, 3), (3, 2, 3, 4)]),
    "Conv2d/group": ({"group": 2}, [(1, 5, 5, 4), (3, 3, 2, 6)]),
    "DepthWiseConv2d": ({"stride": [2, 1]}, [(1, 6, 5, 3), (3, 3, 1, 3)]),
    "DepthWiseConv2d/mult": ({}, [(1, 5, 5, 2), (2, 2, 1, 6)]),
    "TransposeConv2d": ({"stride": [2, 2]}, [(1, 3, 4, 3), (2, 3, 3, 5)]),
    "TransposeConv2d/group": ({"group": 2, "stride": [2, 1]}, [(1, 3, 3, 4), (2, 2, 4, 3)]),
    "Conv3d": ({}, [(1, 4, 4, 4, 2), (2, 2, 2, 2, 3)]),
    "FullyConnected": ({}, [(3, 7), (5, 7)]),
    "FullyConnected/keep_dims": ({"keep_dims": True}, [(2, 3, 7), (5, 7)]),
    "MatMul": ({}, [(2, 3, 4), (4, 5)]),
    "MatMul/transposed": ({"transpose_in1": True}, [(2, 3, 4), (5, 4)]),
}


def _type(case: str) -> str:
    return case.split("/")[0]


def _weighted(case: str, n_in: int = 2) -> tuple[OpDef, Op, np.ndarray, np.ndarray]:
    """The op of sample ``case`` with random float activation and weights."""
    params, (xs, ws) = WEIGHTED[case]
    return (get_op_def(_type(case)), _op(_type(case), params, n_in),
            RNG.standard_normal(xs).astype(np.float32), RNG.standard_normal(ws).astype(np.float32))


def test_every_weighted_op_has_a_sample_and_declares_how_its_weights_quantize():
    declared = {t for t in all_op_types() if get_op_def(t).weight_input is not None}
    assert declared == {_type(c) for c in WEIGHTED}
    for t in declared:
        d = get_op_def(t)
        assert d.weight_quant_axis in ("channel", "row"), t
        if d.weight_input in d.weight_axis_formats:
            assert "O" in d.weight_axis_formats[d.weight_input][0], t
    # every op with a DLC bias quantizes that input as a bias
    for t in all_op_types():
        d = get_op_def(t)
        if d.dlc_bias_input is not None:
            assert d.bias_input == d.dlc_bias_input and d.weight_input is not None, t


@pytest.mark.parametrize("case", sorted(WEIGHTED))
def test_weight_output_axis_is_the_output_channel(case):
    """Scaling weight slice ``c`` along ``weight_output_axis`` scales exactly output channel ``c`` (the last
    axis; with grouped TransposeConv2d every group's channel ``c``, as the quantizer tiles the scales of a
    32-bit bias): what per-channel / per-row encodings and 32-bit bias scales rely on."""
    t = _type(case)
    d, op, x, w = _weighted(case)
    axis = d.weight_output_axis(op, w.ndim)
    assert axis is not None
    s = np.linspace(0.5, 2.0, w.shape[axis]).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = s.size
    y = d.compute(op, [x, w])[0]
    ys = d.compute(op, [x, w * s.reshape(shape)])[0]
    assert y.shape[-1] % s.size == 0 and (y.shape[-1] == s.size or t == "TransposeConv2d")
    np.testing.assert_allclose(ys, y * np.tile(s, y.shape[-1] // s.size), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", sorted(c for c in WEIGHTED if get_op_def(_type(c)).bias_input is not None))
def test_bias_adds_per_output_channel(case):
    """The bias input is added per output channel, at the accumulator's scale (32-bit bias = input x weight)."""
    d, op, x, w = _weighted(case, 3)
    y = d.compute(op, [x, w])[0]
    b = RNG.standard_normal(y.shape[-1]).astype(np.float32)
    xs_in: list[np.ndarray | None] = [x, w, b]
    assert d.bias_input == 2
    np.testing.assert_allclose(d.compute(op, xs_in)[0], y + b, rtol=1e-5, atol=1e-5)


def _reference(case: str, x: np.ndarray, w: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Float64 references written out tap by tap (independent of the kernels' im2col / einsum)."""
    t = _type(case)
    if t == "FullyConnected":
        y = x.reshape(-1, w.shape[1]) @ w.T
        return y.reshape(x.shape[:-1] + (w.shape[0],)) if params.get("keep_dims") else y
    if t == "MatMul":
        return np.matmul(x, np.swapaxes(w, -1, -2) if params.get("transpose_in1") else w)
    sh, sw = params.get("stride", [1, 1])
    (pt, pb), (pl, pr) = params.get("pad_amount", [[0, 0], [0, 0]])
    kh, kw = w.shape[:2]
    n, h, wd, ci = x.shape
    if t == "TransposeConv2d":
        g = params.get("group", 1)
        cig, cog = ci // g, w.shape[3]
        full = np.zeros((n, (h - 1) * sh + kh, (wd - 1) * sw + kw, cog * g))
        for i in range(h):
            for j in range(wd):
                for gi in range(g):
                    contrib = np.einsum("bc,klco->bklo", x[:, i, j, gi * cig:(gi + 1) * cig],
                                        w[:, :, gi * cig:(gi + 1) * cig, :])
                    full[:, i * sh:i * sh + kh, j * sw:j * sw + kw, gi * cog:(gi + 1) * cog] += contrib
        return full[:, pt:full.shape[1] - pb, pl:full.shape[2] - pr]
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    co = w.shape[3]
    y = np.zeros((n, oh, ow, co))
    depthwise = t == "DepthWiseConv2d"
    g = ci if depthwise else params.get("group", 1)
    cig, cog = ci // g, co // g
    for oc in range(co):
        gi = oc // cog
        for a in range(oh):
            for b in range(ow):
                win = xp[:, a * sh:a * sh + kh, b * sw:b * sw + kw, gi * cig:(gi + 1) * cig]
                wk = w[:, :, :, oc] if depthwise else w[:, :, :, oc]
                y[:, a, b, oc] = np.sum(win * wk[None], axis=(1, 2, 3))
    return y


@pytest.mark.parametrize("case", sorted(c for c in WEIGHTED if get_op_def(_type(c)).integer_accumulator))
def test_accumulator_kernel_is_an_exact_integer_sum(case):
    """``integer_accumulator`` ops: on integer-valued operands (stored integers) the kernel gives the exact
    integer accumulator, equal to a float64 reference: the fixed-point runtime divides it by the input x
    weight scale and requantizes it as an integer kernel would."""
    params, (xs, ws) = WEIGHTED[case]
    x = RNG.integers(-20, 20, xs).astype(np.float32)
    w = RNG.integers(-20, 20, ws).astype(np.float32)
    y = run_op(_type(case), [x, w], params)[0]
    np.testing.assert_array_equal(y, np.round(y))
    np.testing.assert_array_equal(y, _reference(case, x.astype(np.float64), w.astype(np.float64), params))


def test_accumulator_ops_are_the_weighted_ops_with_output_channels_last():
    accumulators = _declaring("integer_accumulator")
    assert accumulators == {"Conv2d", "DepthWiseConv2d", "TransposeConv2d", "FullyConnected", "MatMul"}
    for t in accumulators:
        assert get_op_def(t).weight_input == 1, t


# ---- data-invariant ops ------------------------------------------------------------------------------
# op -> (params, input 0 shape, further inputs); index inputs are integer arrays
INVARIANT = {
    "Reshape": ({"shape": [4, 6]}, (2, 3, 4), []),
    "Transpose": ({"perm": [2, 0, 1]}, (2, 3, 4), []),
    "StridedSlice": ({"ranges": [[0, 2, 1], [2, 0, -1], [0, 4, 2]]}, (2, 3, 4), []),
    "Split": ({"axis": 1, "split_index": [1]}, (2, 3, 4), []),
    "DepthToSpace": ({"block_size": [2, 2]}, (1, 2, 3, 8), []),
    "SpaceToDepth": ({"block_size": [2, 2]}, (1, 4, 6, 2), []),
    "SpaceToBatch": ({"block_shape": [2, 2], "pad_amount": [[1, 1], [0, 0]]}, (1, 4, 4, 2), []),
    "BatchToSpace": ({"block_shape": [2, 2], "crops": [[0, 1], [1, 0]]}, (4, 2, 3, 2), []),
    "Tile": ({"multiples": [2, 1, 3]}, (2, 3, 4), []),
    "PoolMax2d": ({"filter_size": [3, 3], "stride": [2, 2], "pad_amount": [[1, 1], [1, 1]]}, (1, 5, 5, 2), []),
    "PoolMax3d": ({"filter_size": [2, 2, 2], "stride": [1, 2, 2]}, (1, 3, 4, 4, 2), []),
    "ResizeNearestNeighbor": ({"shape": [1, 7, 5, 2]}, (1, 3, 4, 2), []),
    "Gather": ({"axis": 1}, (2, 5, 3), [np.array([[4, 0], [2, 2]], np.int32)]),
    "GatherElements": ({"axis": 0}, (3, 4), [np.array([[2, 0, 1, 1], [0, 0, 2, 1]], np.int32)]),
    "GatherNd": ({}, (3, 4, 2), [np.array([[2, 1], [0, 3]], np.int32)]),
    "ReduceMax": ({"axes": [1], "keep_dims": True}, (2, 5, 3), []),
    "ReduceMin": ({"axes": [0, 2]}, (2, 5, 3), []),
}


def test_every_data_invariant_op_has_a_sample():
    assert _declaring("data_invariant") == set(INVARIANT)
    assert _declaring("joins_inputs") == {"Concat"}


@pytest.mark.parametrize("type_", sorted(INVARIANT))
def test_data_invariant_kernel_moves_input_values(type_):
    """Every output value is one of input 0's values (or the zero a padding op adds, which every encoding
    holds exactly): the output can take input 0's encoding and the op moves stored integers unchanged."""
    params, shape, extra = INVARIANT[type_]
    x = _distinct(*shape)
    outs = run_op(type_, [x, *extra], params)
    allowed = set(x.reshape(-1).tolist()) | {0.0}
    for y in outs:
        assert y.size and set(np.asarray(y).reshape(-1).tolist()) <= allowed, type_


def test_concat_joins_its_inputs_values():
    a, b = _distinct(2, 3), _distinct(2, 2) + 100.0
    y = run_op("Concat", [a, b], {"axis": 1})[0]
    assert set(y.reshape(-1).tolist()) == set(a.reshape(-1).tolist()) | set(b.reshape(-1).tolist())


@pytest.mark.parametrize("type_", ["PoolAvg2d", "ResizeBilinear", "ReduceMean", "ElementWiseAdd", "Conv2d"])
def test_value_changing_ops_are_not_data_invariant(type_):
    assert not get_op_def(type_).data_invariant


# ---- storage conversions --------------------------------------------------------------------------------
def test_storage_conversions_are_identities_on_real_values():
    assert _declaring("converts_storage") == {"Quantize", "Dequantize", "Convert"}
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    for t in _declaring("converts_storage"):
        np.testing.assert_array_equal(run_op(t, [x])[0], x)


# ---- identities ------------------------------------------------------------------------------------------
IDENTITY = {   # op -> (params, input shape, input dtype, output dtype) of a case the op says is an identity
    "Reshape": ({"shape": [2, 3, 4]}, (2, 3, 4), np.float32, np.float32),
    "Transpose": ({"perm": [0, 1, 2]}, (2, 3, 4), np.float32, np.float32),
    "Cast": ({"to": qd.FLOAT_32}, (2, 3, 4), np.float32, np.float32),
}
NOT_IDENTITY = {
    "Reshape": ({"shape": [4, 6]}, (2, 3, 4), np.float32, np.float32),
    "Transpose": ({"perm": [0, 2, 1]}, (2, 3, 4), np.float32, np.float32),
    "Cast": ({"to": qd.INT_32}, (2, 3, 4), np.float32, np.int32),
}


def test_is_identity_holds_for_exactly_the_unchanging_cases():
    assert _overrides("is_identity") == set(IDENTITY) == set(NOT_IDENTITY)
    for table, expected in ((IDENTITY, True), (NOT_IDENTITY, False)):
        for t, (params, shape, in_dt, out_dt) in table.items():
            d = get_op_def(t)
            op = _op(t, params)
            x = _distinct(*shape).astype(in_dt)
            y = d.compute(op, [x])[0]
            outs = [Tensor("out0", y.shape, np.dtype(out_dt))]
            assert d.is_identity(op, [Tensor("in0", shape, np.dtype(in_dt))], outs) is expected, t
            if expected:
                assert y.dtype == x.dtype
                np.testing.assert_array_equal(y, x)


# ---- layout rewrite ----------------------------------------------------------------------------------
PERM = [0, 2, 3, 1]                    # NCHW -> NHWC
SHAPE = (2, 3, 4, 5)                   # the data before the Transpose
# op -> params for the permuted (after-Transpose) input; ops without required params need no entry
LAYOUT_PARAMS: dict[str, dict[str, Any]] = {
    "ReluMinMax": {"min_value": -0.5, "max_value": 0.5},
    "ElementWiseNeuron": {"operation": 6},
    "Cast": {"to": qd.FLOAT_32},
    "Softmax": {"axis": 3}, "LogSoftmax": {"axis": 1},
    "Argmax": {"axis": 2, "keep_dims": True}, "Argmin": {"axis": 1},
    "ReduceMax": {"axes": [1, 3]}, "ReduceMin": {"axes": [2], "keep_dims": True}, "ReduceMean": {"axes": [3]},
    "ReduceSum": {"axes": [0, 1]}, "ReduceProd": {"axes": [1, 2, 3], "keep_dims": True},
    "ReduceSumSquare": {"axes": [2]},
    "Gather": {"axis": 3}, "Tile": {"multiples": [1, 2, 1, 3]},
    "Pad": {"pad_amount": [[0, 0], [1, 2], [0, 1], [3, 0]], "pad_constant_value": 1.5},
    "Split": {"axis": 2, "split_index": [1, 3]},
    "StridedSlice": {"ranges": [[0, 2, 1], [3, 0, -1], [1, 3, 1], [0, 5, 2]], "begin_mask": 2, "end_mask": 8},
    "Concat": {"axis": 1},
}
EXTRA_INPUTS = {"Gather": [np.array([2, 0, 2, 1], np.int32)]}


def _layout_ops() -> list[str]:
    return sorted(t for t in all_op_types() if get_op_def(t).layout_agnostic)


def test_axis_remapping_ops_are_layout_agnostic_and_have_samples():
    assert all(get_op_def(t).layout_agnostic in ("", "first_input", "all_inputs") for t in all_op_types())
    assert _overrides("permute_axes") <= set(_layout_ops())
    assert _overrides("permute_axes") <= set(LAYOUT_PARAMS)
    for t in ("Conv2d", "PoolMax2d", "Reshape", "FullyConnected", "Resize", "DepthToSpace", "LayerNorm"):
        assert not get_op_def(t).layout_agnostic, t


@pytest.mark.parametrize("type_", _layout_ops())
def test_transpose_sinks_through_layout_agnostic_op(type_):
    """op(transpose(x, perm)) == transpose(op'(x), q): the rewrite the layout pass makes with the op's
    ``permute_axes`` (q its returned permutation), for every output and every data input."""
    d = get_op_def(type_)
    params = LAYOUT_PARAMS.get(type_, {})
    unsigned = type_.startswith("ElementWise") and any(k in type_ for k in ("And", "Or", "Xor", "Not"))
    n_data = 1
    if d.layout_agnostic == "all_inputs":
        n_data = 3 if type_ == "ElementWiseSelect" else 2
    xs = [(RNG.standard_normal(SHAPE) * 2 + 0.1).astype(np.float32) for _ in range(n_data)]
    if unsigned or type_ == "ElementWiseSelect":
        xs[0] = (xs[0] > 0).astype(np.float32)
    extra = EXTRA_INPUTS.get(type_, [])
    before = [np.ascontiguousarray(np.transpose(x, PERM)) for x in xs]
    op = _op(type_, params, n_data + len(extra))
    expected = d.compute(op, before + extra)
    ins = [Tensor(f"in{i}", a.shape, a.dtype) for i, a in enumerate(xs + extra)]
    q = d.permute_axes(op, list(PERM), ins)
    assert q is not None, type_
    got = d.compute(op, xs + extra)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.transpose(g, q) if np.ndim(g) else g, e, rtol=1e-5, atol=1e-6,
                                   err_msg=type_)


def test_permute_axes_refuses_what_it_cannot_remap():
    ss = _op("StridedSlice", {"ranges": [[0, 1, 1]] * 4, "shrink_axes": 1})
    before = dict(ss.params)
    assert get_op_def("StridedSlice").permute_axes(ss, PERM, [Tensor("in0", SHAPE)]) is None
    assert ss.params == before
    g = _op("Gather", {"axis": 1}, 2)
    assert get_op_def("Gather").permute_axes(g, PERM, [Tensor("in0", SHAPE), Tensor("in1", (2, 2))]) is None


# ---- batch-norm folding, padding fusion, cross-layer equalization ---------------------------------------
@pytest.mark.parametrize("case", sorted(c for c in WEIGHTED if get_op_def(_type(c)).folds_batchnorm))
def test_scale_output_channels_scales_each_output_channel(case):
    d, op, x, w = _weighted(case)
    y = d.compute(op, [x, w])[0]
    s = np.linspace(-1.5, 2.0, y.shape[-1]).astype(np.float32)
    np.testing.assert_allclose(d.compute(op, [x, d.scale_output_channels(op, w, s)])[0], y * s, rtol=1e-4,
                               atol=1e-4)


def test_batchnorm_folding_ops():
    assert _declaring("folds_batchnorm") == {"Conv2d", "DepthWiseConv2d", "TransposeConv2d", "FullyConnected"}
    assert _declaring("folds_batchnorm") <= {_type(c) for c in WEIGHTED}


@pytest.mark.parametrize("case", ["Conv2d", "Conv2d/group", "DepthWiseConv2d", "DepthWiseConv2d/mult"])
def test_absorbed_zero_pad_gives_the_same_output(case):
    d, op, x, w = _weighted(case)
    pad = np.array([[0, 0], [2, 1], [0, 3], [0, 0]], np.uint32)
    expected = d.compute(op, [np.pad(x, pad.astype(int)), w])[0]
    assert d.absorb_zero_pad(op, pad)
    np.testing.assert_allclose(d.compute(op, [x, w])[0], expected, rtol=1e-5, atol=1e-5)
    for bad in ([[1, 0], [0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0], [0, 1]], [[0, 0]] * 3):
        op2 = _op(_type(case), WEIGHTED[case][0], 2)
        assert not d.absorb_zero_pad(op2, np.array(bad, np.uint32))
        np.testing.assert_array_equal(op2.params["pad_amount"], op.params["pad_amount"] - pad[1:3])


def test_only_convolutions_absorb_padding():
    assert _overrides("absorb_zero_pad") == {"Conv2d", "DepthWiseConv2d"}
    op = _op("PoolMax2d", {"filter_size": [2, 2]})
    assert not get_op_def("PoolMax2d").absorb_zero_pad(op, np.zeros((4, 2), np.uint32))


@pytest.mark.parametrize("type_", sorted(_declaring("equalization_input_axis") | {"Conv2d", "DepthWiseConv2d"}))
def test_equalization_input_axis_holds_the_input_channels(type_):
    """Dividing input channel c by s_c and multiplying the weights along ``equalization_input_axis`` by
    s_c leaves the output unchanged (what CLE does to the second op of a pair)."""
    d = get_op_def(type_)
    axis = d.equalization_input_axis
    assert axis is not None
    x = RNG.standard_normal((1, 5, 5, 4)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 4, 6) if type_ == "Conv2d" else (3, 3, 1, 4)).astype(np.float32)
    s = np.linspace(0.5, 3.0, 4).astype(np.float32)
    shape = [1, 1, 1, 1]
    shape[axis] = 4
    op = _op(type_, {}, 2)
    np.testing.assert_allclose(d.compute(op, [x / s, w * s.reshape(shape)])[0], d.compute(op, [x, w])[0],
                               rtol=1e-4, atol=1e-5)
    # a first op of a pair: output channels on the last weight axis (scaled by 1/s with the bias)
    assert d.weight_output_axis(op, 4) == 3

"""QNN ops that real Qualcomm 2.25 DLCs use and our converters do not emit: Lstm, ArgbToRgb,
ResizeBilinear, ResizeNearestNeighbor.

Each op is checked for shape inference and against an independent reference (a plain numpy ONNX-LSTM,
onnxruntime's LSTM and Resize, channel indexing).  Where the golden set of real Qualcomm files is
available (``shared/reference/dlc-real``, or ``$SNPE_TOOLS_DLC_REAL``), the tests also check that the
ops declare exactly the attributes the files carry, and rebuild each file's graph from its ONNX source
to reproduce the reference output.
"""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import ROOT, run_onnxruntime
from snpe_tools.errors import ConversionError
from snpe_tools.ir import Graph
from snpe_tools.ops import recurrent as R
from snpe_tools.ops.registry import get_op_def
from snpe_tools.runtime import execute

GOLDEN = os.environ.get("SNPE_TOOLS_DLC_REAL",
                        os.path.join(os.path.dirname(ROOT), "shared", "reference", "dlc-real"))
needs_golden = pytest.mark.skipif(not os.path.isdir(GOLDEN), reason="golden DLC set not available")
TOL = dict(rtol=1e-4, atol=1e-5)


def _golden_json(name: str, kind: str) -> dict:
    with open(os.path.join(GOLDEN, f"{name}.qairt225.{kind}.json")) as f:
        return json.load(f)["graphs"][0]


def _raw(name: str, shape) -> np.ndarray:
    return np.fromfile(os.path.join(GOLDEN, name), dtype="<f4").reshape(shape)


def _onnx_weights(name: str) -> dict[str, np.ndarray]:
    m = onnx.load(os.path.join(GOLDEN, f"{name}.onnx"))
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ------------------------------------------------------------------------------------------------
# Lstm
# ------------------------------------------------------------------------------------------------
def _onnx_lstm_step(x, h, c, W, Rw, B, P=None):
    """One step of ONNX LSTM (gate order i, o, f, c; default activations), straight from the ONNX spec."""
    H = Rw.shape[1]
    gates = x @ W.T + h @ Rw.T + B[:4 * H] + B[4 * H:]
    gi, go, gf, gc = (gates[:, k * H:(k + 1) * H] for k in range(4))
    pi, po, pf = (np.zeros(H),) * 3 if P is None else (P[:H], P[H:2 * H], P[2 * H:])
    i = _sigmoid(gi + pi * c)
    f = _sigmoid(gf + pf * c)
    c_new = f * c + i * np.tanh(gc)
    o = _sigmoid(go + po * c_new)
    return o * np.tanh(c_new), c_new


def _qnn_lstm_inputs(g: Graph, W, Rw, B, P=None, prefix="") -> list[str]:
    """Inputs 1..23 of QNN Lstm (index 0, 10, 11 left ""), from ONNX W [4H,I], R [4H,H], B [8H], P [3H]."""
    H = Rw.shape[1]
    gate = {"i": 0, "o": 1, "f": 2, "c": 3}

    def rows(a, k):
        return a[gate[k] * H:(gate[k] + 1) * H]

    ins = [""] * 24
    for k, (wi, ri, bi) in {"f": (R.W_F, R.R_F, R.B_F), "c": (R.W_C, R.R_C, R.B_C),
                            "o": (R.W_O, R.R_O, R.B_O), "i": (R.W_I, R.R_I, R.B_I)}.items():
        ins[wi] = g.add_const(f"{prefix}W_{k}", rows(W, k))
        ins[ri] = g.add_const(f"{prefix}R_{k}", rows(Rw, k))
        ins[bi] = g.add_const(f"{prefix}B_{k}", rows(B[:4 * H], k) + rows(B[4 * H:], k))
    if P is not None:
        ins[R.P_I] = g.add_const(f"{prefix}P_i", P[:H])
        ins[R.P_O] = g.add_const(f"{prefix}P_o", P[H:2 * H])
        ins[R.P_F] = g.add_const(f"{prefix}P_f", P[2 * H:])
    return ins


def _rand_lstm(rng, I, H, peephole=False):
    W = rng.standard_normal((4 * H, I)).astype(np.float32) * 0.4
    Rw = rng.standard_normal((4 * H, H)).astype(np.float32) * 0.4
    B = rng.standard_normal(8 * H).astype(np.float32) * 0.2
    P = rng.standard_normal(3 * H).astype(np.float32) * 0.3 if peephole else None
    return W, Rw, B, P


def test_lstm_shape_inference():
    rng = np.random.default_rng(0)
    W, Rw, B, _ = _rand_lstm(rng, 8, 16)
    for x_shape, params, y_shape in [((3, 8), {}, (3, 16)),
                                     ((3, 5, 8), {}, (3, 5, 16)),
                                     ((5, 3, 8), {"time_major": True}, (5, 3, 16))]:
        g = Graph()
        ins = _qnn_lstm_inputs(g, W, Rw, B)
        ins[0] = g.add_input("x", x_shape).name
        ins[R.H_IN] = g.add_input("h0", (3, 16)).name
        ins[R.C_IN] = g.add_input("c0", (3, 16)).name
        op = g.add_op("Lstm", ins, ["y", "c", "h"], params)
        assert [g.tensors[o].shape for o in op.outputs] == [y_shape, (3, 16), (3, 16)]
    # projection: the output size comes from the projection (and recurrent) weights, the cell keeps units
    g = Graph()
    ins = _qnn_lstm_inputs(g, W, Rw, B)
    for k in (R.R_F, R.R_C, R.R_O, R.R_I):
        ins[k] = g.add_const(f"r6_{k}", np.zeros((16, 6), np.float32))
    ins[R.PROJ_W] = g.add_const("proj", np.zeros((6, 16), np.float32))
    ins[0] = g.add_input("x", (2, 8)).name
    ins[R.H_IN] = g.add_const("h0", np.zeros((2, 6), np.float32))
    ins[R.C_IN] = g.add_const("c0", np.zeros((2, 16), np.float32))
    op = g.add_op("Lstm", ins, ["y", "c", "h", "gi", "gf", "gc", "go", "m"])
    assert [g.tensors[o].shape for o in op.outputs] == [(2, 6), (2, 16), (2, 6)] + [(2, 16)] * 5
    # wrong input width and wrong state shape are conversion errors
    g = Graph()
    ins = _qnn_lstm_inputs(g, W, Rw, B)
    ins[0] = g.add_input("x", (1, 7)).name
    with pytest.raises(ConversionError, match="input features"):
        g.add_op("Lstm", ins, ["y", "c", "h"])
    ins[0] = g.add_input("x8", (1, 8)).name
    ins[R.C_IN] = g.add_const("c_bad", np.zeros((1, 15), np.float32))
    with pytest.raises(ConversionError, match="states"):
        g.add_op("Lstm", ins, ["y", "c", "h"])


@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_one_step_matches_onnx_formula(peephole):
    rng = np.random.default_rng(1)
    I, H, N = 5, 7, 3
    W, Rw, B, P = _rand_lstm(rng, I, H, peephole)
    x = rng.standard_normal((N, I)).astype(np.float32)
    h0 = rng.standard_normal((N, H)).astype(np.float32)
    c0 = rng.standard_normal((N, H)).astype(np.float32)
    g = Graph()
    ins = _qnn_lstm_inputs(g, W, Rw, B, P)
    ins[0], ins[R.H_IN], ins[R.C_IN] = (g.add_input(n, a.shape).name for n, a in (("x", x), ("h0", h0), ("c0", c0)))
    g.add_op("Lstm", ins, ["y", "c", "h"])
    g.outputs = ["y", "c", "h"]
    out = execute(g, {"x": x, "h0": h0, "c0": c0})
    h_ref, c_ref = _onnx_lstm_step(x.astype(np.float64), h0, c0, W, Rw, B, P)
    np.testing.assert_allclose(out["y"], h_ref, **TOL)
    np.testing.assert_allclose(out["h"], h_ref, **TOL)
    np.testing.assert_allclose(out["c"], c_ref, **TOL)


@pytest.mark.parametrize("direction,time_major", [("forward", False), ("forward", True), ("reverse", False)])
def test_lstm_sequence_matches_onnxruntime(direction, time_major):
    """A rank-3 Lstm (whole sequence in one op) against onnxruntime's LSTM, peepholes and initial states."""
    rng = np.random.default_rng(2)
    T, N, I, H = 4, 2, 3, 5
    W, Rw, B, P = _rand_lstm(rng, I, H, peephole=True)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    h0 = rng.standard_normal((N, H)).astype(np.float32)
    c0 = rng.standard_normal((N, H)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for n, a in
             (("W", W[None]), ("R", Rw[None]), ("B", B[None]), ("P", P[None]))]
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "h0", "c0", "P"], ["Y", "Y_h", "Y_c"],
                            hidden_size=H, direction=direction)
    model = helper.make_model(helper.make_graph(
        [node], "lstm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, N, I]),
                         helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, N, H]),
                         helper.make_tensor_value_info("c0", TensorProto.FLOAT, [1, N, H])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")], inits),
        opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    ref = run_onnxruntime(model, {"X": x, "h0": h0[None], "c0": c0[None]})

    g = Graph()
    ins = _qnn_lstm_inputs(g, W, Rw, B, P)
    xq = x if time_major else x.transpose(1, 0, 2)
    ins[0] = g.add_input("x", xq.shape).name
    ins[R.H_IN] = g.add_input("h0", h0.shape).name
    ins[R.C_IN] = g.add_input("c0", c0.shape).name
    g.add_op("Lstm", ins, ["y", "c", "h"], {"time_major": time_major,
                                            "direction": R.REVERSE if direction == "reverse" else R.FORWARD})
    g.outputs = ["y", "c", "h"]
    out = execute(g, {"x": xq, "h0": h0, "c0": c0})
    y_ref = ref["Y"][:, 0]                                   # [T, N, H]
    np.testing.assert_allclose(out["y"], y_ref if time_major else y_ref.transpose(1, 0, 2), **TOL)
    np.testing.assert_allclose(out["h"], ref["Y_h"][0], **TOL)
    np.testing.assert_allclose(out["c"], ref["Y_c"][0], **TOL)


def _run_single(ins_arrays: dict[int, np.ndarray], params=None, n_out=3):
    g = Graph()
    names = [""] * 24
    feeds = {}
    for k, a in ins_arrays.items():
        if k == 0:
            names[0] = g.add_input("x", a.shape).name
            feeds["x"] = a
        else:
            names[k] = g.add_const(f"in{k}", a)
    outs = [f"o{j}" for j in range(n_out)]
    g.add_op("Lstm", names, outs, params or {})
    g.outputs = outs
    out = execute(g, feeds)
    return [out[o] for o in outs]


def test_lstm_cifg_projection_clip_layernorm_optional_outputs():
    """The optional QNN features against a separately written numpy step (one matmul over stacked gates)."""
    rng = np.random.default_rng(3)
    N, I, U, O = 2, 4, 6, 3
    w = {k: rng.standard_normal((U, I)).astype(np.float32) * 0.5 for k in "fco"}
    r = {k: rng.standard_normal((U, O)).astype(np.float32) * 0.5 for k in "fco"}
    b = {k: rng.standard_normal(U).astype(np.float32) * 0.3 for k in "fco"}
    ln = {k: (1 + 0.2 * rng.standard_normal(U)).astype(np.float32) for k in "fco"}
    proj_w = rng.standard_normal((O, U)).astype(np.float32)
    proj_b = rng.standard_normal(O).astype(np.float32)
    x = rng.standard_normal((N, I)).astype(np.float32) * 2
    h0 = rng.standard_normal((N, O)).astype(np.float32)
    c0 = rng.standard_normal((N, U)).astype(np.float32) * 3
    ins = {0: x, R.W_F: w["f"], R.W_C: w["c"], R.W_O: w["o"], R.R_F: r["f"], R.R_C: r["c"], R.R_O: r["o"],
           R.B_F: b["f"], R.B_C: b["c"], R.B_O: b["o"], R.H_IN: h0, R.C_IN: c0,
           R.LN_F: ln["f"], R.LN_C: ln["c"], R.LN_O: ln["o"], R.PROJ_W: proj_w, R.PROJ_B: proj_b}
    params = {"cell_clip_threshold": 0.7, "output_clip_threshold": 0.5}
    y, c, h, gi, gf, gc, go, m = _run_single(ins, params, n_out=8)

    # reference: stacked pre-activations [N, 3, U], layer norm per gate row
    pre = (np.einsum("ni,kui->nku", x, np.stack([w[k] for k in "fco"]))
           + np.einsum("no,kuo->nku", h0, np.stack([r[k] for k in "fco"])))
    mu, var = pre.mean(-1, keepdims=True), pre.var(-1, keepdims=True)
    pre = (pre - mu) / np.sqrt(var + 1e-8) * np.stack([ln[k] for k in "fco"]) + np.stack([b[k] for k in "fco"])
    f_ref, g_ref, o_ref = _sigmoid(pre[:, 0]), np.tanh(pre[:, 1]), _sigmoid(pre[:, 2])
    i_ref = 1 - f_ref                                                   # CIFG: no input gate weights
    c_ref = np.clip(f_ref * c0 + i_ref * g_ref, -0.7, 0.7)
    m_ref = o_ref * np.tanh(c_ref)
    h_ref = np.clip(m_ref @ proj_w.T + proj_b, -0.5, 0.5)
    assert np.abs(f_ref * c0 + i_ref * g_ref).max() > 0.7 and np.abs(m_ref @ proj_w.T + proj_b).max() > 0.5
    for got, want in [(y, h_ref), (h, h_ref), (c, c_ref), (gi, i_ref), (gf, f_ref), (gc, g_ref), (go, o_ref),
                      (m, m_ref)]:
        np.testing.assert_allclose(got, want, **TOL)


def test_lstm_absent_states_start_at_zero_and_null_tensors_count_as_absent():
    rng = np.random.default_rng(4)
    W, Rw, B, _ = _rand_lstm(rng, 3, 4)
    x = rng.standard_normal((1, 3)).astype(np.float32)
    g = Graph()
    ins = _qnn_lstm_inputs(g, W, Rw, B)
    ins[0] = g.add_input("x", x.shape).name
    op = g.add_op("Lstm", ins, ["y", "c", "h"])
    xs = [x] + [g.tensors[n].data if n else None for n in ins[1:]]
    y, c, h = get_op_def("Lstm").compute(op, xs)
    # the DLC form: NULL tensors (dims [0]) where the IR has ""
    null = np.zeros((0,), np.float32)
    y2, c2, h2 = get_op_def("Lstm").compute(op, [v if v is not None else null for v in xs])
    h_ref, c_ref = _onnx_lstm_step(x.astype(np.float64), np.zeros((1, 4)), np.zeros((1, 4)), W, Rw, B)
    for a, b in [(y, h_ref), (h, h_ref), (c, c_ref), (y2, h_ref), (c2, c_ref), (h2, h_ref)]:
        np.testing.assert_allclose(a, b, **TOL)


@needs_golden
def test_lstm_declares_what_the_real_file_carries():
    """Input order, outputs and attributes of Qualcomm's Lstm nodes (IR reader and QNN loader dumps)."""
    ir_ops = [op for op in _golden_json("lstm", "ir")["ops"] if op["type"] == "Lstm"]
    qnn_ops = [op for op in _golden_json("lstm", "qnn")["ops"] if op["type"] == "Lstm"]
    assert len(ir_ops) == len(qnn_ops) == 5
    first = ir_ops[0]["inputs"]
    assert len(first) == 24
    named = {R.W_F: "W_input_w_to_forget_gate", R.W_C: "W_input_w_to_cell_gate",
             R.W_O: "W_input_w_to_output_gate", R.W_I: "W_input_w_to_input_gate",
             R.R_F: "R_recurrent_w_to_forget_gate", R.R_C: "R_recurrent_w_to_cell_gate",
             R.R_O: "R_recurrent_w_to_output_gate", R.R_I: "R_recurrent_w_to_input_gate",
             R.B_F: "B_b_to_forget_gate", R.B_C: "B_b_to_cell_gate", R.B_O: "B_b_to_output_gate",
             R.B_I: "B_b_to_input_gate", R.H_IN: "LSTM_initial_hidden_state", R.C_IN: "LSTM_initial_cell_state"}
    unprovided = {R.LN_I, R.LN_F, R.LN_C, R.LN_O, R.P_I, R.P_F, R.P_O, R.PROJ_W, R.PROJ_B}
    assert set(named) | unprovided | {0} == set(range(24))
    for idx, name in enumerate(first):
        if idx == 0:
            assert name == "LSTM_input0_reshape"
        elif idx in named:
            assert name == named[idx]
        else:
            assert name == f"LSTM_step_0_unprovided_input_{idx}"
    assert [len(op["outputs"]) for op in ir_ops] == [3] * 5
    # step k+1 reads step k's outputs 2 (hidden) and 1 (cell) as inputs 10 and 11
    for prev, nxt in zip(ir_ops, ir_ops[1:]):
        assert nxt["inputs"][R.H_IN] == prev["outputs"][2] and nxt["inputs"][R.C_IN] == prev["outputs"][1]
        assert {a["name"]: a["value"] for a in nxt["attrs"]}["h_0_input_name"] == prev["outputs"][2]
    _check_attrs("Lstm", ir_ops[0], qnn_ops[0])


def _check_attrs(qnn_type: str, ir_op: dict, qnn_op: dict, extra: dict | None = None) -> None:
    """QNN params (loader dump) are exactly our non-internal params; the other IR attributes are ir_attr ones."""
    opdef = get_op_def(qnn_type)
    qnn_params = {p["name"] for p in qnn_op["params"]}
    ours = {n for n, p in opdef.params.items() if not p.internal}
    assert qnn_params <= ours, qnn_params - ours
    ir_only = {a["name"] for a in ir_op["attrs"]} - qnn_params - {"packageName"}
    assert all(n in opdef.params and opdef.params[n].internal and opdef.params[n].ir_attr for n in ir_only), ir_only
    # every attribute value the reader reports is accepted (complete_params rejects unknown names)
    given = {a["name"]: a["value"] for a in ir_op["attrs"] if a["name"] != "packageName" and a["kind"] == "scalar"}
    done = opdef.complete_params(dict(given, **(extra or {})))
    for n, v in given.items():
        assert done[n] == v


@needs_golden
def test_lstm_golden_unrolled_graph_reproduces_reference():
    """Qualcomm's unrolled graph (Split, Reshape, 5 x Lstm, Reshape, Concat, Transpose, Reshape), rebuilt
    with the ONNX weights, reproduces lstm.output0.raw."""
    wts = _onnx_weights("lstm")
    W, Rw, B = wts["W"][0], wts["R"][0], wts["B"][0]
    T, I, H = 5, 8, 16
    g = Graph("lstm")
    g.add_input("input", (1, T, I))                                     # NTF, as in the DLC
    ins = _qnn_lstm_inputs(g, W, Rw, B)
    ins[R.H_IN] = g.add_const("LSTM_initial_hidden_state", np.zeros((1, H), np.float32))
    ins[R.C_IN] = g.add_const("LSTM_initial_cell_state", np.zeros((1, H), np.float32))
    steps = g.add_op("Split", ["input"], [f"LSTM_input{t}" for t in range(T)],
                     {"axis": 1, "split_index": np.arange(1, T, dtype=np.uint32)}).outputs
    ys = []
    for t in range(T):
        xt = g.add_op("Reshape", [steps[t]], [f"x{t}"], {"shape": np.array([1, I], np.int32)}).outputs[0]
        ins[0] = xt
        op = g.add_op("Lstm", list(ins), [f"y{t}", f"c{t}", f"h{t}"],
                      {"hidden_size": H, "reset_state_at_time_step_0": t == 0,
                       "h_0_input_name": ins[R.H_IN], "c_0_input_name": ins[R.C_IN]})
        ins[R.H_IN], ins[R.C_IN] = op.outputs[2], op.outputs[1]
        ys.append(g.add_op("Reshape", [op.outputs[0]], [f"y{t}_r"],
                           {"shape": np.array([1, 1, H], np.int32)}).outputs[0])
    cat = g.add_op("Concat", ys, ["Y_all"], {"axis": 1}).outputs[0]
    tnf = g.add_op("Transpose", [cat], ["Y_tnf"], {"perm": np.array([1, 0, 2], np.uint32)}).outputs[0]
    g.add_op("Reshape", [tnf], ["Y"], {"shape": np.array([T, 1, 1, H], np.int32)})
    g.outputs = ["Y"]
    out = execute(g, {"input": _raw("lstm.input0.raw", (1, T, I))})["Y"]
    np.testing.assert_allclose(out, _raw("lstm.output0.raw", (T, 1, 1, H)), **TOL)


@needs_golden
def test_lstm_weights_in_the_real_file_are_the_onnx_gates():
    """The file's gate tensors are the ONNX W/R rows of that gate and Wb + Rb (matched by their sums)."""
    wts = _onnx_weights("lstm")
    W, Rw, B = wts["W"][0], wts["R"][0], wts["B"][0]
    H = 16
    tensors = {t["name"]: t.get("data") for t in _golden_json("lstm", "ir")["tensors"]}
    for k, gi in {"input": 0, "output": 1, "forget": 2, "cell": 3}.items():
        sl = slice(gi * H, (gi + 1) * H)
        for name, arr in [(f"W_input_w_to_{k}_gate", W[sl]), (f"R_recurrent_w_to_{k}_gate", Rw[sl]),
                          (f"B_b_to_{k}_gate", B[:4 * H][sl] + B[4 * H:][sl])]:
            assert tensors[name]["shape"] == list(arr.shape)
            assert tensors[name]["sum"] == pytest.approx(float(arr.astype(np.float64).sum()), abs=1e-5)
            assert tensors[name]["abs_sum"] == pytest.approx(float(np.abs(arr.astype(np.float64)).sum()), abs=1e-5)


# ------------------------------------------------------------------------------------------------
# ArgbToRgb
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order,reverse,channels", [(0, False, [1, 2, 3]), (0, True, [3, 2, 1]),
                                                    (1, False, [0, 1, 2]), (1, True, [2, 1, 0])])
def test_argb_to_rgb(order, reverse, channels):
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
    g = Graph()
    g.add_input("img", x.shape)
    op = g.add_op("ArgbToRgb", ["img"], ["rgb"], {"input_order": order, "reverse_output": reverse})
    assert g.tensors["rgb"].shape == (2, 3, 5, 3)
    g.outputs = ["rgb"]
    np.testing.assert_array_equal(execute(g, {"img": x})["rgb"], x[..., channels])
    u8 = x.astype(np.uint8)
    assert get_op_def("ArgbToRgb").compute(op, [u8])[0].dtype == np.uint8


def test_argb_to_rgb_rejects_other_shapes_and_orders():
    g = Graph()
    g.add_input("img3", (1, 4, 4, 3))
    with pytest.raises(ConversionError, match=r"\[b,h,w,4\]"):
        g.add_op("ArgbToRgb", ["img3"], ["o"], {"reverse_output": False})
    g.add_input("img", (1, 4, 4, 4))
    with pytest.raises(ConversionError, match="input_order"):
        g.add_op("ArgbToRgb", ["img"], ["o2"], {"input_order": 2})


@needs_golden
def test_argb_to_rgb_golden():
    """input_rgba: ArgbToRgb (RGBA -> BGR) + Conv + Relu rebuilt from the ONNX model, vs output0.raw."""
    ir_op = next(op for op in _golden_json("input_rgba", "ir")["ops"] if op["type"] == "ColorTransform")
    qnn_op = next(op for op in _golden_json("input_rgba", "qnn")["ops"] if op["type"] == "ArgbToRgb")
    _check_attrs("ArgbToRgb", ir_op, qnn_op)
    attrs = {a["name"]: a["value"] for a in ir_op["attrs"] if a["name"] != "packageName"}
    wts = _onnx_weights("input_rgba")
    g = Graph("input_rgba")
    g.add_input("input", (1, 16, 16, 4))
    g.add_op("ArgbToRgb", ["input"], ["input_post_transform"], attrs)
    w = g.add_const("conv.weight", wts["conv.weight"].transpose(2, 3, 1, 0))   # OIHW -> HWIO
    b = g.add_const("conv.bias", wts["conv.bias"])
    g.add_op("Conv2d", ["input_post_transform", w, b], ["conv"], {"pad_amount": np.array([[1, 1], [1, 1]], np.uint32)})
    g.add_op("Relu", ["conv"], ["output"])
    g.outputs = ["output"]
    out = execute(g, {"input": _raw("input_rgba.input0.raw", (1, 16, 16, 4))})["output"]
    np.testing.assert_allclose(out, _raw("input_rgba.output0.raw", (1, 16, 16, 4)), **TOL)


# ------------------------------------------------------------------------------------------------
# ResizeBilinear / ResizeNearestNeighbor
# ------------------------------------------------------------------------------------------------
# (QNN op, align_corners, half_pixel_centers) -> ONNX Resize attributes of the same sampling
_ONNX_MODE = {
    ("ResizeNearestNeighbor", False, False): dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                                  nearest_mode="floor"),
    ("ResizeNearestNeighbor", True, False): dict(mode="nearest", coordinate_transformation_mode="align_corners",
                                                 nearest_mode="round_prefer_ceil"),
    ("ResizeNearestNeighbor", False, True): dict(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn",
                                                 nearest_mode="floor"),
    ("ResizeBilinear", False, False): dict(mode="linear", coordinate_transformation_mode="asymmetric"),
    ("ResizeBilinear", True, False): dict(mode="linear", coordinate_transformation_mode="align_corners"),
    ("ResizeBilinear", False, True): dict(mode="linear", coordinate_transformation_mode="half_pixel"),
}
# (in, out) pairs whose source coordinates onnxruntime's float32 arithmetic gets exactly (no x/scale
# that should be an integer and lands just below it), including ties for round_prefer_ceil (3 -> 5)
_SIZES = [((8, 8), (16, 16)), ((5, 3), (7, 5)), ((7, 4), (3, 2)), ((4, 6), (2, 12)), ((3, 3), (3, 5))]


def _ort_resize(x_nhwc: np.ndarray, out_hw, attrs) -> np.ndarray:
    n, h, w, c = x_nhwc.shape
    sizes = np.array([n, c, *out_hw], np.int64)
    node = helper.make_node("Resize", ["X", "", "", "sizes"], ["Y"], **attrs)
    model = helper.make_model(helper.make_graph(
        [node], "resize", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n, c, h, w])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [numpy_helper.from_array(sizes, "sizes")]),
        opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return run_onnxruntime(model, {"X": x_nhwc.transpose(0, 3, 1, 2).copy()})["Y"].transpose(0, 2, 3, 1)


@pytest.mark.parametrize("key", list(_ONNX_MODE), ids=lambda k: f"{k[0]}-ac{int(k[1])}-hp{int(k[2])}")
def test_legacy_resize_matches_onnxruntime(key):
    qnn_type, ac, hp = key
    rng = np.random.default_rng(5)
    for (h, w), (oh, ow) in _SIZES:
        x = rng.standard_normal((2, h, w, 3)).astype(np.float32)
        g = Graph()
        g.add_input("x", x.shape)
        g.add_op(qnn_type, ["x"], ["y"], {"align_corners": ac, "half_pixel_centers": hp,
                                          "shape": np.array([2, oh, ow, 3], np.int32)})
        assert g.tensors["y"].shape == (2, oh, ow, 3)
        g.outputs = ["y"]
        got = execute(g, {"x": x})["y"]
        want = _ort_resize(x, (oh, ow), _ONNX_MODE[key])
        if qnn_type == "ResizeNearestNeighbor":
            np.testing.assert_array_equal(got, want, err_msg=f"{(h, w)} -> {(oh, ow)}")
        else:
            np.testing.assert_allclose(got, want, **TOL, err_msg=f"{(h, w)} -> {(oh, ow)}")


def test_legacy_resize_tf_conventions():
    """Hand-computed TF indices: nearest half-pixel floors (x+0.5)*in/out (no -0.5); align_corners rounds
    half up; asymmetric floors x*in/out, also where float32 division would land just below an integer."""
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6, 1)

    def nn(out_w, **p):
        g = Graph()
        g.add_input("x", x.shape)
        g.add_op("ResizeNearestNeighbor", ["x"], ["y"], dict(p, shape=np.array([1, 1, out_w, 1], np.int32)))
        g.outputs = ["y"]
        return execute(g, {"x": x})["y"][0, 0, :, 0].tolist()

    assert nn(4) == [0, 1, 3, 4]                                   # floor(x * 1.5): 3.0 exactly at x = 2
    assert nn(4, half_pixel_centers=True) == [0, 2, 3, 5]          # floor((x + 0.5) * 1.5)
    assert nn(11, align_corners=True) == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]   # round(x * 0.5), halves up
    assert nn(3, half_pixel_centers=True) == [1, 3, 5]             # floor((x + 0.5) * 2)


def test_legacy_resize_rejects_bad_shapes_and_modes():
    g = Graph()
    g.add_input("x", (1, 4, 4, 3))
    with pytest.raises(ConversionError, match="both be true"):
        g.add_op("ResizeBilinear", ["x"], ["y"], {"align_corners": True, "half_pixel_centers": True,
                                                  "shape": np.array([1, 8, 8, 3], np.int32)})
    with pytest.raises(ConversionError, match="batch and channel"):
        g.add_op("ResizeNearestNeighbor", ["x"], ["y2"], {"shape": np.array([1, 8, 8, 4], np.int32)})
    g.add_input("x5", (1, 2, 4, 4, 3))
    with pytest.raises(ConversionError, match="rank 4"):
        g.add_op("ResizeBilinear", ["x5"], ["y3"], {"shape": np.array([1, 2, 8, 8, 3], np.int32)})


@pytest.mark.parametrize("name,qnn_type", [("resize_nearest", "ResizeNearestNeighbor"),
                                           ("resize_bilinear", "ResizeBilinear")])
@needs_golden
def test_legacy_resize_golden(name, qnn_type):
    """1x1 Conv + the file's Resize op with the file's attributes, rebuilt from the ONNX model, vs output0.raw."""
    ir_op = next(op for op in _golden_json(name, "ir")["ops"] if op["type"] == "Resize")
    qnn_op = next(op for op in _golden_json(name, "qnn")["ops"] if op["type"] == qnn_type)
    # the IR reader reports the generic Resize's attributes too; the QNN op only takes its own
    _check_attrs(qnn_type, {"attrs": [a for a in ir_op["attrs"] if a["name"] not in
                                      ("interpolation_mode", "transformation_mode")]}, qnn_op,
                 {"shape": [1, 16, 16, 4]})
    params = {p["name"]: bool(p["value"]) for p in qnn_op["params"]}
    wts = _onnx_weights(name)
    g = Graph(name)
    g.add_input("input", (1, 8, 8, 3))
    w = g.add_const("conv.weight", wts["conv.weight"].transpose(2, 3, 1, 0))
    g.add_op("Conv2d", ["input", w], ["conv"])
    op = g.add_op(qnn_type, ["conv"], ["output"], dict(params, shape=np.array([1, 16, 16, 4], np.int32)))
    g.outputs = ["output"]
    out = execute(g, {"input": _raw(f"{name}.input0.raw", (1, 8, 8, 3))})["output"]
    np.testing.assert_allclose(out, _raw(f"{name}.output0.raw", (1, 16, 16, 4)), **TOL)
    # after reading a DLC the output size is rebuilt from the output tensor
    op2 = type(op)(op.name, op.type, list(op.inputs), list(op.outputs), {})
    get_op_def(qnn_type).restore_params(op2, [g.tensors["conv"]], [g.tensors["output"]])
    assert op2.params["shape"].tolist() == [1, 16, 16, 4]


@pytest.mark.parametrize("name", ["lstm", "input_rgba", "resize_nearest", "resize_bilinear"])
@needs_golden
def test_real_qualcomm_dlc_runs(name):
    """End to end: the real 2.25 DLC read by snpe_tools.dlc and run by the reference runtime."""
    from snpe_tools.dlc import read_dlc

    with open(os.path.join(GOLDEN, "manifest.json")) as f:
        entry = next(m for m in json.load(f)["models"] if m["name"] == name)
    graph = read_dlc(os.path.join(GOLDEN, entry["dlc"])).graph
    feeds = {i["dlc_name"]: _raw(i["raw"], i["dlc_dims"]) for i in entry["inputs"]}
    out = execute(graph, feeds)
    for o in entry["outputs"]:
        np.testing.assert_allclose(out[o["dlc_name"]], _raw(o["raw"], o["dlc_dims"]), **TOL)

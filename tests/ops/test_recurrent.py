"""snpe_tools/ops/recurrent.py: Lstm (QNN input order, per-gate weights) against ONNX LSTM under
onnx.reference: sequences batch-major and time-major, reverse direction, initial states, peepholes, one
step; CIFG and projection against the documented equations."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError

N_IN, UNITS, BATCH, SEQ = 3, 4, 2, 5


def _weights(seed=0):
    """Per-gate weights (ONNX gate order i, o, f, c) and biases."""
    rng = np.random.default_rng(seed)
    w = {g: rng.uniform(-0.5, 0.5, (UNITS, N_IN)).astype(np.float32) for g in "iofc"}
    r = {g: rng.uniform(-0.5, 0.5, (UNITS, UNITS)).astype(np.float32) for g in "iofc"}
    b = {g: rng.uniform(-0.5, 0.5, UNITS).astype(np.float32) for g in "iofc"}
    p = {g: rng.uniform(-0.5, 0.5, UNITS).astype(np.float32) for g in "iof"}
    return w, r, b, p


def _qnn_inputs(x, w, r, b, p=None, h0=None, c0=None):
    ins = [x, w["f"], w["c"], w["o"], r["f"], r["c"], r["o"], b["f"], b["c"], b["o"], h0, c0,
           None, None, None, None, w["i"], r["i"], None, None, None, b["i"]]
    if p is not None:
        ins[18:21] = [p["i"], p["f"], p["o"]]
    return ins


STATIC = [i for i in range(1, 22) if i not in (10, 11)]


def _onnx_lstm(x_tbf, w, r, b, p=None, h0=None, c0=None, direction="forward"):
    W = np.concatenate([w[g] for g in "iofc"])[None]
    R = np.concatenate([r[g] for g in "iofc"])[None]
    B = np.concatenate([np.concatenate([b[g] for g in "iofc"]), np.zeros(4 * UNITS, np.float32)])[None]
    P = None if p is None else np.concatenate([p[g] for g in "iof"])[None]
    ins = [x_tbf, W, R, B, None, None if h0 is None else h0[None], None if c0 is None else c0[None], P]
    while ins[-1] is None:
        ins.pop()
    y, yh, yc = onnx_ref("LSTM", ins, n_out=3, hidden_size=UNITS, direction=direction)
    return y[:, 0], yh[0], yc[0]          # [seq, batch, units], [batch, units] x 2


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_sequence_matches_onnx(time_major, reverse):
    w, r, b, _ = _weights()
    x_tbf = rand(SEQ, BATCH, N_IN)
    h0, c0 = rand(BATCH, UNITS, lo=-0.5, hi=0.5), rand(BATCH, UNITS, lo=-0.5, hi=0.5)
    x = x_tbf if time_major else np.ascontiguousarray(x_tbf.transpose(1, 0, 2))
    y, c, h = run_op("Lstm", _qnn_inputs(x, w, r, b, h0=h0, c0=c0),
                     {"time_major": time_major, "direction": int(reverse)}, static=STATIC)
    ry, rh, rc = _onnx_lstm(x_tbf, w, r, b, h0=h0, c0=c0, direction="reverse" if reverse else "forward")
    assert_close(y, ry if time_major else ry.transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
    assert_close(h, rh, rtol=1e-4, atol=1e-5)
    assert_close(c, rc, rtol=1e-4, atol=1e-5)


def test_lstm_peepholes_match_onnx():
    w, r, b, p = _weights(1)
    x_tbf = rand(SEQ, BATCH, N_IN)
    y, c, h = run_op("Lstm", _qnn_inputs(x_tbf, w, r, b, p=p), {"time_major": True}, static=STATIC)
    ry, rh, rc = _onnx_lstm(x_tbf, w, r, b, p=p)
    assert_close(y, ry, rtol=1e-4, atol=1e-5)
    assert_close(c, rc, rtol=1e-4, atol=1e-5)


def test_lstm_single_step_rank2_and_gate_outputs():
    w, r, b, _ = _weights(2)
    x = rand(BATCH, N_IN)
    g_in = _qnn_inputs(x, w, r, b)
    from ir_harness import one_op_graph
    from snpe_tools.ops.registry import get_op_def
    g, op = one_op_graph("Lstm", g_in, static=STATIC)
    assert [g.tensors[o].shape for o in op.outputs] == [(BATCH, UNITS)] * 3
    y, c, h = run_op("Lstm", g_in, static=STATIC)
    ry, rh, rc = _onnx_lstm(x[None], w, r, b)
    assert_close(y, rh, rtol=1e-4, atol=1e-5)
    assert_close(h, y, rtol=0, atol=0)
    assert_close(c, rc, rtol=1e-4, atol=1e-5)
    # with 8 outputs, 3-6 are the gates i, f, g, o of the step and 7 is m = o * tanh(c)
    op.outputs = [f"o{k}" for k in range(8)]
    outs = get_op_def("Lstm").compute(op, g_in)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    i = sig(x @ w["i"].T + b["i"])
    f = sig(x @ w["f"].T + b["f"])
    assert_close(outs[3], i, rtol=1e-5)
    assert_close(outs[4], f, rtol=1e-5)
    assert_close(outs[7], outs[6] * np.tanh(outs[1]), rtol=1e-5)


def test_lstm_cifg_and_projection_follow_the_equations():
    w, r, b, _ = _weights(3)
    proj = rand(2, UNITS, lo=-0.5, hi=0.5)
    x = rand(BATCH, N_IN)
    h0 = rand(BATCH, 2, lo=-0.5, hi=0.5)
    r2 = {g: rand(UNITS, 2, lo=-0.5, hi=0.5) for g in "iofc"}
    ins = _qnn_inputs(x, w, r2, b, h0=h0) + [proj, None]
    ins[16] = ins[17] = ins[21] = None          # CIFG: no input gate
    y, c, h = run_op("Lstm", ins, {"output_clip_threshold": 0.05}, static=[i for i in STATIC if ins[i] is not None] + [22])
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    f = sig(x @ w["f"].T + h0 @ r2["f"].T + b["f"])
    gg = np.tanh(x @ w["c"].T + h0 @ r2["c"].T + b["c"])
    cc = (1 - f) * gg
    o = sig(x @ w["o"].T + h0 @ r2["o"].T + b["o"])
    assert_close(c, cc, rtol=1e-5)
    assert_close(h, np.clip((o * np.tanh(cc)) @ proj.T, -0.05, 0.05), rtol=1e-5)
    assert h.shape == (BATCH, 2)


def test_lstm_rejects_weights_of_another_input_size():
    w, r, b, _ = _weights()
    with pytest.raises(ConversionError, match="input features"):
        run_op("Lstm", _qnn_inputs(rand(BATCH, N_IN + 1), w, r, b), static=STATIC)


def test_table_covers_the_family():
    assert family_ops("recurrent") == {"Lstm"}

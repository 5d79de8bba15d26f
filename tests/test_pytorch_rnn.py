"""aten::lstm / aten::gru / aten::rnn_* (nn.LSTM, nn.GRU, nn.RNN) through snpe-pytorch-to-dlc.

Every model is traced (and scripted where the converter can walk ``nn.LSTM.forward``), saved,
converted with the real ``main()``, run on our runtime and compared with torch eager (rtol 1e-3,
atol 1e-4).  Covered:

* the natural user models (``out, _ = self.lstm(x)`` with no initial state, ``out[:, -1, :]``):
  an LSTM classifier (batch-first, 2 layers), a bidirectional seq-first GRU, an LSTM returning
  ``(output, (h_n, c_n))``;
* the same models with the initial state given explicitly (zero buffers: the constant/zero-state
  path; graph inputs: the run-time state path) and the last step taken with a fixed selection
  matrix, which the converter handles today; a scripted module calling ``torch.lstm``/``torch.gru``
  directly (scripted graphs, constant weight lists);
* a configuration sweep: layers 1/2, bidirectional, batch_first, bias on/off, LSTM ``proj_size``,
  ``nn.RNN`` tanh/relu, sequence length 1;
* the op structure (one input-projection FullyConnected per layer, one recurrent FullyConnected per
  step and direction, no native Lstm op);
* errors: inter-layer dropout traced in training mode, packed sequences: one-line ConversionError.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import helpers  # noqa: E402
from snpe_tools.errors import ConversionError  # noqa: E402
from snpe_tools.tools.pytorch_to_dlc import main  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
              pytest.mark.filterwarnings("ignore:.*torch.jit.*is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")]
TOL = dict(rtol=1e-3, atol=1e-4)
B, T, F, H = 2, 7, 8, 16

# Messages of converter-core gaps (not of the RNN translators) that natural nn.LSTM/GRU models hit.


# ---- helpers -------------------------------------------------------------------------------------
def _flatten(v) -> list[np.ndarray]:
    if isinstance(v, (list, tuple)):
        return [a for x in v for a in _flatten(x)]
    return [v.detach().numpy()]


def _save(model: nn.Module, path, example: tuple, how: str) -> str:
    model = model.eval()
    with torch.no_grad():
        ts = torch.jit.trace(model, example) if how == "traced" else torch.jit.script(model)
    ts.save(str(path))
    return str(path)


def convert_and_compare(model: nn.Module, tmp_path, feeds: dict[str, np.ndarray], how: str = "traced") -> str:
    """Save, convert, run and compare every output with torch eager; returns the DLC path."""
    example = tuple(torch.from_numpy(v) for v in feeds.values())
    pt = _save(model, tmp_path / f"{how}.pt", example, how)
    dlc = str(tmp_path / f"{how}.dlc")
    argv = ["-i", pt, "-o", dlc]
    for name, v in feeds.items():
        argv += ["-d", name, ",".join(str(d) for d in v.shape)]
    assert main(argv) == 0
    with torch.no_grad():
        ref = _flatten(model.eval()(*example))
    got = helpers.run_dlc(dlc, feeds)
    assert len(got) == len(ref), (list(got), len(ref))
    for (name, g), r in zip(got.items(), ref):
        assert g.shape == r.shape, (name, g.shape, r.shape)
        np.testing.assert_allclose(g, r, **TOL, err_msg=name)
        assert np.all(np.isfinite(g)) and float(np.std(r)) > 1e-3, f"{name}: degenerate"
    return dlc


def _rand(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(np.float32)


def _select_last(seq_len: int) -> torch.Tensor:
    """[1, T] one-hot on the last step: ``linear(out.transpose(1, 2), sel)`` == ``out[:, -1:, :]``."""
    sel = torch.zeros(1, seq_len)
    sel[0, -1] = 1.0
    return sel


# ---- the natural models --------------------------------------------------------------------------
class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(H, 5)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


class BiGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F, H, bidirectional=True)

    def forward(self, x):
        out, h_n = self.gru(x)
        return out, h_n


class LSTMState(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, H, num_layers=2, bidirectional=True)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(x)
        return out, (h_n, c_n)


@pytest.mark.parametrize("how", ["traced", "scripted"])
@pytest.mark.parametrize("model,shape", [(LSTMClassifier, (B, T, F)), (BiGRU, (T, B, F)), (LSTMState, (T, B, F))],
                         ids=["lstm_classifier", "bigru_seq_first", "lstm_returns_state"])
def test_natural_models(model, shape, how, tmp_path):
    torch.manual_seed(0)
    convert_and_compare(model(), tmp_path, {"input": _rand(*shape)}, how)


# ---- the same models with explicit initial state (converts today) -----------------------------------
class LSTMClassifierZeroState(nn.Module):
    """2-layer batch-first LSTM (zero initial state as buffers) -> last step -> Linear 5."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(H, 5)
        self.register_buffer("h0", torch.zeros(2, B, H))
        self.register_buffer("c0", torch.zeros(2, B, H))
        self.register_buffer("sel", _select_last(T))

    def forward(self, x):
        out, _ = self.lstm(x, (self.h0, self.c0))
        last = nn.functional.linear(out.transpose(1, 2), self.sel).flatten(1)   # out[:, -1, :]
        return self.fc(last)


def test_lstm_classifier(tmp_path):
    torch.manual_seed(0)
    dlc = convert_and_compare(LSTMClassifierZeroState(), tmp_path, {"input": _rand(B, T, F)})
    counts = helpers.count_ops(dlc)
    # per layer: 1 input projection (all steps); recurrent FC on steps 2..T (step 1 has zero state);
    # + the selection and the classifier
    assert counts["FullyConnected"] == 2 * (1 + (T - 1)) + 2, counts
    assert "Lstm" not in counts and "MatMul" not in counts, counts
    assert counts["StridedSlice"] == 2 * T, counts


class BiGRUState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F, H, bidirectional=True)

    def forward(self, x, h0):
        out, h_n = self.gru(x, h0)
        return out, h_n


def test_bigru_seq_first(tmp_path):
    torch.manual_seed(1)
    dlc = convert_and_compare(BiGRUState(), tmp_path, {"input": _rand(T, B, F), "h0": _rand(2, B, H)})
    counts = helpers.count_ops(dlc)
    assert counts["FullyConnected"] == 1 + 2 * T, counts


class LSTMStateGiven(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.lstm = nn.LSTM(F, H, **kw)

    def forward(self, x, h0, c0):
        out, (h_n, c_n) = self.lstm(x, (h0, c0))
        return out, (h_n, c_n)


def test_lstm_returns_state(tmp_path):
    torch.manual_seed(2)
    convert_and_compare(LSTMStateGiven(num_layers=2, bidirectional=True), tmp_path,
                        {"input": _rand(T, B, F), "h0": _rand(4, B, H), "c0": _rand(4, B, H)})


class DirectLSTM(nn.Module):
    """Scripted: aten::lstm called directly (nn.LSTM.forward itself is not walkable yet)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, H, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, x, h0, c0):
        out, h, c = torch.lstm(x, [h0, c0], self.lstm._flat_weights, True, 2, 0.0, False, True, True)
        return out, h, c


class DirectGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F, H, num_layers=2, bias=False)

    def forward(self, x, h0):
        out, h = torch.gru(x, h0, self.gru._flat_weights, False, 2, 0.0, False, False, False)
        return out, h


def test_scripted_direct_calls(tmp_path):
    torch.manual_seed(3)
    for sub in ("l", "g"):
        (tmp_path / sub).mkdir()
    convert_and_compare(DirectLSTM(), tmp_path / "l",
                        {"input": _rand(B, T, F), "h0": _rand(4, B, H), "c0": _rand(4, B, H)}, "scripted")
    convert_and_compare(DirectGRU(), tmp_path / "g", {"input": _rand(T, B, F), "h0": _rand(2, B, H)}, "scripted")


# ---- configuration sweep (run-time initial state) --------------------------------------------------
class RNNGiven(nn.Module):
    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h0):
        return self.rnn(x, h0)


class LSTMGiven(RNNGiven):
    def forward(self, x, h0, c0):
        return self.rnn(x, (h0, c0))


SWEEP = [  # (cls, kwargs, seq_len)
    ("LSTM", dict(num_layers=1), T),
    ("LSTM", dict(num_layers=2, batch_first=True, bias=False), T),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True, proj_size=5), 4),
    ("LSTM", dict(num_layers=1, bidirectional=True), 1),
    ("GRU", dict(num_layers=2, batch_first=True), T),
    ("GRU", dict(num_layers=1, bidirectional=True, batch_first=True, bias=False), 1),
    ("RNN", dict(num_layers=2, bidirectional=True), T),
    ("RNN", dict(num_layers=2, nonlinearity="relu", batch_first=True), 4),
]


@pytest.mark.parametrize("cls,kw,seq", SWEEP, ids=[f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items())}-T{s}"
                                                   for c, kw, s in SWEEP])
def test_config_sweep(cls, kw, seq, tmp_path):
    torch.manual_seed(4)
    rnn = getattr(nn, cls)(F, 6, **kw)
    dirs = 2 if kw.get("bidirectional") else 1
    n = kw.get("num_layers", 1) * dirs
    shape = (B, seq, F) if kw.get("batch_first") else (seq, B, F)
    h_size = kw.get("proj_size", 6)
    feeds = {"input": _rand(*shape), "h0": _rand(n, B, h_size)}
    if cls == "LSTM":
        feeds["c0"] = _rand(n, B, 6, seed=1)
        convert_and_compare(LSTMGiven(rnn), tmp_path, feeds)
    else:
        convert_and_compare(RNNGiven(rnn), tmp_path, feeds)


class GRUConstState(nn.Module):
    """Non-zero constant initial state (a buffer) and zero state side by side."""

    def __init__(self):
        super().__init__()
        self.a = nn.GRU(F, H, batch_first=True)
        self.b = nn.LSTM(F, H, batch_first=True)
        self.register_buffer("h0", torch.randn(1, B, H))
        self.register_buffer("z", torch.zeros(1, B, H))

    def forward(self, x):
        return self.a(x, self.h0)[0], self.a(x, self.z)[1], self.b(x, (self.h0, self.h0))[0]


def test_constant_initial_state(tmp_path):
    torch.manual_seed(5)
    convert_and_compare(GRUConstState(), tmp_path, {"input": _rand(B, T, F)})


# ---- errors --------------------------------------------------------------------------------------
def _convert_error(model, tmp_path, example: tuple, names: list[str]) -> str:
    with torch.no_grad():
        ts = torch.jit.trace(model, example, check_trace=False)
    pt = str(tmp_path / "bad.pt")
    ts.save(pt)
    argv = ["-i", pt, "-o", str(tmp_path / "bad.dlc")]
    for name, v in zip(names, example):
        argv += ["-d", name, ",".join(str(d) for d in v.shape)]
    with pytest.raises(ConversionError) as info:
        main(argv)
    msg = str(info.value)
    assert "\n" not in msg and msg, msg
    assert not (tmp_path / "bad.dlc").exists()
    return msg


def test_training_dropout_rejected(tmp_path):
    model = LSTMStateGiven(num_layers=2, dropout=0.5).train()
    msg = _convert_error(model, tmp_path, (torch.randn(T, B, F), torch.zeros(2, B, H), torch.zeros(2, B, H)),
                         ["input", "h0", "c0"])
    assert msg.startswith("aten::lstm") and "dropout" in msg and "eval()" in msg, msg


class Packed(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F, H)

    def forward(self, x, h0):
        lengths = torch.tensor([T, T - 2])
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths)
        return self.gru(packed, h0)[1]


def test_packed_sequence_rejected(tmp_path):
    msg = _convert_error(Packed().eval(), tmp_path, (torch.randn(T, B, F), torch.zeros(1, B, H)), ["input", "h0"])
    assert "pack" in msg, msg

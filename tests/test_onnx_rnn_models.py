"""PyTorch recurrent models exported to ONNX (``LSTM`` / ``GRU`` / ``RNN`` nodes) through snpe-onnx-to-dlc.

The ONNX translators unroll the recurrence into QNN ops; the converted DLC must reproduce
onnxruntime on the same ONNX file (rtol 1e-3, atol 1e-4).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import helpers  # noqa: E402

TOL = dict(rtol=1e-3, atol=1e-4)


class LstmClassifier(nn.Module):
    """batch_first, 2-layer LSTM; logits from the last step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y[:, -1, :])


class BiGru(nn.Module):
    """Bidirectional GRU (time-major) returning the sequence output and the final state."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(input_size=6, hidden_size=10, bidirectional=True)

    def forward(self, x, h0):
        y, h = self.gru(x, h0)
        return y, h


class ReluRnnStates(nn.Module):
    """nn.RNN (relu, 2 layers, batch_first) with LSTM-like state inputs."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(input_size=4, hidden_size=7, num_layers=2, nonlinearity="relu", batch_first=True)

    def forward(self, x, h0):
        return self.rnn(x, h0)


def _export(model: nn.Module, args: tuple, names_in: list[str], names_out: list[str], path: str, opset: int) -> None:
    model.eval()
    torch.onnx.export(model, args, path, input_names=names_in, output_names=names_out, opset_version=opset,
                      dynamo=False)


def _compare(tmp_path, model: nn.Module, feeds: dict[str, np.ndarray], names_out: list[str], opset: int,
             op_type: str) -> None:
    import onnx

    path = str(tmp_path / "model.onnx")
    _export(model, tuple(torch.from_numpy(v) for v in feeds.values()), list(feeds), names_out, path, opset)
    assert op_type in {n.op_type for n in onnx.load(path).graph.node}, "the export has no recurrent node"
    dlc = str(tmp_path / "model.dlc")
    helpers.convert_in_process(path, dlc)
    ours = helpers.run_dlc(dlc, feeds)
    ref = helpers.run_onnxruntime(path, feeds)
    for name in names_out:
        assert ours[name].shape == ref[name].shape, name
        np.testing.assert_allclose(ours[name], ref[name], **TOL, err_msg=name)
        assert np.std(ref[name]) > 1e-3, f"{name}: degenerate reference"


def _rand(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("opset", [13, 17])
def test_lstm_classifier(tmp_path, opset):
    torch.manual_seed(0)
    _compare(tmp_path, LstmClassifier(), {"x": _rand(2, 7, 8)}, ["logits"], opset, "LSTM")


@pytest.mark.parametrize("opset", [13, 17])
def test_bidirectional_gru(tmp_path, opset):
    torch.manual_seed(1)
    _compare(tmp_path, BiGru(), {"x": _rand(5, 3, 6, seed=1), "h0": _rand(2, 3, 10, seed=2)}, ["y", "h_n"],
             opset, "GRU")


@pytest.mark.parametrize("opset", [13, 17])
def test_relu_rnn_with_state(tmp_path, opset):
    torch.manual_seed(2)
    _compare(tmp_path, ReluRnnStates(), {"x": _rand(2, 4, 4, seed=3), "h0": _rand(2, 2, 7, seed=4)},
             ["y", "h_n"], opset, "RNN")

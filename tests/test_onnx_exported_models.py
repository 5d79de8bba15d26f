"""Torch-exported ONNX models (TorchScript exporter, opsets 13/14 and 17) against onnxruntime.

* A BERT-style encoder (token + position embeddings, LayerNorm, multi-head attention with a padding
  mask, GELU MLP): the DLC must not contain more Transposes than the source graph itself (no layout
  permutes are added for 3-D/4-D sequence tensors).
* A UNet-style model (ConvTranspose, Resize, Concat skip connections): zero Transposes.
"""
from __future__ import annotations

import collections
import math

import numpy as np
import onnx
import pytest

from helpers import convert_in_process, count_ops, run_dlc, run_onnxruntime

torch = pytest.importorskip("torch")
nn = torch.nn


class Attention(nn.Module):
    """Hand-written MHA so that opset 13 (no SDPA export) works too."""

    def __init__(self, d: int, h: int) -> None:
        super().__init__()
        self.h, self.dk = h, d // h
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, bias):
        b, s, d = x.shape
        def split(t):
            return t.view(b, s, self.h, self.dk).permute(0, 2, 1, 3)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dk) + bias
        y = torch.matmul(att.softmax(-1), v).permute(0, 2, 1, 3).reshape(b, s, d)
        return self.o(y)


class Bert(nn.Module):
    def __init__(self, vocab=100, d=32, h=4, layers=2, seq=16) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.ln0 = nn.LayerNorm(d)
        self.att = nn.ModuleList(Attention(d, h) for _ in range(layers))
        self.ln1 = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.mlp = nn.ModuleList(nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, d)) for _ in range(layers))
        self.ln2 = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.head = nn.Linear(d, 3)

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.ln0(self.tok(ids) + self.pos(pos))
        bias = (1.0 - mask[:, None, None, :].float()) * -10000.0
        for att, ln1, mlp, ln2 in zip(self.att, self.ln1, self.mlp, self.ln2):
            x = ln1(x + att(x, bias))
            x = ln2(x + mlp(x))
        return self.head(x[:, 0])


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())
        self.e1, self.e2, self.e3 = block(3, 8), block(8, 16), block(16, 32)
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.d1 = block(32, 16)
        self.d2 = block(24, 8)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(nn.functional.max_pool2d(a, 2))
        c = self.e3(nn.functional.max_pool2d(b, 2))
        u = self.d1(torch.cat([self.up1(c), b], 1))
        u = nn.functional.interpolate(u, scale_factor=2, mode="bilinear", align_corners=False)
        return self.out(self.d2(torch.cat([u, a], 1)))


def _export(model, args, path, opset, names, outs):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, opset_version=opset, dynamo=False, input_names=names,
                          output_names=outs)


@pytest.mark.parametrize("opset", [13, 17])
def test_bert_style_encoder_matches_and_adds_no_transposes(opset, tmp_path):
    torch.manual_seed(0)
    model = Bert()
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 11:] = 0
    path = str(tmp_path / "bert.onnx")
    _export(model, (ids, mask), path, opset, ["ids", "mask"], ["logits"])
    src = collections.Counter(n.op_type for n in onnx.load(path).graph.node)
    dlc = str(tmp_path / "bert.dlc")
    convert_in_process(path, dlc)
    ref = run_onnxruntime(path, {"ids": ids.numpy(), "mask": mask.numpy()})["logits"]
    got = run_dlc(dlc, {"ids": ids.numpy().astype(np.int32), "mask": mask.numpy().astype(np.int32)})["logits"]
    assert ref.std() > 1e-2
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)
    assert count_ops(dlc).get("Transpose", 0) <= src.get("Transpose", 0)


@pytest.mark.parametrize("opset", [13, 17])
def test_unet_style_model_matches_without_transposes(opset, tmp_path):
    torch.manual_seed(1)
    model = UNet()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 32, 32)
    path = str(tmp_path / "unet.onnx")
    _export(model, (x,), path, opset, ["x"], ["y"])
    dlc = str(tmp_path / "unet.dlc")
    convert_in_process(path, dlc)
    ref = run_onnxruntime(path, {"x": x.numpy()})["y"]
    got = run_dlc(dlc, {"x": x.numpy()})["y"]
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)
    ops = count_ops(dlc)
    assert ops.get("Transpose", 0) == 0 and ops.get("TransposeConv2d") == 1, ops

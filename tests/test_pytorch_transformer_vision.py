"""snpe-pytorch-to-dlc on transformer and dense-prediction (vision) models, checked against torch eager.

* nn.TransformerEncoder (2 layers, d_model 32, 4 heads, batch_first) on [2, 10, 32], traced with
  gradients on (the generic MHA path: linear/unflatten/select/scaled_dot_product_attention) and
  under ``torch.no_grad()`` (torch then records its fused ``aten::_transformer_encoder_layer_fwd``
  fast path, which the frontend decomposes); norm_first/gelu and causal-mask variants;
* a UNet (conv blocks, max-pool, ConvTranspose2d and F.interpolate bilinear/nearest up-sampling,
  torch.cat skips, 1x1 head) traced and scripted: zero Transposes in the DLC;
* a BERT-like block on int32 token ids (embedding, layer_norm, SDPA with a padding mask, GELU MLP);
* group_norm / instance_norm / pixel_shuffle / pixel_unshuffle / every pad mode, every
  interpolate mode PyTorch has a QNN equivalent for, and a catalogue of indexing/shape ops
  (chunk, split, stack, slice, select, expand, repeat, gather, index_select, matmul family,
  masked_fill, where, casts, *_like factories);
* refusals: resampling QNN cannot express, SDPA dropout, float embedding indices.

Every comparison uses rtol 1e-3 / atol 1e-4 against the eager module in eval mode.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import helpers  # noqa: E402
from snpe_tools.dlc import read_dlc  # noqa: E402
from snpe_tools.errors import ConversionError  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]

TOL = dict(rtol=1e-3, atol=1e-4)


# ---- helpers -------------------------------------------------------------------------------------
def perturb(model: nn.Module, seed: int = 0, scale: float = 0.1) -> nn.Module:
    """Add noise to every parameter (TransformerEncoder deep-copies one layer: identical weights)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


def save(model: nn.Module, path, example: tuple, how: str) -> str:
    model = model.eval()
    if how == "script":
        ts = torch.jit.script(model)
    elif how == "trace_no_grad":
        with torch.no_grad():
            ts = torch.jit.trace(model, example, check_trace=False)
    else:
        ts = torch.jit.trace(model, example, check_trace=False)
    ts.save(str(path))
    return str(path)


def convert(pt: str, dlc: str, inputs: dict[str, np.ndarray], *extra: str) -> None:
    from snpe_tools.tools.pytorch_to_dlc import main

    args = ["-i", pt, "-o", dlc]
    for name, x in inputs.items():
        args += ["-d", name, ",".join(str(s) for s in x.shape)]
        if np.issubdtype(x.dtype, np.integer):
            args += ["--input_dtype", name, "int32"]
        elif x.dtype == np.bool_:
            args += ["--input_dtype", name, "bool"]
    assert main(args + list(extra)) == 0


def run_and_compare(model: nn.Module, tmp_path, inputs: dict[str, np.ndarray], how: str = "trace",
                    tag: str = "m", *extra: str) -> dict[str, int]:
    """Save, convert, run the DLC and compare every output with torch eager; returns op counts."""
    xs = tuple(torch.from_numpy(x.astype(np.int64) if np.issubdtype(x.dtype, np.integer) else x.copy())
               for x in inputs.values())
    pt = save(model, tmp_path / f"{tag}.pt", xs, how)
    dlc = str(tmp_path / f"{tag}.dlc")
    convert(pt, dlc, inputs, *extra)
    with torch.no_grad():
        ref = model.eval()(*xs)
    refs = [r.numpy() for r in (ref if isinstance(ref, (list, tuple)) else [ref])]
    outs = helpers.run_dlc(dlc, inputs)
    names = read_dlc(dlc).graph.outputs
    assert len(names) == len(refs)
    for i, (name, r) in enumerate(zip(names, refs)):
        got = outs[name]
        assert got.shape == r.shape, f"{tag} output {i}: {got.shape} vs {r.shape}"
        np.testing.assert_allclose(got.astype(np.float64), r.astype(np.float64), **TOL,
                                   err_msg=f"{tag} output {i} ({name})")
    return helpers.count_ops(dlc)


def rand(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- TransformerEncoder ----------------------------------------------------------------------------
def encoder(norm_first=False, activation="relu") -> nn.Module:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True, dropout=0.0,
                                       norm_first=norm_first, activation=activation)
    return perturb(nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False))


@pytest.mark.parametrize("how", ["trace", "trace_no_grad"])
def test_transformer_encoder_seed_command(how, tmp_path):
    """The seed command: -d input 2,10,32 on a traced 2-layer TransformerEncoder."""
    model = encoder()
    x = rand(2, 10, 32)
    pt = save(model, tmp_path / "enc.pt", (torch.from_numpy(x),), how)
    if how == "trace_no_grad":   # torch records its fused fast-path kernel
        assert "aten::_transformer_encoder_layer_fwd" in str(torch.jit.load(pt).inlined_graph)
    dlc = str(tmp_path / "enc.dlc")
    from snpe_tools.tools.pytorch_to_dlc import main
    assert main(["-i", pt, "-d", "input", "2,10,32", "-o", dlc]) == 0
    out = helpers.run_dlc(dlc, {"input": x})
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    (got,) = out.values()
    np.testing.assert_allclose(got, ref, **TOL)
    assert float(np.std(ref)) > 0.1
    counts = helpers.count_ops(dlc)
    assert counts["LayerNorm"] == 4 and counts["Softmax"] == 2, counts


@pytest.mark.parametrize("how", ["trace", "trace_no_grad"])
def test_transformer_encoder_variants(how, tmp_path):
    run_and_compare(encoder(norm_first=True, activation="gelu"), tmp_path, {"input": rand(2, 10, 32)}, how,
                    "normfirst")

    class Causal(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = encoder()

        def forward(self, x):
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return self.enc(x, mask=mask, is_causal=True)

    counts = run_and_compare(Causal(), tmp_path, {"input": rand(2, 10, 32, seed=1)}, how, "causal")
    assert counts.get("ElementWiseSelect", 0) + counts.get("ElementWiseAdd", 0) > 4, counts


@pytest.mark.parametrize("how", ["trace", "trace_no_grad"])
def test_transformer_encoder_padding_mask(how, tmp_path):
    """src_key_padding_mask as a bool graph input (nested tensors off: they are data-dependent)."""

    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0)
            self.enc = perturb(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False))

        def forward(self, x, pad):
            return self.enc(x, src_key_padding_mask=pad)

    pad = np.zeros((2, 10), np.bool_)
    pad[0, 7:] = True
    run_and_compare(Padded(), tmp_path, {"input": rand(2, 10, 32), "pad": pad}, how, "padmask")


@pytest.mark.parametrize("how", ["trace", "trace_no_grad"])
def test_multihead_attention_with_weights(how, tmp_path):
    class MHA(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = perturb(nn.MultiheadAttention(32, 4, batch_first=True))

        def forward(self, x):
            return self.mha(x, x, x, need_weights=True)

    run_and_compare(MHA(), tmp_path, {"input": rand(2, 10, 32)}, how, "mha")


def test_sdpa_masks(tmp_path):
    class SD(nn.Module):
        def __init__(self):
            super().__init__()
            keep = torch.rand(10, 10, generator=torch.Generator().manual_seed(0)) > 0.3
            self.register_buffer("keep", keep | torch.eye(10, dtype=torch.bool))

        def forward(self, q):
            k, v = q * 0.5, q + 1
            bias = torch.triu(torch.full((10, 10), -1e9), diagonal=1)
            keep = self.keep
            heads = q.reshape(2, 10, 4, 2).transpose(1, 2)              # 4 query heads, 2 key/value heads
            return (F.scaled_dot_product_attention(q, k, v, is_causal=True),
                    F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=0.3),
                    F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
                    F.scaled_dot_product_attention(heads, heads[:, :2] * 2, heads[:, 2:], enable_gqa=True))

    run_and_compare(SD(), tmp_path, {"input": rand(2, 3, 10, 8)[:, 0]}, "trace", "sdpa")


# ---- UNet ------------------------------------------------------------------------------------------
def block(ci: int, co: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1), nn.BatchNorm2d(co), nn.ReLU(),
                         nn.Conv2d(co, co, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.e1, self.e2, self.e3 = block(3, 8), block(8, 16), block(16, 32)
        self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.d2 = block(32, 16)
        self.red = nn.Conv2d(16, 8, 1)
        self.d1 = block(24, 8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool2d(e1, 2))
        e3 = self.e3(F.max_pool2d(e2, 2))
        d2 = self.d2(torch.cat([self.up2(e3), e2], 1))
        r = self.red(d2)
        up_bilinear = F.interpolate(r, scale_factor=2.0, mode="bilinear", align_corners=False)
        up_nearest = F.interpolate(r, size=(32, 32), mode="nearest")
        return self.head(self.d1(torch.cat([up_bilinear, up_nearest, e1], 1)))


@pytest.mark.parametrize("how", ["trace", "script"])
def test_unet(how, tmp_path):
    torch.manual_seed(0)
    model = UNet()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    counts = run_and_compare(model, tmp_path, {"input": rand(1, 3, 32, 32)}, how, "unet")
    assert counts.get("Transpose", 0) == 0, counts
    assert counts["Resize"] == 2 and counts["TransposeConv2d"] == 1 and counts["Concat"] == 2, counts
    assert "Batchnorm" not in counts, counts


# ---- BERT-like block ------------------------------------------------------------------------------------
class BertBlock(nn.Module):
    def __init__(self, vocab: int = 50, d: int = 32, heads: int = 4, length: int = 10):
        super().__init__()
        self.heads = heads
        self.tok = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Embedding(length, d)
        self.ln0, self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, ids):
        b, n = ids.shape
        x = self.ln0(self.tok(ids) + self.pos(torch.arange(n))[None])
        keep = (ids != 0)[:, None, None, :]          # padding mask, True = attend
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.reshape(b, n, self.heads, -1).transpose(1, 2)
        k = k.reshape(b, n, self.heads, -1).transpose(1, 2)
        v = v.reshape(b, n, self.heads, -1).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(b, n, -1)
        x = self.ln1(x + self.o(a))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


@pytest.mark.parametrize("how", ["trace", "script"])
def test_bert_block_int_ids(how, tmp_path):
    torch.manual_seed(0)
    ids = np.random.default_rng(0).integers(1, 50, (2, 10)).astype(np.int32)
    ids[0, 7:] = 0
    ids[1, 9:] = 0
    counts = run_and_compare(BertBlock(), tmp_path, {"input": ids}, how, "bert")
    assert counts["Gather"] == 1 and counts["ElementWiseSelect"] == 1, counts


def test_embedding_needs_int_input(tmp_path):
    pt = save(BertBlock(), tmp_path / "b.pt", (torch.ones(2, 10, dtype=torch.long),), "trace")
    from snpe_tools.tools.pytorch_to_dlc import main
    with pytest.raises(ConversionError, match="--input_dtype"):
        main(["-i", pt, "-d", "input", "2,10", "-o", str(tmp_path / "b.dlc")])


# ---- vision ops --------------------------------------------------------------------------------------
class VisionOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 16, 3, padding=1)
        self.gn = nn.GroupNorm(4, 16)
        self.inorm = nn.InstanceNorm2d(4, affine=True)
        self.conv2 = nn.Conv2d(4, 8, 1)
        perturb(self)

    def forward(self, x):
        y = F.pixel_shuffle(self.gn(self.conv(x)), 2)          # [1, 4, 16, 16]
        y = F.pad(y, (1, 2, 3, 0), mode="reflect")
        y = F.pad(y, (2, 1, 0, 1), mode="replicate")
        y = F.pad(y, (1, 1, 1, 1), value=0.5)
        y = F.pad(y, (-1, -2, 0, -1))                          # negative = crop
        y = self.inorm(y)
        z = F.pixel_unshuffle(self.conv2(x), 2)               # [1, 32, 4, 4]
        c = F.pad(x, (1, 2, 2, 1), mode="circular")
        return y, z, c


def test_vision_ops(tmp_path):
    counts = run_and_compare(VisionOps(), tmp_path, {"input": rand(1, 4, 8, 8)}, "trace", "vis")
    assert counts.get("Transpose", 0) == 0, counts
    for op in ("DepthToSpace", "SpaceToDepth", "InstanceNorm", "Pad"):
        assert op in counts, counts


class Interpolations(nn.Module):
    def forward(self, x):
        return (F.interpolate(x, scale_factor=2.0, mode="nearest"),
                F.interpolate(x, size=(11, 5), mode="nearest"),
                F.interpolate(x, scale_factor=1.5, mode="nearest"),
                F.interpolate(x, scale_factor=0.5, mode="nearest"),
                F.interpolate(x, size=(11, 13), mode="nearest-exact"),
                F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False),
                F.interpolate(x, size=(13, 9), mode="bilinear", align_corners=True),
                F.interpolate(x, size=(5, 3), mode="bilinear", align_corners=False),
                F.interpolate(x, scale_factor=3.0, mode="bicubic", align_corners=False),
                F.interpolate(x, size=(12, 10), mode="bicubic", align_corners=True),
                F.interpolate(x[:, :, 0], scale_factor=2.0, mode="linear"),
                F.interpolate(x, scale_factor=(1.7, 2.0), mode="bilinear", recompute_scale_factor=True))


def test_interpolate_modes(tmp_path):
    counts = run_and_compare(Interpolations(), tmp_path, {"input": rand(2, 3, 6, 8)}, "trace", "interp")
    assert counts["Resize"] == 12, counts


def test_interpolate_scale_qnn_cannot_express(tmp_path):
    class M(nn.Module):
        def forward(self, x):   # 6 -> 7 rows sampled with 1/1.3, not 6/7
            return F.interpolate(x, scale_factor=1.3, mode="nearest")

    pt = save(M(), tmp_path / "m.pt", (torch.randn(1, 2, 6, 6),), "trace")
    from snpe_tools.tools.pytorch_to_dlc import main
    with pytest.raises(ConversionError, match="QNN Resize"):
        main(["-i", pt, "-d", "input", "1,2,6,6", "-o", str(tmp_path / "m.dlc")])


def test_sdpa_dropout_refused(tmp_path):
    class M(nn.Module):
        def forward(self, x):
            return F.scaled_dot_product_attention(x, x, x, dropout_p=0.1)

    pt = save(M(), tmp_path / "m.pt", (torch.randn(2, 5, 8),), "trace")
    from snpe_tools.tools.pytorch_to_dlc import main
    with pytest.raises(ConversionError, match="dropout_p"):
        main(["-i", pt, "-d", "input", "2,5,8", "-o", str(tmp_path / "m.dlc")])


# ---- indexing / shape catalogue ------------------------------------------------------------------
class TensorOps(nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(16, 6, generator=g))
        self.register_buffer("idx", torch.tensor([3, 0, 2]))
        self.register_buffer("nidx", torch.tensor([[-1, 0], [2, -3]]))
        self.register_buffer("bmask", torch.arange(16) % 3 == 0)
        self.register_buffer("gidx", torch.randint(0, 4, (2, 4, 3), generator=g))

    def forward(self, x):                                   # x [2, 4, 16]
        a, b, c = torch.chunk(x, 3, dim=-1)                 # 6, 6, 4
        p, q = torch.split(x, [10, 6], dim=2)
        s2 = torch.split(x, 5, dim=2)[3]                    # uneven tail
        st = torch.stack([a, b], dim=1)
        sl = x[:, 1:3, ::3]
        sel = x[:, -1]
        tail = x[..., 2:9223372036854775807]
        e = x[:, :1, :].expand(2, 4, 16)
        e2 = sel.unsqueeze(1).expand_as(x)
        rep = a.repeat(1, 2, 1)
        rep3 = c.repeat(2, 1, 1, 1)
        gat = torch.gather(x[:, :, :3], 1, self.gidx)
        isel = torch.index_select(x, 1, self.idx)
        adv = x[:, self.nidx] + 1                           # [2, 2, 2, 16]
        bsel = x[:, :, self.bmask]                          # constant bool mask: static shape
        mm = torch.matmul(x, self.w)                        # constant 2-D weight -> FullyConnected
        bm = torch.bmm(a, b.transpose(1, 2))
        mv = torch.matmul(x, x[0, 0])                       # 1-D second operand
        bad = torch.baddbmm(bm, a, b.transpose(1, 2), beta=0.5, alpha=2.0)
        mf = x.masked_fill(x > 0.5, -1.0)
        wh = torch.where(x > 0, x, 0.1)
        ints = (x * 10).to(torch.int32)
        back = ints.float() + x.type_as(ints).float()
        like = x + torch.zeros_like(x) + torch.ones_like(x) * 2 + torch.full_like(x, 3.0) + x.new_ones((16,))
        ub = torch.unbind(x[:, :, :2], dim=2)
        tri = torch.tril(x[:, :, :4]) - torch.triu(x[:, :, :4], 1)
        return (a, c, p, q, s2, st, sl, sel, tail, e, e2, rep, rep3, gat, isel, mm, bm, mv, bad, mf, wh, back,
                like, torch.cat([ub[0], ub[1]], 1), F.layer_norm(x, [16]), tri, adv, bsel)


@pytest.mark.parametrize("how", ["trace", "script"])
def test_tensor_ops(how, tmp_path):
    counts = run_and_compare(TensorOps(), tmp_path, {"input": rand(2, 4, 16)}, how, "tensor")
    for op in ("Split", "StridedSlice", "Tile", "Gather", "GatherElements", "FullyConnected", "MatMul",
               "ElementWiseSelect", "Cast", "LayerNorm"):
        assert op in counts, (op, counts)


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.gn = perturb(nn.GroupNorm(2, 4))
        self.in1d = nn.InstanceNorm1d(4, affine=True)

    def forward(self, x):                                   # rank 3 and rank 2 inputs
        return self.gn(x) + self.in1d(x) + F.group_norm(x, 1), F.group_norm(x[:, :, 0], 2)


@pytest.mark.parametrize("how", [
    "trace",
    "script"])
def test_norms(how, tmp_path):
    counts = run_and_compare(Norms(), tmp_path, {"input": rand(2, 4, 16)}, how, "norms")
    assert counts["InstanceNorm"] == 1 and counts["ReduceMean"] == 6, counts

"""snpe-pytorch-to-dlc on hand-written TorchScript models, checked against torch eager.

* ResNet-18 (BasicBlock x [2, 2, 2, 2]) at 224x224, traced and scripted, converted through the real
  command line exactly as the README/seed shows; BatchNorm folded, zero Transposes, NHWC input,
  and ``snpe-net-run`` on an NHWC ``.raw`` reproduces torch's logits;
* MobileNetV2 (inverted residuals, depthwise convs, ReLU6) traced and scripted;
* multi-input / multi-output models and ``--out_node`` renaming;
* a catalogue of small single-op models (convs, pools, activations, softmax, scalar arithmetic,
  shape ops);
* BatchNorm through torch's own folding (torch.jit.freeze) and through the frontend's batch_norm
  translator + the legacy fold pass;
* user errors through the CLI: one stderr line, no traceback, no DLC.

Product bugs found while writing these are strict xfails whose reason starts with "BUG:".
Every comparison uses rtol 1e-3 / atol 1e-4 against the eager module in eval mode.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import helpers  # noqa: E402
from snpe_tools.dlc import read_dlc  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

TOOL = "snpe-pytorch-to-dlc"
TOL = dict(rtol=1e-3, atol=1e-4)


# ---- helpers -------------------------------------------------------------------------------------
def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial running stats and affine parameters (so folding matters)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=g) * 0.8 + 0.6)
                m.weight.copy_(torch.rand(c, generator=g) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


def assert_not_degenerate(y: np.ndarray, what: str) -> None:
    assert np.all(np.isfinite(y)), f"{what}: non-finite outputs"
    assert float(np.std(y)) > 1e-3, f"{what}: degenerate outputs (std {np.std(y):.3g})"


def save_ts(model: nn.Module, path, example, how: str) -> str:
    model = model.eval()
    with torch.no_grad():
        ts = torch.jit.trace(model, example) if how == "traced" else torch.jit.script(model)
    ts.save(str(path))
    return str(path)


def convert(pt: str, dlc: str, dims: list[tuple[str, tuple[int, ...]]], *extra: str) -> None:
    """snpe-pytorch-to-dlc's main() in this process (the CLI itself is exercised elsewhere)."""
    from snpe_tools.tools.pytorch_to_dlc import main

    args = ["--input_network", pt, "--output_path", dlc]
    for name, shape in dims:
        args += ["-d", name, ",".join(str(s) for s in shape)]
    assert main(args + list(extra)) == 0


def eager(model: nn.Module, *xs: torch.Tensor):
    with torch.no_grad():
        out = model.eval()(*xs)
    if isinstance(out, (tuple, list)):
        return [o.numpy() for o in out]
    return [out.numpy()]


def check_against_torch(dlc: str, model: nn.Module, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the DLC and compare every output (in order) with the eager module."""
    refs = eager(model, *[torch.from_numpy(v) for v in feeds.values()])
    outs = helpers.run_dlc(dlc, feeds)
    names = read_dlc(dlc).graph.outputs
    assert len(names) == len(refs), (names, [r.shape for r in refs])
    for name, ref in zip(names, refs):
        got = outs[name]
        assert got.shape == ref.shape, (name, got.shape, ref.shape)
        np.testing.assert_allclose(got, ref, err_msg=name, **TOL)
        assert_not_degenerate(ref, f"{name} (torch)")
        assert_not_degenerate(got, f"{name} (ours)")
    return outs


# ---- ResNet-18 -----------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.inplanes = 64
        self.layer1 = self._make_layer(64, 2, 1)
        self.layer2 = self._make_layer(128, 2, 2)
        self.layer3 = self._make_layer(256, 2, 2)
        self.layer4 = self._make_layer(512, 2, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [BasicBlock(self.inplanes, planes, stride)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def make_resnet18() -> nn.Module:
    torch.manual_seed(0)
    return randomise_bn(ResNet18(), seed=1)


@pytest.fixture(scope="module")
def resnet18():
    return make_resnet18()


@pytest.fixture(scope="module")
def resnet18_input():
    return np.random.default_rng(224).standard_normal((1, 3, 224, 224)).astype(np.float32)


@pytest.fixture(scope="module", params=["traced", "scripted"])
def resnet18_dlc(request, resnet18, resnet18_input, tmp_path_factory):
    """The seed's command line, verbatim, on a traced or scripted ResNet-18 saved as resnet18.pt."""
    tmp = tmp_path_factory.mktemp(f"resnet18_{request.param}")
    save_ts(resnet18, tmp / "resnet18.pt", torch.from_numpy(resnet18_input), request.param)
    helpers.run_tool(TOOL, "--input_network", "resnet18.pt", "--input_dim", "input", "1,3,224,224",
                     "--output_path", "resnet18.dlc", cwd=str(tmp))
    return request.param, tmp, str(tmp / "resnet18.dlc")


def test_resnet18_matches_torch(resnet18_dlc, resnet18, resnet18_input):
    _how, _tmp, dlc = resnet18_dlc
    outs = check_against_torch(dlc, resnet18, {"input": resnet18_input})
    assert list(outs.values())[0].shape == (1, 1000)

    counts = helpers.count_ops(dlc)
    assert counts.get("Transpose", 0) == 0, counts
    assert counts.get("Batchnorm", 0) == 0, counts
    # BN folded into the 20 convolutions, not dropped with them
    assert counts.get("Conv2d", 0) == 20, counts
    assert counts.get("PoolMax2d", 0) == 1 and counts.get("FullyConnected", 0) == 1, counts

    graph = read_dlc(dlc).graph
    assert graph.inputs == ["input"]
    assert tuple(graph.tensors["input"].shape) == (1, 224, 224, 3)


def test_resnet18_net_run(resnet18_dlc, resnet18, resnet18_input):
    """snpe-net-run on an NHWC .raw file named in an input list writes torch's logits."""
    _how, tmp, dlc = resnet18_dlc
    np.ascontiguousarray(resnet18_input.transpose(0, 2, 3, 1)).tofile(str(tmp / "input.raw"))
    (tmp / "input_list.txt").write_text("input.raw\n")
    helpers.run_tool("snpe-net-run", "--container", "resnet18.dlc", "--input_list", "input_list.txt",
                     "--output_dir", "output", cwd=str(tmp))
    out_name = read_dlc(dlc).graph.outputs[0]
    got = np.fromfile(str(tmp / "output" / "Result_0" / f"{out_name}.raw"), dtype=np.float32)
    ref = eager(resnet18, torch.from_numpy(resnet18_input))[0].reshape(-1)
    assert got.shape == ref.shape == (1000,)
    np.testing.assert_allclose(got, ref, **TOL)
    assert_not_degenerate(got, "net-run logits")


# ---- MobileNetV2 ---------------------------------------------------------------------------------
def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNReLU6(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU6(cin, hidden, 1))
        layers += [ConvBNReLU6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, width: float = 0.5, num_classes: int = 10):
        super().__init__()
        cin = _make_divisible(32 * width)
        last = _make_divisible(1280 * max(1.0, width))
        feats: list[nn.Module] = [ConvBNReLU6(3, cin, 3, 2)]
        for t, c, n, s in self.SETTINGS:
            cout = _make_divisible(c * width)
            for i in range(n):
                feats.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        feats.append(ConvBNReLU6(cin, last, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


@pytest.mark.parametrize("how", ["traced", "scripted"])
def test_mobilenetv2(how, tmp_path):
    torch.manual_seed(0)
    model = randomise_bn(MobileNetV2(width=0.5), seed=2)
    x = np.random.default_rng(96).standard_normal((1, 3, 96, 96)).astype(np.float32)
    pt = save_ts(model, tmp_path / "mbv2.pt", torch.from_numpy(x), how)
    dlc = str(tmp_path / "mbv2.dlc")
    convert(pt, dlc, [("input", x.shape)])
    outs = check_against_torch(dlc, model, {"input": x})
    assert list(outs.values())[0].shape == (1, 10)

    counts = helpers.count_ops(dlc)
    assert counts.get("Transpose", 0) == 0, counts
    assert counts.get("Batchnorm", 0) == 0, counts
    assert counts.get("DepthWiseConv2d", 0) == 17, counts   # one per inverted residual
    assert counts.get("ReluMinMax", 0) == 35, counts         # ReLU6 after 1 + 16 expand + 17 dw + 1 last


# ---- multiple inputs / outputs -------------------------------------------------------------------
class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.aux = nn.Linear(10, 16)
        self.head = nn.Linear(16, 5)

    def forward(self, img, aux):
        f = F.relu(self.bn(self.conv(img)))
        f = F.adaptive_avg_pool2d(f, 1).flatten(1)
        return self.head(f + self.aux(aux))


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        f = torch.sigmoid(self.bn(self.conv(x)))
        return f, self.fc(f.mean(dim=(2, 3)))


@pytest.mark.parametrize("how", ["traced", "scripted"])
def test_two_inputs(how, tmp_path):
    torch.manual_seed(3)
    model = randomise_bn(TwoInputs(), seed=3)
    rng = np.random.default_rng(3)
    feeds = {"img": rng.standard_normal((1, 3, 32, 32)).astype(np.float32),
             "aux": rng.standard_normal((1, 10)).astype(np.float32)}
    pt = save_ts(model, tmp_path / "two_in.pt", tuple(torch.from_numpy(v) for v in feeds.values()), how)
    dlc = str(tmp_path / "two_in.dlc")
    helpers.run_tool(TOOL, "--input_network", pt, "-d", "img", "1,3,32,32", "-d", "aux", "1,10",
                     "--output_path", dlc, cwd=str(tmp_path))
    graph = read_dlc(dlc).graph
    assert graph.inputs == ["img", "aux"]
    assert tuple(graph.tensors["img"].shape) == (1, 32, 32, 3)
    assert tuple(graph.tensors["aux"].shape) == (1, 10)
    check_against_torch(dlc, model, feeds)
    assert helpers.count_ops(dlc).get("Transpose", 0) == 0


@pytest.mark.parametrize("how", ["traced", "scripted"])
def test_two_outputs_and_out_node(how, tmp_path):
    torch.manual_seed(4)
    model = randomise_bn(TwoOutputs(), seed=4)
    x = np.random.default_rng(4).standard_normal((1, 3, 16, 16)).astype(np.float32)
    pt = save_ts(model, tmp_path / "two_out.pt", torch.from_numpy(x), how)

    plain = str(tmp_path / "plain.dlc")
    convert(pt, plain, [("x", x.shape)])
    assert len(read_dlc(plain).graph.outputs) == 2
    outs = check_against_torch(plain, model, {"x": x})
    assert [v.shape for v in outs.values()] == [(1, 8, 16, 16), (1, 4)]

    named = str(tmp_path / "named.dlc")
    helpers.run_tool(TOOL, "--input_network", pt, "-d", "x", "1,3,16,16", "--out_node", "features",
                     "--out_node", "scores", "--output_path", named, cwd=str(tmp_path))
    assert read_dlc(named).graph.outputs == ["features", "scores"]
    outs = check_against_torch(named, model, {"x": x})
    assert outs["features"].shape == (1, 8, 16, 16) and outs["scores"].shape == (1, 4)


# ---- op catalogue --------------------------------------------------------------------------------
class Seq(nn.Module):
    """A conv feeding a function, so every op sees a real, non-constant tensor (traced only: lambdas)."""

    def __init__(self, fn, cin: int = 3, cout: int = 8, conv: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1) if conv else None
        self.fn = fn

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        return self.fn(x)


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 6, 3, dilation=2, padding=2)

    def forward(self, x):
        return self.c2(F.relu(self.bn(self.c1(x))))


class CatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x):
        return F.relu(torch.cat([self.a(x), self.b(x), x], dim=1))


class ViewNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 7)

    def forward(self, x):
        x = self.conv(x)
        return self.fc(x.view(x.size(0), -1))


class ReshapeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        n, c, h, w = y.shape
        y = y.reshape(n, c, h * w).transpose(1, 2)           # [n, hw, c]
        y = y * 2.0
        return y.permute(0, 2, 1).reshape(n, c // 2, 2, h, w).flatten(1, 2)


def _conv_bn(cin, cout, **kw):
    return nn.Sequential(nn.Conv2d(cin, cout, **kw), nn.BatchNorm2d(cout))


# name -> (module factory, input shape)
CASES = {
    "conv1d": (Conv1dNet, (1, 4, 32)),
    "conv_transpose2d": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1),
                                               nn.ConvTranspose2d(8, 5, 3, stride=2, padding=1, output_padding=1)),
                         (1, 3, 8, 8)),
    "dilated_conv": (lambda: _conv_bn(3, 8, kernel_size=3, padding=2, dilation=2), (1, 3, 16, 16)),
    "grouped_conv": (lambda: nn.Sequential(nn.Conv2d(3, 8, 1), _conv_bn(8, 12, kernel_size=3, padding=1, groups=4)),
                     (1, 3, 10, 10)),
    "avg_pool_ceil_no_pad_count": (lambda: Seq(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                                      count_include_pad=False)), (1, 3, 10, 10)),
    "avg_pool_ceil_pad_count": (lambda: Seq(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                                   count_include_pad=True)), (1, 3, 11, 11)),
    "adaptive_avg_pool_2x2": (lambda: Seq(lambda x: F.adaptive_avg_pool2d(x, (2, 2))), (1, 3, 8, 8)),
    # dilated max pooling: QNN pools have no dilation; the shared lowering takes the max of strided slices
    "max_pool_dilated": (lambda: Seq(lambda x: F.max_pool2d(x, 3, stride=2, padding=1, dilation=2)), (1, 3, 11, 10)),
    "conv_transpose_dilated": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.ConvTranspose2d(4, 5, 3, stride=2,
                                                                                          dilation=2, padding=1)),
                               (1, 3, 7, 6)),
    # 1-D and 3-D convolutions and pools through the same lowering as ONNX's (1-D runs as 2-D on [N, C, 1, L])
    "pool1d": (lambda: nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), Fn(lambda x: F.max_pool1d(x, 3, 2, 1) + (
        F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)))), (1, 3, 13)),
    "conv3d_pool3d": (lambda: nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                                            Fn(lambda x: F.max_pool3d(x, 2) + F.avg_pool3d(x, 2))), (1, 3, 4, 6, 6)),
    "hardswish": (lambda: Seq(F.hardswish), (1, 3, 8, 8)),
    "hardsigmoid": (lambda: Seq(F.hardsigmoid), (1, 3, 8, 8)),
    "silu": (lambda: Seq(F.silu), (1, 3, 8, 8)),
    "gelu": (lambda: Seq(lambda x: F.gelu(x)), (1, 3, 8, 8)),
    "gelu_tanh": (lambda: Seq(lambda x: F.gelu(x, approximate="tanh")), (1, 3, 8, 8)),
    "leaky_relu": (lambda: Seq(nn.LeakyReLU(0.2)), (1, 3, 8, 8)),
    "prelu_per_channel": (lambda: Seq(nn.PReLU(8, init=0.1)), (1, 3, 8, 8)),
    "elu": (lambda: Seq(nn.ELU(alpha=0.7)), (1, 3, 8, 8)),
    "softplus": (lambda: Seq(nn.Softplus()), (1, 3, 8, 8)),
    "mish": (lambda: Seq(nn.Mish()), (1, 3, 8, 8)),
    "relu6": (lambda: Seq(nn.ReLU6()), (1, 3, 8, 8)),
    "hardtanh": (lambda: Seq(nn.Hardtanh(-0.5, 0.75)), (1, 3, 8, 8)),
    "clamp": (lambda: Seq(lambda x: torch.clamp(x, min=-0.3, max=0.4)), (1, 3, 8, 8)),
    "clamp_min_only": (lambda: Seq(lambda x: x.clamp(min=0.1)), (1, 3, 8, 8)),
    "softmax_dim1": (lambda: Seq(lambda x: F.softmax(x, dim=1)), (1, 3, 8, 8)),
    "log_softmax_dim1": (lambda: Seq(lambda x: F.log_softmax(x, dim=1)), (1, 3, 8, 8)),
    "scalar_arith": (lambda: Seq(lambda x: (x * 2 + 1) * (1 - x) + x / 3), (1, 3, 8, 8)),
    "scalar_arith_no_conv": (lambda: Fn(lambda x: (x * 2 + 1) - (1 - x) / 3), (1, 3, 8, 8)),
    "cat_channels": (CatNet, (1, 3, 8, 8)),
    "flatten": (lambda: Seq(lambda x: torch.flatten(x, 1)), (1, 3, 8, 8)),
    "view_size": (ViewNet, (1, 3, 16, 16)),
    "reshape_permute_transpose": (ReshapeNet, (1, 3, 6, 6)),
    "mean_spatial_keepdim": (lambda: Seq(lambda x: x.mean(dim=(2, 3), keepdim=True) + x), (1, 3, 8, 8)),
    "mean_spatial": (lambda: Seq(lambda x: x.mean(dim=[-1, -2])), (1, 3, 8, 8)),
    "permute_then_mul": (lambda: Seq(lambda x: x.permute(0, 2, 3, 1) * 0.5), (1, 3, 6, 7)),
    "pool_then_view": (lambda: Seq(lambda x: F.max_pool2d(x, 2).view(1, -1)), (1, 3, 8, 8)),
}
# cases whose data movement genuinely needs a Transpose in the legacy (NHWC) layout; conv1d
# lifts [N,C,L] to 4-D with Reshapes, as the ONNX frontend does
NEEDS_TRANSPOSE = {"conv1d", "pool1d", "flatten", "view_size", "reshape_permute_transpose", "pool_then_view"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_vs_torch(name, tmp_path):
    factory, shape = CASES[name]
    torch.manual_seed(5)
    model = randomise_bn(factory(), seed=5)
    # x2 so that saturating activations (hardswish, relu6, hardtanh ...) see both of their knees
    x = (2 * np.random.default_rng(5).standard_normal(shape)).astype(np.float32)
    pt = save_ts(model, tmp_path / f"{name}.pt", torch.from_numpy(x), "traced")
    dlc = str(tmp_path / f"{name}.dlc")
    convert(pt, dlc, [("x", shape)])
    check_against_torch(dlc, model, {"x": x})
    counts = helpers.count_ops(dlc)
    assert counts.get("Batchnorm", 0) == 0, counts
    if name not in NEEDS_TRANSPOSE:
        assert counts.get("Transpose", 0) == 0, counts


SCRIPTABLE = ["conv1d", "conv_transpose2d", "dilated_conv", "grouped_conv", "cat_channels", "view_size",
              "reshape_permute_transpose"]


@pytest.mark.parametrize("name", SCRIPTABLE)
def test_op_vs_torch_scripted(name, tmp_path):
    factory, shape = CASES[name]
    torch.manual_seed(5)
    model = randomise_bn(factory(), seed=5)
    _convert_and_check(model, shape, tmp_path, "scripted")


def _convert_and_check(model: nn.Module, shape, tmp_path, how: str = "traced", x: np.ndarray | None = None):
    torch.manual_seed(6)
    model = model.eval()
    if x is None:
        x = (2 * np.random.default_rng(6).standard_normal(shape)).astype(np.float32)
    pt = save_ts(model, tmp_path / "m.pt", torch.from_numpy(x), how)
    dlc = str(tmp_path / "m.dlc")
    convert(pt, dlc, [("x", shape)])
    return check_against_torch(dlc, model, {"x": x})


class ListAppendCat(nn.Module):
    """The usual scripted multi-branch pattern: collect branch outputs in a list, then cat."""

    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(3, 4, k, padding=k // 2) for k in (1, 3, 5)])

    def forward(self, x):
        outs: list[torch.Tensor] = []
        for b in self.branches:
            outs.append(b(x))
        return torch.cat(outs, 1)


class ScriptedControlFlow(nn.Module):
    """Shape-dependent branches, a static loop and shape arithmetic, resolved at convert time."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.n = 2

    def forward(self, x):
        if x.size(2) > 4:
            x = self.conv(x)
        else:
            x = torch.relu(x)
        if x.dim() != 4:
            raise ValueError("expected a 4-D input")
        for _ in range(self.n):
            x = torch.relu(self.conv(x)) + x
        return x * float(x.shape[1]) / x.size(-1)


def test_scripted_control_flow(tmp_path):
    torch.manual_seed(7)
    _convert_and_check(ScriptedControlFlow(), (1, 3, 8, 8), tmp_path, "scripted")


def test_scripted_list_append_then_cat(tmp_path):
    _convert_and_check(ListAppendCat(), (1, 3, 8, 8), tmp_path, "scripted")


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv_string_padding(padding, tmp_path):
    _convert_and_check(nn.Sequential(nn.Conv2d(3, 5, 4, padding=padding, dilation=1), nn.ReLU()),
                       (1, 3, 9, 9), tmp_path)


def test_adaptive_max_pool2d(tmp_path):
    _convert_and_check(Seq(lambda x: F.adaptive_max_pool2d(x, (2, 2))), (1, 3, 8, 8), tmp_path)


def test_rsub_alpha(tmp_path):
    _convert_and_check(Seq(lambda x: torch.rsub(x, 1.0, alpha=2)), (1, 3, 8, 8), tmp_path)


def test_softplus_threshold(tmp_path):
    _convert_and_check(Seq(lambda x: F.softplus(4 * x, threshold=2.0)), (1, 3, 8, 8), tmp_path)


def test_permute_to_channels_last_as_output(tmp_path):
    _convert_and_check(Seq(lambda x: x.permute(0, 2, 3, 1)), (1, 3, 6, 7), tmp_path)


# ---- BatchNorm: torch's freeze folds conv+BN; the frontend's own batch_norm path -------------------
class ConvBNReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.bn_after_relu = nn.BatchNorm2d(6)   # nothing to fold into: stays a Batchnorm op

    def forward(self, x):
        return self.bn_after_relu(F.relu(self.bn(self.conv(x))))


def test_frontend_batchnorm_translation_and_folding(tmp_path, monkeypatch):
    """With torch's conv+BN folding switched off, aten::batch_norm goes through our translator and the
    legacy fold pass: MobileNetV2's 52 BatchNorms vanish by default, stay with --disable_batchnorm_folding."""
    real_freeze = torch.jit.freeze
    monkeypatch.setattr(torch.jit, "freeze", lambda mod, *a, **k: real_freeze(mod, optimize_numerics=False))
    torch.manual_seed(0)
    model = randomise_bn(MobileNetV2(width=0.5), seed=2)
    x = np.random.default_rng(9).standard_normal((1, 3, 96, 96)).astype(np.float32)
    pt = save_ts(model, tmp_path / "mbv2.pt", torch.from_numpy(x), "traced")
    for extra, n_bn in (((), 0), (("--disable_batchnorm_folding",), 52)):
        dlc = str(tmp_path / f"mbv2{len(extra)}.dlc")
        convert(pt, dlc, [("x", x.shape)], *extra)
        check_against_torch(dlc, model, {"x": x})
        counts = helpers.count_ops(dlc)
        assert counts.get("Batchnorm", 0) == n_bn, counts
        assert counts.get("Transpose", 0) == 0, counts

    small = randomise_bn(ConvBNReLU(), seed=10)
    xs = np.random.default_rng(10).standard_normal((1, 3, 8, 8)).astype(np.float32)
    pt = save_ts(small, tmp_path / "small.pt", torch.from_numpy(xs), "traced")
    convert(pt, str(tmp_path / "small.dlc"), [("x", xs.shape)])
    check_against_torch(str(tmp_path / "small.dlc"), small, {"x": xs})
    assert helpers.count_ops(str(tmp_path / "small.dlc")).get("Batchnorm", 0) == 1


def test_batchnorm_not_foldable(tmp_path):
    small = randomise_bn(ConvBNReLU(), seed=10)
    xs = np.random.default_rng(10).standard_normal((1, 3, 8, 8)).astype(np.float32)
    pt = save_ts(small, tmp_path / "small.pt", torch.from_numpy(xs), "traced")
    dlc = str(tmp_path / "small.dlc")
    convert(pt, dlc, [("x", xs.shape)])
    check_against_torch(dlc, small, {"x": xs})
    counts = helpers.count_ops(dlc)
    assert counts.get("Batchnorm", 0) == 1 and counts.get("Transpose", 0) == 0, counts


def test_disable_batchnorm_folding_keeps_conv_bn(tmp_path):
    small = randomise_bn(ConvBNReLU(), seed=10)
    xs = np.random.default_rng(10).standard_normal((1, 3, 8, 8)).astype(np.float32)
    pt = save_ts(small, tmp_path / "small.pt", torch.from_numpy(xs), "traced")
    dlc = str(tmp_path / "small.dlc")
    convert(pt, dlc, [("x", xs.shape)], "--disable_batchnorm_folding")
    check_against_torch(dlc, small, {"x": xs})
    assert helpers.count_ops(dlc).get("Batchnorm", 0) == 2


# ---- errors through the command line -------------------------------------------------------------
def _assert_one_line_error(proc, *needles: str) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return torch.logdet(y)   # UNSUPPORTED-LINE


def _unsupported_line() -> int:
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if "# UNSUPPORTED-LINE" in line and "torch.logdet" in line:
                return i
    raise AssertionError("marker line not found")


@pytest.mark.parametrize("how", ["traced", "scripted"])
def test_unsupported_op_reported_with_source_line(how, tmp_path):
    from snpe_tools.frontends.pytorch.converter import _PRIM, _STATIC_OK
    from snpe_tools.frontends.pytorch.registry import get_translator

    kind = "aten::logdet"
    assert get_translator(kind) is None and kind not in _PRIM and kind not in _STATIC_OK
    x = torch.randn(1, 3, 4, 4)
    pt = save_ts(Unsupported(), tmp_path / "bad.pt", x, how)
    assert kind in {n.kind() for n in torch.jit.load(pt).inlined_graph.nodes()}
    dlc = tmp_path / "bad.dlc"
    proc = helpers.run_tool(TOOL, "--input_network", pt, "-d", "x", "1,3,4,4", "--output_path", str(dlc),
                            cwd=str(tmp_path), check=False)
    _assert_one_line_error(proc, kind, f"{os.path.basename(__file__)}:{_unsupported_line()}")
    assert proc.returncode == 1
    assert not dlc.exists() and not list(tmp_path.glob("*.dlc*"))


def test_missing_input_dim_is_argparse_error(tmp_path):
    pt = save_ts(Fn(torch.relu), tmp_path / "m.pt", torch.randn(1, 3, 4, 4), "traced")
    proc = helpers.run_tool(TOOL, "--input_network", pt, "--output_path", "m.dlc", cwd=str(tmp_path), check=False)
    assert proc.returncode == 2
    assert "--input_dim" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.dlc").exists()


def test_wrong_number_of_input_dims(tmp_path):
    model = TwoInputs().eval()
    pt = save_ts(model, tmp_path / "two.pt", (torch.randn(1, 3, 32, 32), torch.randn(1, 10)), "traced")
    proc = helpers.run_tool(TOOL, "--input_network", pt, "-d", "img", "1,3,32,32", "--output_path", "two.dlc",
                            cwd=str(tmp_path), check=False)
    _assert_one_line_error(proc, "takes 2 tensor argument", "1 -d/--input_dim")
    assert proc.returncode == 1
    assert not (tmp_path / "two.dlc").exists()


def test_not_a_torchscript_file(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("this is not a TorchScript archive\n")
    proc = helpers.run_tool(TOOL, "--input_network", str(bad), "-d", "x", "1,3,8,8", "--output_path", "n.dlc",
                            cwd=str(tmp_path), check=False)
    _assert_one_line_error(proc, "notes.pt", "TorchScript")
    assert proc.returncode == 1
    assert not (tmp_path / "n.dlc").exists()


def test_missing_model_file(tmp_path):
    proc = helpers.run_tool(TOOL, "--input_network", "nope.pt", "-d", "x", "1,3,8,8", "--output_path", "n.dlc",
                            cwd=str(tmp_path), check=False)
    _assert_one_line_error(proc, "nope.pt", "not found")
    assert proc.returncode == 1
    assert not (tmp_path / "n.dlc").exists()


class SameTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y, y


def test_same_tensor_returned_twice(tmp_path):
    torch.manual_seed(8)
    model = SameTwice()
    x = np.random.default_rng(8).standard_normal((1, 3, 8, 8)).astype(np.float32)
    pt = save_ts(model, tmp_path / "twice.pt", torch.from_numpy(x), "traced")
    dlc = str(tmp_path / "twice.dlc")
    convert(pt, dlc, [("x", x.shape)])
    names = read_dlc(dlc).graph.outputs
    assert len(names) == 2 and names[0] != names[1]
    check_against_torch(dlc, model, {"x": x})


def test_out_node_same_tensor_returned_twice(tmp_path):
    torch.manual_seed(8)
    model = SameTwice()
    x = np.random.default_rng(8).standard_normal((1, 3, 8, 8)).astype(np.float32)
    pt = save_ts(model, tmp_path / "twice.pt", torch.from_numpy(x), "traced")
    dlc = str(tmp_path / "twice.dlc")
    proc = helpers.run_tool(TOOL, "--input_network", pt, "-d", "x", "1,3,8,8", "--out_node", "a",
                            "--out_node", "b", "--output_path", dlc, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr
    assert read_dlc(dlc).graph.outputs == ["a", "b"]
    check_against_torch(dlc, model, {"x": x})


def test_out_node_clashing_with_input_name(tmp_path):
    pt = save_ts(SameTwice(), tmp_path / "twice.pt", torch.randn(1, 3, 8, 8), "traced")
    proc = helpers.run_tool(TOOL, "--input_network", pt, "-d", "x", "1,3,8,8", "--out_node", "x",
                            "--out_node", "b", "--output_path", "o.dlc", cwd=str(tmp_path), check=False)
    line = _assert_one_line_error(proc, "x")
    assert "Encountered Error" not in line
    assert not (tmp_path / "o.dlc").exists()


def test_input_dim_of_wrong_rank(tmp_path):
    pt = save_ts(ViewNet(), tmp_path / "v.pt", torch.randn(1, 3, 16, 16), "traced")
    proc = helpers.run_tool(TOOL, "--input_network", pt, "-d", "x", "1,3,16", "--output_path", "v.dlc",
                            cwd=str(tmp_path), check=False)
    line = _assert_one_line_error(proc, "x")
    assert "Encountered Error" not in line
    assert not (tmp_path / "v.dlc").exists()


def test_input_dim_inconsistent_with_weights(tmp_path):
    pt = save_ts(ViewNet(), tmp_path / "v.pt", torch.randn(1, 3, 16, 16), "traced")
    proc = helpers.run_tool(TOOL, "--input_network", pt, "-d", "x", "1,3,32,32", "--output_path", "v.dlc",
                            cwd=str(tmp_path), check=False)
    _assert_one_line_error(proc)
    assert not (tmp_path / "v.dlc").exists()


def test_resnet18_in_process_conversion_matches_cli(resnet18_dlc):
    """Converting again in this process gives the CLI's DLC: same layers, parameters, dimensions, outputs
    and bit-identical weights (the conversion is deterministic and does not depend on process state)."""
    from snpe_tools.tools.dlc_diff import compare

    _how, tmp, dlc = resnet18_dlc
    again = str(tmp / "again.dlc")
    convert(str(tmp / "resnet18.pt"), again, [("input", (1, 3, 224, 224))])
    aspects = {"layers", "parameters", "dimensions", "weights", "outputs", "encodings"}
    assert compare(read_dlc(dlc), read_dlc(again), aspects, by_id=False, atol=0.0) == []

"""Build the small sample models committed in ``models/`` (run: ``python models/make_models.py``).

Two hand-written PyTorch networks (torchvision is not needed):

* ``resnet_small``      -- stem conv-bn-relu-maxpool, two basic residual blocks (the second with
  stride 2 and a 1x1 conv-bn downsample shortcut), global average pool, linear (10 classes);
* ``mobilenetv2_small`` -- stem conv-bn-relu6, inverted residual blocks (expand 1x1 conv-bn-relu6,
  depthwise 3x3 conv-bn-relu6 with stride 1 or 2, project 1x1 conv-bn, residual add when the
  shapes match), 1x1 head conv, global average pool, linear (10 classes).

Weights are drawn from fixed seeds; every BatchNorm is in eval mode with non-trivial running
statistics and affine parameters (calibrated on random data so activations stay O(1), then
perturbed), and the classifier is rescaled so the logits have a standard deviation of about 1.
Everything runs single-threaded under a forked torch RNG, so re-running the script rewrites the
same bytes and importing this module does not disturb the caller's RNG state.

Files written (next to this script):

* ``resnet_small.onnx``, ``mobilenetv2_small.onnx`` -- opset 13, input ``input`` (1x3x64x64, NCHW),
  output ``logits`` (1x10);
* ``sample_input.raw`` -- float32 sample input in NHWC order (the layout of the DLC input that
  ``snpe-onnx-to-dlc`` creates for a rank-4 ONNX input);
* ``sample_input_list.txt`` -- one line, ``models/sample_input.raw`` (relative to the repo root).

The functions here (``build_model``, ``sample_input``, ``export_onnx``) are also used by
``tests/test_torch_models.py`` to rebuild the models in-process without writing into ``models/``.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_SHAPE = (1, 3, 64, 64)          # NCHW, as exported
NUM_CLASSES = 10
INPUT_SEED = 1234
MODEL_SEEDS = {"resnet_small": 0, "mobilenetv2_small": 1}
SAMPLE_INPUT_FILE = "sample_input.raw"
SAMPLE_LIST_FILE = "sample_input_list.txt"
OPSET = 13


# --------------------------------------------------------------------------- model definitions
def _modules():
    """The nn.Module classes (built lazily so this file imports without torch)."""
    import torch
    from torch import nn

    def conv_bn(cin, cout, k, stride=1, groups=1):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = conv_bn(cin, cout, 3, stride)
            self.conv2, self.bn2 = conv_bn(cout, cout, 3)
            self.relu = nn.ReLU()
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(*conv_bn(cin, cout, 1, stride))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            shortcut = x if self.downsample is None else self.downsample(x)
            return self.relu(y + shortcut)

    class ResNetSmall(nn.Module):
        def __init__(self, num_classes=NUM_CLASSES):
            super().__init__()
            self.stem = nn.Sequential(*conv_bn(3, 16, 5, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            self.layer1 = BasicBlock(16, 16, 1)
            self.layer2 = BasicBlock(16, 32, 2)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(32, num_classes)

        def forward(self, x):
            x = self.layer2(self.layer1(self.stem(x)))
            return self.fc(torch.flatten(self.pool(x), 1))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = []
            if expand != 1:
                layers += [*conv_bn(cin, hidden, 1), nn.ReLU6()]
            layers += [*conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6()]
            layers += conv_bn(hidden, cout, 1)
            self.block = nn.Sequential(*layers)
            self.use_residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.block(x)
            return x + y if self.use_residual else y

    class MobileNetV2Small(nn.Module):
        # (expand, out channels, stride)
        CONFIG = [(1, 16, 1), (4, 24, 2), (4, 24, 1), (4, 32, 2), (4, 32, 1)]

        def __init__(self, num_classes=NUM_CLASSES):
            super().__init__()
            layers = [*conv_bn(3, 16, 3, 2), nn.ReLU6()]
            cin = 16
            for expand, cout, stride in self.CONFIG:
                layers.append(InvertedResidual(cin, cout, stride, expand))
                cin = cout
            layers += [*conv_bn(cin, 128, 1), nn.ReLU6()]
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(128, num_classes)

        def forward(self, x):
            return self.classifier(torch.flatten(self.pool(self.features(x)), 1))

    return {"resnet_small": ResNetSmall, "mobilenetv2_small": MobileNetV2Small}


MODEL_NAMES = tuple(MODEL_SEEDS)


@contextlib.contextmanager
def _deterministic(seed: int):
    """Single-threaded torch under a forked, seeded RNG; restores the caller's state."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


def _init_weights(model, seed: int) -> None:
    """He-style random weights, then BN calibration on random data, then random BN perturbation."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features ** 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)   # gamma in [0.5, 1.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)

        # Calibrate running statistics (cumulative average over a few random batches) so the
        # eval-mode network normalises to O(1) activations; then perturb them so the folded
        # scales/offsets are non-trivial rather than an exact renormalisation.
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        for _ in range(4):
            model(torch.randn((8,) + INPUT_SHAPE[1:], generator=g))
        model.eval()
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.randn(m.running_mean.shape, generator=g) * 0.1
                                * m.running_var.sqrt())
            m.running_var.mul_(torch.rand(m.running_var.shape, generator=g) * 0.6 + 0.7)

        # Rescale the classifier so the logits have std ~1 on random inputs.
        fc = model.fc if hasattr(model, "fc") else model.classifier
        logits = model(torch.randn((16,) + INPUT_SHAPE[1:], generator=g))
        scale = 1.0 / float(logits.std())
        fc.weight.mul_(scale)
        fc.bias.mul_(scale)


def build_model(name: str):
    """The eval-mode torch model ``name`` (one of MODEL_NAMES) with its deterministic weights."""
    if name not in MODEL_SEEDS:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    seed = MODEL_SEEDS[name]
    with _deterministic(seed):
        model = _modules()[name]()
        _init_weights(model, seed)
    return model.eval()


def sample_input(seed: int = INPUT_SEED) -> np.ndarray:
    """The sample input in the ONNX (NCHW) layout, float32."""
    return np.random.default_rng(seed).standard_normal(INPUT_SHAPE).astype(np.float32)


def to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def torch_forward(model, x: np.ndarray) -> np.ndarray:
    """Run the torch model on a numpy NCHW input (single-threaded, no grad)."""
    import torch

    with _deterministic(0), torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def export_onnx(model, path: str) -> None:
    """Export with the TorchScript exporter (opset 13), input 'input', output 'logits'."""
    import torch

    x = torch.from_numpy(sample_input())
    assert not model.training, "export an eval-mode model"
    with _deterministic(0), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # the legacy exporter is intended
        # training=PRESERVE on an eval-mode model keeps the (inference) BatchNormalization nodes;
        # the default (EVAL) would fuse them into the convolutions, leaving nothing for the
        # converter's fold_batchnorm pass to do.
        torch.onnx.export(model, (x,), path, opset_version=OPSET, dynamo=False,
                          input_names=["input"], output_names=["logits"],
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    _normalise_file(path)


def _normalise_file(path: str) -> None:
    """Strip fields that vary between runs/hosts (none expected, but keep the bytes stable)."""
    import onnx

    m = onnx.load(path)
    m.doc_string = ""
    m.graph.doc_string = ""
    for n in m.graph.node:
        n.doc_string = ""
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main(out_dir: str = HERE) -> int:
    os.makedirs(out_dir, exist_ok=True)
    x = sample_input()
    for name in MODEL_NAMES:
        model = build_model(name)
        path = os.path.join(out_dir, f"{name}.onnx")
        export_onnx(model, path)
        y = torch_forward(model, x)
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes); "
              f"logits std {y.std():.3f}, range [{y.min():.3f}, {y.max():.3f}]")
    raw = os.path.join(out_dir, SAMPLE_INPUT_FILE)
    to_nhwc(x).tofile(raw)
    with open(os.path.join(out_dir, SAMPLE_LIST_FILE), "w", newline="\n") as f:
        f.write(f"models/{SAMPLE_INPUT_FILE}\n")
    print(f"wrote {os.path.relpath(raw)} (NHWC {list(to_nhwc(x).shape)} float32) and {SAMPLE_LIST_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

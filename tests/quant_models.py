"""ResNet-18, MobileNetV2 and InceptionV3-style ONNX classifiers with random weights, for the quantization
benchmark (``bench/bench_quantize.py``) and its CI-sized test (``tests/test_quant_calibration.py``).

torchvision is not installable here, so the architectures are written out with :mod:`onnx.helper`:
the real block structure (ResNet basic blocks with projection shortcuts, MobileNetV2 inverted residuals
with depthwise convolutions and ReLU6, Inception A/B/C modules with 1x7/7x1 factorised convolutions,
average-pool branches and channel concatenation), Conv + BatchNormalization + activation as the
frameworks export them, global average pooling and a Gemm classifier.  ``width`` scales every channel
count and ``size`` the input, so the same builder gives the full model for the benchmark and a small
one for CI.

Weights are re-randomised, not trained: He-normal convolutions, BatchNorm scale U(0.5, 1.5) (0.2-0.5
on the last BN of a residual branch so the residual stream stays O(1)), mean and bias N(0, 0.1),
variance U(0.5, 1.5), classifier 1/sqrt(fan_in).  Seeds are fixed.
"""
from __future__ import annotations

import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class _Builder:
    """Accumulates nodes and initializers; every helper returns the name of its output tensor."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}_{self.n}"

    def _init(self, kind: str, arr: np.ndarray) -> str:
        name = self._name(kind)
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out + "_op", **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int | tuple[int, int], stride: int = 1, group: int = 1,
             pad: tuple[int, int] | None = None) -> str:
        kh, kw = (k, k) if isinstance(k, int) else k
        ph, pw = pad if pad is not None else (kh // 2, kw // 2)
        fan_in = cin // group * kh * kw
        w = self.rng.standard_normal((cout, cin // group, kh, kw)) * np.sqrt(2.0 / fan_in)
        return self.node("Conv", [x, self._init("w", w)], kernel_shape=[kh, kw], strides=[stride, stride],
                         pads=[ph, pw, ph, pw], group=group)

    def bn(self, x: str, c: int, last: bool = False) -> str:
        r = self.rng
        scale = r.uniform(0.2, 0.5, c) if last else r.uniform(0.5, 1.5, c)
        params = [scale, r.normal(0, 0.1, c), r.normal(0, 0.1, c), r.uniform(0.5, 1.5, c)]
        return self.node("BatchNormalization", [x] + [self._init("bn", p) for p in params], epsilon=1e-5)

    def cbr(self, x: str, cin: int, cout: int, k, stride: int = 1, group: int = 1, act: str | None = "relu",
            pad=None, last: bool = False) -> str:
        y = self.bn(self.conv(x, cin, cout, k, stride, group, pad), cout, last)
        if act == "relu":
            return self.node("Relu", [y])
        if act == "relu6":
            return self.node("Clip", [y, self._init("lo", np.array(0.0)), self._init("hi", np.array(6.0))])
        return y

    def head(self, x: str, cin: int, classes: int) -> str:
        p = self.node("GlobalAveragePool", [x])
        f = self.node("Flatten", [p], axis=1)
        w = self.rng.standard_normal((classes, cin)) / np.sqrt(cin)
        return self.node("Gemm", [f, self._init("fc_w", w), self._init("fc_b", self.rng.normal(0, 0.1, classes))],
                         transB=1)

    def model(self, name: str, size: int, out: str, classes: int) -> onnx.ModelProto:
        y = helper.make_node("Identity", [out], ["logits"], name="logits_op")
        g = helper.make_graph(self.nodes + [y], name,
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def _ch(c: int, width: float) -> int:
    return max(4, int(round(c * width / 4)) * 4)


def resnet18(size: int = 224, width: float = 1.0, classes: int = 1000, seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)
    c0 = _ch(64, width)
    x = b.cbr("input", 3, c0, 7, stride=2)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = c0
    for stage, c in enumerate((64, 128, 256, 512)):
        c = _ch(c, width)
        for blk in range(2):
            stride = 2 if stage > 0 and blk == 0 else 1
            y = b.cbr(x, cin, c, 3, stride)
            y = b.cbr(y, c, c, 3, act=None, last=True)
            sc = b.cbr(x, cin, c, 1, stride, act=None, last=True) if (stride != 1 or cin != c) else x
            x = b.node("Relu", [b.node("Add", [y, sc])])
            cin = c
    return b.model("resnet18", size, b.head(x, cin, classes), classes)


def mobilenet_v2(size: int = 224, width: float = 1.0, classes: int = 1000, seed: int = 1) -> onnx.ModelProto:
    b = _Builder(seed)
    c0 = _ch(32, width)
    x = b.cbr("input", 3, c0, 3, stride=2, act="relu6")
    cin = c0
    # (expansion t, channels c, repeats n, stride s) as in the MobileNetV2 paper
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        c = _ch(c, width)
        for i in range(n):
            stride = s if i == 0 else 1
            hid = cin * t
            y = b.cbr(x, cin, hid, 1, act="relu6") if t != 1 else x
            y = b.cbr(y, hid, hid, 3, stride, group=hid, act="relu6")
            y = b.cbr(y, hid, c, 1, act=None, last=stride == 1 and cin == c)
            x = b.node("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    c_last = _ch(1280, width)
    x = b.cbr(x, cin, c_last, 1, act="relu6")
    return b.model("mobilenet_v2", size, b.head(x, c_last, classes), classes)


def inception_v3(size: int = 299, width: float = 1.0, classes: int = 1000, seed: int = 2) -> onnx.ModelProto:
    """The InceptionV3 stem, Inception-A x3, reduction, Inception-B (1x7/7x1) x4, reduction and
    Inception-C x2 modules (the real model's sequence; auxiliary head left out)."""
    b = _Builder(seed)
    w = lambda c: _ch(c, width)          # noqa: E731
    x = b.cbr("input", 3, w(32), 3, stride=2, pad=(0, 0))
    x = b.cbr(x, w(32), w(32), 3, pad=(0, 0))
    x = b.cbr(x, w(32), w(64), 3)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x = b.cbr(x, w(64), w(80), 1)
    x = b.cbr(x, w(80), w(192), 3, pad=(0, 0))
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    cin = w(192)

    def avg(t: str) -> str:
        return b.node("AveragePool", [t], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                      count_include_pad=0)

    def cat(parts: list[str]) -> str:
        return b.node("Concat", parts, axis=1)

    for pool_c in (32, 64, 64):                                       # Inception-A
        b1 = b.cbr(x, cin, w(64), 1)
        b5 = b.cbr(b.cbr(x, cin, w(48), 1), w(48), w(64), 5)
        b3 = b.cbr(b.cbr(b.cbr(x, cin, w(64), 1), w(64), w(96), 3), w(96), w(96), 3)
        bp = b.cbr(avg(x), cin, w(pool_c), 1)
        x, cin = cat([b1, b5, b3, bp]), w(64) + w(64) + w(96) + w(pool_c)
    r3 = b.cbr(x, cin, w(384), 3, stride=2, pad=(0, 0))              # reduction A
    rd = b.cbr(b.cbr(b.cbr(x, cin, w(64), 1), w(64), w(96), 3), w(96), w(96), 3, stride=2, pad=(0, 0))
    rp = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x, cin = cat([r3, rd, rp]), w(384) + w(96) + cin
    for c7 in (128, 160, 160, 192):                                   # Inception-B
        c7 = w(c7)
        b1 = b.cbr(x, cin, w(192), 1)
        b7 = b.cbr(b.cbr(b.cbr(x, cin, c7, 1), c7, c7, (1, 7)), c7, w(192), (7, 1))
        bd = b.cbr(x, cin, c7, 1)
        for k, co in (((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), w(192))):
            bd = b.cbr(bd, c7, co, k)
        bp = b.cbr(avg(x), cin, w(192), 1)
        x, cin = cat([b1, b7, bd, bp]), 4 * w(192)
    r3 = b.cbr(b.cbr(x, cin, w(192), 1), w(192), w(320), 3, stride=2, pad=(0, 0))     # reduction B
    r7 = b.cbr(x, cin, w(192), 1)
    for k in ((1, 7), (7, 1)):
        r7 = b.cbr(r7, w(192), w(192), k)
    r7 = b.cbr(r7, w(192), w(192), 3, stride=2, pad=(0, 0))
    rp = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x, cin = cat([r3, r7, rp]), w(320) + w(192) + cin
    for _ in range(2):                                                # Inception-C
        b1 = b.cbr(x, cin, w(320), 1)
        t = b.cbr(x, cin, w(384), 1)
        b3 = cat([b.cbr(t, w(384), w(384), (1, 3)), b.cbr(t, w(384), w(384), (3, 1))])
        t = b.cbr(b.cbr(x, cin, w(448), 1), w(448), w(384), 3)
        bd = cat([b.cbr(t, w(384), w(384), (1, 3)), b.cbr(t, w(384), w(384), (3, 1))])
        bp = b.cbr(avg(x), cin, w(192), 1)
        x, cin = cat([b1, b3, bd, bp]), w(320) + 4 * w(384) + w(192)
    return b.model("inception_v3", size, b.head(x, cin, classes), classes)


BUILDERS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "inception_v3": inception_v3}
FULL_SIZE = {"resnet18": 224, "mobilenet_v2": 224, "inception_v3": 299}


def calibration_inputs(n: int, size: int, seed: int = 5) -> np.ndarray:
    """``n`` NCHW float32 images, normalised like ImageNet inputs: smooth random fields (low-frequency
    noise upsampled, plus fine noise) with a per-image contrast and a per-image colour cast, so that
    images differ in their global statistics as photographs do (a random network's pooled features
    respond to those much more than to local patterns)."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
    idx = (np.arange(size) * 8 // size)
    img = coarse[:, :, idx][:, :, :, idx]
    img += 0.3 * rng.standard_normal(img.shape).astype(np.float32)
    contrast = rng.uniform(0.3, 1.5, (n, 1, 1, 1)).astype(np.float32)
    cast = rng.normal(0.0, 0.7, (n, 3, 1, 1)).astype(np.float32)
    return (img * contrast + cast).astype(np.float32)


def normalise_head(model: onnx.ModelProto, x: np.ndarray) -> onnx.ModelProto:
    """Re-fit the classifier to the features of reference images ``x`` (NCHW), so that the logits depend
    on the input.

    A deep network with random weights maps every input to much the same feature vector (the image's
    own part is ~30% of the pooled features here), so a random classifier gives the same top-1 class for
    every image and top-1 agreement would measure nothing.  The classifier's bias is set to cancel the
    mean feature (``b = -W mean``) and its weights are scaled by the mean feature deviation: the logits
    are then the image-dependent part only, O(1), and their top-1 class changes from image to image.
    This makes the output cosine a strict measure (it sees only the image's own part, not the common
    offset that dominates raw random logits).  ``x`` should not be the evaluation images.
    """
    import onnxruntime as ort

    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(helper.make_tensor_value_info(gemm.input[0], TensorProto.FLOAT, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feats = np.concatenate([sess.run([gemm.input[0]], {"input": x[i:i + 1]})[0] for i in range(len(x))])
    mean, std = feats.mean(0), float(feats.std(0).mean()) + 1e-12
    inits = {t.name: t for t in model.graph.initializer}
    w = numpy_helper.to_array(inits[gemm.input[1]]).astype(np.float64)
    w_new = w / std
    b_new = -(w_new @ mean)
    inits[gemm.input[1]].CopyFrom(numpy_helper.from_array(w_new.astype(np.float32), gemm.input[1]))
    inits[gemm.input[2]].CopyFrom(numpy_helper.from_array(b_new.astype(np.float32), gemm.input[2]))
    return model


def build(name: str, size: int | None = None, width: float = 1.0, classes: int = 1000) -> onnx.ModelProto:
    """The named model with its classifier fitted on 16 reference images (seed 99, never used for
    calibration or evaluation)."""
    size = size or FULL_SIZE[name]
    return normalise_head(BUILDERS[name](size, width, classes), calibration_inputs(16, size, seed=99))


# ---- evaluation helpers shared by the benchmark and its CI test ----------------------------------------
def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``a`` with the same row of ``b``."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def ort_quantize(src: str, dst: str, x: np.ndarray, act_bits: int = 8, weight_bits: int = 8) -> float:
    """onnxruntime's quantize_static on images ``x`` (QDQ, per-channel, MinMax; uint8 activations and int8
    weights, or uint16/int16 with ``act_bits``/``weight_bits`` 16); returns its wall time."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(x):
                return None
            self.i += 1
            return {"input": x[self.i - 1:self.i]}

    t0 = time.perf_counter()
    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt16 if act_bits == 16 else QuantType.QUInt8,
                    weight_type=QuantType.QInt16 if weight_bits == 16 else QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return time.perf_counter() - t0


def ort_run(path: str, x: np.ndarray) -> np.ndarray:
    """The model's output for each image of ``x`` (NCHW) on onnxruntime's CPU provider."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])


def our_run(dlc: str, x_nhwc: np.ndarray) -> np.ndarray:
    """The DLC's output for each image of ``x_nhwc`` on the reference runtime (fixed point for a quantized
    DLC: float inputs quantized with the input's encoding, the output dequantized)."""
    from snpe_tools.dlc import read_dlc
    from snpe_tools.runtime import execute
    from snpe_tools.ops.fixed_point import dequantize, is_quantized, quantize

    g = read_dlc(dlc).graph
    t_in, t_out = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    outs = []
    for i in range(len(x_nhwc)):
        xi = x_nhwc[i:i + 1]
        y = execute(g, {g.inputs[0]: quantize(t_in, xi) if is_quantized(t_in) else xi})[g.outputs[0]]
        outs.append((dequantize(t_out, y) if is_quantized(t_out) else y).reshape(1, -1))
    return np.concatenate(outs)


def same_activation_scales(qdq: str, dlc: str) -> tuple[int, int]:
    """(equal, compared): how many per-tensor activation scales of the quantized DLC equal (to float32
    precision) those onnxruntime's QDQ model gives the tensors of the same name."""
    from snpe_tools.dlc import read_dlc

    m = onnx.load(qdq)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    g = read_dlc(dlc).graph
    equal = compared = 0
    for n in m.graph.node:
        t = g.tensors.get(n.input[0]) if n.op_type == "QuantizeLinear" else None
        scale = inits.get(n.input[1]) if t is not None else None
        if t is None or t.encoding is None or scale is None or np.size(scale) != 1:
            continue
        compared += 1
        equal += bool(np.isclose(float(scale), t.encoding.scale, rtol=1e-6))
    return equal, compared

"""TFLite test models made at test time with TensorFlow's TFLiteConverter (nothing large is committed).

Keras applications built with ``weights=None`` give near-constant outputs, so every kernel, bias
and batch-norm statistic is re-randomised (He-scaled) before conversion; classifier heads have no
softmax so that logits are compared directly.
"""
from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODES = ("float", "fp16", "dynamic", "int8")


def rerandomise(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for var, w in zip(layer.weights, weights):
            n = var.name
            if "moving_variance" in n or "gamma" in n:
                new.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            elif "moving_mean" in n or "beta" in n or "bias" in n:
                new.append(rng.normal(0, 0.1, w.shape).astype(w.dtype))
            else:
                fan_in = int(np.prod(w.shape[:2])) if "depthwise" in n else int(np.prod(w.shape[:-1]))
                new.append(rng.normal(0, np.sqrt(2.0 / max(fan_in, 1)), w.shape).astype(w.dtype))
        layer.set_weights(new)


def sparse_mlp(seed: int = 0):
    """A two-layer MLP whose kernels are 90% zeros, so the converter stores them sparse (DENSIFY)."""
    import keras

    rng = np.random.default_rng(seed)
    inp = keras.Input((16,))
    out = keras.layers.Dense(8)(keras.layers.Dense(64, activation="relu")(inp))
    m = keras.Model(inp, out)
    for layer in m.layers[1:]:
        k, b = layer.get_weights()
        layer.set_weights([k * (rng.uniform(size=k.shape) < 0.1), rng.normal(0, 0.1, b.shape).astype(b.dtype)])
    return m


def keras_model(arch: str, size: int):
    import keras

    if arch == "mobilenetv2":
        m = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35, weights=None, classes=10,
                                           classifier_activation=None)
    elif arch == "inceptionv3":
        m = keras.applications.InceptionV3(input_shape=(size, size, 3), weights=None, classes=10,
                                           classifier_activation=None)
    else:
        raise ValueError(arch)
    rerandomise(m)
    return m


def to_tflite(model_or_fn, mode: str, input_shape: tuple[int, ...], seed: int = 1) -> bytes:
    """Convert a Keras model (or a concrete function) in one of :data:`MODES`."""
    import tensorflow as tf

    if hasattr(model_or_fn, "layers"):
        conv = tf.lite.TFLiteConverter.from_keras_model(model_or_fn)
    else:
        conv = tf.lite.TFLiteConverter.from_concrete_functions([model_or_fn])
    if mode == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode in ("int8", "int16x8"):
        rng = np.random.default_rng(seed)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([rng.uniform(-1, 1, input_shape).astype(np.float32)]
                                               for _ in range(8))
        if mode == "int8":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int8
        else:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int16
    elif mode == "sparse":
        conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    elif mode != "float":
        raise ValueError(mode)
    return conv.convert()


def litert_run(path: str, x: np.ndarray) -> np.ndarray:
    """Run the LiteRT interpreter on ``x`` (already in the input's type); first output."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def io_details(path: str) -> tuple[dict, dict]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path)
    return it.get_input_details()[0], it.get_output_details()[0]


def detection_postprocess_model(anchors: np.ndarray, num_classes: int, options: dict) -> bytes:
    """A model holding only ``TFLite_Detection_PostProcess`` (SSD post-processing), written with the
    LiteRT schema's object API: inputs box encodings ``[1, A, 4]`` and class scores ``[1, A, C+1]``,
    constant anchors ``[A, 4]``; outputs boxes, classes, scores, count."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s
    from flatbuffers import flexbuffers

    n = anchors.shape[0]
    limit = int(options["max_detections"])

    def tensor(name, shape, buffer):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), 0, buffer
        return t

    buffers = [s.BufferT() for _ in range(2)]
    buffers[1].data = list(np.asarray(anchors, np.float32).tobytes())
    sg = s.SubGraphT()
    sg.tensors = [tensor("raw_outputs/box_encodings", [1, n, 4], 0),
                  tensor("raw_outputs/class_predictions", [1, n, num_classes + 1], 0),
                  tensor("anchors", [n, 4], 1),
                  tensor("detection_boxes", [1, limit, 4], 0), tensor("detection_classes", [1, limit], 0),
                  tensor("detection_scores", [1, limit], 0), tensor("num_detections", [1], 0)]
    sg.inputs, sg.outputs = [0, 1], [3, 4, 5, 6]
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3, 4, 5, 6]
    op.customOptions = list(flexbuffers.Dumps(dict(options, num_classes=num_classes)))
    code = s.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.customCode, code.version = 32, 32, b"TFLite_Detection_PostProcess", 1
    sg.operators = [op]
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [sg], buffers
    b = flatbuffers.Builder(1 << 16)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())

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

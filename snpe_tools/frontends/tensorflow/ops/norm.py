"""TensorFlow normalisations -> QNN Batchnorm / Lrn (``snpe_tools/ops/norm.py``).

* single-op translators: FusedBatchNorm V1-V3 (inference statistics folded into one scale and shift), LRN;
* topology (BatchNorm): batch normalisation written out as arithmetic, ``x * scale + shift`` with
  per-channel constants.  This is what Keras 3 freezes BatchNormalization into (Rsqrt/Mul/Sub/AddV2, the
  constant half evaluated at conversion time) and what ``tf.nn.batch_normalization`` builds; it becomes
  one Batchnorm op, which the ``fold_batchnorm`` pass folds into a preceding convolution.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..layers import make_layer, node_of_layer
from ..layout import check_nhwc
from ..patterns import channel_vector, constant_adds, split_static
from ..registry import resolver, tf_op


@tf_op("LRN")
def lrn(ctx, layer):
    node = node_of_layer(ctx, layer)
    ctx.op("Lrn", [ctx.tensor(node.inputs[0])],
           {"radius": int(node.attr("depth_radius", 5)), "bias": float(node.attr("bias", 1.0)),
            "alpha": float(node.attr("alpha", 1.0)), "beta": float(node.attr("beta", 0.5))},
           out=f"{node.name}:0", name=layer.name)


def bn_weights(ctx, layer, node) -> tuple[np.ndarray, np.ndarray]:
    """FusedBatchNorm* at inference: y = x * scale/sqrt(var+eps) + (offset - mean*scale/sqrt(var+eps))."""
    if node.attr("is_training", False):
        mean = ctx.const(node.inputs[3])
        if mean is None or np.asarray(mean).size == 0:
            raise ConversionError(f"{node.op} '{node.name}' runs in training mode (batch statistics); freeze the "
                                  "graph for inference (is_training=False)")
    scale, offset, mean, var = (ctx.require_const(layer, node.inputs[i], w).astype(np.float64).reshape(-1)
                                for i, w in ((1, "scale"), (2, "offset"), (3, "mean"), (4, "variance")))
    w = scale / np.sqrt(var + float(node.attr("epsilon", 1e-3)))
    return w.astype(np.float32), (offset - mean * w).astype(np.float32)


@tf_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_bn(ctx, layer):
    node = node_of_layer(ctx, layer)
    check_nhwc(node)
    w, b = bn_weights(ctx, layer, node)
    ctx.op("Batchnorm", [ctx.tensor(node.inputs[0]), ctx.add_const(f"{layer.name}/weight", w),
                         ctx.add_const(f"{layer.name}/bias", b)], out=f"{node.name}:0", name=layer.name)


@resolver("BatchNorm", 40)
def scale_shift(model, claimed):
    out = []
    for add, b, mul, via in constant_adds(model, claimed, ("AddV2", "Add", "Sub"), ("Mul",)):
        y, s = split_static(model, mul)
        shape = model.static_shape(f"{add.name}:0")
        if y is None or not shape or len(shape) < 2 or model.static_shape(y) != shape:
            continue
        c = shape[-1]
        scale, shift = channel_vector(model.const(s), c), channel_vector(model.const(b), c)
        if scale is None or shift is None:
            continue
        if add.op == "Sub":
            shift = -shift
        out.append(make_layer(model, "BatchNorm", [mul.name, *via, add.name], [f"{add.name}:0"], _translate,
                              x=y, scale=scale, shift=shift, out=f"{add.name}:0"))
    return out


def _translate(ctx, layer):
    info = layer.info
    ctx.op("Batchnorm", [ctx.tensor(info["x"]), ctx.add_const(f"{layer.name}/weight", info["scale"]),
                         ctx.add_const(f"{layer.name}/bias", info["shift"])], out=info["out"], name=layer.name)

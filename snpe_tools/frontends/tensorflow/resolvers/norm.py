"""Batch normalisation written out as arithmetic: ``x * scale + shift`` with per-channel constants.

This is what Keras 3 freezes BatchNormalization into (Rsqrt/Mul/Sub/AddV2, the constant half
evaluated at conversion time) and what ``tf.nn.batch_normalization`` builds; it becomes one
Batchnorm op, which the ``fold_batchnorm`` pass folds into a preceding convolution.
FusedBatchNorm V1-V3 nodes are single-op translators (``ops/nn.py``).
"""
from __future__ import annotations

from ..layers import make_layer
from ..registry import resolver
from .common import candidates, channel_vector, producer, split_static


@resolver("BatchNorm", 40)
def scale_shift(model, claimed):
    out = []
    for add in candidates(model, claimed, ("AddV2", "Add", "Sub")):
        x, b = split_static(model, add)
        if x is None:
            continue
        mul, via = producer(model, x, claimed, ("Mul",))
        if mul is None:
            continue
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

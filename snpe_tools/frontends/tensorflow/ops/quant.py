"""TF FakeQuant nodes -> encodings on the DLC tensors (quantization-aware trained graphs).

TF's quantization-aware rewrite puts ``FakeQuantWithMinMaxVars`` (or ``...PerChannel`` / ``...Args``)
after convolutions and activations and on the (batch-norm folded) filters.  As SNPE does, the nodes
disappear and their grids stay as encodings on the float tensors of the DLC (range nudged as TF nudges
it, ``quantization/source.py``); a fixed-point runtime then rounds exactly where TF's graph rounded.

* a FakeQuant on data is an alias of its input, whose tensor takes the encoding;
* a FakeQuant on a filter is folded by TensorFlow (the weights become the values on its grid) and
  the layer that reads the filter gives the DLC weight tensor the encoding (:func:`weight_encoding`).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....quantization.source import SourceEncoding, fake_quant_encoding
from ..layers import node_of_layer
from ..model import ALIAS_OPS
from ..registry import tf_op


FAKE_QUANT_OPS = ("FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel", "FakeQuantWithMinMaxArgs")


def encoding_of(model, node):
    """The nudged encoding of one FakeQuant node (per channel along the last axis for ``...PerChannel``)."""
    bits, narrow = int(node.attr("num_bits", 8)), bool(node.attr("narrow_range", False))
    if node.op == "FakeQuantWithMinMaxArgs":
        mins, maxs = np.asarray([node.attr("min", -6.0)]), np.asarray([node.attr("max", 6.0)])
    else:
        mins, maxs = (model.const(t) for t in node.inputs[1:3])
        if mins is None or maxs is None:
            raise ConversionError(f"{node.op} '{node.name}': min/max must be known at conversion time (freeze the "
                                  "graph after quantization-aware training)")
        mins, maxs = np.asarray(mins, np.float64).reshape(-1), np.asarray(maxs, np.float64).reshape(-1)
    chans = [fake_quant_encoding(a, b, bits, narrow) for a, b in zip(mins, maxs)]
    if node.op != "FakeQuantWithMinMaxVarsPerChannel":
        return chans[0]
    from ....ir.graph import Encoding
    return Encoding(bits, chans[0].scale, chans[0].offset, min(c.min for c in chans), max(c.max for c in chans),
                    axis=-1, channels=[(c.scale, c.offset, c.min, c.max) for c in chans])


def _source_fake_quant(model, tensor: str):
    """The FakeQuant node ``tensor`` comes from (through Identity-like nodes), or None."""
    node = model.node(tensor)
    while node.op in ALIAS_OPS and node.inputs:
        node = model.node(node.inputs[0])
    return node if node.op in FAKE_QUANT_OPS else None


def weight_encoding(ctx, tf_tensor: str, ir_name: str) -> None:
    """Record the grid of a FakeQuant'ed filter ``tf_tensor`` for its DLC weight tensor ``ir_name``."""
    node = _source_fake_quant(ctx.model, tf_tensor)
    if node is None:
        return
    enc = encoding_of(ctx.model, node)
    if enc.axis is not None:
        enc.axis = len(ctx.graph.tensors[ir_name].shape) - 1
    # set on the tensor itself: the weight keeps its TF layout (HWIO), but not its temporary name
    ctx.graph.tensors[ir_name].encoding = enc


@tf_op(*FAKE_QUANT_OPS)
def fake_quant(ctx, layer):
    node = node_of_layer(ctx, layer)
    enc = encoding_of(ctx.model, node)
    x = ctx.tensor(node.inputs[0])
    if enc.axis is not None:
        enc.axis = len(ctx.shape(node.inputs[0])) - 1
    ctx.graph.source_encodings[x] = SourceEncoding(enc)
    ctx.alias(f"{node.name}:0", x)

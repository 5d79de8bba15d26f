"""``qairt-quantizer --preserve_io_datatype``: graph inputs and outputs keep the float type they had in the
float DLC, so an application keeps feeding and reading float buffers while the graph runs fixed point.

The quantizer gives every graph input and output an encoding; with this option the boundary tensor keeps
its name and its float type, and the fixed-point tensor behind it gets a derived name:

* input ``x``: ``x`` stays float and a QNN ``Quantize`` writes ``x_quantized`` (x's encoding), which the
  graph reads in its place;
* output ``y``: the producer writes ``y_quantized`` (y's encoding) and a QNN ``Dequantize`` writes the float
  ``y``.

Only tensors the quantizer made fixed point are touched: an integer input (token ids) or an input kept
float is already in its own type.
"""
from __future__ import annotations

import numpy as np

from ..errors import SnpeToolsError
from ..ir.graph import Graph


def check_io_names(graph: Graph, names: set[str], flag: str) -> None:
    """Every name is a graph input or output; else one line naming them."""
    io = list(dict.fromkeys(graph.inputs + graph.outputs))
    unknown = sorted(n for n in names if n not in io)
    if unknown:
        raise SnpeToolsError(f"{flag} {unknown[0]}: not an input or output of the graph (they are: "
                             f"{', '.join(io)})")


def _fixed(graph: Graph, name: str) -> bool:
    t = graph.tensors[name]
    return t.encoding is not None and np.dtype(t.dtype).kind in "iu"


def preserve_float_io(graph: Graph, names: set[str] | None, float_types: dict[str, np.dtype]) -> list[str]:
    """Give the graph I/O in ``names`` (None: all) their float type from ``float_types`` back, with a
    Quantize behind each input and a Dequantize in front of each output.  Returns the names changed."""
    changed = []
    for name in list(graph.inputs):
        if (names is None or name in names) and _fixed(graph, name) and name in float_types:
            t = graph.tensors[name]
            fixed = (t.dtype, t.encoding)
            t.dtype, t.encoding = np.dtype(float_types[name]), None
            q = graph.add_input_op(name, "Quantize", graph.unique_name(f"{name}_quantized"),
                                   op_name=graph.unique_name(f"{name}_quantize"))
            q.dtype, q.encoding = fixed
            changed.append(name)
    for name in list(graph.outputs):
        if (names is None or name in names) and _fixed(graph, name) and name in float_types:
            out = graph.add_output_op(name, "Dequantize", graph.unique_name(f"{name}_quantized"),
                                      op_name=graph.unique_name(f"{name}_dequantize"))
            out.dtype = np.dtype(float_types[name])
            changed.append(name)
    return changed

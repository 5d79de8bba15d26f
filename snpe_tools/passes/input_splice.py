"""Put one op between a graph input and the model: the common step of every input conversion.

``--input_dtype`` (a Cast) and ``--input_encoding`` (a colour op) change what the DLC's input holds while
the model keeps reading what it was built for.  The DLC input keeps the user's name (input lists,
``--input_name`` and scripts refer to it); the tensor the model read is renamed ``<name><suffix>`` and
becomes the new op's output.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..ir.graph import Graph


def splice_input(graph: Graph, name: str, shape: Sequence[int], dtype: Any, axis_format: str,
                 op_type: str, params: dict[str, Any], suffix: str, extra_inputs: Sequence[str] = ()) -> str:
    """Make graph input ``name`` a ``shape``/``dtype``/``axis_format`` tensor feeding a new ``op_type`` op whose
    output is what the model read before (``extra_inputs``: the op's other, static inputs); returns that
    output's (new) name.  Splicing twice on one input
    chains the ops: the later one sits next to the input."""
    t = graph.tensors[name]
    post = graph.unique_name(f"{name}{suffix}")
    fmt = t.axis_format
    graph.rename_tensor(name, post)
    graph.inputs[graph.inputs.index(post)] = name
    graph.input_info[name] = graph.input_info.pop(post)
    graph.tensors[name] = type(t)(name, tuple(int(d) for d in shape), np.dtype(dtype), axis_format)
    graph.reserve_names([name])
    del graph.tensors[post]                 # add_op makes it again, and names the op after it (as Qualcomm does)
    graph.release_name(post)
    graph.add_op(op_type, [name, *extra_inputs], [post], params, name=post, index=0)
    graph.tensors[post].axis_format = fmt
    return post

"""``--float_bitwidth 16``: a float16 DLC.

Qualcomm's converter (2.25, measured on a real file: ``dlc_compat.md`` section 4.9) stores every float
tensor as FLOAT_16 when asked for 16-bit floats: weights, activations and the graph input alike.
``--float_bias_bitwidth 32`` keeps the bias inputs of Conv/FullyConnected-style ops (the input index
each op definition declares as ``dlc_bias_input``) in float32; the ``io_dtypes`` pass then gives graph
inputs/outputs the float type asked for (``--preserve_io datatype``: float32 I/O), with a Cast at the
boundary.  Tensors that carry a quantization encoding are left alone: they are fixed-point
in a quantized DLC, and only the float fallback changes width.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from ..ir.graph import Graph
from ..ops.registry import get_op_def
from .registry import register_pass

F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)


def _bias_tensors(graph: Graph) -> set[str]:
    names = set()
    for op in graph.ops:
        idx = get_op_def(op.type).dlc_bias_input
        if idx is not None and idx < len(op.inputs) and op.inputs[idx]:
            names.add(op.inputs[idx])
    return names


def _to_f16(t) -> None:
    t.dtype = F16
    if t.data is not None:
        with np.errstate(over="ignore"):
            t.data = np.asarray(t.data).astype(F16)


def _cast_input(graph: Graph, name: str, dtype: np.dtype) -> None:
    """Graph input ``name`` arrives as ``dtype``; a Cast behind it gives the graph what it was built for."""
    t = graph.tensors[name]
    graph.add_input_op(name, "Cast", graph.unique_name(f"{name}.{np.dtype(t.dtype).name}"), {"to": qd.to_qnn(t.dtype)})
    t.dtype = np.dtype(dtype)


def _cast_output(graph: Graph, name: str, dtype: np.dtype) -> None:
    """Graph output ``name`` leaves as ``dtype``: its producer writes ``<name>.<dtype>``, a Cast the output."""
    inner = graph.unique_name(f"{name}.{np.dtype(graph.tensors[name].dtype).name}")
    graph.add_output_op(name, "Cast", inner, {"to": qd.to_qnn(dtype)}, op_name=graph.unique_name(f"{name}.cast"))


@register_pass("io_dtypes")
def io_dtypes(graph: Graph, options) -> bool:
    """Graph inputs/outputs in the float types ``options["io_dtypes"]`` asks for (name -> numpy dtype):
    ``--preserve_io datatype`` (float32 I/O of a float16 DLC), ``--custom_io`` Datatype, qairt's
    Desired DataType.  One Cast at the boundary each."""
    changed = False
    for name, dtype in (options.get("io_dtypes") or {}).items():
        t = graph.tensors.get(name)
        if t is None or np.dtype(t.dtype) == np.dtype(dtype) or t.is_static:
            continue
        if name in graph.inputs:
            _cast_input(graph, name, dtype)
        elif name in graph.outputs:
            _cast_output(graph, name, dtype)
        changed = True
    return changed


@register_pass("float_bitwidth")
def float_bitwidth(graph: Graph, options) -> bool:
    if int(options.get("float_bitwidth", 32)) != 16:
        return False
    keep_bias = int(options.get("float_bias_bitwidth", 0) or 0) == 32
    biases = _bias_tensors(graph) if keep_bias else set()
    for name, t in graph.tensors.items():
        if np.dtype(t.dtype) == F32 and t.encoding is None and name not in biases:
            _to_f16(t)
    for op in graph.ops:
        if op.type == "Cast" and graph.tensors[op.outputs[0]].dtype == F16:
            op.params["to"] = qd.FLOAT_16
    return True

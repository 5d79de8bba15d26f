"""Encodings a float DLC already carries (QDQ/FakeQuant sources, ``--quantization_overrides``) on the
quantizer side: ``snpe-dlc-quant --override_params``, ``qairt-quantizer`` (applies them unless
``--ignore_encodings``) and ``--float_fallback`` (``snpe_reference.md`` sections 1.7, 1.8, 3.2).

* :func:`take_preset` lifts the encodings off the float graph into ``QuantOptions.preset`` (the quantizer
  keeps them exactly) and leaves a plain float graph to calibrate;
* float fallback quantizes without an input list: tensors with an encoding keep it, a data-invariant op
  (Reshape, Transpose, max pooling ...) passes its input's encoding on ("missing encodings propagated"),
  and every other op without encodings falls back to float - with SNPE's mixed-precision rule that the
  weights and bias of a Conv/FullyConnected/MatMul whose output is float stay float too, and a
  ``Dequantize`` op in front of a float op that reads a fixed-point tensor (:func:`fall_back_to_float`).
"""
from __future__ import annotations

import logging

import numpy as np

from ..ir.graph import Encoding, Graph
from ..ops.registry import get_op_def
from .source import SourceEncoding, dlc_axis

log = logging.getLogger("snpe_tools")


def take_preset(graph: Graph) -> dict[str, Encoding]:
    """Encodings of the graph's float tensors, removed from the graph (it is calibrated as float).

    Per-axis encodings whose axis does not fit the tensor (Qualcomm's converter writes the source
    model's axis 0 on HWIO weights) are moved to the weight's output-channel axis."""
    preset: dict[str, Encoding] = {}
    for t in graph.tensors.values():
        enc = t.encoding
        if enc is None or np.dtype(t.dtype).kind != "f":
            continue
        if enc.channels and len(enc.channels) > 1 and (
                enc.axis is None or enc.axis >= t.rank or t.shape[enc.axis] != len(enc.channels)):
            loose = Encoding(enc.bitwidth, enc.scale, enc.offset, enc.min, enc.max, None, list(enc.channels))
            axis = dlc_axis(graph, t.name, SourceEncoding(loose))
            if axis is None:
                log.warning("the per-axis encoding of '%s' fits no axis of %s; it is recalibrated", t.name,
                            list(t.shape))
                t.encoding = None
                continue
            enc = Encoding(enc.bitwidth, enc.scale, enc.offset, enc.min, enc.max, axis, list(enc.channels))
        preset[t.name] = enc
        t.encoding = None
    return preset


def strip_encodings(graph: Graph) -> int:
    """Drop the encodings of float tensors (``--ignore_encodings`` / no ``--override_params``)."""
    n = 0
    for t in graph.tensors.values():
        if t.encoding is not None and np.dtype(t.dtype).kind == "f":
            t.encoding = None
            n += 1
    return n


def propagate_preset(graph: Graph, preset: dict[str, Encoding]) -> dict[str, Encoding]:
    """``preset`` plus the encodings data-invariant ops pass on to outputs that have none: the output of an
    ``OpDef.data_invariant`` op holds input 0's values, that of a ``joins_inputs`` op (Concat) its inputs'
    values, so it may take their encoding when they share one."""
    out = dict(preset)
    for op in graph.ops:
        d = get_op_def(op.type)
        if not (d.data_invariant or d.joins_inputs) or not op.inputs or op.inputs[0] not in out:
            continue
        if d.joins_inputs and not all(i in out and out[i] == out[op.inputs[0]] for i in op.inputs if i):
            continue
        for o in op.outputs:
            t = graph.tensors[o]
            if o not in out and np.dtype(t.dtype).kind == "f":
                out[o] = out[op.inputs[0]]
    return out


def float_tensors(graph: Graph, preset: dict[str, Encoding], forced: set[str] | None = None,
                  keep_weights_quantized: bool = False) -> set[str]:
    """Tensors that stay float: under float fallback (``forced`` None) the run-time float tensors
    without an encoding, else the ``forced`` ones (float overrides); plus the static inputs of ops
    whose outputs stay float (SNPE's mixed-precision rule) - except, with ``keep_weights_quantized``
    (qairt-quantizer ``--keep_weights_quantized``: fixed-point weights under float activations), their
    weights, which stay fixed point while the bias follows the op's float output."""
    keep = set(forced) if forced is not None else {n for n in _activations(graph) if n not in preset}
    for op in graph.ops:
        if any(o in keep for o in op.outputs) or any(i in keep and not graph.tensors[i].is_static
                                                     for i in op.inputs if i):
            # a float output, or a float run-time input (the op runs float, then a Quantize gives its
            # fixed-point output: see fall_back_to_float): float weights and bias
            w = get_op_def(op.type).weight_input if keep_weights_quantized else None
            keep.update(i for k, i in enumerate(op.inputs) if i and graph.tensors[i].is_static and k != w)
    return keep


def _activations(graph: Graph) -> list[str]:
    names = list(graph.inputs) + [o for op in graph.ops for o in op.outputs]
    return [n for n in dict.fromkeys(names)
            if not graph.tensors[n].is_static and np.dtype(graph.tensors[n].dtype).kind == "f"]


def fall_back_to_float(graph: Graph, keep: set[str], originals: dict[str, np.ndarray], summary,
                       dtypes: dict[str, np.dtype] | None = None) -> int:
    """After ``quantize_graph``: tensors in ``keep`` become float again, in their type before quantization
    (``dtypes``; float16 stays float16) with static ones getting their float data back, and a float op
    reading a fixed-point tensor gets a QNN ``Dequantize`` in front.  Returns the number of Dequantize
    ops inserted."""
    for name in keep:
        t = graph.tensors[name]
        if t.encoding is None:
            continue
        t.encoding = None
        t.dtype = np.dtype((dtypes or {}).get(name, np.float32))
        if t.is_static:
            t.data = originals[name]
            t.dtype = np.dtype(t.data.dtype)
            summary.params.pop(name, None)
        else:
            summary.activations.pop(name, None)
    _quantize_after_float_readers(graph)
    inserted = 0
    made: dict[str, str] = {}          # fixed-point tensor -> its one Dequantize output
    for op in list(graph.ops):
        if not op.outputs or any(graph.tensors[o].encoding is not None for o in op.outputs):
            continue
        if not any(np.dtype(graph.tensors[o].dtype).kind == "f" for o in op.outputs):
            continue
        for idx, name in enumerate(op.inputs):
            t = graph.tensors.get(name) if name else None
            if t is None or t.encoding is None or t.is_static or np.dtype(t.dtype).kind not in "iu":
                continue
            if name not in made:        # ops are in order: the first float reader is the earliest
                made[name] = graph.unique_name(f"{name}_dequantized")
                graph.add_op("Dequantize", [name], [made[name]], name=made[name], index=graph.ops.index(op))
                graph.tensors[made[name]].axis_format = t.axis_format
                inserted += 1
            op.inputs[idx] = made[name]
    return inserted


def _quantize_after_float_readers(graph: Graph) -> None:
    """Ops with a float run-time input and an encoded output run float; a ``Quantize`` after each such
    output gives it its encoding (QNN ops take fixed-point or float operands, not both).  Quantize and
    its kin (``OpDef.converts_storage``) read float and write fixed point by definition."""
    for op in list(graph.ops):
        if get_op_def(op.type).converts_storage:
            continue
        floats = [graph.tensors[i] for i in op.inputs if i and not graph.tensors[i].is_static
                  and graph.tensors[i].encoding is None and np.dtype(graph.tensors[i].dtype).kind == "f"]
        if not floats:
            continue
        for k, name in enumerate(op.outputs):
            t = graph.tensors[name]
            if t.encoding is None or np.dtype(t.dtype).kind not in "iu":
                continue
            inner = graph.unique_name(f"{name}_float")
            graph.tensors[inner] = type(t)(inner, t.shape, floats[0].dtype, t.axis_format)
            op.outputs[k] = inner
            graph.add_op("Quantize", [inner], [name], name=graph.unique_name(f"{name}_quantize"),
                         index=graph.ops.index(op) + 1)
            graph.tensors[name] = t                 # the encoded tensor itself, as quantize_graph made it


def float16_in_mixed_graph(graph: Graph) -> dict[str, int]:
    """Run-time float16 tensors of a DLC that also has float32 ones: float16 overrides given at conversion
    (mixed precision) - they stay float16.  An all-float16 DLC (``--float_bitwidth 16``) is quantized."""
    half = {n for n in _activations(graph) if np.dtype(graph.tensors[n].dtype) == np.float16}
    full = {n for n in _activations(graph) if np.dtype(graph.tensors[n].dtype) == np.float32}
    return {n: 16 for n in half} if half and full else {}

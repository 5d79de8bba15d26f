"""Turn a float graph plus calibration statistics into its fixed-point form, as SNPE's quantizer does.

What gets which encoding (SNPE 2.x defaults; ``snpe_reference.md`` sections 1.7, 1.8 and 3.1):

* **activations** (graph inputs and op outputs of float type): unsigned ``act_bitwidth``-bit (uint8 or
  uint16) ``tf`` min/max encodings with a non-positive offset.  A graph input converted with
  ``--input_type image`` gets [0, 255] (scale 1, offset 0 at 8 bits), an ``opaque`` one stays float.
  Data-invariant ops (Reshape, Transpose, max pooling ...) give their output the input's encoding, so
  that they move stored integers unchanged (qairt-quantizer's default, ``--include_data_invariant_ops``
  off);
* **weights** (``OpDef.weight_input``: input 1 of Conv2d, DepthWiseConv2d, TransposeConv2d, Conv3d,
  FullyConnected, MatMul):
  ``tf`` asymmetric unsigned by default, signed symmetric with ``--use_symmetric_quantize_weights``;
  with per-channel quantization the convolution-family weights are signed symmetric per output channel
  (the last axis of QNN's HWIO / HWIO-like layouts), the others per tensor;
* **biases**: 8-bit ``tf`` asymmetric encodings of their own values (SNPE's default ``--bias_bitwidth 8``),
  or 32-bit signed with scale = input scale x weight scale (per channel when the weights are);
* **other static float tensors** (constants of elementwise ops, normalisation parameters ...): per
  tensor, as weights.

Integer and boolean tensors are left alone.  The graph is rewritten in place: every quantized tensor
gets an integer dtype and its encoding; static data is replaced by its stored integers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SnpeToolsError
from ..ir.encodings import (SNPE_MIN_RANGE, bias_encoding, channel_scales, integer_grid, is_signed,
                            quantize_array, restrict_steps, scale_channels, storage_dtype, symmetric_per_axis,
                            symmetric_per_channel, tf_encoding, unsigned_view)
from ..ir.graph import Encoding, Graph, Op, Tensor
from ..ops.registry import get_op_def
from .algorithms import DEFAULT_PERCENTILE, adjusted_encoding, param_statistics, select_encoding, select_range
from .calibration import RangeStats, activation_tensors

# What each op contributes is read from its definition (snpe_tools/ops): ``OpDef.weight_input`` (a weight
# an integer kernel multiplies with the activation), ``weight_quant_axis`` + ``weight_output_axis`` (per
# channel: the convolution family, SNPE 2.x; per row: FullyConnected, MatMul), ``bias_input`` (added at
# the accumulator's scale) and ``data_invariant`` (the output takes input 0's encoding).


@dataclass
class QuantOptions:
    act_bitwidth: int = 8
    weights_bitwidth: int = 8                   # 4 (int8/uint8 container, encoding bit width 4), 8 or 16
    bias_bitwidth: int = 8
    symmetric_weights: bool = False             # same as param_schema "symmetric" (SNPE's spelling)
    per_channel: bool = False
    per_row: bool = False                       # FullyConnected / MatMul weights per output row (symmetric)
    per_row_bias: bool = False                  # --enable_per_row_quantized_bias: their 32-bit biases per row too
    cle: bool = False                           # cross-layer equalization before calibration (the tools run it)
    # range selection (:mod:`.algorithms`): calibration method and schema of activations and params
    act_method: str = "min-max"                 # min-max (SNPE tf), enhanced, sqnr, mse, entropy, percentile
    act_schema: str = "asymmetric"              # asymmetric, symmetric, unsignedsymmetric
    param_method: str = "min-max"               # the same, plus adjusted (8-bit weights)
    param_schema: str = "asymmetric"
    percentile: float = DEFAULT_PERCENTILE      # percentile calibration value (90-100)
    # --restrict_quantization_steps: the integer steps [MIN, MAX] symmetric parameter encodings use
    restrict_steps: tuple[int, int] | None = None
    pack_4bit: bool = False                 # --pack_4_bit_weights: 4-bit weights stored two per byte
    adjust_bias: bool = False               # --adjust_bias_encoding: widen per-channel weights a 32-bit bias outgrows
    quantize_weights: bool = True           # False: --no_weight_quantization (weights and biases stay float)
    min_range: float = SNPE_MIN_RANGE
    propagate_invariant: bool = True        # False: data-invariant ops calibrated like any other op
    # encodings given before calibration (--quantization_overrides, encodings already in the DLC): kept
    # exactly, nothing is derived for these tensors; a 32-bit bias whose input/weight encodings are
    # preset still follows from them
    preset: dict[str, Encoding] = field(default_factory=dict)


@dataclass
class QuantSummary:
    """What the quantizer did, for the tool's log lines and reports."""

    activations: dict[str, Encoding] = field(default_factory=dict)
    params: dict[str, tuple[str, Encoding]] = field(default_factory=dict)    # name -> (role, encoding)
    float_inputs: list[str] = field(default_factory=list)                    # opaque inputs kept float
    unseen: list[str] = field(default_factory=list)                          # tensors never holding data
    nonfinite: list[str] = field(default_factory=list)                       # NaN/inf seen in calibration
    clones: int = 0                                                          # shared weights duplicated
    widened_biases: list[str] = field(default_factory=list)                  # 32-bit biases given a wider scale
    adjusted_weights: dict[str, int] = field(default_factory=dict)           # weight -> channels widened for its bias
    packed: list[str] = field(default_factory=list)                          # 4-bit weights stored packed


def is_already_quantized(graph: Graph) -> list[str]:
    """Names of tensors that are fixed-point already (integer type with an encoding)."""
    return [t.name for t in graph.tensors.values()
            if t.encoding is not None and np.dtype(t.dtype).kind in "iu"]


def _activation_encodings(graph: Graph, stats: dict[str, RangeStats], opts: QuantOptions,
                          summary: QuantSummary) -> dict[str, Encoding]:
    encs: dict[str, Encoding] = {}
    for name in activation_tensors(graph):
        info = graph.input_info.get(name) if name in graph.inputs else None
        if name in opts.preset:
            encs[name] = opts.preset[name]
            continue
        if info is not None and info.input_type == "opaque":
            summary.float_inputs.append(name)
            continue
        if info is not None and info.input_type == "image":
            encs[name] = tf_encoding(0.0, 255.0, opts.act_bitwidth, opts.min_range)
            continue
        st = stats.get(name)
        if st is None or not st.seen:
            summary.unseen.append(name)
            encs[name] = tf_encoding(0.0, 0.0, opts.act_bitwidth, opts.min_range)
            continue
        if st.nonfinite:
            summary.nonfinite.append(name)
        encs[name] = unsigned_view(select_encoding(st, opts.act_method, opts.act_schema, opts.act_bitwidth,
                                                   opts.min_range, opts.percentile))
    for name in _integer_valued(graph):
        st = stats.get(name)
        if name in encs and name not in opts.preset and opts.act_schema == "asymmetric" and st is not None \
                and st.seen:
            grid = integer_grid(st.min, st.max, opts.act_bitwidth)
            if grid is not None:
                encs[name] = grid
    _fuse_activations(graph, encs, opts)
    if opts.propagate_invariant:
        for op in graph.ops:
            if get_op_def(op.type).data_invariant and op.inputs and op.inputs[0] in encs:
                for out in op.outputs:
                    if out in encs and out not in opts.preset:
                        encs[out] = encs[op.inputs[0]]
    return encs


def fusable_activations(graph: Graph) -> list[tuple[str, str]]:
    """(input, output) of every clamping activation (``OpDef.fuses_into_producer``) that is the only reader
    of an op output which is not a graph output: the pairs quantized as one group."""
    readers: dict[str, int] = {}
    for op in graph.ops:
        for n in op.inputs:
            if n:
                readers[n] = readers.get(n, 0) + 1
    produced = {o for op in graph.ops for o in op.outputs}
    outputs = set(graph.outputs)
    return [(op.inputs[0], op.outputs[0]) for op in graph.ops
            if get_op_def(op.type).fuses_into_producer and op.inputs and op.inputs[0] in produced
            and op.inputs[0] not in outputs and readers.get(op.inputs[0]) == 1]


def _fuse_activations(graph: Graph, encs: dict[str, Encoding], opts: QuantOptions) -> None:
    """Give the input of a clamping activation the activation's output encoding when the activation is
    its only reader: Conv -> Relu is quantized as one group."""
    for x, y in fusable_activations(graph):
        if x in encs and y in encs and x not in opts.preset:
            encs[x] = encs[y]


def _integer_valued(graph: Graph) -> set[str]:
    """Run-time tensors that can only hold integers: index outputs (``OpDef.index_outputs``, e.g. class
    ids) and what integer-preserving ops (``OpDef.keeps_integers``, data movement) compute from them and
    from integral constants."""
    found: set[str] = set()

    def integral(name: str) -> bool:
        t = graph.tensors.get(name)
        if name in found or t is None:
            return name in found
        if t.is_static:
            data = np.asarray(t.data)
            return data.dtype.kind in "biu" or bool(np.all(np.isfinite(data)) and np.all(data == np.round(data)))
        return False

    for op in graph.ops:
        d = get_op_def(op.type)
        found.update(op.outputs[i] for i in d.index_outputs if i < len(op.outputs))
        live = [n for n in op.inputs if n and not graph.tensors[n].is_static]
        if (d.keeps_integers or d.data_invariant) and live and all(integral(n) for n in op.inputs if n):
            found.update(op.outputs)
    return found


def _weight_encoding(op: Op, data: np.ndarray, opts: QuantOptions) -> Encoding:
    d = get_op_def(op.type)
    wanted = {"channel": opts.per_channel, "row": opts.per_row}.get(d.weight_quant_axis, False)
    axis = d.weight_output_axis(op, data.ndim) if wanted else None
    if axis is not None:
        return _per_axis_encoding(data, axis, opts)
    return _param_encoding(data, opts)


def _param_schema(opts: QuantOptions) -> str:
    return "symmetric" if opts.symmetric_weights else opts.param_schema


def _per_axis_encoding(data: np.ndarray, axis: int, opts: QuantOptions) -> Encoding:
    """Signed symmetric per-channel (per-row) weights: SNPE requires per-axis encodings to be symmetric;
    the parameter calibration method picks each channel's range."""
    method = "min-max" if opts.param_method == "adjusted" else opts.param_method
    if method == "min-max":
        return symmetric_per_channel(data, axis, opts.weights_bitwidth, opts.min_range)
    moved = np.moveaxis(data, axis, 0).reshape(data.shape[axis], -1)
    absmax = np.zeros(moved.shape[0])
    for c, row in enumerate(moved):
        if row.size:
            lo, hi = select_range(param_statistics(row, method), method, "symmetric", opts.weights_bitwidth,
                                  opts.min_range, opts.percentile)
            absmax[c] = max(abs(lo), abs(hi))
    return symmetric_per_axis(absmax, axis, opts.weights_bitwidth, opts.min_range)


def _param_encoding(data: np.ndarray, opts: QuantOptions, weight: bool = True) -> Encoding:
    """Per-tensor encoding of static data (weights and other parameters) with the parameter quantizer.
    4-bit applies to weights only: other parameters (elementwise constants ...) stay 8-bit."""
    bw = opts.weights_bitwidth if weight or opts.weights_bitwidth >= 8 else 8
    finite = data[np.isfinite(data)] if data.size and not np.all(np.isfinite(data)) else data
    if not finite.size:
        return tf_encoding(0.0, 0.0, bw, opts.min_range)
    if opts.param_method == "adjusted":
        return adjusted_encoding(float(finite.min()), float(finite.max()), bw, opts.min_range)
    st = param_statistics(finite, opts.param_method)
    return select_encoding(st, opts.param_method, _param_schema(opts), bw, opts.min_range, opts.percentile)


def _tf_of(data: np.ndarray, bw: int, opts: QuantOptions) -> Encoding:
    if not data.size:
        return tf_encoding(0.0, 0.0, bw, opts.min_range)
    finite = data[np.isfinite(data)] if not np.all(np.isfinite(data)) else data
    if not finite.size:
        return tf_encoding(0.0, 0.0, bw, opts.min_range)
    return tf_encoding(float(finite.min()), float(finite.max()), bw, opts.min_range)


def _bias_encoding(op: Op, data: np.ndarray, encs: dict[str, Encoding], wenc: Encoding | None,
                   opts: QuantOptions, summary: QuantSummary,
                   adjustable: bool = False) -> tuple[Encoding | None, Encoding | None]:
    """The bias's encoding, and the op's weight encoding when ``--adjust_bias_encoding`` had to widen it
    (``adjustable``: the weight's encoding is the quantizer's own, not a preset one), else None."""
    if opts.bias_bitwidth != 32:
        return _tf_of(data, opts.bias_bitwidth, opts), None
    in_enc = encs.get(op.inputs[0])
    if in_enc is None or wenc is None:          # float input or float weights: the bias stays float
        return None, None
    w_scales = channel_scales(wenc)
    n = int(data.size)
    if wenc.axis is not None and w_scales.size != n:
        if w_scales.size and n % w_scales.size == 0:
            w_scales = np.tile(w_scales, n // w_scales.size)      # grouped TransposeConv2d
        else:
            return _tf_of(data, 8, opts), None
    per_channel = wenc.axis is not None and data.ndim == 1
    scales = in_enc.scale * w_scales
    if per_channel and get_op_def(op.type).weight_quant_axis == "row" and not opts.per_row_bias:
        # SNPE quantizes the bias of per-row weights per row only with --enable_per_row_quantized_bias;
        # otherwise the bias has one scale, here the coarsest row's input x weight scale [choice: SNPE
        # does not document it], at which every row's bias is at least as fine as its accumulator step
        per_channel, scales = False, scales.max(initial=0.0, keepdims=True)
    # the smallest scale at which the bias fits 32 bits (16-bit activations and weights, a near-zero channel)
    need = (np.abs(data.reshape(-1)) if per_channel else np.abs(data).max(initial=0.0)) / float((1 << 31) - 1)
    if per_channel and opts.adjust_bias and adjustable and np.any(need > scales):
        # --adjust_bias_encoding: widen the weight channels instead, so that the bias keeps the scale
        # input x weight (the accumulator's) and fits; bias elements tile the channels of a grouped
        # TransposeConv2d, so a channel takes its largest factor
        chans = len(wenc.channels)
        factors = np.ones(chans)
        np.maximum.at(factors, np.arange(n) % chans, np.maximum(need / scales, 1.0))
        adjusted = scale_channels(wenc, factors)
        scales = in_enc.scale * np.tile(channel_scales(adjusted), n // chans)
        return bias_encoding(np.maximum(scales, need), 32, per_channel=True), adjusted
    # otherwise a bias that does not fit would saturate: that channel's bias gets the smallest scale that
    # holds it instead
    widened = np.maximum(scales, need) if per_channel else np.maximum(scales[:1], need)
    if np.any(widened > scales[: widened.size]):
        summary.widened_biases.append(op.inputs[get_op_def(op.type).bias_input])
    return bias_encoding(widened, 32, per_channel=per_channel), None


def _clone(graph: Graph, t: Tensor, op: Op) -> Tensor:
    name = graph.unique_name(f"{t.name}_{op.name}")
    c = Tensor(name, t.shape, t.dtype, t.axis_format, np.array(t.data, copy=True), None)
    graph.tensors[name] = c
    return c


def quantize_graph(graph: Graph, stats: dict[str, RangeStats], opts: QuantOptions) -> QuantSummary:
    """Rewrite ``graph`` (a float graph) into its quantized form using ``stats`` from :func:`calibrate`."""
    summary = QuantSummary()
    encs = _activation_encodings(graph, stats, opts, summary)
    params: dict[str, tuple[str, Encoding | None]] = {}      # static tensor -> (role, encoding or None: float)
    restricted: set[str] = set()                              # params on --restrict_quantization_steps

    for op in graph.ops:
        d = get_op_def(op.type)
        role_of = {}
        if d.weight_input is not None:
            role_of[d.weight_input] = "weight"
        if d.bias_input is not None:
            role_of[d.bias_input] = "bias"
        wenc: Encoding | None = None
        if d.weight_input is not None and len(op.inputs) > d.weight_input and op.inputs[d.weight_input] in encs:
            wenc = encs[op.inputs[d.weight_input]]      # weights computed at run time: an activation encoding
        for idx, name in enumerate(op.inputs):
            t = graph.tensors.get(name) if name else None
            if t is None or not t.is_static or np.dtype(t.dtype).kind != "f":
                continue
            role = role_of.get(idx, "param")
            given = opts.preset.get(name)
            if name in params and (role != "param" or params[name][0] != "param"):
                # a weight or bias shared with another op: its encoding depends on the op, so each op
                # gets its own copy
                t = _clone(graph, t, op)
                op.inputs[idx] = t.name
                name = t.name
                summary.clones += 1
            elif name in params:
                continue
            data = np.asarray(t.data, np.float64)
            if given is not None:
                enc = given
                if role == "weight":
                    wenc = enc
            elif role == "bias":
                enc, adjusted = None, None
                if opts.quantize_weights:
                    wname = op.inputs[d.weight_input] if d.weight_input is not None else ""
                    enc, adjusted = _bias_encoding(op, data, encs, wenc, opts, summary,
                                                   adjustable=wname in params and wname not in opts.preset)
                    if adjusted is not None:
                        summary.adjusted_weights[wname] = int(np.count_nonzero(
                            channel_scales(adjusted) != channel_scales(params[wname][1])))
                        params[wname] = (params[wname][0], adjusted)
            elif opts.quantize_weights:
                enc = _weight_encoding(op, data, opts) if role == "weight" else _param_encoding(data, opts, False)
                if opts.restrict_steps and is_signed(enc):      # before a 32-bit bias takes the weight scale
                    enc = restrict_steps(enc, *opts.restrict_steps)
                    restricted.add(name)
                if role == "weight":
                    wenc = enc
            else:
                enc = None
            params[name] = (role, enc)

    # apply: activations become unsigned integers, static tensors their stored integers
    for name, enc in encs.items():
        t = graph.tensors[name]
        t.dtype = storage_dtype(enc.bitwidth, signed=is_signed(enc))
        t.encoding = enc
        summary.activations[name] = enc
    for name, (role, enc) in params.items():
        if enc is None:
            continue
        t = graph.tensors[name]
        q = quantize_array(enc, np.asarray(t.data, np.float64))
        if name in restricted:          # a clipping range search may reach past the restricted steps
            q = np.clip(q, *opts.restrict_steps).astype(q.dtype)
        if opts.pack_4bit and role == "weight" and enc.bitwidth == 4:
            enc = replace(enc, packed=True)     # the DLC writer stores it two values a byte (ir/packing.py)
            summary.packed.append(name)
        t.data, t.dtype, t.encoding = q, q.dtype, enc
        summary.params[name] = (role, enc)
    _check(graph)
    return summary


def _check(graph: Graph) -> None:
    """Every op still has the inputs it declares (a guard against a rewrite bug, not a user error)."""
    for op in graph.ops:
        get_op_def(op.type)
        for n in op.inputs:
            if n and n not in graph.tensors:
                raise SnpeToolsError(f"internal error: op '{op.name}' lost its input '{n}' while quantizing")

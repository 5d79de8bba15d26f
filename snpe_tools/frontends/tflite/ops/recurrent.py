"""Recurrent builtins unrolled over their static time axis into QNN FullyConnected / elementwise ops.

LSTM family (LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM, BIDIRECTIONAL_SEQUENCE_LSTM), basic RNNs (RNN,
UNIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_RNN) and SVDF.  LSTM cell:

Per step t (gates i, f, c, o; ``act`` is the op's fused activation, TANH for Keras):
``i = sigmoid(x W_i' + h R_i' + b_i [+ c_prev * p_i])`` (``1 - f`` when the input gate is absent: CIFG),
``f`` alike, ``g = act(x W_c' + h R_c' + b_c)``, ``c = clip(f * c_prev + i * g, cell_clip)``,
``o = sigmoid(x W_o' + h R_o' + b_o [+ c * p_o])``, ``h = o * act(c)``, then the optional projection
``h = clip(h P' + p_b, proj_clip)``.  The input part of all four gates is one FullyConnected over
every time step at once; the recurrent part is one FullyConnected per step, split into the gates.

The states are TFLite *variable* tensors: LiteRT starts them at zero and carries them across
invocations; a DLC is stateless, so every inference starts from zero (LiteRT's first invoke).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ....errors import ConversionError
from ..context import ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, ACT_TANH, TfliteContext
from ..model import TflOp
from ..registry import tflite_op

@dataclass(frozen=True)
class _LstmSlots:
    """Positions of one LSTM direction's tensors in the op's inputs (gates in i, f, c, o order)."""

    w: tuple[int, ...]          # input-to-gate weights [n_cell, n_input]; the input gate's absent for CIFG
    r: tuple[int, ...]          # recurrent-to-gate weights [n_cell, n_output]
    peep: tuple[int, ...]       # cell-to-{input, forget, output} peepholes [n_cell] (optional)
    b: tuple[int, ...]          # gate biases [n_cell]
    proj_w: int                 # projection [n_output, n_cell] and its bias (optional)
    proj_b: int
    h0: int                     # state variables
    c0: int


_UNI = _LstmSlots((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11), (12, 13, 14, 15), 16, 17, 18, 19)
_BI_FW = _LstmSlots((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11), (12, 13, 14, 15), 16, 17, 35, 36)
_BI_BW = _LstmSlots((18, 19, 20, 21), (22, 23, 24, 25), (26, 27, 28), (29, 30, 31, 32), 33, 34, 37, 38)
_LAYER_NORM = (20, 21, 22, 23)             # UNIDIRECTIONAL_SEQUENCE_LSTM / LSTM only
_BI_AUX = tuple(range(39, 48))


@dataclass
class _Cell:
    """Emitting helpers of one recurrent op: ops named after its output, float weights, activation, clip."""

    ctx: TfliteContext
    op: TflOp
    base: str
    n_cell: int
    act: int

    def given(self, k: int) -> bool:
        return len(self.op.inputs) > k and self.op.inputs[k] >= 0

    def emit(self, type_: str, inputs: list[str], tag: str, params: dict | None = None) -> str:
        return self.ctx.emit(type_, inputs, None, params, name=f"{self.base}.{tag}")[0]

    def const(self, value: np.ndarray, tag: str) -> str:
        return self.ctx.add_const(f"{self.base}.{tag}", np.asarray(value, np.float32))

    def real(self, k: int) -> np.ndarray:
        if not self.ctx.is_const(self.op.inputs[k]):
            raise _fail(self.op, self.ctx, f"input {k} (weights) must be a constant")
        return self.ctx.real_const(self.op.inputs[k]).astype(np.float32)

    def activation(self, x: str, tag: str) -> str:
        if self.act == ACT_TANH:
            return self.emit("Tanh", [x], tag)
        if self.act == ACT_RELU:
            return self.emit("Relu", [x], tag)
        if self.act in (ACT_RELU6, ACT_RELU_N1_TO_1):
            lo, hi = (0.0, 6.0) if self.act == ACT_RELU6 else (-1.0, 1.0)
            return self.emit("ReluMinMax", [x], tag, {"min_value": lo, "max_value": hi})
        if self.act == ACT_NONE:
            return x
        raise _fail(self.op, self.ctx, f"activation {self.act} is not supported")

    def clip(self, x: str, bound: float, tag: str) -> str:
        if bound <= 0:
            return x
        return self.emit("ReluMinMax", [x], tag, {"min_value": -bound, "max_value": bound})


def _fail(op: TflOp, ctx: TfliteContext, what: str) -> ConversionError:
    return ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): {what}")


@tflite_op("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM")
def unidirectional_sequence_lstm(ctx: TfliteContext, op: TflOp) -> None:
    """A sequence [batch, time, n_in] (or time-major), or one step [batch, n_in] for the LSTM builtin."""
    o = op.options
    _check_float(ctx, op)
    if any(len(op.inputs) > k and op.inputs[k] >= 0 for k in _LAYER_NORM):
        raise _fail(op, ctx, "layer-normalised LSTM cells are not supported; export without layer norm")
    if op.name == "LSTM" and (int(o.get("kernel_type", 0)) != 0 or len(op.outputs) != 1):
        raise _fail(op, ctx, "only the FULL LSTM kernel with state variables (one output) is supported; "
                             "re-export with a current TFLite converter")
    step = op.name == "LSTM"
    cell, rows, steps, batch, time_major = _sequence_rows(ctx, op, o, step, _UNI)
    outs = _lstm_direction(cell, rows, steps, batch, _UNI, reverse=False, tag="")
    if step:
        ctx.emit_out(op, "Reshape", [outs[-1]], {"shape": [batch, _n_out(ctx, op, _UNI)]}, act=0)
        return
    _output(cell, outs, steps, batch, _n_out(ctx, op, _UNI), time_major)


@tflite_op("BIDIRECTIONAL_SEQUENCE_LSTM")
def bidirectional_sequence_lstm(ctx: TfliteContext, op: TflOp) -> None:
    """A forward LSTM (inputs 1-17, states 35-36) and one reading the sequence backwards (18-34, 37-38).

    The backward output at time t is its state after reading steps T-1 .. t (aligned with the input);
    merge_outputs concatenates both on the feature axis, otherwise they are outputs 0 and 1.
    """
    _check_float(ctx, op)
    if any(len(op.inputs) > k and op.inputs[k] >= 0 for k in _BI_AUX):
        raise _fail(op, ctx, "the auxiliary input is not supported; export without it")
    cell, rows, steps, batch, time_major = _sequence_rows(ctx, op, op.options, False, _BI_FW)
    fw = _lstm_direction(cell, rows, steps, batch, _BI_FW, reverse=False, tag="fw.")
    bw = _lstm_direction(cell, rows, steps, batch, _BI_BW, reverse=True, tag="bw.")
    n_fw, n_bw = _n_out(ctx, op, _BI_FW), _n_out(ctx, op, _BI_BW)
    if op.options.get("merge_outputs", False):
        both = [cell.emit("Concat", [f, b], f"t{t}.merged", {"axis": 1}) for t, (f, b) in enumerate(zip(fw, bw))]
        _output(cell, both, steps, batch, n_fw + n_bw, time_major)
        return
    _output(cell, fw, steps, batch, n_fw, time_major)
    _output(cell, bw, steps, batch, n_bw, time_major, k=1)


def _check_float(ctx: TfliteContext, op: TflOp) -> None:
    if ctx.quantized_io(op):
        raise _fail(op, ctx, "integer (fully quantized) LSTMs are not supported; convert the float or "
                             "dynamic-range model")


def _n_out(ctx: TfliteContext, op: TflOp, slots: _LstmSlots) -> int:
    return ctx.t(op.inputs[slots.r[1]]).shape[1]


def _sequence_rows(ctx: TfliteContext, op: TflOp, o: dict, step: bool,
                   slots: _LstmSlots) -> tuple[_Cell, str, int, int, bool]:
    """The cell helper and the input as time-major rows [steps * batch, n_in] (one step: steps = 1)."""
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    if len(shape) != (2 if step else 3):
        raise _fail(op, ctx, f"unexpected input shape {shape}; the model is malformed, re-export it")
    time_major = step or bool(o.get("time_major", False))
    if step:
        shape = [1] + shape
    steps, batch = (shape[0], shape[1]) if time_major else (shape[1], shape[0])
    cell = _Cell(ctx, op, ctx.t(op.outputs[0]).name, ctx.t(op.inputs[slots.w[1]]).shape[0],
                 int(o.get("fused_activation_function", ACT_TANH)))
    if not time_major:
        x = cell.emit("Transpose", [x], "time_major", {"perm": [1, 0, 2]})
    return cell, cell.emit("Reshape", [x], "rows", {"shape": [steps * batch, shape[2]]}), steps, batch, time_major


def _lstm_direction(cell: _Cell, rows: str, steps: int, batch: int, slots: _LstmSlots, reverse: bool,
                    tag: str) -> list[str]:
    """Hidden states h_t (indexed by input time) of one direction."""
    o = cell.op.options
    gates = [g for g in range(4) if not (g == 0 and not cell.given(slots.w[0]))]      # CIFG: no input gate
    xw = _input_part(cell, rows, steps, batch, slots, gates, tag)
    rw = cell.const(np.concatenate([cell.real(slots.r[g]) for g in gates]), f"{tag}recurrent_weights")
    h = _state(cell, slots.h0, batch, _n_out(cell.ctx, cell.op, slots))
    c = _state(cell, slots.c0, batch, cell.n_cell)
    outs: list[str] = [""] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        h, c = _step(cell, xw, rw, h, c, t, gates, batch, slots, f"{tag}t{t}", float(o.get("cell_clip", 0.0)),
                     float(o.get("proj_clip", 0.0)))
        outs[t] = h
    return outs


def _input_part(cell: _Cell, rows: str, steps: int, batch: int, slots: _LstmSlots, gates: list[int],
                tag: str) -> str:
    """x W' + b for every step and gate at once, laid out [steps, batch, gates * n_cell]."""
    w = cell.const(np.concatenate([cell.real(slots.w[g]) for g in gates]), f"{tag}input_weights")
    b = np.concatenate([cell.real(slots.b[g]) if cell.given(slots.b[g]) else np.zeros(cell.n_cell, np.float32)
                        for g in gates])
    fc = cell.emit("FullyConnected", [rows, w, cell.const(b, f"{tag}bias")], f"{tag}input_part")
    return cell.emit("Reshape", [fc], f"{tag}input_steps", {"shape": [steps, batch, len(gates) * cell.n_cell]})


def _state(cell: _Cell, k: int, batch: int, width: int) -> str:
    """The initial state: a constant, or zeros for LiteRT's (zero-initialised) variable tensor."""
    idx = cell.op.inputs[k] if cell.given(k) else -1
    if idx >= 0 and cell.ctx.is_const(idx):
        return cell.const(np.broadcast_to(cell.ctx.real_const(idx), (batch, width)), f"state{k}")
    if idx >= 0 and idx in cell.ctx.names:
        return cell.ctx.names[idx]
    return cell.const(np.zeros((batch, width), np.float32), f"state{k}")


def _step(cell: _Cell, xw: str, rw: str, h: str, c: str, t: int, gates: list[int], batch: int,
          slots: _LstmSlots, tag: str, cell_clip: float, proj_clip: float) -> tuple[str, str]:
    n = cell.n_cell
    width = len(gates) * n
    xt = cell.emit("StridedSlice", [xw], f"{tag}.x",
                   {"ranges": [[t, t + 1, 1], [0, batch, 1], [0, width, 1]], "shrink_axes": 1})
    pre = cell.emit("ElementWiseAdd", [xt, cell.emit("FullyConnected", [h, rw], f"{tag}.recurrent")], f"{tag}.pre")
    parts = dict(zip(gates, cell.ctx.emit("Split", [pre], None, {"axis": 1, "split_index": [n * k for k in
                                          range(1, len(gates))]}, name=f"{cell.base}.{tag}.gates")))
    f = cell.emit("Sigmoid", [_peephole(cell, parts[1], c, slots.peep[1], tag)], f"{tag}.forget")
    if 0 in parts:
        i = cell.emit("Sigmoid", [_peephole(cell, parts[0], c, slots.peep[0], tag)], f"{tag}.input")
    else:                                           # CIFG: the input gate is 1 - forget gate
        i = cell.emit("ElementWiseSubtract", [cell.const(np.ones(1), f"{tag}.one"), f], f"{tag}.input")
    g = cell.activation(parts[2], f"{tag}.candidate")
    c = cell.emit("ElementWiseAdd", [cell.emit("ElementWiseMultiply", [f, c], f"{tag}.keep"),
                                     cell.emit("ElementWiseMultiply", [i, g], f"{tag}.write")], f"{tag}.cell")
    c = cell.clip(c, cell_clip, f"{tag}.cell_clipped")
    o = cell.emit("Sigmoid", [_peephole(cell, parts[3], c, slots.peep[2], tag)], f"{tag}.output_gate")
    h = cell.emit("ElementWiseMultiply", [o, cell.activation(c, f"{tag}.cell_act")], f"{tag}.hidden")
    if cell.given(slots.proj_w):
        proj = [h, cell.const(cell.real(slots.proj_w), f"{tag}.projection")]
        if cell.given(slots.proj_b):
            proj.append(cell.const(cell.real(slots.proj_b), f"{tag}.projection_bias"))
        h = cell.clip(cell.emit("FullyConnected", proj, f"{tag}.projected"), proj_clip, f"{tag}.proj_clipped")
    return h, c


def _peephole(cell: _Cell, pre: str, c: str, k: int, tag: str) -> str:
    """pre + c * p with the peephole at input ``k``, or pre when the model has none."""
    if not cell.given(k):
        return pre
    p = cell.const(cell.real(k), f"peephole{k}")
    return cell.emit("ElementWiseAdd", [pre, cell.emit("ElementWiseMultiply", [c, p], f"{tag}.peep{k}")],
                     f"{tag}.peeped{k}")


def _output(lstm: _Cell, outs: list[str], steps: int, batch: int, n_out: int, time_major: bool,
            k: int = 0) -> None:
    """Stack the per-step hidden states along the time axis of the output layout (op output ``k``)."""
    axis = 0 if time_major else 1
    shape = [1, batch, n_out] if time_major else [batch, 1, n_out]
    parts = [lstm.emit("Reshape", [h], f"out{k}.t{t}", {"shape": shape}) for t, h in enumerate(outs)]
    if steps == 1:
        lstm.ctx.emit_out(lstm.op, "Reshape", parts, {"shape": shape}, act=0, k=k)
        return
    lstm.ctx.emit_out(lstm.op, "Concat", parts, {"axis": axis}, act=0, k=k)


# ---- basic RNN cells ------------------------------------------------------------------------------------------------
@tflite_op("RNN", "UNIDIRECTIONAL_SEQUENCE_RNN")
def rnn(ctx: TfliteContext, op: TflOp) -> None:
    """h_t = act(x_t W' + h_{t-1} R' + b): one step (RNN, input [batch, n_in]) or every step of a sequence.

    Inputs: x, W [units, n_in], R [units, units], b [units], the hidden-state variable (zero at start).
    """
    cell, rows, steps, batch, time_major = _rnn_input(ctx, op, op.name == "UNIDIRECTIONAL_SEQUENCE_RNN")
    outs = _rnn_direction(cell, rows, steps, batch, (1, 2, 3, 4), reverse=False, tag="")
    if op.name == "RNN":
        ctx.emit_out(op, "Reshape", [outs[-1]], {"shape": [batch, cell.n_cell]}, act=0)
        return
    _output(cell, outs, steps, batch, cell.n_cell, time_major)


@tflite_op("BIDIRECTIONAL_SEQUENCE_RNN")
def bidirectional_sequence_rnn(ctx: TfliteContext, op: TflOp) -> None:
    """A forward RNN (inputs 1-4) and one reading the sequence backwards (inputs 5-8).

    The backward output at time t is the state after reading steps T-1 .. t, so it stays aligned with
    the input; merge_outputs concatenates both on the feature axis, otherwise they are two outputs.
    """
    if any(len(op.inputs) > k and op.inputs[k] >= 0 for k in (9, 10, 11)):
        raise _fail(op, ctx, "the auxiliary input is not supported; export without it")
    cell, rows, steps, batch, time_major = _rnn_input(ctx, op, True)
    fw = _rnn_direction(cell, rows, steps, batch, (1, 2, 3, 4), reverse=False, tag="fw.")
    bw = _rnn_direction(cell, rows, steps, batch, (5, 6, 7, 8), reverse=True, tag="bw.")
    units = cell.n_cell
    if op.options.get("merge_outputs", False):
        both = [cell.emit("Concat", [f, b], f"t{t}.merged", {"axis": 1}) for t, (f, b) in enumerate(zip(fw, bw))]
        _output(cell, both, steps, batch, 2 * units, time_major)
        return
    _output(cell, fw, steps, batch, units, time_major)
    _output(cell, bw, steps, batch, units, time_major, k=1)


def _rnn_input(ctx: TfliteContext, op: TflOp, seq: bool) -> tuple[_Cell, str, int, int, bool]:
    """The cell helper and the input as time-major rows [steps * batch, n_in]."""
    if ctx.quantized_io(op):
        raise _fail(op, ctx, "integer RNNs are not supported; convert the float or dynamic-range model")
    x = ctx.tensor(op.inputs[0])
    shape = list(ctx.graph.tensors[x].shape)
    if len(shape) != (3 if seq else 2):
        raise _fail(op, ctx, f"unexpected input shape {shape}; the model is malformed, re-export it")
    time_major = seq and bool(op.options.get("time_major", False))
    steps, batch = (1, shape[0]) if not seq else (shape[0], shape[1]) if time_major else (shape[1], shape[0])
    cell = _Cell(ctx, op, ctx.t(op.outputs[0]).name, ctx.t(op.inputs[1]).shape[0],
                 int(op.options.get("fused_activation_function", 0)))
    if seq and not time_major:
        x = cell.emit("Transpose", [x], "time_major", {"perm": [1, 0, 2]})
    return cell, cell.emit("Reshape", [x], "rows", {"shape": [steps * batch, shape[-1]]}), steps, batch, time_major


def _rnn_direction(cell: _Cell, rows: str, steps: int, batch: int, slots: tuple[int, int, int, int],
                   reverse: bool, tag: str) -> list[str]:
    """Hidden states h_t (indexed by input time) of one direction; the input part is one FullyConnected."""
    w, r, b, h0 = slots
    units = cell.n_cell
    bias = [cell.const(cell.real(b), f"{tag}bias")] if cell.given(b) else []
    xw = cell.emit("FullyConnected", [rows, cell.const(cell.real(w), f"{tag}input_weights")] + bias,
                   f"{tag}input_part")
    xw = cell.emit("Reshape", [xw], f"{tag}input_steps", {"shape": [steps, batch, units]})
    rw = cell.const(cell.real(r), f"{tag}recurrent_weights")
    h = _state(cell, h0, batch, units)
    outs: list[str] = [""] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        xt = cell.emit("StridedSlice", [xw], f"{tag}t{t}.x",
                       {"ranges": [[t, t + 1, 1], [0, batch, 1], [0, units, 1]], "shrink_axes": 1})
        pre = cell.emit("ElementWiseAdd", [xt, cell.emit("FullyConnected", [h, rw], f"{tag}t{t}.recurrent")],
                        f"{tag}t{t}.pre")
        h = outs[t] = cell.activation(pre, f"{tag}t{t}.hidden")
    return outs


@tflite_op("SVDF")
def svdf(ctx: TfliteContext, op: TflOp) -> None:
    """The first invocation of TFLite's SVDF (its state, a variable, starts at zero; a DLC is stateless).

    The kernel shifts the [batch, filters, memory] state left, writes x W_f' into the newest column,
    takes the dot product of every filter's memory with its time weights, sums groups of ``rank``
    filters per unit, adds the bias and applies the activation.  With a zero state only the newest
    column counts: out = act(sum_rank((x W_f') * w_time[:, -1]) + b).
    """
    if ctx.quantized_io(op):
        raise _fail(op, ctx, "integer SVDF is not supported; convert the float or dynamic-range model")
    if len(op.inputs) > 4 and op.inputs[4] >= 0 and ctx.is_const(op.inputs[4]) and \
            np.any(ctx.real_const(op.inputs[4])):
        raise _fail(op, ctx, "a non-zero constant initial state is not supported")
    x = ctx.tensor(op.inputs[0])
    batch = ctx.graph.tensors[x].shape[0]
    rank = int(op.options.get("rank", 1))
    cell = _Cell(ctx, op, ctx.t(op.outputs[0]).name, 0, int(op.options.get("fused_activation_function", 0)))
    feature, time = cell.real(1), cell.real(2)
    filters = feature.shape[0]
    if filters % rank:
        raise _fail(op, ctx, f"{filters} filters are not a multiple of rank {rank}; the model is malformed")
    y = cell.emit("FullyConnected", [x, cell.const(feature, "feature_weights")], "features")
    y = cell.emit("ElementWiseMultiply", [y, cell.const(time[:, -1], "newest_time_weights")], "filtered")
    y = cell.emit("Reshape", [y], "by_unit", {"shape": [batch, filters // rank, rank]})
    y = cell.emit("ReduceSum", [y], "units", {"axes": [2], "keep_dims": False})
    if cell.given(3):
        y = cell.emit("ElementWiseAdd", [y, cell.const(cell.real(3), "bias")], "biased")
    y = cell.activation(y, "activated")
    ctx.emit_out(op, "Reshape", [y], {"shape": [batch, filters // rank]}, act=0)

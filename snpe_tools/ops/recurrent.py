"""QNN ``Lstm``: one LSTM layer (a single time step, or a whole sequence), numpy reference.

Qualcomm's converter unrolls an ONNX LSTM into one ``Lstm`` op per time step, each fed one
``[batch, input_size]`` slice and the previous step's states, with every unused optional input
wired to a NULL tensor (``None`` here).  Input order (QNN ``Lstm``; the real 2.25 file
``lstm.qairt225`` fills exactly 0-11, 16, 17 and 21)::

     0 x  [batch, input]; rank 3: [batch, seq, input] ([seq, batch, input] with time_major)
     1 input_to_forget_weights   [units, input]     12 input_layer_norm_weights   [units]   (optional)
     2 input_to_cell_weights     [units, input]     13 forget_layer_norm_weights  [units]   (optional)
     3 input_to_output_weights   [units, input]     14 cell_layer_norm_weights    [units]   (optional)
     4 recurrent_to_forget_w.    [units, output]    15 output_layer_norm_weights  [units]   (optional)
     5 recurrent_to_cell_w.      [units, output]    16 input_to_input_weights     [units, input]  (absent: CIFG)
     6 recurrent_to_output_w.    [units, output]    17 recurrent_to_input_weights [units, output] (absent: CIFG)
     7 forget_gate_bias          [units]            18 cell_to_input_weights      [units]   (peephole)
     8 cell_gate_bias            [units]            19 cell_to_forget_weights     [units]   (peephole)
     9 output_gate_bias          [units]            20 cell_to_output_weights     [units]   (peephole)
    10 hidden_state_in h_0       [batch, output]    21 input_gate_bias            [units]
    11 cell_state_in   c_0       [batch, units]     22 projection_weights         [output, units] (optional)
                                                    23 projection_bias            [output]  (optional)
                                                    24 reset (BOOL, optional, see below)

Weights are ``[units, input]`` as in ONNX (``x @ W.T``); each gate's bias is ONNX's ``Wb + Rb``.  Absent
states (10/11) start at zero.  Outputs: 0 ``output`` (h_t; for a rank-3 input the sequence of h_t in the
input's layout), 1 ``cell_state_out`` c_t ``[batch, units]``, 2 ``hidden_state_out`` h_t
``[batch, output]``.  Optional outputs 3-6 are the input/forget/cell/output gate activations of the
last step and 7 the hidden state before projection, all ``[batch, units]`` (our reading of the QNN
quantizer, which takes the gate qscales from outputs 3-6; not checked against a QNN backend).

Per step (sigma = sigmoid; LN = layer norm over the units, eps 1e-8 as TFLite, times its weights;
LN and the peepholes only when given)::

    f = sigma(LN(x Wf' + h Rf' + Pf c) + bf)     i = sigma(LN(x Wi' + h Ri' + Pi c) + bi), CIFG: 1 - f
    g = tanh(LN(x Wc' + h Rc') + bc)             c' = clip(f c + i g, cell_clip_threshold)
    o = sigma(LN(x Wo' + h Ro' + Po c') + bo)    m = o tanh(c')
    h' = clip(m Wproj' + bproj, output_clip_threshold) with a projection, else m   (clips only when > 0)

``direction`` REVERSE (1) walks a rank-3 sequence from its last step (outputs stay in input time
order).  The ``*_qscale`` / ``hidden_state_offset`` params only matter to fixed-point backends.
The IR-only attributes the 2.25 converter adds (``hidden_size``, ``h_0_input_name``,
``c_0_input_name``, ``reset_state_at_time_step_0``) change nothing here: the reference runtime is
stateless and every execution starts from inputs 10/11, so the ``reset`` input is accepted and ignored.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

# input indices (QNN Lstm)
X = 0
W_F, W_C, W_O = 1, 2, 3
R_F, R_C, R_O = 4, 5, 6
B_F, B_C, B_O = 7, 8, 9
H_IN, C_IN = 10, 11
LN_I, LN_F, LN_C, LN_O = 12, 13, 14, 15
W_I, R_I = 16, 17
P_I, P_F, P_O = 18, 19, 20
B_I = 21
PROJ_W, PROJ_B = 22, 23
RESET = 24
N_INPUTS = 24            # as Qualcomm's converter writes it; a 25th (reset) is accepted
N_OUTPUTS_MAX = 8

FORWARD, REVERSE = 0, 1
LAYER_NORM_EPS = 1e-8


def _given(v) -> bool:
    """An optional input is absent when it is "" in the IR (None here) or a NULL tensor (dims [0]).

    Works on arrays (``compute``) and on IR tensors (``infer``).
    """
    return v is not None and int(np.prod(v.shape)) > 0


@register
class Lstm(OpDef):
    """QNN Lstm (see module doc for inputs, outputs and equations)."""

    type = "Lstm"
    params = {
        "direction": Param(qd.UINT_32, default=FORWARD),
        "cell_clip_threshold": Param(qd.FLOAT_32, default=0.0),
        "output_clip_threshold": Param(qd.FLOAT_32, default=0.0),
        "time_major": Param(qd.BOOL_8, default=False),
        "input_gate_qscale": Param(qd.FLOAT_32, default=0.0),
        "forget_gate_qscale": Param(qd.FLOAT_32, default=0.0),
        "cell_gate_qscale": Param(qd.FLOAT_32, default=0.0),
        "output_gate_qscale": Param(qd.FLOAT_32, default=0.0),
        "hidden_state_offset": Param(qd.INT_32, default=0),
        "hidden_state_qscale": Param(qd.FLOAT_32, default=0.0),
        # IR-internal attributes of Qualcomm's converter (DLC attribute flag 2, never QNN params)
        "hidden_size": Param(qd.UINT_32, default=None, internal=True, ir_attr=True),
        "h_0_input_name": Param(qd.UNDEFINED, default=None, internal=True, ir_attr=True),
        "c_0_input_name": Param(qd.UNDEFINED, default=None, internal=True, ir_attr=True),
        "reset_state_at_time_step_0": Param(qd.BOOL_8, default=None, internal=True, ir_attr=True),
        # known to the 2.25 IR (its reader reports them as ""), not written by its converter: accepted so
        # that files which do carry them read
        "sequence_continuation_name": Param(qd.UNDEFINED, default=None, internal=True, ir_attr=True),
        "x_static_name": Param(qd.UNDEFINED, default=None, internal=True, ir_attr=True),
    }

    def num_outputs(self, params, n_inputs):
        return 3

    @staticmethod
    def _dims(op, ins):
        """(batch, seq or None, input, units, output) from the input shapes, validated."""
        x = ins[X]
        if x is None or len(x.shape) not in (2, 3):
            raise ValueError(f"Lstm {op.name}: input 0 must be rank 2 or 3")
        if not 12 <= len(ins) <= N_INPUTS + 1:
            raise ValueError(f"Lstm {op.name}: takes 12 to {N_INPUTS + 1} inputs, got {len(ins)}")
        for i in (W_F, W_C, W_O, R_F, R_C, R_O, B_F, B_C, B_O):
            if not _given(ins[i]):
                raise ValueError(f"Lstm {op.name}: input {i} is mandatory")
        if len(x.shape) == 2:
            batch, seq, n_in = x.shape[0], None, x.shape[1]
        elif op.params["time_major"]:
            seq, batch, n_in = x.shape
        else:
            batch, seq, n_in = x.shape
        units, w_in = ins[W_F].shape
        n_out = ins[R_F].shape[1]
        if w_in != n_in:
            raise ValueError(f"Lstm {op.name}: weights take {w_in} input features, x has {n_in}")
        if (_given(ins[C_IN]) and tuple(ins[C_IN].shape) != (batch, units)) or \
                (_given(ins[H_IN]) and tuple(ins[H_IN].shape) != (batch, n_out)):
            raise ValueError(f"Lstm {op.name}: states must be [batch, units] / [batch, output] = "
                             f"{[batch, units]} / {[batch, n_out]}")
        return batch, seq, n_in, units, n_out

    def infer(self, op, ins):
        batch, seq, _, units, n_out = self._dims(op, ins)
        n = len(op.outputs)
        if not 3 <= n <= N_OUTPUTS_MAX:
            raise ValueError(f"Lstm {op.name}: has 3 to {N_OUTPUTS_MAX} outputs, got {n}")
        dt = ins[X].dtype
        if seq is None:
            y = (batch, n_out)
        else:
            y = (seq, batch, n_out) if op.params["time_major"] else (batch, seq, n_out)
        return [(y, dt), ((batch, units), dt), ((batch, n_out), dt)] + [((batch, units), dt)] * (n - 3)

    def compute(self, op, xs):
        xs = list(xs) + [None] * (N_INPUTS + 1 - len(xs))
        g = {i: (np.asarray(v, np.float64) if _given(v) else None) for i, v in enumerate(xs)}
        p = op.params
        x = g[X]
        if x.ndim == 2:
            steps = x[None]                                     # [1, batch, input]
        else:
            steps = x if p["time_major"] else x.transpose(1, 0, 2)
        order = range(steps.shape[0])
        if p["direction"] == REVERSE:
            order = reversed(order)
        elif p["direction"] != FORWARD:
            raise ValueError(f"Lstm {op.name}: unknown direction {p['direction']}")
        cell_clip, out_clip = p["cell_clip_threshold"], p["output_clip_threshold"]

        def gate(w, r, b, peep, ln, xt, h, c):
            a = xt @ g[w].T + h @ g[r].T
            if peep is not None and g[peep] is not None:
                a = a + g[peep] * c
            if g[ln] is not None:
                mu = a.mean(axis=-1, keepdims=True)
                a = (a - mu) / np.sqrt(a.var(axis=-1, keepdims=True) + LAYER_NORM_EPS) * g[ln]
            return a if g[b] is None else a + g[b]

        def sigmoid(a):
            return 1.0 / (1.0 + np.exp(-a))

        batch = steps.shape[1]
        h = g[H_IN] if g[H_IN] is not None else np.zeros((batch, g[R_F].shape[1]))
        c = g[C_IN] if g[C_IN] is not None else np.zeros((batch, g[W_F].shape[0]))
        ys = [None] * steps.shape[0]
        for t in order:
            xt = steps[t]
            f = sigmoid(gate(W_F, R_F, B_F, P_F, LN_F, xt, h, c))
            if g[W_I] is None:                                  # CIFG: coupled input and forget gates
                i = 1.0 - f
            else:
                i = sigmoid(gate(W_I, R_I, B_I, P_I, LN_I, xt, h, c))
            gg = np.tanh(gate(W_C, R_C, B_C, None, LN_C, xt, h, c))
            c = f * c + i * gg
            if cell_clip > 0:
                c = np.clip(c, -cell_clip, cell_clip)
            o = sigmoid(gate(W_O, R_O, B_O, P_O, LN_O, xt, h, c))
            m = o * np.tanh(c)
            if g[PROJ_W] is not None:
                h = m @ g[PROJ_W].T
                if g[PROJ_B] is not None:
                    h = h + g[PROJ_B]
                if out_clip > 0:
                    h = np.clip(h, -out_clip, out_clip)
            else:
                h = m
            ys[t] = h
        dt = xs[X].dtype
        if x.ndim == 2:
            y = h
        else:
            y = np.stack(ys, axis=0 if p["time_major"] else 1)
        outs = [y, c, h, i, f, gg, o, m][:len(op.outputs)]
        return [np.ascontiguousarray(v).astype(dt, copy=False) for v in outs]

    def macs(self, op, ins, outs):
        batch, seq, n_in, units, n_out = self._dims(op, ins)
        gates = 4 if len(ins) > W_I and _given(ins[W_I]) else 3
        per_step = batch * (gates * units * (n_in + n_out))
        if len(ins) > PROJ_W and _given(ins[PROJ_W]):
            per_step += batch * units * n_out
        return per_step * (seq or 1)

"""aten::lstm / aten::gru / aten::rnn_tanh / aten::rnn_relu (nn.LSTM, nn.GRU, nn.RNN) unrolled
into QNN ops over the static sequence length.

QNN also defines a native ``Lstm`` op, but its parameter set and gate conventions are not verified
in this project, so the recurrence is decomposed exactly instead (the faithful choice; every op
used below has a verified reference kernel):

* one ``FullyConnected`` per layer computes the input projection of every time step and both
  directions at once (``[T, B, I] -> [T, B, dirs * gates * H]``), with every bias that can be
  folded there (``b_ih + b_hh``; for GRU's new gate only ``b_in``);
* per step and direction: ``StridedSlice`` picks the step's projection (time axis shrunk),
  ``FullyConnected(h, W_hh)`` adds the recurrent term (skipped on the first step when the initial
  state is zero), ``Split`` separates the gates (PyTorch order: LSTM i,f,g,o; GRU r,z,n), then
  ``Sigmoid`` / ``Tanh`` / ``Relu`` and element-wise arithmetic:

  - LSTM: ``c = f*c + i*g``, ``h = o*tanh(c)`` (then ``h = W_hr h`` when ``proj_size > 0``);
  - GRU: ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h = n + z*(h - n)`` (= (1-z)*n + z*h);
  - RNN: ``h = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)``;

* a layer's outputs are stacked with one ``Concat`` ([B, T*dirs*H]) and one ``Reshape``
  ([B, T, dirs*H]), then transposed to time-major unless ``batch_first``; ``h_n`` / ``c_n`` are
  assembled the same way into ``[layers*dirs, B, H]``.

Supported: the ``.input`` overloads (dense, padded input; not ``PackedSequence``), any
``num_layers``, ``bidirectional``, ``batch_first``, with or without biases, LSTM ``proj_size``,
initial state given (run-time tensor) or constant (zeros are exploited).  Inter-layer dropout
with the module in training mode is rejected; weights must be constants (module parameters).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import Ref, TorchContext
from ..registry import aten_op

_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


class _Emitter:
    """Small helper naming every temporary after the RNN node."""

    def __init__(self, ctx: TorchContext, node) -> None:
        self.ctx = ctx
        self.node = node
        self.base = ctx.out_name(node)

    def tmp(self, type_: str, inputs: list, tag: str, params: dict | None = None) -> Ref:
        return self.ctx.op_tmp(type_, inputs, f"{self.base}.{tag}", params)

    def const(self, tag: str, arr: np.ndarray) -> Ref:
        return Ref(self.ctx.add_const(f"{self.base}.{tag}", np.ascontiguousarray(arr, dtype=np.float32)))

    def split(self, x: Ref, sizes: list[int], tag: str) -> list[Ref]:
        """Split the last axis of a rank-2 tensor into pieces of ``sizes``."""
        idx = list(np.cumsum(sizes)[:-1].astype(int))
        outs = [self.ctx.graph.unique_name(f"{self.base}.{tag}_{i}") for i in range(len(sizes))]
        self.ctx.emit("Split", [x.name], outs, {"axis": 1, "split_index": idx}, name=outs[0])
        return [Ref(o) for o in outs]

    def slice_rows(self, x: Ref, axis: int, index: int, lo: int, hi: int, tag: str) -> Ref:
        """Rank-3 ``x[..., index (shrunk) on axis, ..., lo:hi]``."""
        shape = self.ctx.shape(x)
        ranges = np.array([[0, d, 1] for d in shape], dtype=np.int32)
        ranges[axis] = [index, index + 1, 1]
        ranges[-1] = [lo, hi, 1]
        return self.tmp("StridedSlice", [x], tag, {"ranges": ranges, "shrink_axes": 1 << axis})


def _f32(v, what: str) -> np.ndarray:
    if isinstance(v, Ref):
        raise ConversionError(f"the {what} is computed at run time; RNN weights must be constants "
                              "(module parameters)")
    return np.asarray(v, dtype=np.float32)


def _initial(em: _Emitter, hx, k: int, n_state: int, batch: int, size: int, tag: str):
    """State k of ``hx`` ([n_state, B, size]) as a [B, size] value: a Ref, or None for zeros."""
    shape = tuple(em.ctx.shape(hx))
    if shape != (n_state, batch, size):
        raise ConversionError(f"initial {tag} has shape {list(shape)}, expected {[n_state, batch, size]}")
    if isinstance(hx, Ref):
        return em.slice_rows(hx, 0, k, 0, size, f"{tag}0_{k}")
    arr = np.asarray(hx, dtype=np.float32)[k]
    if not np.any(arr):
        return None
    return em.const(f"{tag}0_{k}", arr)


def _stack_states(em: _Emitter, states: list[Ref], batch: int, size: int, out: str) -> Ref:
    """[B, size] x n -> [n, B, size] named ``out``."""
    ctx = em.ctx
    n = len(states)
    if n == 1:
        ctx.emit("Reshape", [states[0].name], [out], {"shape": [1, batch, size]}, name=out)
        return Ref(out)
    cat = em.tmp("Concat", states, f"{out}.cat", {"axis": 1})
    bsh = em.tmp("Reshape", [cat], f"{out}.bsh", {"shape": [batch, n, size]})
    ctx.emit("Transpose", [bsh.name], [out], {"perm": [1, 0, 2]}, name=out)
    return Ref(out)


def _rnn(ctx: TorchContext, node, mode: str):
    a = node.args
    schema = str(node.schema())
    if ".input(" not in schema:
        raise ConversionError("packed sequences (nn.utils.rnn.PackedSequence) are not supported; "
                              "pass a padded [T, B, F] / [B, T, F] tensor")
    x, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = a
    num_layers, dirs = int(num_layers), 2 if bidirectional else 1
    if train and float(dropout) > 0 and num_layers > 1:
        raise ConversionError(f"inter-layer dropout {float(dropout)} in training mode; call model.eval() "
                              "before tracing")
    if not isinstance(x, Ref):
        raise ConversionError("the RNN input is a constant; nothing to convert")
    if ctx.rank(x) != 3:
        raise ConversionError(f"rank-{ctx.rank(x)} RNN input is not supported (expected [T, B, F] or [B, T, F])")
    if np.dtype(ctx.dtype(x)) != np.float32:
        raise ConversionError(f"{np.dtype(ctx.dtype(x))} RNN input is not supported (float32 only)")
    if not isinstance(params, (list, tuple)):
        raise ConversionError("the RNN weights are not a constant list; weights must be module parameters")
    em = _Emitter(ctx, node)
    n_gates = _GATES[mode]
    per = 4 if has_biases else 2
    n_params = len(params)
    if n_params == num_layers * dirs * (per + 1) and mode == "lstm":
        has_proj = True
        per += 1
    elif n_params == num_layers * dirs * per:
        has_proj = False
    else:
        raise ConversionError(f"{n_params} RNN weight tensors do not match num_layers={num_layers}, "
                              f"bidirectional={bool(bidirectional)}, bias={bool(has_biases)}")
    time_axis = 1 if batch_first else 0
    seq, batch = ctx.shape(x)[time_axis], ctx.shape(x)[1 - time_axis]
    if seq < 1:
        raise ConversionError("an empty sequence (length 0) cannot be converted")
    w0_hh = _f32(params[1], "weight_hh_l0")
    hidden = w0_hh.shape[0] // n_gates
    out_size = _f32(params[per - 1], "weight_hr_l0").shape[0] if has_proj else hidden   # h size

    if mode == "lstm":
        if not isinstance(hx, (list, tuple)) or len(hx) != 2:
            raise ConversionError("aten::lstm expects hx = [h0, c0]")
        h0_all, c0_all = hx
    else:
        h0_all, c0_all = hx, None

    layer_in = x          # [T, B, I] (time_axis 0) or [B, T, I] (time_axis 1)
    in_axis = time_axis
    h_final, c_final = [], []
    for layer in range(num_layers):
        w_ih, w_hh, b_fold, b_hh_keep, w_hr = [], [], [], [], []
        for d in range(dirs):
            p = params[(layer * dirs + d) * per:(layer * dirs + d + 1) * per]
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            wi, wh = _f32(p[0], f"weight_ih{sfx}"), _f32(p[1], f"weight_hh{sfx}")
            in_size = ctx.shape(layer_in)[-1]
            if wi.shape != (n_gates * hidden, in_size) or wh.shape != (n_gates * hidden, out_size):
                raise ConversionError(f"weight_ih{sfx} {list(wi.shape)} / weight_hh{sfx} {list(wh.shape)} do not "
                                      f"match input size {in_size}, hidden size {hidden}")
            bi = _f32(p[2], f"bias_ih{sfx}") if has_biases else np.zeros(n_gates * hidden, np.float32)
            bh = _f32(p[3], f"bias_hh{sfx}") if has_biases else np.zeros(n_gates * hidden, np.float32)
            if mode == "gru":   # b_hn stays inside r * (W_hn h + b_hn)
                fold = bi.copy()
                fold[:2 * hidden] += bh[:2 * hidden]
                keep = np.zeros_like(bh)
                keep[2 * hidden:] = bh[2 * hidden:]
            else:
                fold, keep = bi + bh, None
            w_ih.append(wi)
            w_hh.append(wh)
            b_fold.append(fold)
            b_hh_keep.append(keep)
            w_hr.append(_f32(p[per - 1], f"weight_hr{sfx}") if has_proj else None)
        gh = n_gates * hidden
        # input projection of every step and direction at once: [.., dirs * gh]
        proj = em.tmp("FullyConnected", [layer_in, em.const(f"l{layer}.w_ih", np.concatenate(w_ih, 0)),
                                         em.const(f"l{layer}.b", np.concatenate(b_fold, 0))],
                      f"l{layer}.xproj", {"keep_dims": True})
        step_out: list[list[Ref]] = [[None] * dirs for _ in range(seq)]   # type: ignore[list-item]
        for d in range(dirs):
            k = layer * dirs + d
            tag = f"l{layer}{'r' if d else ''}"
            h = _initial(em, h0_all, k, num_layers * dirs, batch, out_size, "h")
            c = _initial(em, c0_all, k, num_layers * dirs, batch, hidden, "c") if mode == "lstm" else None
            whh = em.const(f"{tag}.w_hh", w_hh[d])
            bkeep = em.const(f"{tag}.b_hn", b_hh_keep[d]) if mode == "gru" else None
            whr = em.const(f"{tag}.w_hr", w_hr[d]) if has_proj else None
            order = range(seq - 1, -1, -1) if d else range(seq)
            for t in order:
                st = f"{tag}.t{t}"
                xp = em.slice_rows(proj, in_axis, t, d * gh, (d + 1) * gh, f"{st}.x")
                if mode == "gru":
                    h, _ = _gru_step(em, xp, h, whh, bkeep, b_hh_keep[d], hidden, st)
                elif mode == "lstm":
                    h, c = _lstm_step(em, xp, h, c, whh, whr, hidden, st)
                else:
                    pre = xp if h is None else em.tmp("ElementWiseAdd", [xp, em.tmp(
                        "FullyConnected", [h, whh], f"{st}.hh")], f"{st}.pre")
                    h = em.tmp("Tanh" if mode == "rnn_tanh" else "Relu", [pre], f"{st}.h")
                step_out[t][d] = h
            h_final.append(h)
            if mode == "lstm":
                c_final.append(c)
        # stack the layer's outputs: [B, T * dirs * H] -> [B, T, dirs * H] (batch-major)
        flat = [s for row in step_out for s in row]
        last = layer == num_layers - 1
        width = dirs * out_size
        if last and batch_first:
            out_name = ctx.out_name(node, 0)
        else:
            out_name = ctx.graph.unique_name(f"{em.base}.l{layer}.out")
        if len(flat) == 1:
            ctx.emit("Reshape", [flat[0].name], [out_name], {"shape": [batch, 1, width]}, name=out_name)
        else:
            cat = em.tmp("Concat", flat, f"l{layer}.cat", {"axis": 1})
            ctx.emit("Reshape", [cat.name], [out_name], {"shape": [batch, seq, width]}, name=out_name)
        layer_in, in_axis = Ref(out_name), 1
    output = layer_in
    if not batch_first:
        output = ctx.op("Transpose", [layer_in], node, {"perm": [1, 0, 2]}, idx=0)
    results = [output, _stack_states(em, h_final, batch, out_size, ctx.out_name(node, 1))]
    if mode == "lstm":
        results.append(_stack_states(em, c_final, batch, hidden, ctx.out_name(node, 2)))
    return results


def _lstm_step(em: _Emitter, xp: Ref, h, c, whh: Ref, whr, hidden: int, st: str):
    gates = xp if h is None else em.tmp("ElementWiseAdd", [xp, em.tmp("FullyConnected", [h, whh], f"{st}.hh")],
                                        f"{st}.gates")
    i, f, g, o = em.split(gates, [hidden] * 4, f"{st}.ifgo")
    i = em.tmp("Sigmoid", [i], f"{st}.i")
    f = em.tmp("Sigmoid", [f], f"{st}.f")
    g = em.tmp("Tanh", [g], f"{st}.g")
    o = em.tmp("Sigmoid", [o], f"{st}.o")
    ig = em.tmp("ElementWiseMultiply", [i, g], f"{st}.ig")
    if c is None:
        c = ig
    else:
        fc = em.tmp("ElementWiseMultiply", [f, c], f"{st}.fc")
        em.ctx.graph.source_names[fc.name] = f"{em.base}.{st}"   # the f*c product takes the step's name in the DLC
        c = em.tmp("ElementWiseAdd", [fc, ig], f"{st}.c")
    h = em.tmp("ElementWiseMultiply", [o, em.tmp("Tanh", [c], f"{st}.tc")], f"{st}.h")
    if whr is not None:
        h = em.tmp("FullyConnected", [h, whr], f"{st}.hr")
    return h, c


def _gru_step(em: _Emitter, xp: Ref, h, whh: Ref, bkeep: Ref, bkeep_arr: np.ndarray, hidden: int, st: str):
    x_rz, x_n = em.split(xp, [2 * hidden, hidden], f"{st}.xs")
    if h is None:   # zero state: W_hh h + b_hh_keep == [0, 0, b_hn]
        rz = em.tmp("Sigmoid", [x_rz], f"{st}.rz")
        r, z = em.split(rz, [hidden, hidden], f"{st}.rzs")
        b_hn = bkeep_arr[2 * hidden:]
        pre_n = x_n if not np.any(b_hn) else em.tmp(
            "ElementWiseAdd", [x_n, em.tmp("ElementWiseMultiply", [r, em.const(f"{st}.b_hn", b_hn)],
                                           f"{st}.rhn")], f"{st}.pren")
        n = em.tmp("Tanh", [pre_n], f"{st}.n")
        # h = (1 - z) * n + z * 0 = n - z * n
        h = em.tmp("ElementWiseSubtract", [n, em.tmp("ElementWiseMultiply", [z, n], f"{st}.zn")], f"{st}.h")
        return h, None
    hp = em.tmp("FullyConnected", [h, whh, bkeep], f"{st}.hh")
    h_rz, h_n = em.split(hp, [2 * hidden, hidden], f"{st}.hs")
    rz = em.tmp("Sigmoid", [em.tmp("ElementWiseAdd", [x_rz, h_rz], f"{st}.prz")], f"{st}.rz")
    r, z = em.split(rz, [hidden, hidden], f"{st}.rzs")
    n = em.tmp("Tanh", [em.tmp("ElementWiseAdd", [x_n, em.tmp("ElementWiseMultiply", [r, h_n], f"{st}.rhn")],
                               f"{st}.pren")], f"{st}.n")
    # h' = (1 - z) * n + z * h = n + z * (h - n)
    d = em.tmp("ElementWiseSubtract", [h, n], f"{st}.hmn")
    h = em.tmp("ElementWiseAdd", [n, em.tmp("ElementWiseMultiply", [z, d], f"{st}.zd")], f"{st}.h")
    return h, None


# aten::lstm, aten::gru, aten::rnn_tanh, aten::rnn_relu
for _mode in _GATES:
    aten_op(f"aten::{_mode}")(lambda ctx, node, _m=_mode: _rnn(ctx, node, _m))

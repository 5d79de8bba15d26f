"""ONNX LSTM / GRU / RNN -> QNN ops unrolled over the static sequence length.

QNN's native recurrent ops are not used (their gate conventions are not verified in this
project); the recurrence is decomposed exactly into ops with verified reference kernels, the
same way as the PyTorch frontend's ``aten::lstm`` translator:

* one ``FullyConnected`` (constant ``W``) or ``MatMul`` (run-time ``W``) computes the input
  projection of every time step and both directions at once, ``[T, B, I] -> [T, B, D*G*H]``
  (``[B, T, ...]`` with ``layout=1``), plus every bias that can be folded there (``Wb + Rb``;
  for GRU with ``linear_before_reset=1`` the ``Rbh`` part stays inside ``r * (.)``);
* per step and direction: ``StridedSlice`` picks the step's projection (time axis shrunk),
  ``FullyConnected``/``MatMul`` adds the recurrent term ``H R^T`` (skipped while the state is
  known to be zero), ``Split`` separates the gates (ONNX order: LSTM ``i o f c``, GRU ``z r h``),
  then the activations and element-wise arithmetic:

  - LSTM: ``i = f(Xi + Hi + Pi*C)``, ``f = f(Xf + Hf + Pf*C)`` (``1 - i`` with
    ``input_forget``), ``c~ = g(Xc + Hc)``, ``C = f*C + i*c~``, ``o = f(Xo + Ho + Po*C)``,
    ``H = o * h(C)``;
  - GRU: ``z, r = f(.)``, ``h~ = g(Xh + (r*H) Rh^T + Rbh + Wbh)`` or, with
    ``linear_before_reset``, ``g(Xh + r*(H Rh^T + Rbh) + Wbh)``; ``H = h~ + z*(H - h~)``;
  - RNN: ``H = f(X W^T + H R^T + Wb + Rb)``;

  ``clip`` bounds every gate pre-activation to ``[-clip, clip]`` (``ReluMinMax``); as in ONNX
  Runtime, the LSTM cell state fed to ``h()`` is not clipped;
* ``sequence_lens`` (constant) shorter than the sequence masks the steps past each batch
  entry's length with ``ElementWiseSelect``: the state is carried unchanged and ``Y`` is 0
  there (exactly ONNX Runtime's behaviour; a reverse direction then starts at ``len - 1``);
* ``Y`` is assembled with one ``Concat`` ([B, T*D*H]) + ``Reshape`` ([B, T, D, H]) (+
  ``Transpose`` to ``[T, D, B, H]`` for ``layout=0``); ``Y_h`` / ``Y_c`` the same way.

Activations: Sigmoid, Tanh, Relu, HardSigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh,
Elu, Softsign, Softplus; ``activation_alpha`` / ``activation_beta`` are consumed in order by the
activations that take them, as ONNX Runtime does; when the lists run out, LeakyRelu / HardSigmoid /
Elu take their operator defaults, while Affine / ScaledTanh / ThresholdedRelu are rejected (the ONNX
operator defaults and ONNX Runtime's 0.0 disagree).
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ..context import OnnxContext, ValueBuilder, attrs, node_base_name
from ..registry import onnx_op

_N_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
# lower-case name -> (default alpha, default beta); None: the activation does not take it; _NO_DEFAULT:
# it does, but the ONNX operator default and ONNX Runtime's (0.0) disagree, so it must be given
_NO_DEFAULT = object()
_ACTS = {
    "sigmoid": (None, None), "tanh": (None, None), "relu": (None, None),
    "softsign": (None, None), "softplus": (None, None),
    "affine": (_NO_DEFAULT, _NO_DEFAULT), "leakyrelu": (0.01, None), "thresholdedrelu": (_NO_DEFAULT, None),
    "scaledtanh": (_NO_DEFAULT, _NO_DEFAULT), "hardsigmoid": (0.2, 0.5), "elu": (1.0, None),
}


class _B(ValueBuilder):
    """Builds the unrolled graph; values are numpy arrays (constants), IR tensor names, or None (zero).

    State beyond :class:`ValueBuilder`: the cell's float type (constants are stored in it) and the
    None-is-zero arithmetic that lets absent biases, peepholes and initial states vanish at convert time.
    """

    def __init__(self, ctx: OnnxContext, node, dtype: np.dtype) -> None:
        super().__init__(ctx, node)
        self.dt = np.dtype(dtype)

    def t(self, v, tag: str = "const") -> str:
        if isinstance(v, str):
            return v
        return self.ctx.graph.add_const(f"{self.base}.{tag}", np.ascontiguousarray(np.asarray(v, dtype=self.dt)))

    def add(self, a, b, tag: str):
        if a is None:
            return b
        if b is None:
            return a
        if not isinstance(a, str) and not isinstance(b, str):
            return (np.asarray(a, self.dt) + np.asarray(b, self.dt)).astype(self.dt)
        return self.op("ElementWiseAdd", [a, b], tag)

    def mul(self, a, b, tag: str):
        if a is None or b is None:
            return None
        if not isinstance(a, str) and not isinstance(b, str):
            return (np.asarray(a, self.dt) * np.asarray(b, self.dt)).astype(self.dt)
        return self.op("ElementWiseMultiply", [a, b], tag)

    def sub(self, a, b, tag: str):
        if b is None:
            return a
        if a is None:
            return self.op("ElementWiseNeg", [b], tag)
        return self.op("ElementWiseSubtract", [a, b], tag)

    def slice(self, v, bounds: dict[int, tuple[int, int]], shrink: tuple[int, ...], tag: str):
        """``v[bounds]`` (axis -> [lo, hi)), dropping the axes in ``shrink`` (which take ``lo``)."""
        if v is None:
            return None
        shape = self.shape(v)
        if not isinstance(v, str):
            idx = tuple((bounds[a][0] if a in shrink else slice(*bounds[a])) if a in bounds else slice(None)
                        for a in range(len(shape)))
            return np.ascontiguousarray(np.asarray(v)[idx])
        if all(a not in shrink and bounds[a] == (0, shape[a]) for a in bounds):
            return v
        ranges = np.array([[0, d, 1] for d in shape], dtype=np.int32)
        for a, (lo, hi) in bounds.items():
            ranges[a] = [lo, hi, 1]
        mask = sum(1 << a for a in shrink)
        return self.op("StridedSlice", [v], tag, {"ranges": ranges, "shrink_axes": mask})

    def reshape(self, v, shape: list[int], tag: str, out: str | None = None):
        if not isinstance(v, str) and out is None:
            return np.asarray(v).reshape(shape)
        if out is None and list(self.shape(v)) == list(shape):
            return v
        return self.op("Reshape", [v], tag, {"shape": list(shape)}, out=out)

    def linear(self, x: str, w, tag: str, bias=None) -> str:
        """``x @ w.T (+ bias)`` for ``x`` [..., K] and ``w`` [N, K]."""
        n = self.shape(w)[0]
        if not isinstance(w, str) and (bias is None or not isinstance(bias, str)):
            ins = [x, w] + ([np.broadcast_to(np.asarray(bias, self.dt), (n,))] if bias is not None else [])
            return self.op("FullyConnected", ins, tag, {"keep_dims": True})
        xs = self.shape(x)
        x2 = self.reshape(x, [int(np.prod(xs[:-1])), xs[-1]], f"{tag}.2d") if len(xs) != 2 else x
        y = self.op("MatMul", [x2, w], tag, {"transpose_in1": True})
        y = self.add(y, bias, f"{tag}.bias")
        return self.reshape(y, list(xs[:-1]) + [n], f"{tag}.nd") if len(xs) != 2 else y

    def split(self, x: str, sizes: list[int], tag: str) -> list[str]:
        """Split the last axis of a rank-2 tensor."""
        if len(sizes) == 1:
            return [x]
        idx = [int(i) for i in np.cumsum(sizes)[:-1]]
        outs = [self.ctx.graph.unique_name(f"{self.base}.{tag}_{i}") for i in range(len(sizes))]
        self.ctx.emit("Split", [x], outs, {"axis": 1, "split_index": idx}, name=outs[0])
        return outs

    def act(self, spec: tuple[str, float | None, float | None], x, clip: float | None, tag: str) -> str:
        kind, alpha, beta = spec
        if clip is not None:
            x = self.op("ReluMinMax", [x], f"{tag}.clip", {"min_value": -clip, "max_value": clip})
        if kind == "sigmoid":
            return self.op("Sigmoid", [x], tag)
        if kind == "tanh":
            return self.op("Tanh", [x], tag)
        if kind == "relu":
            return self.op("Relu", [x], tag)
        if kind == "hardsigmoid":
            return self.op("ElementWiseNeuron", [x], tag, {"operation": 2, "alpha": alpha, "beta": beta})
        if kind == "softplus":
            return self.op("ElementWiseNeuron", [x], tag, {"operation": 7})
        if kind == "elu":
            return self.op("Elu", [x], tag, {"alpha": alpha})
        if kind == "leakyrelu":
            return self.op("Prelu", [x, np.array([alpha], self.dt)], tag)
        if kind == "affine":
            y = x if alpha == 1.0 else self.op("ElementWiseMultiply", [x, np.array(alpha, self.dt)], f"{tag}.a")
            return y if beta == 0.0 else self.op("ElementWiseAdd", [y, np.array(beta, self.dt)], tag)
        if kind == "scaledtanh":
            y = x if beta == 1.0 else self.op("ElementWiseMultiply", [x, np.array(beta, self.dt)], f"{tag}.b")
            y = self.op("Tanh", [y], f"{tag}.tanh")
            return y if alpha == 1.0 else self.op("ElementWiseMultiply", [y, np.array(alpha, self.dt)], tag)
        if kind == "thresholdedrelu":
            gt = self.op("ElementWiseGreater", [x, np.array(alpha, self.dt)], f"{tag}.gt")
            return self.op("ElementWiseSelect", [gt, x, np.array(0, self.dt)], tag)
        if kind == "softsign":
            den = self.op("ElementWiseAdd", [self.op("ElementWiseAbs", [x], f"{tag}.abs"), np.array(1, self.dt)],
                          f"{tag}.den")
            return self.op("ElementWiseDivide", [x, den], tag)
        raise AssertionError(kind)


def _activations(b: _B, a: dict, kind: str, dirs: int) -> list[list[tuple]]:
    """Per direction, the list of (name, alpha, beta) activation specs."""
    names = a.get("activations")
    n = len(_DEFAULT_ACTS[kind])
    if names is None:
        names = _DEFAULT_ACTS[kind] * dirs
    names = [str(s) for s in names]
    if len(names) == n and dirs == 2:
        names = names * 2
    if len(names) != n * dirs:
        raise b.err(f"{len(names)} activations given, expected {n * dirs} ({n} per direction)")
    alphas = list(a.get("activation_alpha", []))
    betas = list(a.get("activation_beta", []))
    specs = []
    for nm in names:
        key = nm.lower()
        if key not in _ACTS:
            raise b.err(f"activation '{nm}' is not supported")
        da, db = _ACTS[key]
        al = be = None
        for what, dflt, vals in (("alpha", da, alphas), ("beta", db, betas)):
            if dflt is None:
                continue
            if not vals and dflt is _NO_DEFAULT:
                raise b.err(f"activation '{nm}' needs an explicit activation_{what} (its default is "
                            "ambiguous: ONNX operator default vs ONNX Runtime's 0)")
            v = float(vals.pop(0)) if vals else float(dflt)
            al, be = (v, be) if what == "alpha" else (al, v)
        specs.append((key, al, be))
    return [specs[d * n:(d + 1) * n] for d in range(dirs)]


def _input(ctx: OnnxContext, node, idx: int):
    """Value of input ``idx``: None (absent), numpy array (constant) or IR tensor name."""
    if idx >= len(node.input) or not node.input[idx]:
        return None
    name = node.input[idx]
    if ctx.is_const(name):
        return np.asarray(ctx.const(ctx.aliases.get(name, name)))
    return ctx.tensor(name)


@onnx_op("LSTM", "GRU", "RNN")
def recurrent(ctx: OnnxContext, node) -> None:
    kind = node.op_type
    a = attrs(node)
    if not node.input or not node.input[0]:
        raise ConversionError(f"{kind} node '{node_base_name(node)}' has no input X")
    x = ctx.tensor(node.input[0])
    dt = ctx.graph.tensors[x].dtype
    b = _B(ctx, node, dt)
    if dt not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise b.err(f"input type {dt} is not supported (float32/float16 only)")
    xs = ctx.graph.tensors[x].shape
    if len(xs) != 3:
        raise b.err(f"rank-{len(xs)} input X is not supported (expected rank 3)")
    layout = int(a.get("layout", 0))
    if layout not in (0, 1):
        raise b.err(f"layout={layout} is not supported")
    seq, batch, in_size = (xs[0], xs[1], xs[2]) if layout == 0 else (xs[1], xs[0], xs[2])
    if seq < 1:
        raise b.err("an empty sequence (length 0) cannot be converted")
    direction = a.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise b.err(f"direction '{direction}' is not supported")
    dirs = 2 if direction == "bidirectional" else 1
    n_g = _N_GATES[kind]

    w, r, bias = _input(ctx, node, 1), _input(ctx, node, 2), _input(ctx, node, 3)
    seq_lens = None
    if len(node.input) > 4 and node.input[4]:
        seq_lens = np.asarray(ctx.require_const(node, 4, "sequence_lens")).astype(np.int64)
    h0 = _input(ctx, node, 5)
    c0 = _input(ctx, node, 6) if kind == "LSTM" else None
    peep = _input(ctx, node, 7) if kind == "LSTM" else None
    if w is None or r is None:
        raise b.err("inputs W and R are required")
    if len(b.shape(r)) != 3:
        raise b.err(f"R has shape {list(b.shape(r))}, expected rank 3")
    hidden = int(a.get("hidden_size", b.shape(r)[-1]))
    gh = n_g * hidden
    # ---- validate shapes ---------------------------------------------------------------
    expect = {"W": (w, (dirs, gh, in_size)), "R": (r, (dirs, gh, hidden)), "B": (bias, (dirs, 2 * gh)),
              "P": (peep, (dirs, 3 * hidden))}
    state_shape = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)
    expect["initial_h"] = (h0, state_shape)
    expect["initial_c"] = (c0, state_shape)
    for what, (v, want) in expect.items():
        if v is not None and b.shape(v) != tuple(want):
            raise b.err(f"{what} has shape {list(b.shape(v))}, expected {list(want)} "
                        f"(direction={direction}, hidden_size={hidden}, layout={layout})")
    for v in (w, r, bias, h0, c0, peep):
        if v is not None and isinstance(v, str) and ctx.graph.tensors[v].dtype != dt:
            raise b.err(f"mixed input types ({ctx.graph.tensors[v].dtype} and {dt}) are not supported")
    if seq_lens is not None:
        if seq_lens.shape != (batch,):
            raise b.err(f"sequence_lens has shape {list(seq_lens.shape)}, expected [{batch}]")
        if np.any(seq_lens < 1) or np.any(seq_lens > seq):
            raise b.err(f"sequence_lens {seq_lens.tolist()} must lie in [1, {seq}] (empty sequences are "
                        "not supported)")
        if np.all(seq_lens == seq):
            seq_lens = None
    clip = a.get("clip")
    clip = float(clip) if clip is not None else None
    if clip is not None and not clip > 0:
        raise b.err(f"clip={clip} must be positive")
    input_forget = bool(a.get("input_forget", 0)) if kind == "LSTM" else False
    lbr = bool(a.get("linear_before_reset", 0)) if kind == "GRU" else False
    acts = _activations(b, a, kind, dirs)
    if not isinstance(w, str):
        w = np.asarray(w, dt)
    if not isinstance(r, str):
        r = np.asarray(r, dt)

    # ---- input projection of every step / direction: [.., D * G * H] -------------------
    proj_bias = None
    rbh = [None] * dirs          # GRU linear_before_reset: Rbh per direction, kept out of the projection
    if bias is not None:
        wb = b.slice(bias, {1: (0, gh)}, (), "wb")
        rb = b.slice(bias, {1: (gh, 2 * gh)}, (), "rb")
        if lbr:
            keep = np.ones(gh, dt)
            keep[2 * hidden:] = 0
            rb_fold = b.mul(rb, keep, "rb_zr")
            for d in range(dirs):
                rbh[d] = b.slice(bias, {0: (d, d + 1), 1: (gh + 2 * hidden, 2 * gh)}, (0,), f"rbh{d}")
                if not isinstance(rbh[d], str) and not np.any(rbh[d]):
                    rbh[d] = None
        else:
            rb_fold = rb
        proj_bias = b.reshape(b.add(wb, rb_fold, "bias"), [dirs * gh], "bias.flat")
        if not isinstance(proj_bias, str) and not np.any(proj_bias):
            proj_bias = None
    w_all = b.reshape(w, [dirs * gh, in_size], "w.flat")
    proj = b.linear(x, w_all, "xproj", proj_bias)
    time_axis = layout

    want_y = len(node.output) > 0 and bool(node.output[0])
    step_out: list[list] = [[None] * dirs for _ in range(seq)]
    h_final, c_final = [], []
    for d in range(dirs):
        tag = f"d{d}"
        f_act = acts[d]
        r_d = b.slice(r, {0: (d, d + 1)}, (0,), f"{tag}.r")
        h = _state(b, h0, d, layout, f"{tag}.h0")
        c = _state(b, c0, d, layout, f"{tag}.c0") if kind == "LSTM" else None
        p_i = p_o = p_f = None
        if peep is not None:
            pd = b.slice(peep, {0: (d, d + 1)}, (0,), f"{tag}.p")
            if isinstance(pd, str) or np.any(pd):
                p_i = b.slice(pd, {0: (0, hidden)}, (), f"{tag}.pi")
                p_o = b.slice(pd, {0: (hidden, 2 * hidden)}, (), f"{tag}.po")
                p_f = b.slice(pd, {0: (2 * hidden, 3 * hidden)}, (), f"{tag}.pf")
        if kind == "GRU" and not lbr:
            r_zr = b.slice(r_d, {0: (0, 2 * hidden)}, (), f"{tag}.r_zr")
            r_h = b.slice(r_d, {0: (2 * hidden, 3 * hidden)}, (), f"{tag}.r_h")
        reverse = direction == "reverse" or d == 1
        order = range(seq - 1, -1, -1) if reverse else range(seq)
        for t in order:
            st = f"{tag}.t{t}"
            xp = b.slice(proj, {time_axis: (t, t + 1), 2: (d * gh, (d + 1) * gh)}, (time_axis,), f"{st}.x")
            if kind == "LSTM":
                h_new, c_new = _lstm_step(b, xp, h, c, r_d, p_i, p_o, p_f, f_act, clip, input_forget, hidden, st)
            elif kind == "GRU":
                if lbr:
                    h_new = _gru_step_lbr(b, xp, h, r_d, rbh[d], f_act, clip, hidden, st)
                else:
                    h_new = _gru_step(b, xp, h, r_zr, r_h, f_act, clip, hidden, st)
                c_new = None
            else:
                pre = xp if h is None else b.add(xp, b.linear(b.t(h, f"{st}.h"), r_d, f"{st}.hh"), f"{st}.pre")
                h_new, c_new = b.act(f_act[0], pre, clip, f"{st}.h"), None
            y = h_new
            if seq_lens is not None:
                valid = (t < seq_lens).reshape(batch, 1)
                if not valid.all():
                    zero = np.zeros((batch, hidden), dt)
                    h_new = b.op("ElementWiseSelect", [valid, h_new, zero if h is None else h], f"{st}.hm")
                    if c_new is not None:
                        c_new = b.op("ElementWiseSelect", [valid, c_new, zero if c is None else c], f"{st}.cm")
                    if want_y:
                        y = b.op("ElementWiseSelect", [valid, y, np.zeros((), dt)], f"{st}.ym")
            step_out[t][d] = y
            h, c = h_new, c_new
        h_final.append(h)
        c_final.append(c)

    # ---- outputs -------------------------------------------------------------------------
    if want_y:
        flat = [s for row in step_out for s in row]
        cat = flat[0] if len(flat) == 1 else b.op("Concat", flat, "y.cat", {"axis": 1})
        if layout == 1:
            b.reshape(cat, [batch, seq, dirs, hidden], "y", out=node.output[0])
        else:
            bthd = b.reshape(cat, [batch, seq, dirs, hidden], "y.bt")
            b.op("Transpose", [bthd], "y", {"perm": [1, 2, 0, 3]}, out=node.output[0])
    outs = [(1, h_final)] + ([(2, c_final)] if kind == "LSTM" else [])
    for k, states in outs:
        if len(node.output) <= k or not node.output[k]:
            continue
        name = node.output[k]
        cat = states[0] if dirs == 1 else b.op("Concat", states, f"{name}.cat", {"axis": 1})
        if layout == 1 or dirs == 1:
            b.reshape(b.t(cat, f"{name}.c"), list(state_shape), name, out=name)
        else:
            bdh = b.reshape(cat, [batch, dirs, hidden], f"{name}.bdh")
            b.op("Transpose", [bdh], name, {"perm": [1, 0, 2]}, out=name)


def _state(b: _B, v, d: int, layout: int, tag: str):
    """Direction ``d`` of an initial state as [B, H]: IR tensor, constant, or None for zeros."""
    if v is None:
        return None
    s = b.slice(v, {layout: (d, d + 1)}, (layout,), tag)
    if not isinstance(s, str) and not np.any(s):
        return None
    return s


def _recur(b: _B, h, r, tag: str):
    """``h @ r.T`` or None while the state is zero."""
    if h is None:
        return None
    return b.linear(b.t(h, f"{tag}.h"), r, tag)


def _lstm_step(b: _B, xp, h, c, r, p_i, p_o, p_f, acts, clip, input_forget, hidden, st):
    f_act, g_act, h_act = acts
    gates = b.add(xp, _recur(b, h, r, f"{st}.hh"), f"{st}.gates")
    gi, go, gf, gc = b.split(gates, [hidden] * 4, f"{st}.iofc")
    i = b.act(f_act, b.add(gi, b.mul(p_i, c, f"{st}.pic"), f"{st}.ipre"), clip, f"{st}.i")
    if input_forget:
        f = b.op("ElementWiseSubtract", [np.array(1, b.dt), i], f"{st}.f")
    else:
        f = b.act(f_act, b.add(gf, b.mul(p_f, c, f"{st}.pfc"), f"{st}.fpre"), clip, f"{st}.f")
    g = b.act(g_act, gc, clip, f"{st}.g")
    ig = b.mul(i, g, f"{st}.ig")
    fc = b.mul(f, c, f"{st}.fc")
    if isinstance(fc, str):     # the step's f*c product has always taken the step's name in the DLC
        b.ctx.graph.source_names[fc] = f"{b.base}.{st}"
    c_new = b.add(fc, ig, f"{st}.c")
    o = b.act(f_act, b.add(go, b.mul(p_o, c_new, f"{st}.poc"), f"{st}.opre"), clip, f"{st}.o")
    # ONNX Runtime applies clip to the gate inputs only, never to the cell state fed to h()
    h_new = b.mul(o, b.act(h_act, c_new, None, f"{st}.hc"), f"{st}.h")
    return h_new, c_new


def _gru_update(b: _B, z, n, h, st):
    """H = (1 - z) * n + z * H = n + z * (H - n)."""
    if h is None:
        return b.sub(n, b.mul(z, n, f"{st}.zn"), f"{st}.h")
    return b.add(n, b.mul(z, b.sub(h, n, f"{st}.hmn"), f"{st}.zd"), f"{st}.h")


def _gru_step(b: _B, xp, h, r_zr, r_h, acts, clip, hidden, st):
    f_act, g_act = acts
    x_zr, x_n = b.split(xp, [2 * hidden, hidden], f"{st}.xs")
    zr = b.act(f_act, b.add(x_zr, _recur(b, h, r_zr, f"{st}.hzr"), f"{st}.zrpre"), clip, f"{st}.zr")
    z, rg = b.split(zr, [hidden, hidden], f"{st}.zrs")
    pre_n = x_n
    if h is not None:
        pre_n = b.add(x_n, _recur(b, b.mul(rg, h, f"{st}.rh"), r_h, f"{st}.hn"), f"{st}.npre")
    n = b.act(g_act, pre_n, clip, f"{st}.n")
    return _gru_update(b, z, n, h, st)


def _gru_step_lbr(b: _B, xp, h, r, rbh, acts, clip, hidden, st):
    f_act, g_act = acts
    x_zr, x_n = b.split(xp, [2 * hidden, hidden], f"{st}.xs")
    if h is None:
        h_zr, h_n = None, rbh
    else:
        hp = b.linear(b.t(h, f"{st}.h"), r, f"{st}.hh")
        h_zr, h_n = b.split(hp, [2 * hidden, hidden], f"{st}.hs")
        h_n = b.add(h_n, rbh, f"{st}.hnb")
    zr = b.act(f_act, b.add(x_zr, h_zr, f"{st}.zrpre"), clip, f"{st}.zr")
    z, rg = b.split(zr, [hidden, hidden], f"{st}.zrs")
    pre_n = b.add(x_n, b.mul(rg, h_n, f"{st}.rhn"), f"{st}.npre")
    n = b.act(g_act, pre_n, clip, f"{st}.n")
    return _gru_update(b, z, n, h, st)

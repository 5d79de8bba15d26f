"""Op-level checks of the TFLite frontend against the LiteRT interpreter, float and full-int8.

Every case is a tiny ``tf.function`` converted by the TFLite converter (float, and full-integer
int8 with int8 I/O unless the case says the op does not quantize), run by LiteRT, converted by
``snpe-tflite-to-dlc`` and run by the numpy reference runtime.  The test first asserts that the
flatbuffer really holds the builtin under test (the TFLite converter folds and rewrites a lot).
Builtins the converter never emits come from an edited converted model (``edit``: re-labelled
ops, changed options), a tf_keras model (fused LSTMs) or a hand-written one-op flatbuffer (``raw``).

Float: ``assert_allclose(rtol=1e-3, atol=1e-4)``.  Int8: within one quantization step of LiteRT on
>= 99% of the elements and within two everywhere (the runtime computes each op in float between
quantized tensors, LiteRT in integer arithmetic); integer / bool outputs must match exactly.  Ops
without an int8 kernel appear in the int8 model between DEQUANTIZE and QUANTIZE, as the TFLite
converter leaves them.  LiteRT's int8 comparisons round both operands to 1/256 first, so the
comparison cases use thresholds where that cannot flip a result.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from tensorflow.compiler.tf2xla.python import xla  # noqa: E402

from snpe_tools.dlc import read_dlc  # noqa: E402
from snpe_tools.frontends.tflite.model import load_tflite  # noqa: E402
from snpe_tools.runtime import execute  # noqa: E402
from snpe_tools.tools import tflite_to_dlc  # noqa: E402

RNG = np.random.default_rng(1234)


def w(*shape: int, scale: float = 0.5) -> np.ndarray:
    """A fixed random float32 weight (module-level RNG: deterministic across runs)."""
    return RNG.normal(0.0, scale, shape).astype(np.float32)


@dataclass
class Case:
    id: str
    fn: Callable[..., Any] | None
    shapes: list[tuple[int | None, ...]]
    ops: tuple[str, ...]                       # builtins the converted model must contain
    int8: bool = True                          # also test the full-integer model
    float: bool = True                         # test the float model
    ops8: tuple[str, ...] = ()                 # builtins the int8 model must contain as well
    lo: float = -2.0                           # input value range
    hi: float = 2.0
    dtypes: list[Any] = field(default_factory=list)   # per-input tf dtype (default float32)
    dims: list[tuple[int, ...]] | None = None  # concrete dims for inputs with None in their signature
    edit: Callable[[Any], None] | None = None  # change to the converted flatbuffer (rename, set_options)
    float_io: bool = False                     # int8 model keeps float I/O (QUANTIZE / DEQUANTIZE at the ends)
    keras: Callable[[], Any] | None = None     # build a tf_keras model instead (fn unused), e.g. fused LSTMs
    raw: Callable[[], bytes] | None = None     # a hand-written flatbuffer instead (float only, input "x")


def C(id_: str, fn, shapes, ops, **kw) -> Case:  # noqa: N802 - short case constructor
    return Case(id_, fn, [tuple(s) for s in shapes], (ops,) if isinstance(ops, str) else tuple(ops), **kw)


def unary(f: Callable[..., Any], *args: Any, **kw: Any) -> Callable[[Any], Any]:
    """``x -> f(x, *args, **kw)`` (no default arguments: they would become model inputs)."""
    return lambda x: f(x, *args, **kw)


def compose(outer: Callable[[Any], Any], inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda x: outer(inner(x))


def compare(f: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """A comparison of rounded inputs, so that equal elements occur."""
    return lambda a, b: f(tf.round(a), tf.round(b))


def _edit_model(model: bytes, edit: Callable[[Any], None] | None) -> bytes:
    """Apply ``edit`` to the flatbuffer's object form (TensorFlow's schema object API)."""
    if edit is None:
        return model
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    obj = fbu.convert_bytearray_to_object(bytearray(model))
    edit(obj)
    return bytes(fbu.convert_object_to_bytearray(obj))


def _ops_named(model: Any, name: str) -> list[Any]:
    from tensorflow.lite.python import schema_py_generated as fb

    code = getattr(fb.BuiltinOperator, name)
    idx = {i for i, oc in enumerate(model.operatorCodes) if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code}
    return [op for op in model.subgraphs[0].operators if op.opcodeIndex in idx]


def rename(old: str, new: str, drop_options: bool = False) -> Callable[[Any], None]:
    """Re-label builtin ``old`` as ``new`` (for builtins the TF converter never emits)."""
    def edit(model: Any) -> None:
        from tensorflow.lite.python import schema_py_generated as fb

        for op in _ops_named(model, old) if drop_options else []:
            op.builtinOptionsType, op.builtinOptions = 0, None
        for oc in model.operatorCodes:
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == getattr(fb.BuiltinOperator, old):
                code = getattr(fb.BuiltinOperator, new)
                oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
    return edit


def set_options(name: str, **fields: Any) -> Callable[[Any], None]:
    """Set fields of the builtin options of every ``name`` op (e.g. SOFTMAX beta)."""
    def edit(model: Any) -> None:
        for op in _ops_named(model, name):
            for k, v in fields.items():
                setattr(op.builtinOptions, k, v)
    return edit


def slice_spec(begin: list[int], end: list[int], strides: list[int], **masks: int) -> Callable[[Any], None]:
    """Give every STRIDED_SLICE new begin / end / strides constants and masks (ellipsis, new axes), which the
    TF converter always rewrites away."""
    def edit(model: Any) -> None:
        from tensorflow.lite.python import schema_py_generated as fb

        sg = model.subgraphs[0]
        for op in _ops_named(model, "STRIDED_SLICE"):
            for k, values in zip((1, 2, 3), (begin, end, strides)):
                buf = fb.BufferT()
                buf.data = np.asarray(values, np.int32).view(np.uint8)
                model.buffers.append(buf)
                sg.tensors[op.inputs[k]].buffer = len(model.buffers) - 1
                sg.tensors[op.inputs[k]].shape = np.asarray([len(values)], np.int32)
            for name, v in masks.items():
                setattr(op.builtinOptions, name, v)
    return edit


def relu_as_fake_quant(lo: float, hi: float, bits: int) -> Callable[[Any], None]:
    """RELU -> FAKE_QUANT(min, max, num_bits): the TF converter folds fake-quant ops into quantization
    parameters, so a model holding one is made by hand."""
    def edit(model: Any) -> None:
        from tensorflow.lite.python import schema_py_generated as fb

        for op in _ops_named(model, "RELU"):
            opts = fb.FakeQuantOptionsT()
            opts.min, opts.max, opts.numBits = lo, hi, bits
            op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.FakeQuantOptions, opts
        rename("RELU", "FAKE_QUANT")(model)
    return edit


def keras_lstm(steps: int, batch: int, features: int, units: int, bidirectional: bool = False,
               **kw: Any) -> Callable[[], Any]:
    """A tf_keras LSTM model: its converter fuses the layer into UNIDIRECTIONAL_SEQUENCE_LSTM (twice, with
    REVERSE_V2, for a Bidirectional one)."""
    def build() -> Any:
        tf_keras = pytest.importorskip("tf_keras")     # Keras 3 turns LSTMs into WHILE loops instead

        init = {"kernel_initializer": tf_keras.initializers.GlorotUniform(seed=1),
                "recurrent_initializer": tf_keras.initializers.Orthogonal(seed=2),
                "bias_initializer": tf_keras.initializers.RandomNormal(stddev=0.3, seed=3)}
        shape = (batch, steps, features) if not kw.get("time_major") else (steps, batch, features)
        inp = tf_keras.Input(batch_shape=shape, name="x")
        layer = tf_keras.layers.LSTM(units, **init, **kw)
        return tf_keras.Model(inp, (tf_keras.layers.Bidirectional(layer) if bidirectional else layer)(inp))
    return build


def fold_bias(name: str, slot: int) -> Callable[[Any], None]:
    """Move the constant of the ADD after each ``name`` op into its optional bias input ``slot``."""
    def edit(model: Any) -> None:
        sg = model.subgraphs[0]
        adds = {int(op.inputs[0]): op for op in _ops_named(model, "ADD")}
        for op in _ops_named(model, name):
            add_op = adds[int(op.outputs[0])]
            inputs = list(op.inputs)
            inputs[slot] = add_op.inputs[1]
            op.inputs, op.outputs = inputs, add_op.outputs
            sg.operators.remove(add_op)
    return edit


def single_op_model(op_name: str, inputs: list[tuple[str, tuple[int, ...], np.ndarray | None] | None],
                    output: tuple[str, tuple[int, ...]] | list[tuple[str, tuple[int, ...]]], options: Any = None,
                    options_type: str = "") -> bytes:
    """A float model of one builtin written with the schema object API, for ops the TF converter only
    emits inside a WHILE loop (basic RNNs) or in one configuration (LSTM variants).  An input with data
    ``None`` whose name starts with ``state`` is a variable tensor (LiteRT zero-initialises it); other
    ``None`` data are model inputs (a numpy dtype instead of data: one of that type; outputs may name
    a dtype third); a ``None`` entry is an omitted optional input."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model, sg = fb.ModelT(), fb.SubGraphT()
    model.version, model.buffers, sg.tensors, sg.inputs = 3, [fb.BufferT()], [], []
    outputs = output if isinstance(output, list) else [output]
    out_names = {o[0] for o in outputs}
    slots = []
    for entry in inputs + [(o[0], o[1], o[2] if len(o) > 2 else None) for o in outputs]:
        if entry is None:
            slots.append(-1)
            continue
        name, shape, data = entry
        slots.append(len(sg.tensors))
        t = fb.TensorT()
        kind = data.kind if isinstance(data, np.dtype) else np.asarray(data).dtype.kind if data is not None else "f"
        t.name, t.shape, t.buffer = name, np.asarray(shape, np.int32), 0
        t.type = {"i": fb.TensorType.INT32, "u": fb.TensorType.UINT8}.get(kind, fb.TensorType.FLOAT32)
        integer = kind == "i"
        if isinstance(data, np.dtype):           # a model input / output of that type
            data = None
        if data is not None:
            buf = fb.BufferT()
            buf.data = np.ascontiguousarray(data, np.int32 if integer else np.float32).view(np.uint8).reshape(-1)
            model.buffers.append(buf)
            t.buffer = len(model.buffers) - 1
        elif name.startswith("state"):
            t.isVariable = True
        elif name not in out_names:
            sg.inputs.append(len(sg.tensors))
        sg.tensors.append(t)
    code = fb.OperatorCodeT()
    code.builtinCode = getattr(fb.BuiltinOperator, op_name)
    code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), 1
    op = fb.OperatorT()
    n_in = len(inputs)
    op.opcodeIndex, op.inputs, op.outputs = 0, slots[:n_in], slots[n_in:]
    if options is not None:
        op.builtinOptionsType, op.builtinOptions = getattr(fb.BuiltinOptions, options_type), options
    sg.outputs, sg.operators = slots[n_in:], [op]
    model.operatorCodes, model.subgraphs, model.description = [code], [sg], "single op"
    return bytes(fbu.convert_object_to_bytearray(model))


def basic_rnn(sequence: bool, time_major: bool, act: int, steps: int = 3, batch: int = 2, n_in: int = 4,
              units: int = 5) -> Callable[[], bytes]:
    """RNN (one step) or UNIDIRECTIONAL_SEQUENCE_RNN with random weights and fused activation ``act``."""
    def build() -> bytes:
        from tensorflow.lite.python import schema_py_generated as fb

        rng = np.random.default_rng(5)
        shape = (batch, n_in) if not sequence else (steps, batch, n_in) if time_major else (batch, steps, n_in)
        weights = [("w", (units, n_in), rng.normal(0, 0.5, (units, n_in))),
                   ("r", (units, units), rng.normal(0, 0.5, (units, units))),
                   ("b", (units,), rng.normal(0, 0.3, units))]
        ins = [("x", shape, None)] + weights + [("state", (batch, units), None)]
        out_shape = (batch, units) if not sequence else shape[:2] + (units,)
        opts = fb.SequenceRNNOptionsT() if sequence else fb.RNNOptionsT()
        opts.fusedActivationFunction = act
        if sequence:
            opts.timeMajor = time_major
        return single_op_model("UNIDIRECTIONAL_SEQUENCE_RNN" if sequence else "RNN", ins, ("y", out_shape), opts,
                               "SequenceRNNOptions" if sequence else "RNNOptions")
    return build


def bidirectional_rnn(merge: bool, time_major: bool, steps: int = 4, batch: int = 2, n_in: int = 3,
                      units: int = 4) -> Callable[[], bytes]:
    """BIDIRECTIONAL_SEQUENCE_RNN (tanh), separate or merged outputs, no auxiliary input."""
    def build() -> bytes:
        from tensorflow.lite.python import schema_py_generated as fb

        rng = np.random.default_rng(8)
        shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
        ins: list[Any] = [("x", shape, None)]
        for d in ("fw", "bw"):
            ins += [(f"{d}_w", (units, n_in), rng.normal(0, 0.5, (units, n_in))),
                    (f"{d}_r", (units, units), rng.normal(0, 0.5, (units, units))),
                    (f"{d}_b", (units,), rng.normal(0, 0.3, units)), (f"state_{d}", (batch, units), None)]
        ins += [None, None, None]
        out = shape[:2]
        outs = [("y", out + (2 * units,))] if merge else [("y_fw", out + (units,)), ("y_bw", out + (units,))]
        opts = fb.BidirectionalSequenceRNNOptionsT()
        opts.timeMajor, opts.fusedActivationFunction, opts.mergeOutputs = time_major, 4, merge
        return single_op_model("BIDIRECTIONAL_SEQUENCE_RNN", ins, outs, opts, "BidirectionalSequenceRNNOptions")
    return build


def hashtable_model(n: int = 6) -> Callable[[], bytes]:
    """HASHTABLE_LOOKUP of int32 ids (model input) in sorted keys, [K, 2] float values, uint8 hits."""
    def build() -> bytes:
        keys = np.asarray([-3, -1, 0, 2, 5], np.int32)
        values = np.random.default_rng(6).normal(0, 1, (5, 2))
        ins = [("x", (n,), np.dtype(np.int32)), ("keys", (5,), keys), ("values", (5, 2), values)]
        outs = [("y", (n, 2)), ("hits", (n,), np.dtype(np.uint8))]
        return single_op_model("HASHTABLE_LOOKUP", ins, outs)
    return build


def embedding_sparse_model(combiner: int) -> Callable[[], bytes]:
    """EMBEDDING_LOOKUP_SPARSE with run-time weights (input "x"); output row 1 gets no entry."""
    def build() -> bytes:
        from tensorflow.lite.python import schema_py_generated as fb

        ids = np.asarray([1, 3, 0, 2, 3], np.int32)
        coords = np.asarray([[0, 0], [0, 2], [2, 1], [2, 3], [2, 0]], np.int32)
        params = np.random.default_rng(9).normal(0, 1, (4, 3))
        ins = [("ids", (5,), ids), ("indices", (5, 2), coords), ("dense_shape", (2,), np.asarray([3, 4], np.int32)),
               ("x", (5,), None), ("params", (4, 3), params)]
        opts = fb.EmbeddingLookupSparseOptionsT()
        opts.combiner = combiner
        return single_op_model("EMBEDDING_LOOKUP_SPARSE", ins, ("y", (3, 3)), opts, "EmbeddingLookupSparseOptions")
    return build


def dilate_model(shape: tuple[int, ...], rates: list[int], value: float) -> Callable[[], bytes]:
    def build() -> bytes:
        out = tuple((d - 1) * r + 1 for d, r in zip(shape, rates))
        ins = [("x", shape, None), ("dilations", (len(rates),), np.asarray(rates, np.int32)),
               ("value", (), np.asarray(value, np.float32))]
        return single_op_model("DILATE", ins, ("y", out))
    return build


def svdf_model(rank: int, act: int, batch: int = 2, n_in: int = 5, units: int = 3, memory: int = 4,
               bias: bool = True) -> Callable[[], bytes]:
    def build() -> bytes:
        from tensorflow.lite.python import schema_py_generated as fb

        rng = np.random.default_rng(4)
        filters = units * rank
        ins = [("x", (batch, n_in), None), ("feature", (filters, n_in), rng.normal(0, 0.5, (filters, n_in))),
               ("time", (filters, memory), rng.normal(0, 0.5, (filters, memory))),
               ("b", (units,), rng.normal(0, 0.3, units)) if bias else None,
               ("state", (batch, filters * memory), None)]
        opts = fb.SVDFOptionsT()
        opts.rank, opts.fusedActivationFunction = rank, act
        return single_op_model("SVDF", ins, ("y", (batch, units)), opts, "SVDFOptions")
    return build


def _lstm_weights(rng: np.random.Generator, d: str, n_in: int, n_cell: int, n_out: int, cifg: bool,
                  peephole: bool, projection: bool) -> list[Any]:
    """One direction's 17 LSTM inputs (weights, recurrent weights, peepholes, biases, projection)."""
    n_out_ = n_out if projection else n_cell

    def t(name: str, *shape: int, scale: float = 0.5) -> tuple[str, tuple[int, ...], np.ndarray]:
        return f"{d}{name}", shape, rng.normal(0, scale, shape)

    ins = [None if cifg and g == "i" else t(f"w_{g}", n_cell, n_in) for g in "ifco"]
    ins += [None if cifg and g == "i" else t(f"r_{g}", n_cell, n_out_) for g in "ifco"]
    ins += [t(f"p_{g}", n_cell) if peephole and not (cifg and g == "i") else None for g in "ifo"]
    ins += [None if cifg and g == "i" else t(f"b_{g}", n_cell, scale=0.3) for g in "ifco"]
    return ins + ([t("proj_w", n_out, n_cell), t("proj_b", n_out, scale=0.1)] if projection else [None, None])


def bidirectional_lstm(merge: bool, steps: int = 3, batch: int = 2, n_in: int = 3, n_cell: int = 4,
                       n_out: int = 4) -> Callable[[], bytes]:
    """BIDIRECTIONAL_SEQUENCE_LSTM (time-major, its default): forward cell with peepholes and projection,
    backward cell a CIFG one; merged or separate outputs, no auxiliary input.  (LiteRT wants both
    directions to output n_out = n_cell features.)"""
    def build() -> bytes:
        from tensorflow.lite.python import schema_py_generated as fb

        rng = np.random.default_rng(13)
        ins: list[Any] = [("x", (steps, batch, n_in), None)]
        ins += _lstm_weights(rng, "fw_", n_in, n_cell, n_out, False, True, True)
        ins += _lstm_weights(rng, "bw_", n_in, n_cell, n_out, True, False, False)
        ins += [("state_fw_h", (batch, n_out), None), ("state_fw_c", (batch, n_cell), None),
                ("state_bw_h", (batch, n_cell), None), ("state_bw_c", (batch, n_cell), None)] + [None] * 9
        outs = [("y", (steps, batch, n_out + n_cell))] if merge else \
            [("y_fw", (steps, batch, n_out)), ("y_bw", (steps, batch, n_cell))]
        opts = fb.BidirectionalSequenceLSTMOptionsT()
        opts.fusedActivationFunction, opts.mergeOutputs, opts.timeMajor, opts.cellClip = 4, merge, True, 0.8
        return single_op_model("BIDIRECTIONAL_SEQUENCE_LSTM", ins, outs, opts, "BidirectionalSequenceLSTMOptions")
    return build


def lstm_cell(sequence: bool, cifg: bool = False, peephole: bool = False, projection: bool = False,
              cell_clip: float = 0.0, proj_clip: float = 0.0, steps: int = 3, batch: int = 2, n_in: int = 3,
              n_cell: int = 4, n_out: int = 4) -> Callable[[], bytes]:
    """LSTM (one step) / UNIDIRECTIONAL_SEQUENCE_LSTM with the variants Keras never produces: CIFG (no
    input gate), peepholes, projection and clipping (inputs in TFLite's order, see recurrent.py)."""
    def build() -> bytes:
        from tensorflow.lite.python import schema_py_generated as fb

        rng = np.random.default_rng(11)
        n_out_ = n_out if projection else n_cell
        x_shape = (batch, steps, n_in) if sequence else (batch, n_in)
        ins: list[Any] = [("x", x_shape, None)]
        ins += _lstm_weights(rng, "", n_in, n_cell, n_out, cifg, peephole, projection)
        ins += [("state_h", (batch, n_out_), None), ("state_c", (batch, n_cell), None)] + [None] * 4
        opts = fb.UnidirectionalSequenceLSTMOptionsT() if sequence else fb.LSTMOptionsT()
        opts.fusedActivationFunction, opts.cellClip, opts.projClip = 4, cell_clip, proj_clip
        out = (batch, steps, n_out_) if sequence else (batch, n_out_)
        return single_op_model("UNIDIRECTIONAL_SEQUENCE_LSTM" if sequence else "LSTM", ins, ("y", out), opts,
                               "UnidirectionalSequenceLSTMOptions" if sequence else "LSTMOptions")
    return build


def gather_as_embedding_lookup(model: Any) -> None:
    """GATHER(params, indices) -> EMBEDDING_LOOKUP(ids, table): same rows, swapped inputs, no options."""
    for op in _ops_named(model, "GATHER"):
        op.inputs = op.inputs[::-1]
        op.builtinOptionsType, op.builtinOptions = 0, None
    rename("GATHER", "EMBEDDING_LOOKUP")(model)


X4 = (1, 6, 6, 4)
CASES: list[Case] = []


def add(*cases: Case) -> None:
    CASES.extend(cases)


# ---- convolutions / linear ------------------------------------------------------------------------------------
_W33 = w(3, 3, 4, 5)
_B5 = w(5, scale=0.1)
_B4 = w(4, scale=0.1)
_DW = w(3, 3, 4, 2)
_TW = w(3, 3, 5, 4)          # conv2d_transpose filter [kh, kw, out, in]
_FC = w(12, 7)
_FCB = w(7, scale=0.1)
add(
    C("conv2d_same_relu", lambda x: tf.nn.relu(tf.nn.conv2d(x, _W33, 1, "SAME") + _B5), [X4], "CONV_2D"),
    C("conv2d_valid_s2", lambda x: tf.nn.conv2d(x, _W33, 2, "VALID") + _B5, [(1, 7, 7, 4)], "CONV_2D"),
    C("conv2d_same_s2_relu6", lambda x: tf.nn.relu6(tf.nn.conv2d(x, _W33, 2, "SAME") + _B5), [(1, 8, 7, 4)],
      "CONV_2D"),
    C("conv2d_dilated", lambda x: tf.nn.conv2d(x, _W33, 1, "SAME", dilations=2) + _B5, [(1, 8, 8, 4)],
      "CONV_2D"),
    C("depthwise_m2_same", lambda x: tf.nn.depthwise_conv2d(x, _DW, [1, 1, 1, 1], "SAME") + w(8, scale=0.1),
      [X4], "DEPTHWISE_CONV_2D"),
    C("depthwise_m2_valid_s2", lambda x: tf.nn.relu6(tf.nn.depthwise_conv2d(x, _DW, [1, 2, 2, 1], "VALID")),
      [(1, 7, 7, 4)], "DEPTHWISE_CONV_2D"),
    C("transpose_conv_same_s2", lambda x: tf.nn.conv2d_transpose(x, _TW, [1, 8, 8, 5], 2, "SAME"),
      [(1, 4, 4, 4)], "TRANSPOSE_CONV"),
    C("transpose_conv_valid_s2_bias",
      lambda x: tf.nn.conv2d_transpose(x, _TW, [1, 9, 9, 5], 2, "VALID") + _B5, [(1, 4, 4, 4)], "TRANSPOSE_CONV"),
    C("transpose_conv_same_s1_bias",
      lambda x: tf.nn.conv2d_transpose(x, _TW, [1, 5, 5, 5], 1, "SAME") + _B5, [(1, 5, 5, 4)], "TRANSPOSE_CONV"),
    C("transpose_conv_valid_s2_extra", lambda x: tf.nn.conv2d_transpose(x, _TW, [1, 10, 9, 5], 2, "VALID"),
      [(1, 4, 4, 4)], "TRANSPOSE_CONV"),
    C("transpose_conv_same_s2_odd", lambda x: tf.nn.conv2d_transpose(x, _TW, [1, 7, 8, 5], 2, "SAME") + _B5,
      [(1, 4, 4, 4)], "TRANSPOSE_CONV"),
    C("transpose_conv_valid_s1", lambda x: tf.nn.conv2d_transpose(x, _TW, [1, 6, 6, 5], 1, "VALID"),
      [(1, 4, 4, 4)], "TRANSPOSE_CONV"),
    C("conv2d_grouped", lambda x: tf.nn.conv2d(x, w(3, 3, 2, 6), 1, "SAME"), [(1, 5, 5, 4)], "CONV_2D"),
    C("depthwise_dilated", lambda x: tf.nn.depthwise_conv2d(x, _DW, [1, 1, 1, 1], "SAME", dilations=[2, 2]),
      [(1, 7, 7, 4)], "DEPTHWISE_CONV_2D"),
    C("quantize_dequantize_float_io", lambda x: tf.nn.conv2d(x, _W33, 1, "SAME") + _B5, [X4], "CONV_2D",
      float=False, float_io=True, ops8=("QUANTIZE", "DEQUANTIZE")),
    C("fc_free_batch", lambda x: tf.matmul(x, _FC) + _FCB, [(None, 3, 12)], "FULLY_CONNECTED", dims=[(2, 3, 12)]),
    C("fc_2d_relu", lambda x: tf.nn.relu(tf.matmul(x, _FC) + _FCB), [(2, 12)], "FULLY_CONNECTED"),
    C("fc_3d", lambda x: tf.matmul(x, _FC) + _FCB, [(2, 3, 12)], "FULLY_CONNECTED"),
    C("fc_3d_flatten", lambda x: tf.matmul(tf.reshape(x, [-1, 12]), _FC), [(2, 3, 12)], "FULLY_CONNECTED"),
    C("batch_matmul", lambda a, b: tf.matmul(a, b), [(2, 3, 4), (2, 4, 5)], "BATCH_MATMUL"),
    C("batch_matmul_adj_x", lambda a, b: tf.matmul(a, b, transpose_a=True), [(2, 4, 3), (2, 4, 5)],
      "BATCH_MATMUL"),
    C("batch_matmul_adj_y", lambda a, b: tf.matmul(a, b, transpose_b=True), [(2, 3, 4), (2, 5, 4)],
      "BATCH_MATMUL"),
    C("batch_matmul_bcast", lambda a, b: tf.matmul(a, b), [(2, 3, 4), (1, 4, 5)], "BATCH_MATMUL"),
)

# ---- pooling ---------------------------------------------------------------------------------------------------
for _pool, _op in (("avg", "AVERAGE_POOL_2D"), ("max", "MAX_POOL_2D")):
    _f = tf.nn.avg_pool2d if _pool == "avg" else tf.nn.max_pool2d
    add(C(f"{_pool}_pool_same", unary(_f, 3, 2, "SAME"), [(1, 7, 8, 4)], _op),
        C(f"{_pool}_pool_valid", unary(_f, 2, 2, "VALID"), [(1, 7, 8, 4)], _op),
        C(f"{_pool}_pool_same_s1", unary(_f, [3, 2], 1, "SAME"), [(1, 5, 5, 3)], _op),
        C(f"{_pool}_pool_fused_relu6", compose(tf.nn.relu6, unary(_f, 2, 1, "SAME")), [(1, 5, 5, 3)], _op))

# ---- binary arithmetic -----------------------------------------------------------------------------------------
A, B = (1, 4, 4, 3), (1, 1, 4, 3)
add(
    C("add_relu", lambda a, b: tf.nn.relu(a + b), [A, B], "ADD"),
    C("add_bcast_rank", lambda a, b: a + b, [A, (3,)], "ADD"),
    C("sub_relu6", lambda a, b: tf.nn.relu6(a - b), [A, B], "SUB"),
    C("sub_bcast", lambda a, b: a - b, [(1, 4, 1, 3), (1, 1, 4, 1)], "SUB"),
    C("mul_relu_n1", lambda a, b: tf.clip_by_value(a * b, -1.0, 1.0), [A, B], "MUL"),
    C("mul_const", lambda a: a * w(3), [A], "MUL"),
    C("div", lambda a, b: a / b, [A, B], "DIV", lo=0.5, hi=2.0),
    C("div_relu", lambda a, b: tf.nn.relu(a / b), [A, (3,)], "DIV", lo=0.5, hi=2.0),
    C("maximum", lambda a, b: tf.maximum(a, b), [A, B], "MAXIMUM"),
    C("minimum", lambda a, b: tf.minimum(a, b), [A, (1, 4, 1, 1)], "MINIMUM"),
    C("squared_difference", lambda a, b: tf.math.squared_difference(a, b), [A, B], "SQUARED_DIFFERENCE"),
)

# ---- reductions ------------------------------------------------------------------------------------------------
for _name, _f, _op in (("mean", tf.reduce_mean, "MEAN"), ("sum", tf.reduce_sum, "SUM"),
                       ("max", tf.reduce_max, "REDUCE_MAX"), ("min", tf.reduce_min, "REDUCE_MIN"),
                       ("prod", tf.reduce_prod, "REDUCE_PROD")):
    _lo = 0.5 if _name == "prod" else -2.0
    add(C(f"reduce_{_name}_hw_keep", unary(_f, axis=[1, 2], keepdims=True), [(1, 3, 4, 5)], _op,
          lo=_lo, hi=1.5 if _name == "prod" else 2.0),
        C(f"reduce_{_name}_last", unary(_f, axis=-1), [(2, 3, 4)], _op, lo=_lo,
          hi=1.5 if _name == "prod" else 2.0))

# ---- shape manipulation ----------------------------------------------------------------------------------------
add(
    C("reshape", lambda x: tf.reshape(x, [2, -1, 6]) * 1.0, [(1, 2, 6, 3)], "RESHAPE"),
    # static squeezes become RESHAPE in the converter; a free dim keeps SQUEEZE
    C("squeeze", lambda x: tf.squeeze(x, [2]), [(None, 3, 1, None)], "SQUEEZE", dims=[(2, 3, 1, 4)]),
    C("squeeze_all", lambda x: tf.squeeze(x), [(None, 3, 1, 4)], "SQUEEZE", dims=[(1, 3, 1, 4)]),
    C("expand_dims", lambda x: tf.expand_dims(x, -2), [(None, 3, 4)], "EXPAND_DIMS", dims=[(2, 3, 4)]),
    # (LiteRT's CONCATENATION kernel rejects a fused activation, so there is no reference for one)
    C("concat_relu", lambda a, b: tf.nn.relu(tf.concat([a, b], -1)), [A, A], "CONCATENATION"),
    C("concat_requantize", lambda a: tf.concat([tf.sigmoid(a), a], -1), [A], "CONCATENATION",
      ops8=("QUANTIZE",)),
    C("concat_axis1", lambda a, b: tf.concat([a, b * 3.0], 1), [A, (1, 2, 4, 3)], "CONCATENATION"),
    C("split", lambda x: tf.split(x, 3, axis=-1), [(1, 2, 2, 6)], "SPLIT"),
    C("split_v", lambda x: tf.split(x, [1, -1, 2], axis=1), [(1, 6, 2, 3)], "SPLIT_V"),
    C("strided_slice_masks", lambda x: x[:, 1:, ::2, :3], [(1, 5, 6, 4)], "STRIDED_SLICE"),
    C("strided_slice_shrink", lambda x: x[:, 2, 1:4], [(1, 5, 6, 4)], "STRIDED_SLICE"),
    C("strided_slice_neg_stride", lambda x: x[:, ::-1, 4:0:-2], [(1, 5, 6, 4)], "STRIDED_SLICE"),
    C("strided_slice_ellipsis", lambda x: x[..., 1:3], [(1, 5, 6, 4)], "STRIDED_SLICE"),
    C("strided_slice_neg_begin", lambda x: x[:, -3:-1, -1:], [(1, 5, 6, 4)], "STRIDED_SLICE"),
    C("strided_slice_to_scalar", lambda x: x[1, 2, 0], [(2, 3, 4)], "STRIDED_SLICE"),
    C("strided_slice_ellipsis_mid", lambda x: x[:, 1:3], [(2, 3, 4, 5)], "STRIDED_SLICE",
      edit=slice_spec([1, 0, 0], [2, 0, 0], [1, 1, 2], ellipsisMask=2, beginMask=4, endMask=4)),
    C("strided_slice_new_axis", lambda x: x[:, 1:3], [(2, 3, 4)], "STRIDED_SLICE",
      edit=slice_spec([0, 0, 1], [0, 0, 3], [1, 1, 1], beginMask=1, endMask=1, newAxisMask=2)),
    C("strided_slice_ellipsis_new_shrink", lambda x: x[:, 1:3], [(2, 3, 4)], "STRIDED_SLICE",
      edit=slice_spec([0, 0, 2], [0, 0, 3], [1, 1, 1], ellipsisMask=1, newAxisMask=2, shrinkAxisMask=4)),
    C("slice", lambda x: tf.slice(x, [0, 1, 2, 0], [1, 3, -1, 2]), [(1, 5, 6, 4)], "SLICE"),
    C("pad", lambda x: tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]]), [X4], "PAD"),
    C("padv2", lambda x: tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]], constant_values=1.5), [X4], "PADV2"),
    C("mirror_pad_reflect", lambda x: tf.pad(x, [[0, 0], [2, 1], [1, 2], [0, 0]], "REFLECT"), [X4], "MIRROR_PAD"),
    C("mirror_pad_symmetric", lambda x: tf.pad(x, [[0, 0], [2, 1], [1, 3], [0, 0]], "SYMMETRIC"), [X4],
      "MIRROR_PAD"),
    C("transpose", lambda x: tf.transpose(x, [0, 3, 1, 2]), [(1, 2, 3, 4)], "TRANSPOSE"),
    C("transpose_3d", lambda x: tf.transpose(x, [2, 0, 1]), [(2, 3, 4)], "TRANSPOSE"),
    C("tile", lambda x: tf.tile(x, [1, 2, 1, 3]), [(1, 2, 3, 2)], "TILE"),
    C("pack", lambda a, b: tf.stack([a, b], axis=1), [(2, 3), (2, 3)], "PACK"),
    C("unpack", lambda x: tf.unstack(x, axis=1), [(2, 3, 4)], "UNPACK"),
    C("depth_to_space", lambda x: tf.nn.depth_to_space(x, 2), [(1, 2, 3, 8)], "DEPTH_TO_SPACE"),
    C("space_to_depth", lambda x: tf.nn.space_to_depth(x, 2), [(1, 4, 6, 3)], "SPACE_TO_DEPTH"),
    C("shape_folded", lambda x: tf.reshape(x, [tf.shape(x)[0], -1]) * 2.0, [(None, 2, 3, 4)], "SHAPE",
      dims=[(1, 2, 3, 4)]),
)

# ---- resize ----------------------------------------------------------------------------------------------------
for _mode, _kw in (("plain", {}), ("align", {"align_corners": True}), ("half", {"half_pixel_centers": True})):
    add(C(f"resize_bilinear_{_mode}_up",
          unary(tf.compat.v1.image.resize_bilinear, [7, 10], **_kw), [(1, 3, 4, 2)], "RESIZE_BILINEAR"),
        C(f"resize_bilinear_{_mode}_down",
          unary(tf.compat.v1.image.resize_bilinear, [3, 2], **_kw), [(1, 7, 5, 2)], "RESIZE_BILINEAR"),
        C(f"resize_nearest_{_mode}_up",
          unary(tf.compat.v1.image.resize_nearest_neighbor, [7, 10], **_kw), [(1, 3, 4, 2)],
          "RESIZE_NEAREST_NEIGHBOR"),
        C(f"resize_nearest_{_mode}_down",
          unary(tf.compat.v1.image.resize_nearest_neighbor, [3, 2], **_kw), [(1, 7, 5, 2)],
          "RESIZE_NEAREST_NEIGHBOR"))

# ---- activations -----------------------------------------------------------------------------------------------
_ALPHA = np.abs(w(1, 1, 4, scale=0.3))
add(
    C("softmax", lambda x: tf.nn.softmax(x), [(2, 3, 5)], "SOFTMAX"),
    C("softmax_beta", lambda x: tf.nn.softmax(x), [(2, 7)], "SOFTMAX", edit=set_options("SOFTMAX", beta=2.5)),
    C("log_softmax", lambda x: tf.nn.log_softmax(x), [(2, 6)], "LOG_SOFTMAX"),
    C("logistic", lambda x: tf.sigmoid(x), [X4], "LOGISTIC", lo=-6, hi=6),
    C("tanh", lambda x: tf.tanh(x), [X4], "TANH", lo=-3, hi=3),
    C("relu", lambda x: tf.nn.relu(x), [X4], "RELU"),
    C("relu6", lambda x: tf.nn.relu6(x), [X4], "RELU6", lo=-3, hi=8),
    C("relu_n1_to_1", lambda x: tf.clip_by_value(x, -1.0, 1.0), [X4], "RELU_N1_TO_1"),
    # the TF converter never emits RELU_0_TO_1: a RELU6 model is re-labelled in the flatbuffer
    C("relu_0_to_1", lambda x: tf.nn.relu6(x), [X4], "RELU_0_TO_1", edit=rename("RELU6", "RELU_0_TO_1")),
    C("hard_swish", lambda x: x * tf.nn.relu6(x + 3.0) / 6.0, [X4], "HARD_SWISH", lo=-5, hi=5),
    C("leaky_relu", lambda x: tf.nn.leaky_relu(x, 0.15), [X4], "LEAKY_RELU"),
    C("prelu", lambda x: tf.nn.relu(x) + (-_ALPHA) * tf.nn.relu(-x), [X4], "PRELU"),
    C("elu", lambda x: tf.nn.elu(x), [X4], "ELU", lo=-4, hi=2),
    C("gelu_exact", lambda x: tf.nn.gelu(x, approximate=False), [X4], "GELU", lo=-4, hi=4),
    C("gelu_tanh", lambda x: tf.nn.gelu(x, approximate=True), [X4], "GELU", lo=-4, hi=4),
    C("l2_normalization", lambda x: tf.math.l2_normalize(x, axis=-1), [X4], "L2_NORMALIZATION"),
    C("lrn", lambda x: tf.nn.local_response_normalization(x, 2, 1.0, 0.2, 0.75), [(1, 3, 3, 7)],
      "LOCAL_RESPONSE_NORMALIZATION"),
)

# ---- indexing --------------------------------------------------------------------------------------------------
_GATHER_IDX = np.asarray([[2, 0], [1, 1]], np.int32)
add(
    C("gather_axis0", lambda x: tf.gather(x, [2, 0, 1, 2]), [(3, 4, 2)], "GATHER"),
    C("gather_axis_neg", lambda x: tf.gather(x, [[1, 0], [3, 3]], axis=-1), [(2, 3, 4)], "GATHER"),
    C("gather_batch_dims", lambda x: tf.gather(x, _GATHER_IDX, axis=1, batch_dims=1), [(2, 3, 4)], "GATHER"),
    C("gather_batch_dims_inner_axis", lambda x: tf.gather(x, _GATHER_IDX, axis=2, batch_dims=1), [(2, 4, 3, 2)],
      "GATHER"),
    C("gather_nd", lambda x: tf.gather_nd(x, [[0, 1], [2, 0]]), [(3, 2, 4)], "GATHER_ND"),
    C("argmax", lambda x: tf.argmax(x, axis=-1, output_type=tf.int32), [(2, 3, 5)], "ARG_MAX"),
    C("argmin_axis1", lambda x: tf.argmin(x, axis=1), [(2, 3, 5)], "ARG_MIN"),
)

# ---- unary math ------------------------------------------------------------------------------------------------
for _name, _f, _lo, _hi in (
        ("ABS", tf.abs, -2, 2), ("EXP", tf.exp, -2, 2), ("LOG", tf.math.log, 0.1, 4), ("SQRT", tf.sqrt, 0.1, 4),
        ("RSQRT", tf.math.rsqrt, 0.2, 4), ("SIN", tf.sin, -3, 3), ("COS", tf.cos, -3, 3), ("NEG", tf.negative, -2, 2),
        ("FLOOR", tf.floor, -3, 3), ("CEIL", tf.math.ceil, -3, 3), ("ROUND", tf.round, -3, 3),
        ("SQUARE", tf.square, -2, 2), ("SIGN", tf.sign, -2, 2)):
    add(C(_name.lower(), _f, [X4], _name, lo=_lo, hi=_hi))

# ---- comparisons / logic / select ------------------------------------------------------------------------------
for _name, _f in (("LESS", tf.less), ("LESS_EQUAL", tf.less_equal), ("GREATER", tf.greater),
                  ("GREATER_EQUAL", tf.greater_equal), ("EQUAL", tf.equal), ("NOT_EQUAL", tf.not_equal)):
    add(C(_name.lower(), compare(_f), [A, B], _name))
add(
    C("logical_and_not", lambda a, b: tf.logical_not(tf.logical_and(a > 0, b > 0)), [A, B],
      ("LOGICAL_AND", "LOGICAL_NOT")),
    C("logical_or", lambda a, b: tf.logical_or(a > 0.5, b < 0), [A, B], "LOGICAL_OR"),
    # thresholds of 0: LiteRT's int8 comparisons round both sides to 1/256 first (see test_int8)
    C("select", lambda a, b: tf.where(a > 0.0, a * 2.0, b), [A, A], "SELECT"),
    C("select_rows", lambda a, b: tf.compat.v1.where(a[:, 0, 0] > 0.0, a, b), [(3, 2, 4), (3, 2, 4)], "SELECT"),
    C("select_v2", lambda a, b: tf.where(a < 0.0, a * 2.0, b), [A, B], "SELECT_V2"),
)

# ---- types / quantization --------------------------------------------------------------------------------------
add(
    C("cast_float_to_int", lambda x: tf.cast(x * 3.0, tf.int32), [X4], "CAST", int8=False),
    C("cast_int_to_float", lambda x: tf.cast(x, tf.float32) * 0.5, [(2, 5)], "CAST", int8=False,
      dtypes=[tf.int32]),
)


# ---- further builtins: QNN counterparts or exact decompositions ---------------------------------------------------
_SEG_IDS = np.asarray([0, 2, 0, 1, 2], np.int32)
_SEG_IDS_2D = np.asarray([[0, 2, 0], [0, 1, 0]], np.int32)
_SPARSE_IDX = np.asarray([[1], [3], [1]], np.int32)

# -- math and elementwise
add(
    C("floor_div", lambda a, b: tf.math.floordiv(a, b), [A, B], "FLOOR_DIV", lo=0.5, hi=3.0),
    C("floor_mod", lambda a, b: tf.math.floormod(a * 3.0 - 4.0, b - 1.25), [A, B], "FLOOR_MOD", lo=0.0, hi=3.0),
    C("pow", lambda a, b: tf.pow(a, b), [A, B], "POW", lo=0.5, hi=2.0),
    C("atan2", lambda a, b: tf.math.atan2(a, b), [A, A], "ATAN2"),
    C("add_n", lambda a, b: tf.add_n([a, b, a * 2.0]), [A, A], "ADD_N"),
    C("fake_quant", lambda x: tf.nn.relu(x), [X4], "FAKE_QUANT", int8=False,
      edit=relu_as_fake_quant(-1.3, 2.1, 8)),
    C("fake_quant_4bit", lambda x: tf.nn.relu(x), [X4], "FAKE_QUANT", int8=False,
      edit=relu_as_fake_quant(-0.7, 1.9, 4)),
)

# -- rearrangement
# int8=False on MATRIX_SET_DIAG (and ONE_HOT / SPARSE_TO_DENSE below): LiteRT's int8 kernels copy raw integers,
# while the TF converter gave these models' value inputs other scales than the output's
add(
    C("space_to_batch_nd", lambda x: tf.space_to_batch_nd(x, [2, 2], [[1, 1], [0, 2]]), [(1, 4, 4, 3)],
      "SPACE_TO_BATCH_ND"),
    C("space_to_batch_nd_1d", lambda x: tf.space_to_batch_nd(x, [3], [[1, 2]]), [(2, 6, 3)], "SPACE_TO_BATCH_ND"),
    C("batch_to_space_nd", lambda x: tf.batch_to_space(x, [2, 2], [[0, 1], [1, 0]]), [(4, 3, 2, 3)],
      "BATCH_TO_SPACE_ND"),
    C("reverse_v2", lambda x: tf.reverse(x, [1, 2]), [X4], "REVERSE_V2"),
    C("reverse_sequence", lambda x: tf.reverse_sequence(x, [2, 3, 1], seq_axis=1, batch_axis=0), [(3, 4, 2)],
      "REVERSE_SEQUENCE", int8=False),
    C("reverse_sequence_batch_last", lambda x: tf.reverse_sequence(x, [4, 0], seq_axis=0, batch_axis=2),
      [(4, 3, 2)], "REVERSE_SEQUENCE", int8=False),
    C("matrix_diag", lambda x: tf.linalg.diag(x), [(2, 4)], "MATRIX_DIAG"),
    C("matrix_set_diag_wide", lambda x, d: tf.linalg.set_diag(x, d), [(2, 3, 4), (2, 3)], "MATRIX_SET_DIAG"),
    C("matrix_set_diag_tall", lambda x, d: tf.linalg.set_diag(x, d * 2.0), [(4, 3), (3,)], "MATRIX_SET_DIAG",
      int8=False),
    C("dilate", None, [(2, 3, 4)], "DILATE", int8=False, raw=dilate_model((2, 3, 4), [1, 3, 2], -0.5)),
)

# -- indexing, scatter, sort
add(
    C("topk", lambda x: tf.math.top_k(x, 3), [(2, 6)], "TOPK_V2"),
    C("one_hot", lambda x: tf.one_hot(tf.argmax(x, -1), 5, 2.0, -1.0), [(2, 4)], "ONE_HOT"),
    C("one_hot_axis0", lambda x: tf.one_hot(tf.argmin(x, -1, output_type=tf.int32), 3, axis=0), [(2, 4)],
      "ONE_HOT", int8=False),
    C("cumsum", lambda x: tf.cumsum(x, axis=-1), [(2, 4, 3)], "CUMSUM"),
    C("cumsum_exclusive_reverse", lambda x: tf.cumsum(x, axis=1, exclusive=True, reverse=True), [(2, 4, 3)],
      "CUMSUM"),
    C("scatter_nd", lambda x: tf.scatter_nd(_SPARSE_IDX, x, [5, 3]), [(3, 3)], "SCATTER_ND"),
    C("sparse_to_dense", lambda x: tf.compat.v1.sparse_to_dense([[0, 1], [2, 3]], [3, 4], x, 0.5), [(2,)],
      "SPARSE_TO_DENSE", int8=False),
    C("bucketize", lambda x: tf.raw_ops.Bucketize(input=x, boundaries=[-1.0, 0.0, 0.5]), [(2, 5)], "BUCKETIZE"),
    C("dynamic_update_slice", lambda x, u: xla.dynamic_update_slice(x, u, np.asarray([1, 2], np.int32)),
      [(4, 5), (2, 2)], "DYNAMIC_UPDATE_SLICE"),
    C("dynamic_update_slice_clamped", lambda x, u: xla.dynamic_update_slice(x, u, np.asarray([3, -1], np.int32)),
      [(4, 5), (2, 3)], "DYNAMIC_UPDATE_SLICE"),
    C("dynamic_update_slice_runtime_start", lambda x, u, s: xla.dynamic_update_slice(x, u, s),
      [(4, 5), (2, 2), (2,)], "DYNAMIC_UPDATE_SLICE", int8=False, dtypes=[tf.float32, tf.float32, tf.int32]),
    C("unsorted_segment_sum", lambda x: tf.math.unsorted_segment_sum(x, _SEG_IDS, 4), [(5, 3)],
      "UNSORTED_SEGMENT_SUM"),
    C("unsorted_segment_prod", lambda x: tf.math.unsorted_segment_prod(x, _SEG_IDS, 4), [(5, 3)],
      "UNSORTED_SEGMENT_PROD"),
    C("unsorted_segment_max", lambda x: tf.math.unsorted_segment_max(x, _SEG_IDS, 4), [(5, 3)],
      "UNSORTED_SEGMENT_MAX"),
    C("unsorted_segment_min_2d_ids", lambda x: tf.math.unsorted_segment_min(x, _SEG_IDS_2D, 3), [(2, 3, 2)],
      "UNSORTED_SEGMENT_MIN"),
    C("segment_sum", lambda x: tf.math.segment_sum(x, [0, 0, 1, 1, 2]), [(5, 3)], "SEGMENT_SUM"),
    C("hashtable_lookup", None, [(10,)], "HASHTABLE_LOOKUP", int8=False, raw=hashtable_model(10),
      dtypes=[tf.int32], lo=-1.2, hi=1.8),
    C("embedding_lookup_sparse_sum", None, [(5,)], "EMBEDDING_LOOKUP_SPARSE", int8=False, lo=0.2, hi=1.5,
      raw=embedding_sparse_model(0)),
    C("embedding_lookup_sparse_mean", None, [(5,)], "EMBEDDING_LOOKUP_SPARSE", int8=False, lo=0.2, hi=1.5,
      raw=embedding_sparse_model(1)),
    C("embedding_lookup_sparse_sqrtn", None, [(5,)], "EMBEDDING_LOOKUP_SPARSE", int8=False, lo=0.2, hi=1.5,
      raw=embedding_sparse_model(2)),
    C("embedding_lookup", lambda x: tf.gather(x, [2, 0, 2, 1]), [(3, 4)], "EMBEDDING_LOOKUP",
      edit=gather_as_embedding_lookup),
)

# -- values known at convert time
add(
    C("fill", lambda x: tf.fill([2, 3], x[0]), [(2,)], "FILL"),
    C("zeros_like", lambda x: tf.maximum(x, tf.zeros_like(x)) * 2.0, [(None, 3)], "ZEROS_LIKE", dims=[(2, 3)]),
    C("range", lambda x: x * tf.cast(tf.range(tf.shape(x)[0]), tf.float32), [(None,)], "RANGE", dims=[(5,)]),
    C("rank", lambda x: x + tf.cast(tf.shape(x), tf.float32), [(None, 2)], "RANK", int8=False, dims=[(3, 2)],
      edit=rename("SHAPE", "RANK", True)),
    C("broadcast_args", lambda x, y: tf.broadcast_to(x, tf.broadcast_dynamic_shape(tf.shape(x), tf.shape(y))),
      [(None, 1, 3), (2, None, 1)], ("BROADCAST_ARGS", "BROADCAST_TO"), dims=[(1, 1, 3), (2, 4, 1)]),
    C("broadcast_to", lambda x: tf.broadcast_to(x, [2, 3, 4]), [(3, 1)], "BROADCAST_TO"),
    C("reduce_any_all", lambda x: tf.logical_and(tf.reduce_any(x > 0, axis=1), tf.reduce_all(x > -1, axis=1)),
      [(2, 4, 3)], ("REDUCE_ANY", "REDUCE_ALL")),
)

# -- 3-D convolutions, pooling, detection
add(
    C("conv3d_same", lambda x: tf.nn.conv3d(x, w(2, 3, 3, 3, 4), [1, 1, 2, 1, 1], "SAME"), [(1, 3, 5, 5, 3)],
      "CONV_3D"),
    C("conv3d_valid_bias", lambda x: tf.nn.conv3d(x, w(2, 2, 3, 3, 4), [1, 1, 1, 2, 1], "VALID") + _B4,
      [(1, 3, 5, 5, 3)], "CONV_3D", int8=False, edit=fold_bias("CONV_3D", 2)),
    C("conv3d_transpose_same", lambda x: tf.nn.conv3d_transpose(x, w(2, 3, 3, 4, 3), [1, 4, 7, 8, 4],
                                                                 [1, 2, 2, 2, 1], "SAME"),
      [(1, 2, 4, 4, 3)], "CONV_3D_TRANSPOSE", int8=False),
    C("conv3d_transpose_valid_bias", lambda x: tf.nn.conv3d_transpose(x, w(2, 2, 2, 4, 3), [1, 3, 11, 5, 4],
                                                                       [1, 1, 3, 1, 1], "VALID") + _B4,
      [(1, 2, 4, 4, 3)], "CONV_3D_TRANSPOSE", int8=False, edit=fold_bias("CONV_3D_TRANSPOSE", 3)),
    C("l2_pool_same", unary(tf.nn.avg_pool2d, 3, 2, "SAME"), [(1, 7, 8, 4)], "L2_POOL_2D", int8=False,
      edit=rename("AVERAGE_POOL_2D", "L2_POOL_2D")),
    C("l2_pool_valid", unary(tf.nn.avg_pool2d, 2, 1, "VALID"), [(1, 5, 5, 2)], "L2_POOL_2D", int8=False,
      edit=rename("AVERAGE_POOL_2D", "L2_POOL_2D")),
    C("non_max_suppression_v4", lambda b, s: tf.raw_ops.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=6, iou_threshold=0.3, score_threshold=0.2, pad_to_max_output_size=True),
      [(16, 4), (16,)], "NON_MAX_SUPPRESSION_V4", int8=False, lo=0.0, hi=1.0),
    C("non_max_suppression_v5", lambda b, s: tf.raw_ops.NonMaxSuppressionV5(
        boxes=b, scores=s, max_output_size=12, iou_threshold=0.2, score_threshold=0.5, soft_nms_sigma=0.0,
        pad_to_max_output_size=True), [(16, 4), (16,)], "NON_MAX_SUPPRESSION_V5", int8=False, lo=0.0, hi=1.0),
)

# -- recurrent (states start at zero, as on LiteRT's first invoke)
add(
    C("lstm_bidirectional_last_state", None, [(2, 4, 5)], "UNIDIRECTIONAL_SEQUENCE_LSTM", int8=False,
      keras=keras_lstm(4, 2, 5, 3, bidirectional=True)),
    C("lstm_time_major_no_forget_bias", None, [(4, 2, 3)], "UNIDIRECTIONAL_SEQUENCE_LSTM", int8=False,
      keras=keras_lstm(4, 2, 3, 6, return_sequences=True, time_major=True, unit_forget_bias=False)),
    C("lstm_cifg_peephole_clip", None, [(2, 3, 3)], "UNIDIRECTIONAL_SEQUENCE_LSTM", int8=False,
      raw=lstm_cell(True, cifg=True, peephole=True, cell_clip=0.6)),
    C("lstm_projection_peephole", None, [(2, 3, 3)], "UNIDIRECTIONAL_SEQUENCE_LSTM", int8=False,
      raw=lstm_cell(True, peephole=True, projection=True, n_out=3, proj_clip=0.1)),
    C("lstm_step_projection", None, [(2, 3)], "LSTM", int8=False, raw=lstm_cell(False, projection=True, n_out=2)),
    C("bidirectional_lstm_merged", None, [(3, 2, 3)], "BIDIRECTIONAL_SEQUENCE_LSTM", int8=False,
      raw=bidirectional_lstm(True)),
    C("bidirectional_lstm_separate", None, [(3, 2, 3)], "BIDIRECTIONAL_SEQUENCE_LSTM", int8=False,
      raw=bidirectional_lstm(False)),
    C("rnn_step_tanh", None, [(2, 4)], "RNN", int8=False, raw=basic_rnn(False, False, 4)),
    C("sequence_rnn_relu", None, [(2, 3, 4)], "UNIDIRECTIONAL_SEQUENCE_RNN", int8=False,
      raw=basic_rnn(True, False, 1)),
    C("sequence_rnn_time_major_tanh", None, [(3, 2, 4)], "UNIDIRECTIONAL_SEQUENCE_RNN", int8=False,
      raw=basic_rnn(True, True, 4)),
    C("bidirectional_rnn_merged", None, [(2, 4, 3)], "BIDIRECTIONAL_SEQUENCE_RNN", int8=False,
      raw=bidirectional_rnn(True, False)),
    C("bidirectional_rnn_time_major", None, [(4, 2, 3)], "BIDIRECTIONAL_SEQUENCE_RNN", int8=False,
      raw=bidirectional_rnn(False, True)),
    C("svdf_rank2_relu", None, [(2, 5)], "SVDF", int8=False, raw=svdf_model(2, 1)),
    C("svdf_rank1_no_bias", None, [(2, 5)], "SVDF", int8=False, raw=svdf_model(1, 0, bias=False)),
)

# -- StableHLO elementwise (re-labelled TFLite ops)
# LiteRT's StableHLO add / multiply kernels ignore quantization: no int8 reference for them
add(
    C("stablehlo_add", lambda a, b: a + b, [A, A], "STABLEHLO_ADD", int8=False,
      edit=rename("ADD", "STABLEHLO_ADD", True)),
    C("stablehlo_multiply", lambda a, b: a * b, [A, A], "STABLEHLO_MULTIPLY", int8=False,
      edit=rename("MUL", "STABLEHLO_MULTIPLY", True)),
    C("stablehlo_maximum", lambda a, b: tf.maximum(a, b), [A, A], "STABLEHLO_MAXIMUM",
      edit=rename("MAXIMUM", "STABLEHLO_MAXIMUM", True)),
    C("stablehlo_minimum", lambda a, b: tf.minimum(a, b), [A, A], "STABLEHLO_MINIMUM",
      edit=rename("MINIMUM", "STABLEHLO_MINIMUM", True)),
    C("stablehlo_and", lambda a, b: tf.logical_and(a > 0.0, b < 0.0), [A, A], "STABLEHLO_AND",
      edit=rename("LOGICAL_AND", "STABLEHLO_AND", True)),
)


# ------------------------------------------------------------------------------------------------------------------
def _inputs(case: Case, rng: np.random.Generator) -> list[np.ndarray]:
    dims = case.dims or case.shapes
    out = []
    for k, shape in enumerate(dims):
        dt = case.dtypes[k] if k < len(case.dtypes) else tf.float32
        x = rng.uniform(case.lo, case.hi, shape)
        out.append(np.round(x * 3).astype(dt.as_numpy_dtype) if dt.is_integer else x.astype(np.float32))
    return out


def _arg_names(case: Case) -> list[str]:
    """The model inputs: the function's parameters without defaults (defaults bind loop variables)."""
    if case.keras is not None or case.raw is not None:
        return ["x"]
    params = inspect.signature(case.fn).parameters.values()
    return [p.name for p in params if p.default is inspect.Parameter.empty]


def _tflite(case: Case, quant: bool) -> bytes:
    if case.raw is not None:
        return case.raw()
    if case.keras is not None:
        conv = tf.lite.TFLiteConverter.from_keras_model(case.keras())
    else:
        specs = [tf.TensorSpec(s, case.dtypes[k] if k < len(case.dtypes) else tf.float32)
                 for k, s in enumerate(case.shapes)]
        module = tf.Module()
        module.f = tf.function(case.fn, input_signature=specs)
        conv = tf.lite.TFLiteConverter.from_concrete_functions([module.f.get_concrete_function()], module)
    if quant:
        rng = np.random.default_rng(7)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        names = _arg_names(case)
        conv.representative_dataset = lambda: (dict(zip(names, _inputs(case, rng))) for _ in range(16))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not case.float_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


def _interpreter(path: str):
    """LiteRT with its builtin kernels only (the XNNPack delegate rejects some tiny graphs)."""
    return litert.Interpreter(model_path=path,
                              experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _run_litert(path: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    it = _interpreter(path)
    for d in it.get_input_details():
        if tuple(d["shape"]) != feeds[d["name"]].shape:
            it.resize_tensor_input(d["index"], feeds[d["name"]].shape)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def _quantize_feed(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zp = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(detail["dtype"])


def _arg_name(tensor: str) -> str:
    """``serving_default_a:0`` -> ``a`` (LiteRT does not keep the argument order of the function)."""
    return tensor.removeprefix("serving_default_").split(":")[0]


def check_case(case: Case, quant: bool, tmp_path) -> None:
    path = str(tmp_path / f"{case.id}.tflite")
    with open(path, "wb") as fh:
        fh.write(_edit_model(_tflite(case, quant), case.edit))
    sg = load_tflite(path).subgraphs[0]
    present = {op.name for op in sg.ops}
    steps = {sg.tensors[op.outputs[0]].name: float(sg.tensors[op.inputs[0]].quant.scale[0])
             for op in sg.ops if op.name == "DEQUANTIZE" and sg.tensors[op.inputs[0]].quant is not None}
    missing = [o for o in case.ops + (case.ops8 if quant else ()) if o not in present]
    assert not missing, f"the converted model has no {missing} (ops: {sorted(present)})"

    it = _interpreter(path)
    details = it.get_input_details()
    xs = dict(zip(_arg_names(case), _inputs(case, np.random.default_rng(99))))
    xs = {d["name"]: xs[_arg_name(d["name"])] for d in details}
    feeds = {d["name"]: _quantize_feed(xs[d["name"]], d) for d in details}
    ref = _run_litert(path, feeds)

    dlc = str(tmp_path / f"{case.id}.dlc")
    argv = ["-i", path, "-o", dlc]
    for name, x in xs.items():
        if case.dims:
            argv += ["-d", name, ",".join(map(str, x.shape))]
    assert tflite_to_dlc.main(argv) == 0
    graph = read_dlc(dlc).graph
    ours = execute(graph, {n: feeds[n] for n in graph.inputs})
    out_q = {d["name"]: d["quantization"] for d in it.get_output_details()}
    assert sorted(ours) == sorted(ref)
    for name, r in ref.items():
        o = ours[name]
        assert o.shape == r.shape, f"{name}: shape {o.shape} != LiteRT {r.shape}"
        if r.dtype == np.float32 and name in steps:     # dequantized int8 result: one step of it
            np.testing.assert_allclose(o, r, rtol=0, atol=steps[name] * 1.01, err_msg=name)
        elif r.dtype == np.float32:
            np.testing.assert_allclose(o, r, rtol=1e-3, atol=1e-4, err_msg=name)
        elif quant and out_q[name][0] != 0 and r.dtype in (np.int8, np.uint8, np.int16):
            d = np.abs(o.astype(np.int32) - r.astype(np.int32))
            if os.environ.get("TFLITE_OPS_REPORT"):
                print(f"{case.id}: max {d.max()} steps, {(d <= 1).mean():.2%} within one, {(d == 0).mean():.2%} exact")
            assert d.max() <= 2 and (d <= 1).mean() >= 0.99, \
                f"{name}: max {d.max()} steps, {(d <= 1).mean():.2%} within one step"
        else:
            np.testing.assert_array_equal(o, r.astype(o.dtype) if r.dtype == np.int64 else r, err_msg=name)


@pytest.mark.parametrize("case", [c for c in CASES if c.float], ids=lambda c: c.id)
def test_float(case: Case, tmp_path) -> None:
    check_case(case, False, tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if c.int8], ids=lambda c: c.id)
def test_int8(case: Case, tmp_path) -> None:
    check_case(case, True, tmp_path)


def _relu_as_narrow_fake_quant(model: Any) -> None:
    relu_as_fake_quant(-1.0, 1.0, 8)(model)
    for op in _ops_named(model, "FAKE_QUANT"):
        op.builtinOptions.narrowRange = True


UNSUPPORTED = [
    (C("sign_bit_activation", lambda a, b: a + b, [A, A], "ADD", edit=set_options("ADD", fusedActivationFunction=5)),
     "fused activation"),
    (C("fake_quant_narrow", lambda x: tf.nn.relu(x), [X4], "FAKE_QUANT", edit=_relu_as_narrow_fake_quant),
     "narrow_range"),
    (C("soft_nms", lambda b, s: tf.raw_ops.NonMaxSuppressionV5(
        boxes=b, scores=s, max_output_size=4, iou_threshold=0.4, score_threshold=0.3, soft_nms_sigma=0.5,
        pad_to_max_output_size=True), [(8, 4), (8,)], "NON_MAX_SUPPRESSION_V5"), "soft_nms_sigma"),
]


@pytest.mark.parametrize("case,words", UNSUPPORTED, ids=lambda c: getattr(c, "id", ""))
def test_unsupported_attributes_raise(case: Case, words: str, tmp_path) -> None:
    """Attribute combinations without a QNN mapping fail with one line naming the op and its output."""
    from snpe_tools.errors import ConversionError

    path = str(tmp_path / f"{case.id}.tflite")
    with open(path, "wb") as fh:
        fh.write(_edit_model(_tflite(case, False), case.edit))
    sg = load_tflite(path).subgraphs[0]
    op = next(o for o in sg.ops if o.name in case.ops)
    with pytest.raises(ConversionError) as err:
        tflite_to_dlc.main(["-i", path, "-o", str(tmp_path / "out.dlc")])
    msg = str(err.value)
    assert "\n" not in msg and f"op #{op.index}" in msg and sg.tensors[op.outputs[0]].name in msg and words in msg

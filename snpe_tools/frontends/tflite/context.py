"""Translation state shared by the TFLite translators.

TFLite is NHWC already, so nothing is transposed: 4-D tensors are tagged NSC and the legacy
layout pass is not run.  Constant tensors stay numpy arrays until an op consumes them.

Quantization: a TFLite tensor with an integer type and quantization parameters becomes an IR tensor
of the same integer type with a QNN :class:`~snpe_tools.ir.graph.Encoding` (offset = -zero_point,
per-channel along the axis of the *IR* layout).  Float ops that read quantized constant weights
(fp16 or dynamic-range models) get them dequantized to float32 at convert time.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConversionError
from ...ir import axis_format as af
from ...ir import dtypes as qd
from ...ir.graph import Encoding, Graph
from ..emit import EmitMixin
from .model import QuantParams, TflOp, TflSubgraph, TflTensor

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)


def ints(v) -> list[int]:
    """A constant (or option vector) as a flat list of Python ints: axes, sizes, begin/end indices."""
    return [int(d) for d in np.asarray(v).reshape(-1)]


def encoding_of(q: QuantParams, dtype: np.dtype, axis: int | None = None) -> Encoding:
    """QNN encoding (real = (q + offset) * scale) of TFLite params (real = scale * (q - zero_point))."""
    info = np.iinfo(dtype)
    bits = info.bits
    scales, zps = q.scale.astype(np.float64), q.zero_point.astype(np.int64)
    if zps.size == 1 and scales.size > 1:
        zps = np.repeat(zps, scales.size)

    def one(s: float, z: int) -> tuple[float, int, float, float]:
        return float(s), int(-z), float((info.min - z) * s), float((info.max - z) * s)

    if scales.size > 1:
        chans = [one(s, z) for s, z in zip(scales, zps)]
        first = chans[0]
        return Encoding(bits, first[0], first[1], first[2], first[3], axis=axis, channels=chans)
    sc, off, mn, mx = one(scales[0], zps[0])
    return Encoding(bits, sc, off, mn, mx)


class TfliteContext(EmitMixin):
    def __init__(self, graph: Graph, sg: TflSubgraph) -> None:
        self.graph = graph
        self.sg = sg
        self.names: dict[int, str] = {}       # TFLite tensor index -> IR tensor name
        self.consts: dict[int, np.ndarray] = {t.index: t.data for t in sg.tensors if t.data is not None}

    # ---- TFLite tensors ----------------------------------------------------------------------
    def t(self, idx: int) -> TflTensor:
        return self.sg.tensors[idx]

    def is_quantized(self, idx: int) -> bool:
        t = self.t(idx)
        return t.quant is not None and t.type_code in (2, 3, 7, 9, 4, 16)   # int32/uint8/int16/int8/int64/uint16

    def is_const(self, idx: int) -> bool:
        return idx in self.consts

    def const(self, idx: int) -> np.ndarray | None:
        return self.consts.get(idx)

    def require_const(self, op: TflOp, k: int, what: str) -> np.ndarray:
        idx = op.inputs[k] if k < len(op.inputs) else -1
        if idx < 0 or idx not in self.consts:
            raise ConversionError(f"{self.label(op)}: {what} must be a constant "
                                  "tensor; computing it at run time is not supported")
        return self.consts[idx]

    def const_scalar(self, op: TflOp, k: int, what: str) -> float:
        """Real value of the constant scalar input ``k`` (a quantized one read with its own parameters)."""
        self.require_const(op, k, what)
        return float(np.asarray(self.real_const(op.inputs[k])).reshape(-1)[0])

    def fail(self, op: TflOp, what: str) -> ConversionError:
        """The one-line error of a translator: the op, its index and outputs, then what is wrong."""
        return ConversionError(f"{self.label(op)}: {what}")

    def real_const(self, idx: int) -> np.ndarray:
        """Float value of a constant: fp16 widened, quantized integers dequantized."""
        v = self.consts[idx]
        t = self.t(idx)
        if self.is_quantized(idx):
            q = t.quant
            shape = [1] * v.ndim
            scale, zp = q.scale.astype(np.float64), q.zero_point.astype(np.float64)
            if scale.size > 1:
                shape[q.axis] = scale.size
                scale = scale.reshape(shape)
                zp = (zp if zp.size > 1 else np.repeat(zp, scale.size)).reshape(shape)
            return ((v.astype(np.float64) - zp) * scale).astype(np.float32)
        if v.dtype in (np.float16, np.float64):
            return v.astype(np.float32)
        return v

    def label(self, op: TflOp) -> str:
        """How errors name a TFLite op: builtin name, execution index, output tensors (``CONV_2D op #3 (y)``)."""
        return f"{op.name} op #{op.index} ({self.out_label(op)})"

    def out_label(self, op: TflOp) -> str:
        return ", ".join(self.t(i).name for i in op.outputs if i >= 0)[:200]

    # ---- IR tensors --------------------------------------------------------------------------
    def tensor(self, idx: int) -> str:
        """IR tensor of a TFLite tensor; constants become static tensors (quantized ones keep encodings)."""
        if idx in self.names:
            return self.names[idx]
        if idx in self.consts:
            t = self.t(idx)
            data = self.consts[idx]
            if self.is_quantized(idx):
                name = self.graph.add_const(t.name, self._storable(data, t))
                self.graph.tensors[name].encoding = encoding_of(t.quant, self.graph.tensors[name].dtype,
                                                                t.quant.axis)
            else:
                name = self.graph.add_const(t.name, qd.narrow_array(self.real_const(idx)))
            self.graph.tensors[name].axis_format = af.channel_last_default(data.ndim)
            self.names[idx] = name
            return name
        raise ConversionError(f"tensor '{self.t(idx).name}' is used before an op produces it; the TFLite "
                              "subgraph is not in execution order")

    @staticmethod
    def _storable(data: np.ndarray, t: TflTensor) -> np.ndarray:
        if data.dtype == np.int64:
            if np.abs(data).max(initial=0) < 2 ** 31:
                return data.astype(np.int32)
            raise ConversionError(f"tensor '{t.name}': int64 quantized values exceed the int32 range of a DLC")
        return data

    def weight(self, idx: int, perm: tuple[int, ...] | None = None, reshape: tuple[int, ...] | None = None,
               axis: int | None = None, quantized: bool = True) -> str:
        """A constant weight in the QNN layout: transposed by ``perm`` / reshaped; per-channel axis remapped.

        ``quantized=False`` (float activations) dequantizes it, as QNN float ops take float weights.
        """
        t = self.t(idx)
        if idx not in self.consts:
            return self.tensor(idx)
        keep_q = quantized and self.is_quantized(idx)
        data = self._storable(self.consts[idx], t) if keep_q else self.real_const(idx)
        if perm is not None:
            data = np.ascontiguousarray(np.transpose(data, perm))
        if reshape is not None:
            data = data.reshape(reshape)
        name = self.graph.add_const(t.name, qd.narrow_array(data) if not keep_q else data)
        tt = self.graph.tensors[name]
        tt.axis_format = af.ANY
        if keep_q:
            q_axis = t.quant.axis
            if axis is not None:
                q_axis = axis
            elif perm is not None:
                q_axis = list(perm).index(t.quant.axis)
            tt.encoding = encoding_of(t.quant, tt.dtype, q_axis)
        return name

    def bias(self, op: TflOp, k: int, quantized: bool) -> list[str]:
        """The optional bias input ``k`` of a conv / fully connected op as an input list (empty if left out)."""
        if len(op.inputs) > k and op.inputs[k] >= 0:
            return [self.weight(op.inputs[k], quantized=quantized)]
        return []

    def quantized_io(self, op: TflOp) -> bool:
        """True when the op computes on quantized activations (its first input is quantized)."""
        return op.inputs[0] >= 0 and self.is_quantized(op.inputs[0]) and not self.is_const(op.inputs[0])

    def out_name(self, idx: int) -> str:
        if idx in self.names:
            return self.names[idx]
        name = self.graph.unique_name(self.t(idx).name)
        self.names[idx] = name
        return name

    def like(self, ir_name: str, idx: int) -> None:
        """Give IR tensor ``ir_name`` the dtype and encoding of TFLite tensor ``idx``."""
        t = self.t(idx)
        it = self.graph.tensors[ir_name]
        if self.is_quantized(idx):
            it.dtype = qd.narrow(t.dtype)
            it.encoding = encoding_of(t.quant, it.dtype, t.quant.axis)
        elif t.type_code not in (0, 1, 10):          # integer / bool outputs keep their type
            it.dtype = qd.narrow(t.dtype)
        it.axis_format = af.channel_last_default(it.rank)

    # ---- emitting ----------------------------------------------------------------------------
    def default_format(self, rank: int) -> str:
        return af.channel_last_default(rank)

    def emit_out(self, op: TflOp, type_: str, inputs: list[str], params: dict[str, Any] | None = None,
                 act: int | None = None, k: int = 0) -> str:
        """Emit the op producing output ``k`` of ``op``, then its fused activation (same encoding)."""
        out_idx = op.outputs[k]
        final = self.out_name(out_idx)
        act = op.options.get("fused_activation_function", ACT_NONE) if act is None else act
        if act == ACT_NONE:
            self.emit(type_, inputs, [final], params, name=final)
        else:
            tmp = self.graph.unique_name(f"{final}.pre_activation")
            self.emit(type_, inputs, [tmp], params, name=tmp)
            self.like(tmp, out_idx)
            self.activation(act, tmp, final, op)
        self.like(final, out_idx)
        return final

    def step(self, op: TflOp, type_: str, inputs: list[str], params: dict[str, Any] | None, tag: str,
             like: int) -> str:
        """An intermediate op of a decomposition, named ``<output>.<tag>`` and typed like TFLite tensor ``like``."""
        y = self.emit(type_, inputs, None, params, name=f"{self.t(op.outputs[0]).name}.{tag}")[0]
        self.like(y, like)
        return y

    def activation(self, act: int, x: str, out: str, op: TflOp) -> str:
        if act == ACT_RELU:
            return self.emit("Relu", [x], [out], name=out)[0]
        if act == ACT_RELU6:
            return self.emit("ReluMinMax", [x], [out], {"min_value": 0.0, "max_value": 6.0}, name=out)[0]
        if act == ACT_RELU_N1_TO_1:
            return self.emit("ReluMinMax", [x], [out], {"min_value": -1.0, "max_value": 1.0}, name=out)[0]
        if act == ACT_TANH:
            return self.emit("Tanh", [x], [out], name=out)[0]
        raise ConversionError(f"{self.label(op)}: fused activation {act} "
                              "(SIGN_BIT) is not supported; re-export the model with a supported activation")

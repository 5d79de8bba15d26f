"""Translation state shared by all ONNX translators.

ONNX tensors keep their names in the IR.  Constant values (initializers, Constant
nodes, folded subgraphs) stay numpy arrays in :attr:`OnnxContext.consts` and only
become static IR tensors when an op consumes them.

Layout: translators emit the graph in ONNX's own (channel-first) layout.  A
layout-sensitive op such as Conv is emitted as ``Transpose(to channel-last) -> Conv2d ->
Transpose(back)``, which is an exact QNN graph; the ``spatial_first_layout`` pass then
moves and cancels those Transposes.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ...errors import ConversionError
from ...ir import axis_format as af
from ...ir import dtypes as qd
from ...ir.graph import Graph
from ..emit import EmitMixin


class OnnxContext(EmitMixin):
    """What every ONNX translator gets: the IR graph being built with the one emitter API of all frontends
    (``emit`` / ``transpose`` / ``wrap_channel_last`` / ``add_const`` from :class:`EmitMixin`), plus the
    ONNX-only state -- constant values not yet in the graph, aliases (Identity), the opset, and flags."""

    def __init__(self, graph: Graph, opset: int) -> None:
        self.graph = graph
        self.opset = opset
        self.consts: dict[str, np.ndarray] = {}
        self.aliases: dict[str, str] = {}
        # set by the converter: translate one (sub)graph node (used by control-flow translators)
        self.translate_node: Any = None
        # --keep_quant_nodes: QuantizeLinear/DequantizeLinear become QNN Quantize/Dequantize ops
        self.keep_quant_nodes = False
        # False with -n/--no_simplification: only ops with a translator fold at convert time
        self.simplify = True

    def alias(self, out: str, src: str) -> None:
        """``out`` is the same value as ``src`` (Identity, Dropout): no op is emitted."""
        src = self.aliases.get(src, src)
        if src in self.consts:
            self.consts[out] = self.consts[src]
        else:
            self.aliases[out] = src

    # ---- values -------------------------------------------------------------------
    def is_const(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.consts

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def require_const(self, node: onnx.NodeProto, idx: int, what: str) -> np.ndarray:
        name = node.input[idx] if idx < len(node.input) else ""
        if not name or name not in self.consts:
            raise ConversionError(f"{what} must be a constant (computed from initializers); dynamic values are "
                                  "not supported")
        return self.consts[name]

    def tensor(self, name: str) -> str:
        """IR tensor name for an ONNX value, materialising constants as static tensors."""
        name = self.aliases.get(name, name)
        if name in self.graph.tensors:
            return name
        if name in self.consts:
            arr = qd.narrow_array(self.consts[name])
            return self.graph.add_const(name, arr, af.ANY, unique=False)
        raise ConversionError(f"tensor '{name}' is used before it is produced; the ONNX graph is not "
                              "topologically sorted or refers to a missing value")

    def shape(self, name: str) -> tuple[int, ...]:
        name = self.aliases.get(name, name)
        if name in self.consts:
            return tuple(self.consts[name].shape)
        return self.graph.tensors[self.tensor(name)].shape

    def rank(self, name: str) -> int:
        return len(self.shape(name))

    def fmt(self, name: str) -> str:
        return self.graph.tensors[self.tensor(name)].axis_format

    # ---- emitting (generic helpers come from EmitMixin) ----------------------------
    def to_channel_last(self, name: str) -> str:
        """IR tensor of ``name`` in channel-last order (inserts a Transpose the layout pass removes)."""
        return self.ir_to_channel_last(self.tensor(name))

    def emit_channel_last(self, type_: str, node: onnx.NodeProto, inputs: list[str],
                          params: dict[str, Any], extra_inputs: list[str] | None = None) -> None:
        """Emit a layout-sensitive op: its first input goes to channel-last, its output comes back."""
        self.wrap_channel_last(type_, self.to_channel_last(inputs[0]), node.output[0], params, extra_inputs,
                               name=node.name or node.output[0])


class NodeBuilder:
    """Emits the QNN ops of one ONNX node, with tensor and op names derived from the node.

    An op that writes one of the node's own outputs takes the node's name; intermediate tensors and
    ops get ``<output>.<tag>`` / ``<node>.<tag>`` names, made unique.  It is the one helper the ONNX
    translators use for multi-op compositions; it keeps a class (rather than free functions over
    ``ctx.emit``) because it holds the node those names derive from, so a composition does not pass
    the node and invent names at every call.  Everything it emits goes through ``ctx.emit`` /
    ``ctx.add_const`` (:class:`~snpe_tools.frontends.emit.EmitMixin`).
    """

    def __init__(self, ctx: OnnxContext, node: onnx.NodeProto) -> None:
        self.ctx, self.node, self.n = ctx, node, node.name or node.output[0]

    def dtype(self, t: str) -> np.dtype:
        return self.ctx.graph.tensors[t].dtype

    def shape(self, t: str) -> list[int]:
        return list(self.ctx.graph.tensors[t].shape)

    def op(self, qnn: str, ins: list[str], params: dict | None = None, tag: str = "", out: str | None = None,
           n_out: int = 1) -> str:
        return self.ops(qnn, ins, params, tag, [out] if out else None, n_out)[0]

    def ops(self, qnn, ins, params=None, tag="", outs=None, n_out=1) -> list[str]:
        if outs is None:
            outs = [self.ctx.graph.unique_name(f"{self.node.output[0]}.{tag or qnn.lower()}{'' if n_out == 1 else i}")
                    for i in range(n_out)]
        name = self.n if outs[0] in self.node.output else self.ctx.graph.unique_name(f"{self.n}.{tag or qnn.lower()}")
        return self.ctx.emit(qnn, ins, outs, params, name=name)

    def const(self, tag: str, value, dtype=None) -> str:
        arr = np.asarray(value, dtype=dtype)
        if dtype is not None and arr.dtype.itemsize == 8 and arr.dtype.kind in "iu":
            # operand of a 64-bit graph tensor (uint64 inputs stay 64-bit): keep its type, no narrowing
            return self.ctx.graph.add_const(f"{self.n}.{tag}", arr)
        return self.ctx.add_const(f"{self.n}.{tag}", arr)

    def reshape(self, x: str, shape, tag: str = "reshape", out: str | None = None) -> str:
        shape = [int(d) for d in shape]
        if out is None and shape == self.shape(x):
            return x
        return self.op("Reshape", [x], {"shape": shape}, tag, out)

    def transpose(self, x: str, perm, tag: str = "t", out: str | None = None) -> str:
        perm = [int(p) for p in perm]
        if out is None and perm == list(range(len(perm))):
            return x
        return self.op("Transpose", [x], {"perm": perm}, tag, out)

    def int32(self, x: str, tag: str) -> str:
        return x if self.dtype(x) == np.int32 else self.op("Cast", [x], {"to": qd.INT_32}, tag)

    def finish(self, x: str, out: str | None = None) -> None:
        """Make ``x`` the node's output (an alias when no op wrote it)."""
        out = out or self.node.output[0]
        if x != out:
            self.ctx.alias(out, x)


# ---- node helpers shared by the translators ------------------------------------------------------
#: float types translators accept where an op is float-only
FLOATS = (np.dtype(np.float32), np.dtype(np.float16))


#: numpy types of source tensors a DLC can hold (64-bit ones narrowed by ``ir.dtypes.narrow``)
DLC_SOURCE_TYPES = frozenset(qd.TYPE_NAMES.values())


def onnx_np_dtype(elem_type: int) -> np.dtype | None:
    """numpy type of an ONNX ``TensorProto`` element type that a DLC can hold (before :func:`ir.dtypes.narrow`
    makes 64-bit types 32-bit); None for the types it cannot (string, bfloat16, float8, complex, 4-bit ...)."""
    try:
        dt = np.dtype(helper.tensor_dtype_to_np_dtype(int(elem_type)))
    except (KeyError, TypeError, ValueError):
        return None
    return dt if dt in DLC_SOURCE_TYPES else None


def node_name(node: onnx.NodeProto) -> str:
    """The name ONNX users know a node by: its name, or its first output for unnamed nodes."""
    return node.name or node.output[0]


def node_error(node: onnx.NodeProto, msg: str) -> ConversionError:  # noqa: ARG001 - the node documents the call
    """A translator's one-line error about ``node``: what is wrong and the fix.  The converter's node loop
    (:func:`snpe_tools.frontends.translator_registry.translate`) prefixes ``<OpType> node '<name>': `` once."""
    return ConversionError(msg)


def has_input(node: onnx.NodeProto, idx: int) -> bool:
    """Optional input ``idx`` is given (ONNX marks a skipped optional input with an empty name)."""
    return len(node.input) > idx and bool(node.input[idx])


def str_attr(v: Any, default: str) -> str:
    if v is None:
        return default
    return v.decode() if isinstance(v, bytes) else str(v)


def ints_attr(node: onnx.NodeProto, a: dict, key: str, default: list[int], n: int) -> list[int]:
    """Integer-list attribute ``key`` that must hold ``n`` values (one per spatial axis)."""
    vals = [int(v) for v in a.get(key, default)]
    if len(vals) != n:
        raise node_error(node, f"{key} {vals} has {len(vals)} values, expected {n}")
    return vals


def norm_axis(node: onnx.NodeProto, axis: int, rank: int, what: str = "axis") -> int:
    """ONNX axis (negative counts from the end) -> non-negative, or a one-line error naming the node."""
    if not -rank <= axis < rank:
        raise node_error(node, f"{what} {axis} is out of range for a rank-{rank} input")
    return axis + rank if axis < 0 else axis


def tmp_name(ctx: OnnxContext, node: onnx.NodeProto, tag: str) -> str:
    """Unique name of an intermediate tensor of ``node`` (``<output>.<tag>``)."""
    return ctx.graph.unique_name(f"{node.output[0]}.{tag}")


def tensor_dtype(ctx: OnnxContext, name: str) -> np.dtype:
    return ctx.graph.tensors[ctx.tensor(name)].dtype


def scalar_const(ctx: OnnxContext, node: onnx.NodeProto, tag: str, value: Any, dtype: Any) -> str:
    """Scalar constant operand of ``node`` (named ``<node>.<tag>``)."""
    return ctx.add_const(f"{node_name(node)}.{tag}", np.asarray(value, dtype=dtype))


def require_float(ctx: OnnxContext, node: onnx.NodeProto) -> np.dtype:
    """dtype of the node's first input, which must be a float type."""
    dt = tensor_dtype(ctx, node.input[0])
    if not np.issubdtype(dt, np.floating):
        raise node_error(node, f"input type {dt} is not supported (float only)")
    return dt


def node_base_name(node: onnx.NodeProto) -> str:
    """Name for ops derived from ``node``: its name, else its first non-empty output, else its type."""
    return node.name or next((o for o in node.output if o), node.op_type)


class ValueBuilder:
    """Emits the ops of one node over *values* that are either numpy arrays (constants) or IR tensor names.

    It holds state a plain ``ctx.emit`` call does not: the node whose name prefixes every op and
    constant, and the rule that arithmetic on two constants is done now in numpy (:meth:`binary`,
    :meth:`cast`, :meth:`scalar`) so the quantization translators fold scale/zero-point arithmetic
    at convert time and emit ops only for run-time values.
    """

    def __init__(self, ctx: OnnxContext, node) -> None:
        self.ctx, self.node, self.base = ctx, node, node_base_name(node)

    def err(self, msg: str) -> ConversionError:
        return ConversionError(msg)   # the converter's node loop names the node

    def val(self, idx: int):
        """Input ``idx``: None (absent), numpy array (constant) or IR tensor name."""
        node = self.node
        if idx >= len(node.input) or not node.input[idx]:
            return None
        name = node.input[idx]
        if self.ctx.is_const(name):
            return np.asarray(self.ctx.const(self.ctx.aliases.get(name, name)))
        return self.ctx.tensor(name)

    def dtype(self, v) -> np.dtype:
        return np.dtype(v.dtype) if not isinstance(v, str) else np.dtype(self.ctx.graph.tensors[v].dtype)

    def shape(self, v) -> tuple[int, ...]:
        return tuple(np.shape(v)) if not isinstance(v, str) else tuple(self.ctx.graph.tensors[v].shape)

    def t(self, v, tag: str) -> str:
        if isinstance(v, str):
            return v
        return self.ctx.graph.add_const(f"{self.base}.{tag}", np.ascontiguousarray(v))

    def op(self, type_: str, ins: list, tag: str, params: dict | None = None, out: str | None = None) -> str:
        out = out or self.ctx.graph.unique_name(f"{self.base}.{tag}")
        ins = [self.t(v, f"{tag}.c{k}") for k, v in enumerate(ins)]
        return self.ctx.emit(type_, ins, [out], params, name=out)[0]

    def cast(self, v, dtype, tag: str):
        dtype = np.dtype(dtype)
        if not isinstance(v, str):
            return np.asarray(v).astype(dtype)
        if self.dtype(v) == dtype:
            return v
        return self.op("Cast", [v], tag, {"to": qd.to_qnn(dtype)})

    def scalar(self, v, rank: int, tag: str):
        """A one-element value as something that broadcasts against a rank-``rank`` tensor without
        changing its shape (run-time values keep their shape when that already holds)."""
        if not isinstance(v, str):
            return np.asarray(v).reshape(())
        if len(self.shape(v)) <= rank:
            return v
        return self.op("Reshape", [v], tag, {"shape": [1] * rank})

    def binary(self, type_: str, fn, a, b, tag: str):
        if not isinstance(a, str) and not isinstance(b, str):
            return np.asarray(fn(np.asarray(a), np.asarray(b)))
        return self.op(type_, [a, b], tag)


def attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """Node attributes as python values (tensors become numpy arrays)."""
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, bytes):
            v = v.decode("utf-8")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode("utf-8") for s in v]
        out[a.name] = v
    return out

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
from ...ir.graph import Graph
from ..emit import EmitMixin, narrow


class OnnxContext(EmitMixin):
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
            raise ConversionError(f"{node.op_type} node '{node.name or node.output[0]}': {what} must be a "
                                  "constant (computed from initializers); dynamic values are not supported")
        return self.consts[name]

    def tensor(self, name: str) -> str:
        """IR tensor name for an ONNX value, materialising constants as static tensors."""
        name = self.aliases.get(name, name)
        if name in self.graph.tensors:
            return name
        if name in self.consts:
            arr = narrow(self.consts[name])
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
    ops get ``<output>.<tag>`` / ``<node>.<tag>`` names, made unique.
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
        from ...ir import dtypes as qd

        return x if self.dtype(x) == np.int32 else self.op("Cast", [x], {"to": qd.INT_32}, tag)

    def finish(self, x: str, out: str | None = None) -> None:
        """Make ``x`` the node's output (an alias when no op wrote it)."""
        out = out or self.node.output[0]
        if x != out:
            self.ctx.alias(out, x)


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

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
        self.source_formats: dict[str, str] = {}
        self.aliases: dict[str, str] = {}

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

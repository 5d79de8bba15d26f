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


def narrow(arr: np.ndarray) -> np.ndarray:
    """QNN targets have no 64-bit types: float64 -> float32, int64 -> int32 (clipped)."""
    arr = np.asarray(arr)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64:
        return np.clip(arr, np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(np.int32)
    if arr.dtype == np.uint64:
        return np.clip(arr, 0, np.iinfo(np.uint32).max).astype(np.uint32)
    return arr


class OnnxContext:
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

    # ---- emitting -----------------------------------------------------------------
    def emit(self, type_: str, inputs: list[str], outputs: list[str] | None = None,
             params: dict[str, Any] | None = None, name: str | None = None,
             fmt: str | None = None) -> list[str]:
        """Add a QNN op; outputs get the ONNX default axis format of their rank unless ``fmt``."""
        op = self.graph.add_op(type_, inputs, outputs, params, name=name)
        for o in op.outputs:
            t = self.graph.tensors[o]
            t.axis_format = fmt or af.onnx_default(t.rank)
        return op.outputs

    def transpose(self, x: str, perm: tuple[int, ...], out: str | None = None, fmt: str | None = None) -> str:
        t = self.graph.tensors[x]
        out = out or self.graph.unique_name(f"{x}.t")
        return self.emit("Transpose", [x], [out], {"perm": list(perm)}, name=out,
                         fmt=fmt or af.permute_format(t.axis_format, perm))[0]

    def to_channel_last(self, name: str) -> str:
        """IR tensor of ``name`` in channel-last order (inserts a Transpose the layout pass removes)."""
        x = self.tensor(name)
        rank = self.graph.tensors[x].rank
        if name in self.consts:
            return self.graph.add_const(f"{name}.nhwc", np.transpose(narrow(self.consts[name]),
                                                                     af.spatial_first_perm(rank)))
        return self.transpose(x, af.spatial_first_perm(rank))

    def from_channel_last(self, x: str, out: str) -> str:
        rank = self.graph.tensors[x].rank
        return self.transpose(x, af.channel_first_perm(rank), out=out, fmt=af.onnx_default(rank))

    def emit_channel_last(self, type_: str, node: onnx.NodeProto, inputs: list[str],
                          params: dict[str, Any], extra_inputs: list[str] | None = None) -> None:
        """Emit a layout-sensitive op: its first input goes to channel-last, its output comes back."""
        x = self.to_channel_last(inputs[0])
        tmp = self.graph.unique_name(f"{node.output[0]}.nhwc")
        rank = self.graph.tensors[x].rank
        fmt = af.TO_SPATIAL_FIRST.get(af.onnx_default(rank), (af.NONTRIVIAL,))[0]
        self.emit(type_, [x] + list(extra_inputs or []), [tmp], params,
                  name=node.name or node.output[0], fmt=fmt)
        self.from_channel_last(tmp, node.output[0])

    def add_const(self, base: str, arr: np.ndarray) -> str:
        return self.graph.add_const(base, narrow(arr))


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

"""Translation state of the TensorFlow frontend.

TF tensors keep their TensorFlow names in the IR (``node:0``), as SNPE's converter does, so the
DLC's outputs are ``<out_node>:0`` and snpe-net-run writes ``<out_node>:0.raw``.  Everything is
NHWC already: tensors get the channel-last axis format of their rank and no Transposes are added.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConversionError
from ...ir import axis_format as af
from ...ir import dtypes as qd
from ...ir.graph import Graph
from ..emit import EmitMixin
from .layers import Layer
from .model import TFModel, node_of


class TFContext(EmitMixin):
    def __init__(self, graph: Graph, model: TFModel, aliases: dict[str, str],
                 shapes: dict[str, tuple[int, ...]] | None = None) -> None:
        self.graph = graph
        self.model = model
        self.aliases = aliases
        self.produced: dict[str, str] = {}          # TF tensor -> IR tensor
        self._shapes = dict(shapes or {})
        self.unsupported: dict[str, str] = {}       # node -> op type, for the "needs" error
        # IR tensor -> the tensors that become DLC outputs together when an --out_node reaches it (all
        # results of a multi-output layer, e.g. DetectionOutput's classes/boxes/scores, named by the layer)
        self.output_groups: dict[str, list[str]] = {}

    # ---- values -------------------------------------------------------------------------
    def source(self, t: str) -> str:
        while t in self.aliases:
            t = self.aliases[t]
        return t

    def tensor(self, t: str) -> str:
        """IR name for TF tensor ``t`` (constants are materialised on first use)."""
        t = self.source(t)
        if t in self.produced:
            return self.produced[t]
        if not self.model.is_dynamic(t):
            arr = qd.narrow_array(np.asarray(self.model.const(t)))
            name = self.graph.add_const(t, arr, axis_format=af.ANY)
            self.produced[t] = name
            return name
        n = node_of(t)
        if n in self.unsupported:
            raise ConversionError(f"'{t}' comes from Operation ({n}) of type ({self.unsupported[n]}), which is "
                                  "not supported by the converter")
        raise ConversionError(f"tensor '{t}' is used before it is computed")

    def const(self, t: str) -> np.ndarray | None:
        return self.model.const(self.source(t))

    def require_const(self, layer: Layer, t: str, what: str) -> np.ndarray:
        v = self.const(t)
        if v is None:
            raise ConversionError(f"{layer.kind} '{layer.name}': {what} ('{t}') must be known at conversion "
                                  "time, but it depends on the input data")
        return np.asarray(v)

    def shape(self, t: str) -> tuple[int, ...]:
        t = self.source(t)
        if t in self.produced and self.produced[t] in self.graph.tensors:
            return tuple(self.graph.tensors[self.produced[t]].shape)
        s = self.model.static_shape(t)
        if s is None:
            s = self._shapes.get(t)
        if s is None:
            v = self.model.const(t)
            if v is not None:
                return tuple(np.shape(v))
            raise ConversionError(f"the shape of '{t}' is not known at conversion time")
        return s

    def rank(self, t: str) -> int:
        return len(self.shape(t))

    # ---- emitting -----------------------------------------------------------------------
    def op(self, type_: str, inputs: list[str], params: dict[str, Any] | None = None,
           out: str | None = None, name: str | None = None) -> str:
        """Emit one QNN op with one output; ``out`` is the TF tensor it computes (else a temporary)."""
        if out is not None:
            ir_out = self.graph.unique_name(out) if out in self.graph.tensors else out
        else:
            ir_out = self.graph.unique_name(f"{name or type_}_tmp")
        op = self.graph.add_op(type_, inputs, [ir_out], params, name=name or (out or ir_out))
        for o in op.outputs:
            self.graph.tensors[o].axis_format = af.channel_last_default(self.graph.tensors[o].rank)
        if out is not None:
            self.produced[out] = ir_out
        return ir_out

    def multi(self, type_: str, inputs: list[str], outs: list[str | None], params: dict[str, Any] | None,
              name: str) -> list[str]:
        """Emit one QNN op with several outputs (TF tensor names, or None for unused ones)."""
        names = [o if o is not None and o not in self.graph.tensors else self.graph.unique_name(
            o or f"{name}_out{i}") for i, o in enumerate(outs)]
        op = self.graph.add_op(type_, inputs, names, params, name=name)
        for o, tf_name in zip(op.outputs, outs):
            self.graph.tensors[o].axis_format = af.channel_last_default(self.graph.tensors[o].rank)
            if tf_name is not None:
                self.produced[tf_name] = o
        return op.outputs

    def alias(self, t: str, src_ir: str) -> None:
        """TF tensor ``t`` is the IR tensor ``src_ir`` (identity-like layers)."""
        self.produced[t] = src_ir

    def add_const(self, base: str, arr: np.ndarray) -> str:
        return self.graph.add_const(base, qd.narrow_array(np.asarray(arr)))

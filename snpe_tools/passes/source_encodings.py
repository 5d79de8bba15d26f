"""Encodings of a quantized source (QDQ pairs, FakeQuant nodes) and of ``--quantization_overrides``.

They are attached once the IR passes have settled the tensors' final names and layouts (a per-axis
weight encoding must follow the weight into QNN's HWIO layout), and before the float-width pass, which
leaves tensors with encodings alone.  Overrides come last: they win over encodings from the source,
as in SNPE.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..quantization.overrides import apply_overrides, refuse_float32
from ..quantization.source import apply_source_encodings
from .registry import register_pass


@register_pass("source_encodings")
def source_encodings(graph: Graph, options) -> bool:
    changed = bool(graph.source_encodings)
    apply_source_encodings(graph, graph.source_encodings)
    path = options.get("quantization_overrides")
    if path:
        floats: dict[str, int] = {}
        apply_overrides(graph, path, floats=floats)
        refuse_float32(floats)
        changed = True
    return changed

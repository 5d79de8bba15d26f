"""Pass registry: each IR pass is a function registered by name; pipelines are plain lists.

A pass takes the graph (and the conversion options) and returns True if it changed
anything.  ``run_pipeline`` logs each pass at DEBUG_2 level like SNPE's optimiser.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from ..ir.graph import Graph

PassFn = Callable[[Graph, dict[str, Any]], bool]
_PASSES: dict[str, PassFn] = {}
log = logging.getLogger("snpe_tools")


def register_pass(name: str) -> Callable[[PassFn], PassFn]:
    def deco(fn: PassFn) -> PassFn:
        if name in _PASSES:
            raise TypeError(f"pass {name} registered twice")
        _PASSES[name] = fn
        return fn

    return deco


def get_pass(name: str) -> PassFn:
    _load()
    return _PASSES[name]


def run_pipeline(graph: Graph, names: list[str], options: dict[str, Any] | None = None) -> None:
    _load()
    for name in names:
        changed = _PASSES[name](graph, options or {})
        log.log(12, "pass %s: %s", name, "changed the graph" if changed else "no change")   # DEBUG_2 level
    graph.prune_tensors()


# The legacy snpe-*-to-dlc order: clean up, go spatial-first, then fuse.
LEGACY_PIPELINE = ["remove_identities", "fold_constants", "spatial_first_layout", "io_layouts",
                   "remove_identities", "squash_pad", "fold_batchnorm", "remove_identities", "remove_dead_nodes",
                   "restore_source_names", "insert_color_transform", "source_encodings", "strip_encodings",
                   "float_bitwidth", "io_dtypes"]


def legacy_pipeline(*, fold_batchnorm: bool = True, remove_dead: bool = True,
                    fold_constants: bool = True, spatial_first: bool = True) -> list[str]:
    """The legacy order with switches; ``spatial_first=False`` for sources that are already NHWC (TF, TFLite)."""
    names = list(LEGACY_PIPELINE)
    if not spatial_first:
        names.remove("spatial_first_layout")
    if not fold_batchnorm:
        names.remove("fold_batchnorm")
    if not remove_dead:
        names.remove("remove_dead_nodes")
    if not fold_constants:
        names.remove("fold_constants")
    return names


_LOADED = False


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import (batchnorm_fold, cleanup, color_transform, constant_fold, float_precision,  # noqa: F401
                       layout, pad_squash, source_encodings, strip_quant)

"""Two registries, one per concern.

* TF op type -> single-op translator (``@tf_op``): for nodes no pattern resolver claimed.
  A translator is ``fn(ctx, layer)``; the layer holds exactly one node.
* Pattern resolvers (``@resolver``), run in ``priority`` order (lower first): each looks at the
  dynamic nodes not yet claimed and proposes multi-node layers (e.g. Conv2D + BiasAdd).

Both kinds live in ``ops/<family>.py``, one module per IR family, so loading ``ops._all`` registers both.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..translator_registry import TranslatorRegistry

if TYPE_CHECKING:
    from .context import TFContext
    from .layers import Layer
    from .model import TFModel

Translator = Callable[["TFContext", "Layer"], None]

_OPS = TranslatorRegistry(__package__ + ".ops._all", "TensorFlow op")


def tf_op(*op_types: str) -> Callable[[Translator], Translator]:
    """Register ``fn`` as the translator of single nodes of these TF op types."""
    return lambda fn: _OPS.add(op_types, fn)


def get_translator(op_type: str) -> Translator | None:
    return _OPS.get(op_type)


def supported_op_types() -> list[str]:
    return _OPS.names()


@dataclass(frozen=True)
class Resolver:
    name: str          # topology name, shown in logs and docs
    priority: int
    find: Callable[["TFModel", set], list["Layer"]]


_RESOLVERS: dict[str, Resolver] = {}
_LOADED = False


def resolver(name: str, priority: int) -> Callable:
    """Register ``find(model, claimed) -> [Layer]`` as the resolver of one topology."""
    def deco(fn):
        if name in _RESOLVERS:
            raise TypeError(f"resolver {name} registered twice")
        _RESOLVERS[name] = Resolver(name, priority, fn)
        return fn
    return deco


def resolvers() -> list[Resolver]:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module(__package__ + ".ops._all")
    return sorted(_RESOLVERS.values(), key=lambda r: (r.priority, r.name))

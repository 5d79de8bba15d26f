"""TFLite builtin (or custom) op name -> translator; translators live in ``ops/`` by family.

A translator is ``fn(ctx, op)`` with the :class:`~.context.TfliteContext` and the
:class:`~.model.TflOp`; it emits QNN ops and names the op's output tensors after TFLite's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..translator_registry import TranslatorRegistry

if TYPE_CHECKING:
    from .context import TfliteContext
    from .model import TflOp

Translator = Callable[["TfliteContext", "TflOp"], None]

_REGISTRY = TranslatorRegistry(__package__ + ".ops._all", "TFLite op")


def tflite_op(*names: str) -> Callable[[Translator], Translator]:
    """Decorator: register ``fn`` as the translator of the given TFLite builtin names / custom codes."""
    return lambda fn: _REGISTRY.add(names, fn)


def get_translator(name: str) -> Translator | None:
    return _REGISTRY.get(name)


def supported_ops() -> list[str]:
    return _REGISTRY.names()

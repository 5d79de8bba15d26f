"""ONNX op type -> translator function (one registry; translators live in ``ops/`` by family).

A translator receives the :class:`~.context.OnnxContext` and the ``NodeProto`` and emits
QNN ops into the IR.  It raises :class:`~snpe_tools.errors.ConversionError` for
attribute combinations it cannot express faithfully.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..translator_registry import TranslatorRegistry

if TYPE_CHECKING:
    import onnx

    from .context import OnnxContext

Translator = Callable[["OnnxContext", "onnx.NodeProto"], None]

_REGISTRY = TranslatorRegistry(__package__ + ".ops._all", "ONNX op")


def onnx_op(*op_types: str) -> Callable[[Translator], Translator]:
    """Decorator: register ``fn`` as the translator of the given ONNX op types."""
    return lambda fn: _REGISTRY.add(op_types, fn)


def get_translator(op_type: str) -> Translator | None:
    return _REGISTRY.get(op_type)


def supported_op_types() -> list[str]:
    return _REGISTRY.names()

"""ONNX op type -> translator function (one registry; translators live in ``ops/`` by family).

A translator receives the :class:`~.context.OnnxContext` and the ``NodeProto`` and emits
QNN ops into the IR.  It raises :class:`~snpe_tools.errors.ConversionError` for
attribute combinations it cannot express faithfully.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import onnx

    from .context import OnnxContext

Translator = Callable[["OnnxContext", "onnx.NodeProto"], None]

_TRANSLATORS: dict[str, Translator] = {}


def onnx_op(*op_types: str) -> Callable[[Translator], Translator]:
    """Decorator: register ``fn`` as the translator of the given ONNX op types."""

    def deco(fn: Translator) -> Translator:
        for t in op_types:
            if t in _TRANSLATORS:
                raise TypeError(f"ONNX op {t} registered twice")
            _TRANSLATORS[t] = fn
        return fn

    return deco


def get_translator(op_type: str) -> Translator | None:
    _load()
    return _TRANSLATORS.get(op_type)


def supported_op_types() -> list[str]:
    _load()
    return sorted(_TRANSLATORS)


_LOADED = False


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from .ops import _all  # noqa: F401

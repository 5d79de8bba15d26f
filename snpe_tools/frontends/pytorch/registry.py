"""aten/prim op kind -> translator (one registry; translators live in ``ops/`` by family).

A translator is ``fn(ctx, node, args) -> value | list[value]`` where ``args`` are the node's
inputs already resolved: :class:`~.context.Ref` for run-time tensors, plain Python/numpy values
for everything known at convert time.
"""
from __future__ import annotations

from typing import Any, Callable

Translator = Callable[..., Any]
_TRANSLATORS: dict[str, Translator] = {}


def aten_op(*kinds: str) -> Callable[[Translator], Translator]:
    """Register a translator for node kinds; a bare name means ``aten::<name>`` and ``aten::<name>_``."""

    def deco(fn: Translator) -> Translator:
        for k in kinds:
            names = [k] if "::" in k else [f"aten::{k}", f"aten::{k}_"]
            for name in names:
                if name in _TRANSLATORS:
                    raise TypeError(f"{name} registered twice")
                _TRANSLATORS[name] = fn
        return fn

    return deco


def get_translator(kind: str) -> Translator | None:
    _load()
    return _TRANSLATORS.get(kind)


def supported_kinds() -> list[str]:
    _load()
    return sorted(_TRANSLATORS)


_LOADED = False


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from .ops import _all  # noqa: F401

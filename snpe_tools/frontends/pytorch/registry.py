"""aten/prim op kind -> translator (one registry; translators live in ``ops/`` by family).

A translator is ``fn(ctx, node) -> value | list[value]``, the signature of every frontend; ``node``
is a :class:`~.context.TorchNode` whose ``args`` are the node's inputs already resolved
(:class:`~.context.Ref` for run-time tensors, plain Python/numpy values for everything known at
convert time).  TorchScript translators return their output values and the walker binds them to the
node's outputs: much of a TorchScript graph is evaluated at convert time, so an output may be a
plain value (a shape, a constant) rather than an emitted tensor.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..translator_registry import TranslatorRegistry

if TYPE_CHECKING:
    from .context import TorchContext, TorchNode

Translator = Callable[["TorchContext", "TorchNode"], Any]

_REGISTRY = TranslatorRegistry(__package__ + ".ops._all", "TorchScript op")


def aten_op(*kinds: str) -> Callable[[Translator], Translator]:
    """Register a translator for node kinds; a bare name means ``aten::<name>`` and ``aten::<name>_``."""
    names = [n for k in kinds for n in ([k] if "::" in k else [f"aten::{k}", f"aten::{k}_"])]
    return lambda fn: _REGISTRY.add(names, fn)


def get_translator(kind: str) -> Translator | None:
    return _REGISTRY.get(kind)

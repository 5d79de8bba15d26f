"""The translator contract of every frontend, its registry, and the one place that adds node context to errors.

**Contract.**  A translator is ``fn(ctx, node)``: ``ctx`` is the frontend's context (it holds the IR
:class:`~snpe_tools.ir.graph.Graph` being built and the frontend's name tables), ``node`` is the source
framework's unit of translation (an ONNX ``NodeProto``, a TensorFlow ``Layer``, a TFLite ``TflOp``, a
TorchScript ``Node``).  It emits QNN ops into ``ctx.graph`` and returns None -- except for TorchScript,
whose walker binds Python values to the node's outputs: there the translator returns the node's output
value(s).  A translator raises :class:`~snpe_tools.errors.ConversionError` for what it cannot express
faithfully, with a message that says *what* is wrong and the fix, **without** naming the node: the
per-node loop of the converter calls it through :func:`translate`, which prefixes the node once.

**Registry.**  One lazily populated name -> translator table per frontend (``<fw>/registry.py`` wraps a
:class:`TranslatorRegistry`).  The translator modules are imported on first lookup (not at package
import), so tools that never touch a frontend do not pay for importing its op tables.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable, Union

from ..errors import ConversionError

Translator = Callable[..., Any]
"""``fn(ctx, node) -> None`` (TorchScript: ``-> output value(s)``); see the module docstring."""

Label = Union[str, Callable[[], str]]

# values from the file that no DLC field can hold end up as one of these inside a translator
_OUT_OF_RANGE = (OverflowError, ZeroDivisionError)


class TranslatorRegistry:
    def __init__(self, modules_package: str, what: str) -> None:
        self._table: dict[str, Translator] = {}
        self._package = modules_package      # importing it registers every translator
        self._what = what
        self._loaded = False

    def add(self, names: Iterable[str], fn: Translator) -> Translator:
        for name in names:
            if name in self._table:
                raise TypeError(f"{self._what} {name} registered twice")
            self._table[name] = fn
        return fn

    def get(self, name: str) -> Translator | None:
        self._load()
        return self._table.get(name)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._table)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self._package)


def with_node_context(message: str, label: str, key: str | None = None) -> str:
    """``message`` prefixed with ``label: `` unless it already names the node (``key``, default ``label``)."""
    return message if (key or label) in message else f"{label}: {message}"


def translate(fn: Translator, ctx: Any, node: Any, label: Label, *, key: str | None = None,
              malformed: tuple[type[BaseException], ...] = ()) -> Any:
    """Run translator ``fn(ctx, node)``; every error leaves as one :class:`ConversionError` naming the node.

    ``label`` (a string, or a function computed only when an error occurs) names the node as users know it:
    ``Conv node 'conv1'``, ``Conv2D layer 'block1/conv'``, ``CONV_2D op #3 (out)``.  A ConversionError gets
    it as a prefix once -- not when its message already holds ``key`` (default: the label itself).  Values
    no DLC field can hold (OverflowError, ZeroDivisionError) become a ConversionError with the fix;
    ``malformed`` lists further exception types a frontend reads as "this node of the file is malformed"
    (TFLite: errors from reading its flatbuffer tables).  Returns what ``fn`` returns.
    """
    try:
        return fn(ctx, node)
    except ConversionError as exc:
        text = label() if callable(label) else label
        msg = str(exc)
        new = with_node_context(msg, text, key)
        if new == msg:
            raise
        raise type(exc)(new) from None
    except _OUT_OF_RANGE as exc:
        text = label() if callable(label) else label
        raise ConversionError(f"{text}: cannot be converted ({type(exc).__name__}: {exc}); a dimension or "
                              "attribute value is out of range - check the model and -d/--input_dim") from None
    except malformed as exc:
        text = label() if callable(label) else label
        raise ConversionError(f"{text}: cannot be converted ({type(exc).__name__}: {exc})") from None

"""One lazily populated name -> translator table, the shape of every frontend's registry.

The translator modules are imported on first lookup (not at package import), so tools that never
touch a frontend do not pay for importing its op tables.
"""
from __future__ import annotations

import importlib
from typing import Callable, Iterable


class TranslatorRegistry:
    def __init__(self, modules_package: str, what: str) -> None:
        self._table: dict[str, Callable] = {}
        self._package = modules_package      # importing it registers every translator
        self._what = what
        self._loaded = False

    def add(self, names: Iterable[str], fn: Callable) -> Callable:
        for name in names:
            if name in self._table:
                raise TypeError(f"{self._what} {name} registered twice")
            self._table[name] = fn
        return fn

    def get(self, name: str) -> Callable | None:
        self._load()
        return self._table.get(name)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._table)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self._package)

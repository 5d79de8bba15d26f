"""The command-line tools snpe-tools installs, and how to build each one's argument parser.

The console scripts of ``setup.cfg`` are the list (read from the checkout, or from the installed
package's metadata); each tool's parser comes from its module's ``make_parser()`` unless
:data:`PARSER_FUNCTIONS` names another function (one module serving several tools).  The man pages
(:mod:`snpe_tools.tools.manpages`), ``python -m snpe_tools`` and the tests all read this one list, so a new
tool needs only its console script and a ``make_parser()``.
"""
from __future__ import annotations

import configparser
import importlib
import os
import re
from dataclasses import dataclass
from importlib import metadata

from ..extras import source_tree
from .common import ArgumentParser

# tools whose parser is not their module's make_parser(): "module:function" (called without arguments)
PARSER_FUNCTIONS = {
    "snpe-dlc-quantize": "snpe_tools.tools.dlc_quantize:quantize_parser",
    "snpe-dlc-quant": "snpe_tools.tools.dlc_quantize:quant_parser",
    "qairt-quantizer": "snpe_tools.tools.dlc_quantize:qairt_parser",
}


@dataclass(frozen=True)
class Tool:
    name: str           # the command, e.g. snpe-onnx-to-dlc
    entry: str          # "module:function" of the console script

    @property
    def module(self) -> str:
        return self.entry.split(":", 1)[0]

    def parser(self) -> ArgumentParser:
        """The tool's argument parser, with ``--version``, as ``<tool> --help`` shows it."""
        target = PARSER_FUNCTIONS.get(self.name, f"{self.module}:make_parser")
        mod, func = target.split(":", 1)
        parser = getattr(importlib.import_module(mod), func)()
        parser.prog = self.name
        if isinstance(parser, ArgumentParser):
            parser.ensure_version()
        return parser

    def summary(self) -> str:
        """The head of the tool's description (its --help text): up to the first '. ' or ': ', without a
        closing parenthesis such as "(snpe-tools)"."""
        text = " ".join((self.parser().description or "").split())
        head = re.split(r"\. |: ", text, maxsplit=1)[0].rstrip(".")
        return re.sub(r" \([^()]*\)$", "", head)


def listing(all_tools: list[Tool] | None = None) -> str:
    """``python -m snpe_tools``: one line per tool, ``name  summary``."""
    all_tools = tools() if all_tools is None else all_tools
    width = max([len(t.name) for t in all_tools] + [10])
    lines = []
    for t in all_tools:
        try:
            summary = t.summary()
        except Exception as exc:   # a tool that cannot load still appears, with the reason
            summary = f"(cannot load: {type(exc).__name__}: {exc})"
        lines.append(f"  {t.name:<{width}}  {summary}")
    return "\n".join(lines)


def _entries_from_setup_cfg(path: str) -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(path, encoding="utf-8")
    raw = cfg.get("options.entry_points", "console_scripts", fallback="")
    out = {}
    for line in raw.splitlines():
        if "=" in line:
            name, target = (part.strip() for part in line.split("=", 1))
            out[name] = target
    return out


def tools(setup_cfg: str | None = None) -> list[Tool]:
    """Every console script of snpe-tools, sorted by name (``setup_cfg``: read that file instead)."""
    root = source_tree()
    if setup_cfg is None and root:
        setup_cfg = os.path.join(root, "setup.cfg")
    if setup_cfg:
        entries = _entries_from_setup_cfg(setup_cfg)
    else:
        entries = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")
                   if ep.value.startswith("snpe_tools.")}
    return [Tool(name, entries[name]) for name in sorted(entries)]

"""The ``input_list`` file shared by snpe-net-run, the quantizers and graph-prepare.

Grammar: optional first line ``#layer1 layer2`` (output layer names), optional line
``%tensor1 tensor2`` (output tensor names), then one inference per line: a single path
(single-input models) or ``name:=path`` pairs separated by spaces.  Relative paths are
resolved against the current directory and, failing that, the list file's directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import RuntimeInputError


@dataclass
class InputList:
    out_layers: list[str] = field(default_factory=list)
    out_tensors: list[str] = field(default_factory=list)
    entries: list[dict[str, str]] = field(default_factory=list)   # input name ('' = the only input) -> path


def _resolve(path: str, base: str) -> str:
    if os.path.isabs(path) or os.path.exists(path):
        return path
    alt = os.path.join(base, path)
    return alt if os.path.exists(alt) else path


def parse_input_list(path: str) -> InputList:
    if not os.path.isfile(path):
        raise RuntimeInputError(f"input list not found: {path} (check --input_list)")
    base = os.path.dirname(os.path.abspath(path))
    result = InputList()
    with open(path, encoding="utf-8") as fh:
        lines = [ln.strip() for ln in fh.read().splitlines()]
    seen_data = False
    for lineno, line in enumerate(lines, 1):
        if not line:
            continue
        if line.startswith("#") and not seen_data:
            result.out_layers += line[1:].split()
            continue
        if line.startswith("%") and not seen_data:
            result.out_tensors += line[1:].split()
            continue
        seen_data = True
        entry: dict[str, str] = {}
        for tok in line.split():
            if ":=" in tok:
                name, p = tok.split(":=", 1)
                entry[name] = _resolve(p, base)
            elif not entry and len(line.split()) == 1:
                entry[""] = _resolve(tok, base)
            else:
                raise RuntimeInputError(f"{path}:{lineno}: '{tok}' is neither 'name:=path' nor a single path; "
                                        "multi-input lines must use name:=path pairs")
        result.entries.append(entry)
    if not result.entries:
        raise RuntimeInputError(f"{path}: the input list names no input files")
    return result

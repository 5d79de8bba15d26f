"""The ``input_list`` file shared by snpe-net-run, the quantizers and graph-prepare.

Grammar: optional first line ``#layer1 layer2`` (output layer names), optional line
``%tensor1 tensor2`` (output tensor names; after the ``#`` line when both are given), then one
inference per line: a single path (single-input models) or ``name:=path`` pairs separated by spaces.
Relative paths are resolved against the current directory and, failing that, the list file's directory.
The ``#``/``%`` lines select the outputs (:func:`selected_outputs`): the tensors snpe-net-run writes,
the only ones snpe-dlc-graph-prepare reads, and for the quantizers the outputs whose layers get
calibrated (SNPE: omit the lines to get encodings for all layers).

The list must be a regular UTF-8 text file (a leading byte-order mark is allowed) of at most
:data:`MAX_BYTES` bytes, lines of at most :data:`MAX_LINE` bytes and :data:`MAX_ENTRIES` inference
lines: anything else (a binary file, a device, a FIFO) is refused with a one-line error naming the line.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from ..errors import RuntimeInputError, file_kind, os_error_reason
from ..ir.graph import Graph

MAX_BYTES = 64 << 20        # a list of a million 64-byte paths
MAX_LINE = 1 << 20
MAX_ENTRIES = 1_000_000


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


def _open_checked(path: str):
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise RuntimeInputError(f"input list not found: {path} (check --input_list)") from None
    except (OSError, ValueError) as exc:
        raise RuntimeInputError(f"--input_list {path}: cannot read it ({os_error_reason(exc)})") \
            from None
    if stat.S_ISDIR(st.st_mode):
        raise RuntimeInputError(f"--input_list {path} is a directory; give the input list text file")
    if not stat.S_ISREG(st.st_mode):
        raise RuntimeInputError(f"--input_list {path} is {file_kind(st.st_mode)}, not a regular file; "
                                "give the input list text file")
    if st.st_size > MAX_BYTES:
        raise RuntimeInputError(f"--input_list {path} is {st.st_size >> 20} MiB; input lists over "
                                f"{MAX_BYTES >> 20} MiB are not supported: split it into several lists")
    try:
        return open(path, "rb")
    except OSError as exc:
        raise RuntimeInputError(f"--input_list {path}: cannot read it ({os_error_reason(exc)})") from None


def _lines(path: str):
    """(line number, text) of the list, decoded as UTF-8; binary content is an error naming the line."""
    with _open_checked(path) as fh:
        lineno = 0
        while True:
            raw = fh.readline(MAX_LINE + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE:
                raise RuntimeInputError(f"{path}:{lineno}: the line is longer than {MAX_LINE >> 20} MiB; "
                                        "an input list holds one line of file paths per inference")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RuntimeInputError(f"{path}:{lineno}: not UTF-8 text; --input_list must name a text file "
                                        "listing raw files (one inference per line), not a binary file") from None
            if "\0" in text:
                raise RuntimeInputError(f"{path}:{lineno}: the line holds a NUL byte; --input_list must name a "
                                        "text file listing raw files (one inference per line), not a binary file")
            for part in text.splitlines() or [""]:      # \r-only line ends (old Mac files) split here
                yield lineno, part.strip()


def parse_input_list(path: str) -> InputList:
    base = os.path.dirname(os.path.abspath(path))
    result = InputList()
    seen_data = False
    resolved: dict[str, str] = {}      # one string per distinct path (and name), however many lines repeat it
    names: dict[str, str] = {}
    for lineno, line in _lines(path):
        if not line:
            continue
        if line.startswith("#") and not seen_data:
            if result.out_tensors:
                raise RuntimeInputError(f"{path}:{lineno}: the #output-layers line must come before the "
                                        "%output-tensors line; swap the two lines")
            result.out_layers += line[1:].split()
            continue
        if line.startswith("%") and not seen_data:
            result.out_tensors += line[1:].split()
            continue
        seen_data = True
        if len(result.entries) >= MAX_ENTRIES:
            raise RuntimeInputError(f"{path}:{lineno}: more than {MAX_ENTRIES} inference lines; split the list")
        entry: dict[str, str] = {}
        tokens = line.split()
        for tok in tokens:
            if ":=" in tok:
                name, p = tok.split(":=", 1)
                if not name or not p:
                    raise RuntimeInputError(f"{path}:{lineno}: '{tok}' needs both an input name and a path "
                                            "(name:=path)")
                if name in entry:
                    raise RuntimeInputError(f"{path}:{lineno}: input '{name}' is given twice on the line")
                key = p
                name = names.setdefault(name, name)
            elif not entry and len(tokens) == 1:
                name, key = "", tok
            else:
                raise RuntimeInputError(f"{path}:{lineno}: '{tok}' is neither 'name:=path' nor a single path; "
                                        "multi-input lines must use name:=path pairs")
            if key not in resolved:
                resolved[key] = _resolve(key, base)
            entry[name] = resolved[key]
        result.entries.append(entry)
    if not result.entries:
        raise RuntimeInputError(f"{path}: the input list names no input files")
    return result


def selected_outputs(il: InputList, graph: Graph) -> list[str] | None:
    """The output tensors the ``#`` (layers: all their outputs) and ``%`` (tensors) lines select, in the
    order given, or None when the list has neither line.  An unknown name is a one-line error."""
    if not il.out_layers and not il.out_tensors:
        return None
    by_name = {op.name: op for op in graph.ops}
    wanted: list[str] = []
    for layer in il.out_layers:
        op = by_name.get(layer)
        if op is None:
            raise RuntimeInputError(f"output layer '{layer}' (the input list's # line) is not in the DLC; give "
                                    "layer names as snpe-dlc-info lists them, or output tensors on a % line")
        wanted += op.outputs
    for name in il.out_tensors:
        if name not in graph.tensors or graph.tensors[name].is_static:
            raise RuntimeInputError(f"output tensor '{name}' (the input list's % line) is not in the DLC; model "
                                    f"outputs: {', '.join(graph.outputs)}")
        wanted.append(name)
    return list(dict.fromkeys(wanted))

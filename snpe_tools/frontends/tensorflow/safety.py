"""TensorFlow ops that touch the file system are never run at convert time.

The converter evaluates the constant part of a graph in a TF session (and restores checkpoints for
``.meta`` inputs), so a hostile GraphDef with a ``ReadFile`` of ``/etc/passwd`` or a ``WriteFile``
would otherwise run on the converting machine.  :func:`file_io_ops` finds such nodes among the nodes
that would run (and in every function they call); the caller refuses the model with one line.
"""
from __future__ import annotations

import re
from typing import Iterable

from ...errors import ConversionError

# ops that read, write, list or delete files, or run Python / dump debug data to files
FILE_IO_OPS = {
    "ReadFile", "WriteFile", "MatchingFiles", "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2",
    "RestoreSlice", "DTensorRestoreV2", "MergeV2Checkpoints", "ImmutableConst", "FileSystemSetConfiguration",
    "CalibrationStatisticsSaver", "DistributedSave", "DumpTensor", "RecordInput", "LoadAndRemapMatrix",
    "GenerateVocabRemapping", "InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "ImportEvent",
    "PyFunc", "PyFuncStateless", "EagerPyFunc",
}
_FILE_IO_RE = re.compile(
    r"^(Reader\w*|\w*Reader(V2)?|\w*SummaryWriter|Write\w*Summary|CreateSummary\w*|Load\w*|"
    r"\w*(CSV|TFRecord|TextLine|FixedLengthRecord|LMDB|Sql|MatchingFiles|Snapshot|Save|Load|Cache)Dataset(V\d)?|"
    r"\w*DatasetToTFRecord|DataServiceDataset\w*|Snapshot\w+|Debug\w+)$")
# the Saver's own checkpoint ops (a .meta graph's restore, a SavedModel's variables)
SAVER_OPS = {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "Save", "Restore", "RestoreSlice", "SaveSlices"}


def is_file_io(nodedef) -> bool:
    op = nodedef.op
    if op in FILE_IO_OPS or _FILE_IO_RE.match(op):
        return True
    if op == "PrintV2":
        stream = nodedef.attr["output_stream"].s.decode("utf-8", "replace") if "output_stream" in nodedef.attr else ""
        return not stream.startswith(("log", "std"))       # "file://..." writes a file
    if op in ("DecodeProtoV2", "EncodeProto"):
        src = nodedef.attr["descriptor_source"].s.decode("utf-8", "replace") if "descriptor_source" in nodedef.attr \
            else "local://"
        return src != "local://"                            # a descriptor file path
    if op in ("Copy", "CopyHost"):
        return "debug_ops_spec" in nodedef.attr and bool(nodedef.attr["debug_ops_spec"].list.s)
    return False


def _called_functions(nodedef, names: set[str]) -> list[str]:
    out = [nodedef.op] if nodedef.op in names else []
    for a in nodedef.attr.values():
        kind = a.WhichOneof("value")
        if kind == "func":
            out.append(a.func.name)
        elif kind == "list":
            out.extend(f.name for f in a.list.func)
    return [f for f in out if f in names]


def file_io_ops(nodes: Iterable, library, allowed=lambda nd: False) -> list[tuple[str, str]]:
    """(where, op) of every file-I/O node among ``nodes`` and the library functions they call."""
    functions = {f.signature.name: f for f in library.function} if library is not None else {}
    found: list[tuple[str, str]] = []
    todo: list[str] = []
    for nd in nodes:
        if is_file_io(nd) and not allowed(nd):
            found.append((nd.name, nd.op))
        todo.extend(_called_functions(nd, set(functions)))
    seen: set[str] = set()
    while todo:
        fname = todo.pop()
        if fname in seen:
            continue
        seen.add(fname)
        for nd in functions[fname].node_def:
            if is_file_io(nd) and not allowed(nd):
                found.append((f"{nd.name}' in function '{fname}", nd.op))
            todo.extend(_called_functions(nd, set(functions)))
    return found


def refuse_file_io(nodes: Iterable, library, what: str, allowed=lambda nd: False,
                   all_functions: bool = False) -> None:
    """One-line error for the first file-I/O node among ``nodes`` and the functions they call (or, with
    ``all_functions``, every function of the library)."""
    found = file_io_ops(nodes, library, allowed)
    if all_functions and library is not None:
        for f in library.function:
            found += [(f"{nd.name}' in function '{f.signature.name}", nd.op) for nd in f.node_def
                      if is_file_io(nd) and not allowed(nd)]
    found = list(dict.fromkeys(found))
    if found:
        name, op = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ConversionError(f"{what}: node '{name}' is a {op} op, which reads or writes files{more}; "
                              "snpe-tensorflow-to-dlc never runs file I/O from a model at convert time - remove it "
                              "from the graph (feed the data through an input or a constant) and export again")

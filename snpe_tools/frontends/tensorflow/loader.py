"""Read a TensorFlow model into one frozen GraphDef.

Three inputs are accepted, as SNPE's converter does: a frozen GraphDef ``.pb``; a ``<stem>.meta``
MetaGraph whose checkpoint (``<stem>.index`` / ``<stem>.data-*``) holds the variables, restored and
frozen here; and a SavedModel directory, loaded by tag and signature key (falling back, with a
warning, to the first MetaGraph / signature when the asked ones do not exist).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass, field

from ...errors import ConversionError
from ...extras import install_hint
from .nodes import check_names
from .safety import SAVER_OPS, refuse_file_io

log = logging.getLogger("snpe_tools")


@contextlib.contextmanager
def _quiet_native_stderr():
    """TensorFlow's C++ start-up lines (absl / oneDNN notices) bypass Python logging: silence fd 2 meanwhile,
    so that an error stays the one line the tools promise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tf():
    """TensorFlow, imported lazily; a clear one-line error names the extra when it is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if sys.modules.get("tensorflow") is not None:
        return sys.modules["tensorflow"]
    try:
        with _quiet_native_stderr():
            import tensorflow as tf
    except ImportError:
        raise ConversionError(f"snpe-tensorflow-to-dlc needs TensorFlow: {install_hint('tensorflow')}") from None
    return tf


@dataclass
class LoadedModel:
    """A frozen GraphDef plus the name aliases a SavedModel signature defines."""

    graph_def: object
    kind: str                                                    # "frozen", "meta" or "saved_model"
    input_aliases: dict[str, str] = field(default_factory=dict)  # signature key -> placeholder node
    output_aliases: dict[str, str] = field(default_factory=dict)  # signature key -> tensor name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def load(path: str, out_nodes: list[str], tag: str = "serve", signature_key: str = "serving_default") -> LoadedModel:
    if not os.path.exists(path):
        raise ConversionError(f"input model not found: {path} (check --input_network)")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ConversionError(f"{path} is a directory without saved_model.pb; --input_network must be a "
                                  "frozen .pb, a .meta file with its checkpoint, or a SavedModel directory")
        return _load_saved_model(path, tag, signature_key)
    if path.endswith(".meta"):
        return _load_meta(path, out_nodes)
    return _load_frozen(path)


def _load_frozen(path: str) -> LoadedModel:
    tf = import_tf()
    gd = tf.compat.v1.GraphDef()
    try:
        with open(path, "rb") as fh:
            gd.ParseFromString(fh.read())
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types
        raise ConversionError(f"{path} is not a frozen TensorFlow GraphDef (protobuf parse failed: "
                              f"{_first_line(exc)}); pass a frozen .pb, a .meta file or a SavedModel "
                              "directory") from None
    if not gd.node:
        raise ConversionError(f"{path} holds no graph nodes; it is not a frozen TensorFlow GraphDef "
                              "(truncated file or another format?)")
    if any(n.op in ("VariableV2", "VarHandleOp", "Variable") for n in gd.node):
        raise ConversionError(f"{path} still holds variables; freeze it first, or pass the .meta file with "
                              "its checkpoint so the converter freezes it")
    return LoadedModel(gd, "frozen")


def _load_meta(path: str, out_nodes: list[str]) -> LoadedModel:
    tf = import_tf()
    stem = path[: -len(".meta")]
    if not (os.path.isfile(stem + ".index") or any(
            f.startswith(os.path.basename(stem) + ".data") for f in os.listdir(os.path.dirname(stem) or "."))):
        raise ConversionError(f"{path}: no checkpoint found next to it ({stem}.index / {stem}.data-*); "
                              "the .meta graph needs its checkpoint files with the same stem")
    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf.compat.v1.train.import_meta_graph(path, clear_devices=True)
        except Exception as exc:  # noqa: BLE001
            raise ConversionError(f"{path} is not a readable MetaGraph ({_first_line(exc)})") from None
        gd = graph.as_graph_def()
        names = {n.name for n in gd.node}
        check_names([n.split(":")[0] for n in out_nodes], names, "--out_node")
        _check_restore_graph(gd, saver, path)
        with tf.compat.v1.Session(graph=graph) as sess:
            try:
                saver.restore(sess, stem)
            except Exception as exc:  # noqa: BLE001
                raise ConversionError(f"cannot restore the checkpoint {stem} for {path} "
                                      f"({_first_line(exc)})") from None
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, gd, [n.split(":")[0] for n in out_nodes])
    return LoadedModel(frozen, "meta")


def graph_def_ancestors(nodes: dict, roots: list[str]) -> set[str]:
    """Names of the GraphDef nodes ``roots`` depend on through data or control edges (roots included)."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen or n not in nodes:
            continue
        seen.add(n)
        stack.extend(i.lstrip("^").split(":")[0] for i in nodes[n].input)
    return seen


def _check_restore_graph(gd, saver, path: str) -> None:
    """Restoring runs the graph's restore op: only the Saver's own reads of the checkpoint named here may run."""
    if saver is None:
        return
    sd = saver.saver_def
    nodes = {n.name: n for n in gd.node}
    filename_node = sd.filename_tensor_name.split(":")[0]

    def prefix_source(name: str) -> str:
        seen = 0
        while name in nodes and nodes[name].op in ("Identity", "StringJoin") and nodes[name].input and seen < 50:
            name = nodes[name].input[0].lstrip("^").split(":")[0]
            seen += 1
        return name

    keep = graph_def_ancestors(nodes, [sd.restore_op_name.split(":")[0]])

    def allowed(nd) -> bool:
        return nd.op in SAVER_OPS and nd.op.startswith("Restore") and bool(nd.input) and \
            prefix_source(nd.input[0].split(":")[0]) == filename_node

    refuse_file_io([nodes[n] for n in keep], gd.library, f"{path} (checkpoint restore)", allowed)


def _read_saved_model(path: str):
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(path, "saved_model.pb"), "rb") as fh:
            sm.ParseFromString(fh.read())
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"{path}/saved_model.pb is not a SavedModel ({_first_line(exc)})") from None
    return sm


def _saved_model_tags(path: str) -> list[list[str]]:
    return [list(mg.meta_info_def.tags) for mg in _read_saved_model(path).meta_graphs]


def _check_saved_model_ops(path: str, tags: list[str]) -> None:
    """Loading a SavedModel runs its restore and init functions: refuse file I/O other than TF's own
    checkpoint ops and asset tables."""
    for mg in _read_saved_model(path).meta_graphs:
        if set(tags) <= set(mg.meta_info_def.tags):
            refuse_file_io(mg.graph_def.node, mg.graph_def.library, f"SavedModel {path}",
                           lambda nd: nd.op in SAVER_OPS or nd.op.startswith("InitializeTableFromTextFile"),
                           all_functions=True)


def _load_saved_model(path: str, tag: str, signature_key: str) -> LoadedModel:
    tf = import_tf()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    tag_sets = _saved_model_tags(path)
    if not tag_sets:
        raise ConversionError(f"{path} holds no MetaGraph")
    tags = [tag]
    if not any(tag in ts for ts in tag_sets):
        tags = tag_sets[0]
        log.warning("WARNING_TF_SAVED_MODEL_TAG_NOT_FOUND: tag '%s' not found in %s; using the first MetaGraph "
                    "(tags %s)", tag, path, ",".join(tags))
    _check_saved_model_ops(path, tags)
    try:
        loaded = tf.saved_model.load(path, tags=tags)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"cannot load the SavedModel {path} ({_first_line(exc)})") from None
    sigs = dict(loaded.signatures)
    if not sigs:
        raise ConversionError(f"the SavedModel {path} has no signatures; export it with a serving signature")
    key = signature_key
    if key not in sigs:
        key = sorted(sigs)[0]
        log.warning("WARNING_TF_SAVED_MODEL_SIGNATURE_KEY_NOT_FOUND: signature '%s' not found in %s; using '%s' "
                    "(available: %s)", signature_key, path, key, ", ".join(sorted(sigs)))
    fn = sigs[key]
    try:
        frozen = convert_variables_to_constants_v2(fn)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"cannot freeze signature '{key}' of {path} ({_first_line(exc)})") from None
    gd = frozen.graph.as_graph_def()
    # signature keys -> graph names, so users may give either
    in_alias: dict[str, str] = {}
    args = [t for t in frozen.inputs if t.dtype != tf.resource]
    specs = fn.structured_input_signature[1] if fn.structured_input_signature else {}
    for (k, spec), t in zip(sorted(specs.items()), args):
        in_alias[k] = t.op.name
    out_alias: dict[str, str] = {}
    outs = fn.structured_outputs
    if isinstance(outs, dict):
        flat = frozen.outputs
        for k, t in zip(sorted(outs), flat):
            out_alias[k] = t.name
    return LoadedModel(gd, "saved_model", in_alias, out_alias)

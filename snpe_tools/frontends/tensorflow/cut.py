"""``-d/--input_dim`` on an interior node: the graph is cut there, as SNPE's converter does.

Exported detection and segmentation graphs start with a ``uint8`` image placeholder and
preprocessing (decode, resize, pad, normalise) that a device application does itself; SNPE's model
tips therefore name the first tensor after it (``Preprocessor/sub``, ``sub_7``) with ``-d``.  The named
node is turned into a placeholder of the given shape, so everything upstream of it - reachable only
through it - is no longer an ancestor of the outputs and is dropped (listed at INFO level).  The
given dimensions must agree with the shape TensorFlow infers for the node's output in the original
graph, otherwise the cut would silently change what the rest of the graph computes.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConversionError
from .loader import graph_def_ancestors
from .nodes import TFNode

if TYPE_CHECKING:
    from .model import TFModel

log = logging.getLogger("snpe_tools")


def _infer(model: "TFModel", graph_def, names: list[str], upstream: set[str]) -> dict[str, tuple]:
    """(dtype enum, static dims with -1 for unknown) of each ``name:0`` in the original graph."""
    tf = model.tf
    sub = tf.compat.v1.GraphDef()
    sub.versions.CopyFrom(graph_def.versions)
    sub.library.CopyFrom(graph_def.library)
    sub.node.extend(nd for nd in graph_def.node if nd.name in upstream)
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.graph_util.import_graph_def(sub, name="")
    except Exception as exc:  # noqa: BLE001 - TF reports invalid graphs in several ways
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"-d/--input_dim {names[0]}: TensorFlow cannot import the graph above this node "
                              f"({text}); name a placeholder or a node of a valid graph") from None
    out = {}
    for n in names:
        t = graph.get_tensor_by_name(f"{n}:0")
        if not t.dtype.is_numpy_compatible or t.dtype.is_bool:
            raise ConversionError(f"-d/--input_dim {n}: the node's output is of type {t.dtype.name}; a DLC input "
                                  "must be numeric - name a node that outputs a numeric tensor")
        dims = [-1 if d is None else int(d) for d in t.shape.as_list()] if t.shape.rank is not None else None
        out[n] = (t.dtype.as_datatype_enum, dims)
    return out


def cut_graph(model: "TFModel", graph_def, names: list[str]) -> None:
    """Turn the interior nodes ``names`` into placeholders carrying their inferred type and shape."""
    nodes = {nd.name: nd for nd in graph_def.node}
    for nd in graph_def.node:
        for i in nd.input:
            base, _, idx = i.lstrip("^").partition(":")
            if base in names and not i.startswith("^") and idx not in ("", "0"):
                raise ConversionError(f"-d/--input_dim {base}: node '{base}' ({nodes[base].op}) has several outputs "
                                      f"and '{nd.name}' reads output {idx}; -d can cut the graph only at a node "
                                      "whose first output is the only one used")
    from .control_flow import loop_frames

    frames = loop_frames(model.nodes, model.order)
    for n in names:
        if n in frames:
            raise ConversionError(f"-d/--input_dim {n}: the node runs inside the while loop '{frames[n]}' (once per "
                                  "iteration); the graph can only be cut at a node outside loops")
    upstream = graph_def_ancestors(nodes, names)
    info = _infer(model, graph_def, names, upstream)
    model.cut_upstream = {n: graph_def_ancestors(nodes, [i.lstrip("^").split(":")[0] for i in nodes[n].input])
                          for n in names}
    model.cut_ops = {n: nodes[n].op for n in names}
    model.cut_away = {m for n in names for m in model.cut_upstream[n]
                      if nodes[m].op in ("Placeholder", "PlaceholderWithDefault")}

    for n in names:
        nd = nodes[n]
        dtype, dims = info[n]
        nd.op = "Placeholder"
        del nd.input[:]
        nd.attr.clear()
        nd.attr["dtype"].type = dtype
        shape = nd.attr["shape"].shape
        if dims is None:
            shape.unknown_rank = True
        else:
            for d in dims:
                shape.dim.add().size = d
        model.nodes[n] = TFNode(n, "Placeholder", [], [], nd)


def probe_feeds(model: "TFModel", variant: int) -> dict[str, np.ndarray]:
    """Stand-in values for cut-away placeholders that the kept graph still reads.

    An export may derive constants from its image placeholder besides the path through the cut (the
    Object Detection API's clip window comes from the resize loop's "true image shape").  SNPE keeps
    only the nodes between the inputs and outputs; here such values are evaluated for a stand-in image
    - variant 0: zeros at the cut input's size, variant 1: random data at another size - and accepted
    only if both give the same value (:func:`check_probe_values`): then they do not depend on the image.
    """
    out = {}
    ref = next(iter(model.inputs.values()), [])
    rng = np.random.default_rng(0)
    for p in model.probes:
        nd = model.nodes[p].nodedef
        dims = [d.size for d in nd.attr["shape"].shape.dim] if not nd.attr["shape"].shape.unknown_rank else list(ref)
        full = []
        for k, d in enumerate(dims):
            if d >= 0:
                full.append(d)
            else:
                base = ref[k] if k < len(ref) else 1
                full.append(base if variant == 0 or k == 0 else base + 37 * k)
        from tensorflow.python.framework import dtypes
        dt = np.dtype(dtypes.as_dtype(nd.attr["dtype"].type).as_numpy_dtype)
        if variant == 0:
            out[p] = np.zeros(full, dt)
        elif dt.kind == "f":
            out[p] = rng.uniform(0, 255, full).astype(dt)
        else:
            out[p] = rng.integers(0, 2 if dt == np.bool_ else 127, full).astype(dt)
    return out


def check_probe_values(model: "TFModel", tensors: list[str], first: list, second: list) -> None:
    """Values computed from a cut-away placeholder must not depend on it (same for both stand-ins)."""
    for t, a, b in zip(tensors, first, second):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            raise ConversionError(
                f"'{t}' depends on {', '.join(model.probes)}, which -d/--input_dim cut away, and its value changes "
                "with that input; the DLC cannot compute it - cut the graph at another node or give -d "
                f"{model.probes[0]} too")
    if not model.probes_reported:
        model.probes_reported = True
        log.info("INFO_TF_GRAPH_CUT: the values the outputs take from the cut-away input %s (image sizes ...) do "
                 "not depend on it; they are constants of the DLC", ", ".join(model.probes))


def report_dropped(model: "TFModel", names: list[str]) -> None:
    """INFO: what the cut removed from the conversion (placeholders, op types, names; all names at DEBUG)."""
    import collections

    for n in names:
        dropped = sorted(m for m in model.cut_upstream[n] if m not in model.keep)
        placeholders = sorted(m for m in model.cut_upstream[n] if m in model.cut_away)
        kinds = collections.Counter(model.nodes[m].op for m in dropped)
        shown = ", ".join(f"{k} x{c}" for k, c in sorted(kinds.items()))
        log.info("INFO_TF_GRAPH_CUT: -d/--input_dim %s: the %s node becomes the DLC input %s:0; %d upstream node(s) "
                 "are not converted%s%s", n, model.cut_ops[n], n, len(dropped),
                 f" (graph inputs cut away: {', '.join(placeholders)})" if placeholders else "",
                 f": {shown}" if dropped else "")
        log.debug("nodes cut away above %s: %s", n, ", ".join(dropped))

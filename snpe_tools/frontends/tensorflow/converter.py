"""TensorFlow model -> IR graph (NHWC throughout, names kept as TensorFlow's ``node:idx``)."""
from __future__ import annotations

import collections
import logging
import os
from dataclasses import dataclass, field

from ...errors import ConversionError
from ...ir import axis_format as af
from ...ir.graph import Graph
from ...progress import track
from ..front_half import OpSurvey, bind_output, declare_input, unsupported_ops
from ..translator_registry import translate
from .context import TFContext
from .layers import Resolution, resolve
from .loader import load
from .model import TFModel, node_of

log = logging.getLogger("snpe_tools")

# layouts that describe channel-last data (TensorFlow's own); channel-first ones cannot apply to a TF graph
CHANNEL_LAST_LAYOUTS = ("NHWC", "NDHWC", "NFC", "NTF", "NF", "NC", "F", "NONTRIVIAL")


@dataclass
class TFOptions:
    input_dims: list[tuple[str, list[int]]] = field(default_factory=list)
    out_names: list[str] = field(default_factory=list)
    input_dtypes: dict[str, str] = field(default_factory=dict)
    input_layouts: dict[str, str] = field(default_factory=dict)
    input_types: dict[str, str] = field(default_factory=dict)
    input_encodings: dict[str, tuple[str, str]] = field(default_factory=dict)
    saved_model_tag: str = "serve"
    saved_model_signature_key: str = "serving_default"
    show_unconsumed_nodes: bool = False
    allow_unconsumed_nodes: bool = False


def _strip(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def prepare(path: str, opts: TFOptions) -> tuple[TFModel, Resolution, dict[str, str]]:
    """Load, cut and resolve the graph into layers (shared by conversion and --dry_run)."""
    if not opts.out_names:
        raise ConversionError("--out_node is required: name the graph's output node(s), e.g. "
                              "--out_node InceptionV3/Predictions/Reshape_1")
    loaded = load(path, [node_of(o) for o in opts.out_names], opts.saved_model_tag, opts.saved_model_signature_key)
    renamed = {}
    inputs: dict[str, list[int]] = {}
    for name, dims in opts.input_dims:
        real = loaded.input_aliases.get(_strip(name), _strip(name))
        renamed[name] = real
        inputs[real] = dims
    outs = [loaded.output_aliases.get(o, o) for o in opts.out_names]
    model = TFModel(loaded.graph_def, inputs, outs)
    model.evaluate(model.static_frontier())      # one TF session run for every constant subgraph
    return model, resolve(model), renamed


def _unconsumed_message(model: TFModel, node: str) -> str:
    return f"Operation ({node}) of type ({model.nodes[node].op}) is not supported by converter."


def _check_unconsumed(model: TFModel, res: Resolution, opts: TFOptions) -> None:
    """The one-line error for the operations between the inputs and outputs no layer translates."""
    if res.unconsumed:
        missing: dict[str, list[str]] = {}
        for n in res.unconsumed:
            missing.setdefault(model.nodes[n].op, []).append(n)
        hint = "" if opts.show_unconsumed_nodes else "; run with --show_unconsumed_nodes to list them"
        raise unsupported_ops(missing, unit="operation", hint=hint, prefix="ERROR_TF_UNSUPPORTED_OPS: ")


def _report_unconsumed(model: TFModel, res: Resolution, opts: TFOptions) -> None:
    if not res.unconsumed:
        return
    for n in res.unconsumed:
        if opts.show_unconsumed_nodes:
            log.warning(_unconsumed_message(model, n))
    if opts.allow_unconsumed_nodes:
        counts = collections.Counter(model.nodes[n].op for n in res.unconsumed)
        kinds = ", ".join(f"{t} x{c}" for t, c in sorted(counts.items()))
        log.warning("WARNING_UNSUPPORTED_OPS_FOUND: %d operation(s) not supported by the converter (%s); "
                    "continuing because of --allow_unconsumed_nodes", len(res.unconsumed), kinds)
        return
    _check_unconsumed(model, res, opts)


def survey(path: str, opts: TFOptions, debug: bool = False) -> OpSurvey:
    """What ``--dry_run`` reports: the layers the graph resolves into (supported) and the operations no
    layer translates (unsupported), each listed, and whether it converts."""
    model, res, _ = prepare(path, opts)
    rows = [(k, c, True) for k, c in sorted(collections.Counter(layer.kind for layer in res.layers).items())]
    rows += [(k, c, False) for k, c in sorted(collections.Counter(model.nodes[n].op for n in res.unconsumed).items())]
    details = [f"{layer.kind} {layer.name}: nodes={layer.nodes}" for layer in res.layers] if debug else []
    return OpSurvey(rows, lambda: _check_unconsumed(model, res, opts), details,
                    [_unconsumed_message(model, n) for n in res.unconsumed], column="Layer type")


def convert_tensorflow(path: str, opts: TFOptions) -> Graph:
    for name, lay in opts.input_layouts.items():
        if lay not in CHANNEL_LAST_LAYOUTS:
            raise ConversionError(f"--input_layout {name} {lay}: TensorFlow graphs are channel-last; use one of "
                                  f"{', '.join(CHANNEL_LAST_LAYOUTS)} (the graph's own layout)")
    model, res, renamed = prepare(path, opts)
    _report_unconsumed(model, res, opts)
    # shapes TF cannot infer statically: measured once
    wanted = {t for lay in res.layers for t in lay.inputs + lay.outputs
              if t in model.consumers or t in model.outputs}
    unknown = sorted(t for t in wanted if model.static_shape(t) is None)
    shapes = model.run_shapes(unknown) if unknown else {}
    graph = Graph(os.path.splitext(os.path.basename(os.path.normpath(path)))[0] or "model")
    ctx = TFContext(graph, model, res.aliases, shapes)
    ctx.unsupported = {n: model.nodes[n].op for n in res.unconsumed}
    for given, real in renamed.items():
        dims = model.inputs[real]
        t = f"{real}:0"
        declare_input(graph, opts, t, dims, model.dtype(t), af.channel_last_default(len(dims)), lookup=[given, real])
        ctx.produced[t] = t
    for layer in track(res.layers, "Converting", "layer"):
        translate(layer.translate, ctx, layer, f"{layer.kind} layer '{layer.name}'", key=layer.name)
    _set_outputs(graph, ctx, model)
    return graph


def _set_outputs(graph: Graph, ctx: TFContext, model: TFModel) -> None:
    names: list[str] = []
    for t in model.outputs:
        if not model.is_dynamic(ctx.source(t)):
            raise ConversionError(f"--out_node {node_of(t)}: its value does not depend on the inputs given with -d; "
                                  "a DLC output must be computed from the inputs")
        src = ctx.tensor(t)
        if src in ctx.output_groups:
            names.extend(g for g in ctx.output_groups[src] if g not in names)
            continue
        if src == t:
            names.append(t)
            continue
        new = bind_output(graph, src, t, keep=names + graph.outputs)
        if new == t and src not in graph.tensors:      # renamed
            for k, v in list(ctx.produced.items()):
                if v == src:
                    ctx.produced[k] = t
        names.append(new)
    graph.outputs = names


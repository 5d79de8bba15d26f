"""TensorFlow model -> IR graph (NHWC throughout, names kept as TensorFlow's ``node:idx``)."""
from __future__ import annotations

import collections
import logging
import os
from dataclasses import dataclass, field

from ...errors import ConversionError, UnsupportedOpError
from ...ir import axis_format as af
from ...ir import dtypes as qd
from ...ir.graph import Graph, InputInfo
from ...progress import track
from ...passes.input_cast import model_input_dtype
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


def _report_unconsumed(model: TFModel, res: Resolution, opts: TFOptions) -> None:
    if not res.unconsumed:
        return
    for n in res.unconsumed:
        if opts.show_unconsumed_nodes:
            log.warning("Operation (%s) of type (%s) is not supported by converter.", n, model.nodes[n].op)
    counts = collections.Counter(model.nodes[n].op for n in res.unconsumed)
    kinds = ", ".join(f"{t} x{c}" for t, c in sorted(counts.items()))
    if opts.allow_unconsumed_nodes:
        log.warning("WARNING_UNSUPPORTED_OPS_FOUND: %d operation(s) not supported by the converter (%s); "
                    "continuing because of --allow_unconsumed_nodes", len(res.unconsumed), kinds)
        return
    first = ", ".join(res.unconsumed[:3]) + (", ..." if len(res.unconsumed) > 3 else "")
    hint = "" if opts.show_unconsumed_nodes else "; run with --show_unconsumed_nodes to list them"
    raise UnsupportedOpError(f"ERROR_TF_UNSUPPORTED_OPS: {len(res.unconsumed)} operation(s) between the inputs and "
                             f"outputs are not supported by the converter: {kinds} ({first}){hint}")


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
        dt = opts.input_dtypes.get(given) or opts.input_dtypes.get(real)
        dtype, cast_from = model_input_dtype(dt, qd.narrow(model.dtype(t)))     # another --input_dtype: a Cast, not a re-type
        fmt = af.LAYOUT_NAMES.get(opts.input_layouts.get(given, opts.input_layouts.get(real, "")), af.channel_last_default(len(dims)))
        enc = opts.input_encodings.get(given, opts.input_encodings.get(real, ("bgr", "bgr")))
        itype = opts.input_types.get(given, opts.input_types.get(real, "default"))
        graph.add_input(t, dims, dtype, fmt, InputInfo(itype, *enc, cast_from))
        ctx.produced[t] = t
    for layer in track(res.layers, "Converting", "layer"):
        try:
            layer.translate(ctx, layer)
        except ConversionError as exc:
            msg = str(exc)
            raise ConversionError(msg if layer.name in msg else f"{layer.kind} layer '{layer.name}': {msg}") from None
        except (OverflowError, ZeroDivisionError) as exc:   # values no DLC field can hold
            raise ConversionError(f"{layer.kind} layer '{layer.name}': cannot be converted ({type(exc).__name__}: "
                                  f"{exc}); a dimension or attribute is out of range - check the model and "
                                  "-d/--input_dim") from None
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
        if t in graph.tensors or src in graph.inputs or src in names or src in graph.outputs:
            new = graph.unique_name(t) if t in graph.tensors else t
            graph.add_op("Reshape", [src], [new], {"shape": list(graph.tensors[src].shape)}, name=new)
            graph.tensors[new].axis_format = graph.tensors[src].axis_format
            names.append(new)
        else:
            graph.rename_tensor(src, t)
            for k, v in list(ctx.produced.items()):
                if v == src:
                    ctx.produced[k] = t
            names.append(t)
    graph.outputs = names


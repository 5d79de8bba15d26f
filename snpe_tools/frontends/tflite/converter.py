"""TFLite model -> IR graph.

Steps: parse the flatbuffer (:mod:`.model`) -> pick the subgraph (``--signature_name`` or the main
one) -> list every unsupported builtin / custom op at once -> declare inputs (``-d`` overrides,
dynamic dims must be given) -> translate ops in execution order, evaluating ops whose inputs are
all constant right away (shape arithmetic, fp16 DEQUANTIZE of weights) -> name the outputs.
"""
from __future__ import annotations

import difflib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ...errors import ConversionError, UnsupportedOpError
from ...ir import axis_format as af
from ...ir.graph import Graph, InputInfo
from ...ir.limits import check_fold_shape
from ...progress import track
from ...runtime.fixed_point import run_op
from .context import TfliteContext, encoding_of
from .model import TflModel, TflOp, TflSubgraph, load_tflite
from .registry import get_translator

log = logging.getLogger("snpe_tools")


@dataclass
class TfliteOptions:
    input_dims: dict[str, list[int]] = field(default_factory=dict)
    out_names: list[str] = field(default_factory=list)
    signature_name: str | None = None
    input_dtypes: dict[str, str] = field(default_factory=dict)
    input_types: dict[str, str] = field(default_factory=dict)
    input_encodings: dict[str, tuple[str, str]] = field(default_factory=dict)
    input_layouts: dict[str, str] = field(default_factory=dict)


def select_subgraph(model: TflModel, signature: str | None) -> tuple[TflSubgraph, dict[int, str]]:
    """The subgraph to convert, and signature names of its I/O tensors (for messages)."""
    if signature is None:
        return model.subgraphs[0], {}
    for sig in model.signatures:
        if sig.key == signature:
            names = {i: n for n, i in list(sig.inputs.items()) + list(sig.outputs.items())}
            return model.subgraphs[sig.subgraph], names
    keys = ", ".join(s.key for s in model.signatures) or "none"
    raise ConversionError(f"--signature_name {signature}: the model has no such signature (signatures: {keys})")


def check_supported(sg: TflSubgraph) -> None:
    missing: dict[str, list[TflOp]] = defaultdict(list)
    for op in sg.ops:
        if get_translator(op.name) is None:
            missing[op.name].append(op)
    if not missing:
        return
    parts = []
    for name, ops in sorted(missing.items()):
        kind = "custom op" if ops[0].custom else "builtin"
        outs = ", ".join(sg.tensors[o].name for op in ops[:3] for o in op.outputs if o >= 0)
        parts.append(f"{name} ({kind}, {len(ops)}x, producing {outs}{' ...' if len(ops) > 3 else ''})")
    total = sum(len(v) for v in missing.values())
    raise UnsupportedOpError(f"{total} op(s) of the TFLite model are not supported by the converter: "
                             + "; ".join(parts))


def _closest(name: str, names: list[str]) -> str:
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.3) or names[:3]
    return ", ".join(near)


def convert_tflite(path: str, opts: TfliteOptions) -> Graph:
    model = load_tflite(path)
    sg, _sig_names = select_subgraph(model, opts.signature_name)
    check_supported(sg)
    graph = Graph(sg.name or "model")
    ctx = TfliteContext(graph, sg)
    _resolve_input_names(opts, _signature_aliases(model, sg), [sg.tensors[i].name for i in sg.inputs])
    _declare_inputs(ctx, sg, opts)
    for op in track(sg.ops, "Converting", "op"):
        _translate(ctx, op)
    _declare_outputs(ctx, sg, opts)
    return graph


def _signature_aliases(model: TflModel, sg: TflSubgraph) -> dict[str, str]:
    """Signature input names (``input``) -> tensor names (``serving_default_input:0``) of this subgraph."""
    out = {}
    for sig in model.signatures:
        if sig.subgraph == sg.index:
            for key, idx in sig.inputs.items():
                out.setdefault(key, sg.tensors[idx].name)
    return out


def _resolve_input_names(opts: TfliteOptions, aliases: dict[str, str], tensor_names: list[str]) -> None:
    """Let -d/--input_dtype/... name an input by its signature name as well as by its tensor name."""
    for table in (opts.input_dims, opts.input_dtypes, opts.input_types, opts.input_encodings, opts.input_layouts):
        for given in list(table):
            if given not in tensor_names and given in aliases:
                table[aliases[given]] = table.pop(given)


def _declare_inputs(ctx: TfliteContext, sg: TflSubgraph, opts: TfliteOptions) -> None:
    in_names = [sg.tensors[i].name for i in sg.inputs]
    for given in list(opts.input_dims) + list(opts.input_dtypes) + list(opts.input_types) + \
            list(opts.input_encodings) + list(opts.input_layouts):
        if given not in in_names:
            raise ConversionError(f"input '{given}' is not an input of the TFLite model; its inputs are: "
                                  f"{', '.join(in_names)} (closest: {_closest(given, in_names)})")
    for idx in sg.inputs:
        t = sg.tensors[idx]
        if idx in ctx.consts:
            continue
        shape = list(t.shape)
        if t.name in opts.input_dims:
            dims = opts.input_dims[t.name]
            fixed = [d for d in t.signature]
            if len(dims) != len(shape) or any(s > 0 and s != d for s, d in zip(fixed, dims)):
                raise ConversionError(f"-d/--input_dim {t.name} {','.join(map(str, dims))}: the model declares "
                                      f"shape {list(t.signature)} (-1 = free); give dims that agree with it")
            shape = dims
        elif any(d < 0 for d in shape):
            raise ConversionError(f"input '{t.name}' has dynamic shape {list(t.signature)}; give its dims with "
                                  f"-d {t.name} \"<comma-separated dims>\"")
        dtype = t.dtype
        want = opts.input_dtypes.get(t.name)
        info = InputInfo(input_type=opts.input_types.get(t.name, "default"))
        if t.name in opts.input_encodings:
            info.encoding_in, info.encoding_out = opts.input_encodings[t.name]
        if want is not None and want != "float32" and np.dtype(want) != dtype:
            if dtype != np.float32 or ctx.is_quantized(idx):
                raise ConversionError(f"--input_dtype {t.name} {want}: the model's input is {t.type_name}; only "
                                      "float32 (for a quantized input) or the model's own type can be given")
            info.dtype = want       # a float input: a DLC input of that type and a Cast (passes/input_cast.py)
        if want == "float32" and ctx.is_quantized(idx):
            # float I/O asked for: a float DLC input quantized by a Quantize op to the model's encoding
            fname = ctx.graph.unique_name(t.name)
            ctx.graph.add_input(fname, shape, np.float32, af.channel_last_default(len(shape)), info)
            q = ctx.emit("Quantize", [fname], [ctx.graph.unique_name(f"{t.name}.quantized")])[0]
            ctx.graph.tensors[q].dtype = dtype
            ctx.graph.tensors[q].encoding = encoding_of(t.quant, dtype)
            ctx.names[idx] = q
            continue
        if want is None and dtype not in (np.float32, np.int8, np.uint8, np.int16, np.int32, np.bool_):
            dtype = np.dtype(np.float32) if dtype in (np.float16, np.float64) else np.dtype(np.int32)
        layout = opts.input_layouts.get(t.name)
        fmt = af.LAYOUT_NAMES[layout] if layout else af.channel_last_default(len(shape))   # --input_layout declares it
        tensor = ctx.graph.add_input(t.name, shape, dtype, fmt, info)
        if ctx.is_quantized(idx):
            tensor.encoding = encoding_of(t.quant, tensor.dtype)
        ctx.names[idx] = t.name


def _translate(ctx: TfliteContext, op: TflOp) -> None:
    start = len(ctx.graph.ops)
    all_const = all(i < 0 or ctx.is_const(i) for i in op.inputs)
    try:
        get_translator(op.name)(ctx, op)
    except ConversionError:
        raise
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ConversionError(f"{op.name} op #{op.index} ({ctx.out_label(op)}): cannot be converted "
                              f"({type(exc).__name__}: {exc})") from None
    if all_const and op.inputs:
        _fold(ctx, op, start)


def _fold(ctx: TfliteContext, op: TflOp, start: int) -> None:
    """Evaluate the ops just emitted for an all-constant TFLite op; its outputs become constants."""
    g = ctx.graph
    emitted = g.ops[start:]
    for ir_op in emitted:
        for name in ir_op.outputs:   # sizes come from shape inference: checked before anything is computed
            t = g.tensors[name]
            check_fold_shape(t.shape, t.dtype, f"{op.name} op #{op.index} ({ctx.out_label(op)})")
        ys = run_op(g, ir_op, [g.tensors[i].data if i else None for i in ir_op.inputs])
        for name, y in zip(ir_op.outputs, ys):
            g.tensors[name].data = np.asarray(y).astype(g.tensors[name].dtype, copy=False)
    del g.ops[start:]
    for idx in op.outputs:
        if idx >= 0 and idx in ctx.names:
            value = g.tensors[ctx.names.pop(idx)].data
            # quantized: TFLite's stored integers (int64 biases were held as int32 in the IR)
            ctx.consts[idx] = value.astype(ctx.t(idx).dtype, copy=False) if ctx.is_quantized(idx) else value


def _declare_outputs(ctx: TfliteContext, sg: TflSubgraph, opts: TfliteOptions) -> None:
    by_name = {t.name: t.index for t in sg.tensors}
    wanted = opts.out_names or [sg.tensors[i].name for i in sg.outputs]
    for name in wanted:
        if name not in by_name:
            raise ConversionError(f"--out_node {name}: no tensor of that name in the TFLite model "
                                  f"(closest: {_closest(name, list(by_name))})")
        idx = by_name[name]
        if idx not in ctx.names:
            raise ConversionError(f"--out_node {name}: the tensor is a constant or not computed by the "
                                  "converted subgraph; choose an op output")
        ir = ctx.names[idx]
        if ir != name and name not in ctx.graph.tensors:
            ctx.graph.rename_tensor(ir, name)
            ctx.names[idx] = name
        ctx.graph.outputs.append(ctx.names[idx])

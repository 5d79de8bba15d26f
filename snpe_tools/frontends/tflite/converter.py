"""TFLite model -> IR graph.

Steps: parse the flatbuffer (:mod:`.model`) -> pick the subgraph (``--signature_name`` or the main
one) -> list every unsupported builtin / custom op at once -> declare inputs (``-d`` overrides,
dynamic dims must be given) -> translate ops in execution order, evaluating ops whose inputs are
all constant right away (shape arithmetic, fp16 DEQUANTIZE of weights) -> name the outputs.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from ...errors import ConversionError
from ...ir import axis_format as af
from ...ir.graph import Graph
from ...ir.limits import check_fold_shape
from ...progress import track
from ...ops.fixed_point import run_op
from ..front_half import OpSurvey, bind_output, check_input_names, closest, declare_input, unsupported_ops
from ..translator_registry import translate
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
    """One error listing every builtin / custom op of the subgraph without a translator."""
    missing: dict[str, list[str]] = defaultdict(list)
    for op in sg.ops:
        if get_translator(op.name) is None:
            kind = "custom op" if op.custom else "builtin"
            missing[f"{op.name} ({kind})"].append("+".join(sg.tensors[o].name for o in op.outputs if o >= 0))
    if missing:
        raise unsupported_ops(missing, unit="op")


def survey(path: str, opts: TfliteOptions, debug: bool = False) -> OpSurvey:
    """What ``--dry_run`` reports: the op types of the subgraph that would be converted and whether it
    converts."""
    sg, _ = select_subgraph(load_tflite(path), opts.signature_name)
    details = [f"#{op.index} {op.name} inputs={[sg.tensors[i].name for i in op.inputs if i >= 0]} "
               f"outputs={[sg.tensors[i].name for i in op.outputs if i >= 0]}" for op in sg.ops] if debug else []
    return OpSurvey.from_census(Counter(op.name for op in sg.ops), lambda t: get_translator(t) is not None,
                                lambda: check_supported(sg), details=details)


def convert_tflite(path: str, opts: TfliteOptions) -> Graph:
    model = load_tflite(path)
    sg, _sig_names = select_subgraph(model, opts.signature_name)
    check_supported(sg)
    graph = Graph(sg.name or "model")
    ctx = TfliteContext(graph, sg)
    _resolve_input_names(opts, _signature_aliases(model, sg), [sg.tensors[i].name for i in sg.inputs])
    check_input_names(opts, [sg.tensors[i].name for i in sg.inputs])
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
        cast_from = None
        if want is not None and want != "float32" and np.dtype(want) != dtype:
            if dtype != np.float32 or ctx.is_quantized(idx):
                raise ConversionError(f"--input_dtype {t.name} {want}: the model's input is {t.type_name}; only "
                                      "float32 (for a quantized input) or the model's own type can be given")
            cast_from = want        # a float input: a DLC input of that type and a Cast (passes/input_cast.py)
        if want == "float32" and ctx.is_quantized(idx):
            # float I/O asked for: a float DLC input quantized by a Quantize op to the model's encoding
            fname = ctx.graph.unique_name(t.name)
            declare_input(ctx.graph, opts, fname, shape, np.float32, af.channel_last_default(len(shape)),
                          lookup=[t.name], requested=None)
            q = ctx.emit("Quantize", [fname], [ctx.graph.unique_name(f"{t.name}.quantized")])[0]
            ctx.graph.tensors[q].dtype = dtype
            ctx.graph.tensors[q].encoding = encoding_of(t.quant, dtype)
            ctx.names[idx] = q
            continue
        if want is None and dtype not in (np.float32, np.int8, np.uint8, np.int16, np.int32, np.bool_):
            dtype = np.dtype(np.float32) if dtype in (np.float16, np.float64) else np.dtype(np.int32)
        tensor = declare_input(ctx.graph, opts, t.name, shape, dtype, af.channel_last_default(len(shape)),
                               requested=cast_from)
        if ctx.is_quantized(idx):
            tensor.encoding = encoding_of(t.quant, tensor.dtype)
        ctx.names[idx] = t.name


def _translate(ctx: TfliteContext, op: TflOp) -> None:
    start = len(ctx.graph.ops)
    all_const = all(i < 0 or ctx.is_const(i) for i in op.inputs)
    # errors from reading the op's flatbuffer tables: this op of the file is malformed
    translate(get_translator(op.name), ctx, op, lambda: _label(ctx, op),
              malformed=(ValueError, IndexError, KeyError, TypeError))
    if all_const and op.inputs:
        _fold(ctx, op, start)


def _label(ctx: TfliteContext, op: TflOp) -> str:
    """How errors name a TFLite op: builtin name, execution index, output tensors."""
    return f"{op.name} op #{op.index} ({ctx.out_label(op)})"


def _fold(ctx: TfliteContext, op: TflOp, start: int) -> None:
    """Evaluate the ops just emitted for an all-constant TFLite op; its outputs become constants."""
    g = ctx.graph
    emitted = g.ops[start:]
    for ir_op in emitted:
        for name in ir_op.outputs:   # sizes come from shape inference: checked before anything is computed
            t = g.tensors[name]
            check_fold_shape(t.shape, t.dtype, _label(ctx, op))
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
                                  f"(closest: {closest(name, list(by_name))})")
        idx = by_name[name]
        if idx not in ctx.names:
            raise ConversionError(f"--out_node {name}: the tensor is a constant or not computed by the "
                                  "converted subgraph; choose an op output")
        ir = ctx.names[idx]
        if ir != name and name not in ctx.graph.tensors:      # the TFLite name, unless an IR tensor has it
            ir = ctx.names[idx] = bind_output(ctx.graph, ir, name, keep=ctx.graph.outputs)
        ctx.graph.outputs.append(ir)

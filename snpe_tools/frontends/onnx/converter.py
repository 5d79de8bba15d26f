"""ONNX model -> IR graph.

Steps: load (with external data) -> resolve input shapes (-d/-b/-s) -> list every
unsupported op at once -> walk nodes in order, folding constant subgraphs with
``onnx.reference`` and translating the rest through the translator registry.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from ...errors import ConversionError, UnsupportedOpError
from ...ir import axis_format as af
from ...ir.graph import Graph, InputInfo
from .context import OnnxContext, attrs
from .registry import get_translator

log = logging.getLogger("snpe_tools")

# ops never folded even with constant inputs (non-deterministic or stateful)
_NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
            "Bernoulli"}
# ops whose output depends only on the input's (static) shape
_SHAPE_ONLY = {"Shape", "Size"}
# ops that may appear with zero inputs and produce a constant
_SOURCE_CONST = {"Constant"}

_ONNX_TO_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64,
               9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64, 4: np.uint16}
DTYPE_NAMES = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "uint8": np.uint8,
               "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
               "int64": np.int64, "bool": np.bool_}


@dataclass
class OnnxOptions:
    input_dims: dict[str, list[int]] = field(default_factory=dict)
    batch: int | None = None
    symbols: dict[str, int] = field(default_factory=dict)
    out_names: list[str] = field(default_factory=list)
    input_layouts: dict[str, str] = field(default_factory=dict)
    input_types: dict[str, str] = field(default_factory=dict)
    input_dtypes: dict[str, str] = field(default_factory=dict)
    input_encodings: dict[str, tuple[str, str]] = field(default_factory=dict)


def load_model(path: str, map_external: bool = False) -> onnx.ModelProto:
    """Load an ONNX file or raise a one-line ConversionError.

    External weight data is read into the protobuf, or with ``map_external`` left in place and
    memory-mapped later by :func:`initializer_array` (no copy of large weights is held twice).
    """
    if not os.path.exists(path):
        raise ConversionError(f"input model not found: {path} (check --input_network)")
    if os.path.isdir(path):
        raise ConversionError(f"{path} is a directory; --input_network must name an .onnx file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:
        raise ConversionError(f"{path} is not a valid ONNX model (protobuf parse failed: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                              "pass an .onnx file exported by your framework") from None
    if not model.graph.node and not model.graph.output:
        raise ConversionError(f"{path} is not a valid ONNX model (it holds no graph); "
                              "the file may be truncated or of another format")
    try:
        if map_external:
            base = os.path.dirname(os.path.abspath(path))
            for init in model.graph.initializer:
                if init.data_location == onnx.TensorProto.EXTERNAL:
                    _external_region(init, base)   # validates file, offset and length now
        else:
            onnx.external_data_helper.load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
    except ConversionError:
        raise
    except Exception as exc:
        raise ConversionError(f"{path}: cannot read external weight data ({exc}); keep the .data file "
                              "next to the model") from None
    if any(f.node for f in model.functions) or model.functions:
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as exc:
            raise ConversionError(f"{path}: cannot inline ONNX functions ({exc})") from None
    return model


def _external_region(init: onnx.TensorProto, base: str) -> tuple[str, int, np.dtype, tuple[int, ...]]:
    info = {e.key: e.value for e in init.external_data}
    fname = os.path.join(base, info.get("location", ""))
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(init.data_type))
    shape = tuple(int(d) for d in init.dims)
    offset = int(info.get("offset", 0))
    need = int(np.prod(shape)) * dtype.itemsize
    length = int(info.get("length", need))
    if not os.path.isfile(fname):
        raise ConversionError(f"cannot read external weight data of '{init.name}': {fname} not found; keep the "
                              "data file next to the model")
    if os.path.getsize(fname) < offset + length or length < need:
        raise ConversionError(f"external weight data of '{init.name}' in {fname} is truncated "
                              f"(needs {need} bytes at offset {offset})")
    return fname, offset, dtype, shape


def initializer_array(init: onnx.TensorProto, base: str) -> np.ndarray:
    """Initializer as numpy; external data is memory-mapped read-only instead of loaded."""
    if init.data_location == onnx.TensorProto.EXTERNAL:
        fname, offset, dtype, shape = _external_region(init, base)
        if int(np.prod(shape)) == 0:
            return np.zeros(shape, dtype)
        return np.memmap(fname, dtype=dtype, mode="r", offset=offset, shape=shape)
    return numpy_helper.to_array(init)


def _opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


def _resolve_input_shape(vi: onnx.ValueInfoProto, opts: OnnxOptions) -> list[int]:
    name = vi.name
    if name in opts.input_dims:
        return list(opts.input_dims[name])
    dims = []
    tt = vi.type.tensor_type
    unresolved = []
    for i, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param in opts.symbols:
            dims.append(int(opts.symbols[d.dim_param]))
        elif i == 0 and opts.batch is not None:
            dims.append(int(opts.batch))
        else:
            dims.append(-1)
            unresolved.append(d.dim_param or f"dim {i}")
    if opts.batch is not None and dims:
        dims[0] = int(opts.batch)
        unresolved = [u for u in unresolved if u != (tt.shape.dim[0].dim_param or "dim 0")]
    if unresolved:
        syms = ", ".join(unresolved)
        example = ",".join(str(d) if d > 0 else "1" for d in dims)
        raise ConversionError(f"input '{name}' has symbolic/unknown dimension(s) {syms}; give its full shape with "
                              f"-d {name} \"{example}\" (put your sizes in place of the unknown ones), "
                              "or set them with -s SYMBOL VALUE or -b BATCH")
    return dims


def _const_outputs(model: onnx.ModelProto, init_names: set[str]) -> set[str]:
    """Names that are computable at convert time (initializers, Constant, pure functions of those)."""
    const = set(init_names)
    for node in model.graph.node:
        ins = [i for i in node.input if i]
        if node.op_type in _SOURCE_CONST or node.op_type in _SHAPE_ONLY or (
                node.op_type not in _NO_FOLD and all(i in const for i in ins) and ins):
            const.update(o for o in node.output if o)
    return const


def check_supported(model: onnx.ModelProto) -> None:
    init_names = {i.name for i in model.graph.initializer}
    const = _const_outputs(model, init_names)
    missing: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") and not (node.domain == "ai.onnx.preview"
                                                         and get_translator(node.op_type) is not None):
            missing.setdefault(f"{node.domain}.{node.op_type}", []).append(node.name or node.output[0])
            continue
        if all(o in const for o in node.output if o):
            continue
        if get_translator(node.op_type) is None:
            missing.setdefault(node.op_type, []).append(node.name or node.output[0])
    if missing:
        parts = [f"{t} x{len(n)} ({', '.join(n[:3])}{', ...' if len(n) > 3 else ''})"
                 for t, n in sorted(missing.items())]
        raise UnsupportedOpError(f"{sum(len(n) for n in missing.values())} node(s) use op types the converter "
                                 f"does not support: {'; '.join(parts)}")


def _fold(node: onnx.NodeProto, ctx: OnnxContext, model: onnx.ModelProto) -> bool:
    """Evaluate a node whose inputs are all constant; False if it cannot be evaluated here."""
    if node.op_type == "Constant":
        a = attrs(node)
        if "value" in a:
            val = a["value"]
        elif "value_float" in a:
            val = np.array(a["value_float"], np.float32)
        elif "value_floats" in a:
            val = np.array(a["value_floats"], np.float32)
        elif "value_int" in a:
            val = np.array(a["value_int"], np.int64)
        elif "value_ints" in a:
            val = np.array(a["value_ints"], np.int64)
        else:
            return False
        ctx.consts[node.output[0]] = np.asarray(val)
        return True
    if node.op_type == "Shape":
        shape = np.array(ctx.shape(node.input[0]), dtype=np.int64)
        a = attrs(node)
        start, end = a.get("start", 0), a.get("end", None)
        ctx.consts[node.output[0]] = shape[start:end]
        return True
    if node.op_type == "CastLike" and ctx.is_const(node.input[0]) and not ctx.is_const(node.input[1]):
        # only the element type of the second input matters, and it is known at convert time
        ctx.consts[node.output[0]] = np.asarray(ctx.const(node.input[0])).astype(
            ctx.graph.tensors[ctx.tensor(node.input[1])].dtype)
        return True
    if node.op_type == "Size":
        ctx.consts[node.output[0]] = np.array(int(np.prod(ctx.shape(node.input[0]))), np.int64)
        return True
    ins = [i for i in node.input if i]
    if node.op_type in _NO_FOLD or not ins or not all(ctx.is_const(i) for i in ins):
        return False
    from onnx.reference import ReferenceEvaluator

    try:
        sub = onnx.helper.make_model(
            onnx.helper.make_graph([node], "fold", [onnx.helper.make_tensor_value_info(i, 0, None) for i in ins],
                                   [onnx.helper.make_tensor_value_info(o, 0, None) for o in node.output if o]),
            opset_imports=list(model.opset_import), ir_version=model.ir_version)
        res = ReferenceEvaluator(sub).run(None, {i: ctx.consts[i] for i in ins})
    except Exception as exc:  # fall back to translating the op
        log.debug("constant folding of %s failed: %s", node.op_type, exc)
        return False
    for o, v in zip([o for o in node.output if o], res):
        ctx.consts[o] = np.asarray(v)
    return True


def translate_node(ctx: OnnxContext, node: onnx.NodeProto, model: onnx.ModelProto) -> None:
    """Fold the node if its inputs are constant, else emit it with its translator.  Control-flow
    translators call back here (``ctx.translate_node``) for the nodes of the subgraphs they unroll."""
    if _fold(node, ctx, model):
        return
    translator = get_translator(node.op_type)
    if translator is None:  # only reachable if folding failed on a const-only unsupported op
        raise UnsupportedOpError(f"1 node(s) use op types the converter does not support: "
                                 f"{node.op_type} x1 ({node.name or node.output[0]})")
    translator(ctx, node)


def convert_onnx(path: str, opts: OnnxOptions) -> Graph:
    model = load_model(path, map_external=True)
    base = os.path.dirname(os.path.abspath(path))
    graph_name = model.graph.name or os.path.splitext(os.path.basename(path))[0]
    graph = Graph(graph_name)
    ctx = OnnxContext(graph, _opset(model))
    check_supported(model)

    for init in model.graph.initializer:
        ctx.consts[init.name] = initializer_array(init, base)
    real_inputs = [vi for vi in model.graph.input if vi.name not in ctx.consts]
    known = {vi.name for vi in real_inputs}
    for name in list(opts.input_dims) + list(opts.input_layouts) + list(opts.input_types) + \
            list(opts.input_dtypes) + list(opts.input_encodings):
        if name not in known:
            raise ConversionError(f"input '{name}' given on the command line is not an input of the model; "
                                  f"model inputs: {', '.join(sorted(known)) or '(none)'}")
    # sequence-major inputs of recurrent nodes are TNF, which the legacy layout makes NTF (as SNPE)
    rnn_inputs = {n.input[0] for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN")
                  and not any(a.name == "layout" and a.i == 1 for a in n.attribute)}
    for vi in real_inputs:
        shape = _resolve_input_shape(vi, opts)
        elem = vi.type.tensor_type.elem_type
        if vi.name in opts.input_dtypes:
            dtype = DTYPE_NAMES[opts.input_dtypes[vi.name]]
        elif elem in _ONNX_TO_NP or elem == 0:
            dtype = _ONNX_TO_NP.get(elem, np.float32)
        else:
            tname = onnx.TensorProto.DataType.Name(elem) if elem in onnx.TensorProto.DataType.values() else elem
            raise ConversionError(f"input '{vi.name}' has ONNX element type {tname}, which the DLC runtime "
                                  f"cannot hold; give a supported type with --input_dtype {vi.name} float32")
        if dtype in (np.float64,):
            dtype = np.float32
        if dtype == np.int64:
            dtype = np.int32
        default = af.TNF if vi.name in rnn_inputs and len(shape) == 3 else af.onnx_default(len(shape))
        fmt = af.LAYOUT_NAMES.get(opts.input_layouts.get(vi.name, ""), default)
        enc_in, enc_out = opts.input_encodings.get(vi.name, ("bgr", "bgr"))
        info = InputInfo(opts.input_types.get(vi.name, "default"), enc_in, enc_out)
        graph.add_input(vi.name, shape, dtype, fmt, info)
        ctx.source_formats[vi.name] = fmt

    ctx.translate_node = lambda node: translate_node(ctx, node, model)
    for node in model.graph.node:
        translate_node(ctx, node, model)

    outputs = opts.out_names or [o.name for o in model.graph.output]
    for name in outputs:
        src = ctx.aliases.get(name)
        if src is not None and name not in graph.tensors:
            if src in graph.inputs or src in outputs:
                graph.add_op("Reshape", [src], [name], {"shape": list(graph.tensors[src].shape)}, name=name)
                graph.tensors[name].axis_format = graph.tensors[src].axis_format
            else:
                graph.rename_tensor(src, name)
                for k, v in list(ctx.aliases.items()):
                    if v == src:
                        ctx.aliases[k] = name
        if name not in graph.tensors:
            if name in ctx.consts:
                raise ConversionError(f"output '{name}' is a constant (it does not depend on any input); "
                                      "a DLC output must be computed from the inputs")
            raise ConversionError(f"output '{name}' (--out_node) is not a tensor of the model")
    graph.outputs = list(outputs)
    return graph

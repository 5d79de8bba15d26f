"""ONNX model -> IR graph.

Steps: load (with external data) -> resolve input shapes (-d/-b/-s) -> list every
unsupported op at once -> walk nodes in order, folding constant subgraphs with
``onnx.reference`` and translating the rest through the translator registry.
"""
from __future__ import annotations

import collections
import logging
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import external_data_helper, numpy_helper

from ...errors import ConversionError
from ...ir import axis_format as af
from ...ir import dtypes as qd
from ...ir.graph import Graph
from ...progress import track
from ..front_half import OpSurvey, bind_output, check_input_names, closest, declare_input, unsupported_ops
from ..translator_registry import translate
from .context import OnnxContext, onnx_np_dtype
from .folding import ALWAYS_FOLDED, NO_FOLD, fold_node, node_label
from .fusions import fuse_erf_gelu
from .qdq import fold_qdq, qoperator_to_qdq
from .registry import get_translator

log = logging.getLogger("snpe_tools")

# ops whose output depends only on the input's (static) shape
_SHAPE_ONLY = {"Shape", "Size"}
# ops that may appear with zero inputs and produce a constant
_SOURCE_CONST = {"Constant"}



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
    keep_quant_nodes: bool = False      # QDQ pairs stay QNN Quantize/Dequantize ops instead of encodings
    simplify: bool = True               # False (-n): constant subgraphs fold only through translated ops


def load_model(path: str, map_external: bool = False) -> onnx.ModelProto:
    """Load an ONNX file or raise a one-line ConversionError.

    The model is validated first (IR/opset versions, one producer per tensor, tensor dims and data
    sizes), and every external-data location must name a regular file inside the model's folder.
    With ``map_external`` the main graph's external initializers are left in place and memory-mapped
    later by :func:`initializer_array` (no copy of large weights is held twice); external tensors
    elsewhere (Constant attributes, subgraph initializers) are read into the protobuf.  Without it
    (``--dry_run``) external data is only checked, never read.
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
    validate_model(model, path)
    base = os.path.dirname(os.path.abspath(path))
    try:
        for tensor, top_level in _all_tensors(model):
            if not external_data_helper.uses_external_data(tensor):
                continue
            fname, offset, length = _external_file_region(tensor, base)   # validates location, offset, length
            if map_external and not top_level:
                with open(fname, "rb") as fh:
                    fh.seek(offset)
                    data = fh.read(length)
                tensor.raw_data = data
                tensor.data_location = onnx.TensorProto.DEFAULT
                del tensor.external_data[:]
    except ConversionError:
        raise
    except OSError as exc:
        raise ConversionError(f"{path}: cannot read external weight data ({exc.strerror or exc}); keep the data "
                              "file next to the model and readable") from None
    if any(f.node for f in model.functions) or model.functions:
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as exc:
            raise ConversionError(f"{path}: cannot inline ONNX functions ({exc})") from None
    return model


def _all_tensors(model: onnx.ModelProto):
    """(tensor, is a main-graph initializer) for every TensorProto of the model (subgraphs included)."""
    for t in model.graph.initializer:
        yield t, True

    def in_nodes(nodes):
        for node in nodes:
            for a in node.attribute:
                if a.HasField("t"):
                    yield a.t, False
                for t in a.tensors:
                    yield t, False
                for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    for t in sub.initializer:
                        yield t, False
                    yield from in_nodes(sub.node)

    yield from in_nodes(model.graph.node)
    for f in model.functions:
        yield from in_nodes(f.node)


# ---- validation -------------------------------------------------------------------------------
_PACKED_BITS = {getattr(onnx.TensorProto, n): b
                for n, b in (("INT4", 4), ("UINT4", 4), ("FLOAT4E2M1", 4), ("INT2", 2), ("UINT2", 2))
                if hasattr(onnx.TensorProto, n)}
_COMPLEX = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}


def _max_opsets() -> dict[str, int]:
    ml = max((row[3] for row in onnx.helper.VERSION_TABLE if len(row) > 3), default=5)
    top = onnx.defs.onnx_opset_version()
    return {"": top, "ai.onnx": top, "ai.onnx.ml": ml}


def _check_versions(model: onnx.ModelProto, path: str) -> None:
    if model.ir_version > onnx.IR_VERSION:
        raise ConversionError(f"{path}: ONNX IR version {model.ir_version} is newer than the IR versions this "
                              f"converter reads (up to {onnx.IR_VERSION}, onnx {onnx.__version__}); re-export the "
                              f"model with an IR version <= {onnx.IR_VERSION}")
    limits = _max_opsets()
    for o in model.opset_import:
        top = limits.get(o.domain)
        if top is not None and o.version > top:
            dom = o.domain or "ai.onnx"
            raise ConversionError(f"{path}: the model imports opset {o.version} of domain {dom}, newer than the "
                                  f"opsets this converter supports (up to {top}, onnx {onnx.__version__}); re-export "
                                  f"the model with opset <= {top}")
        if o.domain in ("", "ai.onnx") and o.version < 1:
            raise ConversionError(f"{path}: the model imports opset {o.version} of domain ai.onnx; opset versions "
                                  "start at 1 - the file is damaged or hand-made")


def _tensor_problem(t: onnx.TensorProto, check_raw: bool = True) -> str | None:
    """Why the dims and the data of an in-file tensor disagree (None when they agree).

    ``check_raw=False`` leaves out the size of ``raw_data`` (reading it copies the bytes; the main graph's
    initializers are checked once, when :func:`initializer_array` reads them).
    """
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        return f"has negative dims {dims}"
    if t.data_type == onnx.TensorProto.UNDEFINED or t.data_type not in onnx.TensorProto.DataType.values():
        return f"has an unknown element type ({t.data_type})"
    if external_data_helper.uses_external_data(t):
        return None                       # checked against its file by _external_file_region
    n = math.prod(dims)
    if t.data_type == onnx.TensorProto.STRING:
        have, need, unit = len(t.string_data), n, "strings"
    elif t.HasField("raw_data"):
        if not check_raw:
            return None
        have, need, unit = len(t.raw_data), _data_bytes(t.data_type, n), "bytes"
    else:
        field = onnx.helper.tensor_dtype_to_field(t.data_type)
        have, unit = len(getattr(t, field)), "values"
        bits = _PACKED_BITS.get(t.data_type)
        need = (n * bits + 7) // 8 if bits else 2 * n if t.data_type in _COMPLEX else n
    if have != need:
        return (f"holds {have} {unit} of data but its dims {dims} need {need}" if have < need else
                f"holds {have} {unit} of data, more than its dims {dims} allow ({need})")
    return None


def _data_bytes(data_type: int, n: int) -> int:
    bits = _PACKED_BITS.get(data_type)
    if bits:
        return (n * bits + 7) // 8
    return n * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type)).itemsize


def _check_value_info(vi: onnx.ValueInfoProto, what: str, path: str) -> None:
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value < 0:
            dims = [x.dim_value if x.HasField("dim_value") else (x.dim_param or "?")
                    for x in vi.type.tensor_type.shape.dim]
            raise ConversionError(f"{path}: {what} '{vi.name}' declares negative dims {dims}; the model is "
                                  "damaged - re-export it")


def _validate_graph(graph: onnx.GraphProto, path: str, where: str = "") -> None:
    scope = f" (in subgraph '{graph.name}' of {where})" if where else ""
    for t in graph.initializer:
        problem = _tensor_problem(t, check_raw=bool(where))
        if problem:
            raise ConversionError(f"{path}: initializer '{t.name}'{scope} {problem}; the model file is damaged - "
                                  "re-export it")
    for kind, lst in (("input", graph.input), ("output", graph.output), ("value_info", graph.value_info)):
        for vi in lst:
            _check_value_info(vi, f"graph {kind}", path)
    producer: dict[str, str] = {}
    for vi in graph.input:
        producer.setdefault(vi.name, "graph input")
    for t in graph.initializer:
        producer.setdefault(t.name, "initializer")
    for i, node in enumerate(graph.node):
        label = f"node '{node.name}' ({node.op_type})" if node.name else f"node #{i} ({node.op_type})"
        for out in node.output:
            if not out:
                continue
            if out in producer:
                first = producer[out]
                raise ConversionError(f"{path}: tensor '{out}'{scope} is written by both {first} and {label}; "
                                      "every tensor must have exactly one producer - rename one of the outputs "
                                      "and re-export the model")
            producer[out] = label
        for a in node.attribute:
            tensors = ([a.t] if a.HasField("t") else []) + list(a.tensors)
            for t in tensors:
                problem = _tensor_problem(t)
                if problem:
                    raise ConversionError(f"{path}: attribute '{a.name}' of {label}{scope} {problem}; the model "
                                          "file is damaged - re-export it")
            subs = ([a.g] if a.HasField("g") else []) + list(a.graphs)
            for sub in subs:
                _validate_graph(sub, path, label)


def validate_model(model: onnx.ModelProto, path: str) -> None:
    """One-line errors for models onnx's checker would reject and the converter would misread."""
    _check_versions(model, path)
    _validate_graph(model.graph, path)


# ---- external data ----------------------------------------------------------------------------
def _bad_external(tensor: onnx.TensorProto, location: str, why: str, fix: str) -> ConversionError:
    return ConversionError(f"external data of tensor '{tensor.name}' (location '{location}') {why}; {fix}")


def resolve_external_location(tensor: onnx.TensorProto, location: str, base: str) -> str:
    """The real path of an external-data file, which must be a regular file inside the model's folder."""
    keep = "keep the data file in the model's folder and name it by a relative path without '..'"
    if not location:
        raise _bad_external(tensor, location, "names no file", "re-export the model with its external data")
    if "\0" in location or os.path.isabs(location) or location.startswith(("/", "\\")) or \
            (len(location) > 1 and location[1] == ":"):
        raise _bad_external(tensor, location, "is an absolute path, outside the model's folder", keep)
    real_base = os.path.realpath(base)
    real = os.path.realpath(os.path.join(base, location))
    if os.path.commonpath([real_base, real]) != real_base:
        why = "leaves the model's folder" + (" through a symbolic link" if ".." not in location.replace("\\", "/")
                                             .split("/") else "")
        raise _bad_external(tensor, location, why, keep)
    if not os.path.exists(real):
        raise _bad_external(tensor, location, f"is not found in {base}", "keep the data file next to the model")
    if not os.path.isfile(real):
        raise _bad_external(tensor, location, "is not a regular file", keep)
    return real


def _external_file_region(tensor: onnx.TensorProto, base: str) -> tuple[str, int, int]:
    """(file, offset, length) of a tensor's external data, all validated; length covers the dims exactly."""
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    fname = resolve_external_location(tensor, location, base)
    try:
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length", "") != "" else None
    except ValueError:
        raise _bad_external(tensor, location, f"has a non-numeric offset/length ({info.get('offset')!r}, "
                            f"{info.get('length')!r})", "re-export the model") from None
    problem = _tensor_problem(tensor)
    if problem:
        raise _bad_external(tensor, location, f"belongs to a tensor that {problem}", "re-export the model")
    if tensor.data_type == onnx.TensorProto.STRING:
        raise _bad_external(tensor, location, "belongs to a string tensor, which ONNX stores only inside the model",
                            "re-export the model")
    need = _data_bytes(tensor.data_type, math.prod(int(d) for d in tensor.dims))
    size = os.path.getsize(fname)
    if offset < 0 or (length is not None and length < 0):
        bad = f"offset {offset}" if offset < 0 else f"length {length}"
        raise _bad_external(tensor, location, f"has a negative {bad}", "re-export the model")
    if length is None:
        length = need
    if length < need:
        raise _bad_external(tensor, location, f"is {length} bytes long but the dims {list(tensor.dims)} need "
                            f"{need}", "re-export the model")
    if offset > size or offset + need > size:
        raise _bad_external(tensor, location, f"is truncated: the tensor needs {need} bytes at offset {offset} "
                            f"but the file holds {size}", "copy the complete data file next to the model")
    return fname, offset, need


def _external_region(init: onnx.TensorProto, base: str) -> tuple[str, int, np.dtype, tuple[int, ...]]:
    fname, offset, _length = _external_file_region(init, base)
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(init.data_type))
    return fname, offset, dtype, tuple(int(d) for d in init.dims)


def initializer_array(init: onnx.TensorProto, base: str) -> np.ndarray:
    """Initializer as numpy; external data is memory-mapped read-only instead of loaded."""
    if init.data_location == onnx.TensorProto.EXTERNAL:
        if init.data_type in _PACKED_BITS:
            fname, offset, length = _external_file_region(init, base)
            with open(fname, "rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            del copy.external_data[:]
            copy.data_location = onnx.TensorProto.DEFAULT
            copy.raw_data = data
            return numpy_helper.to_array(copy)
        fname, offset, dtype, shape = _external_region(init, base)
        if math.prod(shape) == 0:
            return np.zeros(shape, dtype)
        return np.memmap(fname, dtype=dtype, mode="r", offset=offset, shape=shape)
    if init.HasField("raw_data") and init.data_type not in _PACKED_BITS:
        raw = init.raw_data            # one copy of the bytes, as numpy_helper.to_array makes
        dims = [int(d) for d in init.dims]
        need = _data_bytes(init.data_type, math.prod(dims))
        if len(raw) != need:
            raise ConversionError(f"initializer '{init.name}' holds {len(raw)} bytes of data but its dims {dims} "
                                  f"need {need}; the model file is damaged - re-export it")
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(init.data_type))
        if dtype.kind in "biuf" and dtype.type.__module__ == "numpy" and sys.byteorder == "little":
            return np.frombuffer(raw, dtype=dtype).reshape(dims)
    try:
        return numpy_helper.to_array(init)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConversionError(f"initializer '{init.name}' cannot be read ({exc}); the model file is damaged - "
                              "re-export it") from None


def _opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


_MAX_DIM = 2 ** 31 - 1


def _resolve_input_shape(vi: onnx.ValueInfoProto, opts: OnnxOptions) -> list[int]:
    dims = _input_shape(vi, opts)
    if any(d > _MAX_DIM for d in dims):
        src = "-d/--input_dim" if vi.name in opts.input_dims else "the model"
        raise ConversionError(f"input '{vi.name}' has shape {dims} (from {src}); a DLC dimension must be at most "
                              f"{_MAX_DIM} - give a smaller shape with -d {vi.name} DIMS")
    return dims


def _input_shape(vi: onnx.ValueInfoProto, opts: OnnxOptions) -> list[int]:
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
                node.op_type not in NO_FOLD and all(i in const for i in ins) and ins):
            const.update(o for o in node.output if o)
    return const


def check_supported(model: onnx.ModelProto, simplify: bool = True) -> None:
    """Every node must have a translator, unless its outputs are constant and it is folded at convert time.

    ``simplify=False`` is SNPE's ``-n``: without the simplifier, a constant subgraph folds only through
    ops the converter translates (Qualcomm: -n "may prevent some models from properly converting when
    sequences of unsupported static operations are present")."""
    init_names = {i.name for i in model.graph.initializer}
    const = _const_outputs(model, init_names)
    missing: dict[str, list[str]] = {}
    static_only = False
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") and not (node.domain == "ai.onnx.preview"
                                                         and get_translator(node.op_type) is not None):
            missing.setdefault(f"{node.domain}.{node.op_type}", []).append(node.name or node.output[0])
            continue
        if all(o in const for o in node.output if o):
            if simplify or node.op_type in ALWAYS_FOLDED or get_translator(node.op_type) is not None:
                continue
            static_only = True
        if get_translator(node.op_type) is None:
            missing.setdefault(node.op_type, []).append(node.name or node.output[0])
    if missing:
        hint = " (with -n/--no_simplification, constant subgraphs of such ops are not simplified away; drop -n " \
               "to fold them)" if static_only else ""
        raise unsupported_ops(missing, hint=hint)


def survey(path: str, opts: OnnxOptions, debug: bool = False) -> OpSurvey:
    """What ``--dry_run`` reports: the main graph's op types and whether it converts (external data is
    checked, not read)."""
    model = load_model(path)
    nodes = model.graph.node
    details = [f"{n.op_type} {n.name or n.output[0]}: inputs={list(n.input)} outputs={list(n.output)}"
               for n in nodes] if debug else []
    return OpSurvey.from_census(collections.Counter(n.op_type for n in nodes),
                                lambda t: get_translator(t) is not None or t == "Constant",
                                lambda: check_supported(model, opts.simplify), details=details)


def translate_node(ctx: OnnxContext, node: onnx.NodeProto, model: onnx.ModelProto) -> None:
    """Fold the node if its inputs are constant, else emit it with its translator.  Control-flow
    translators call back here (``ctx.translate_node``) for the nodes of the subgraphs they unroll."""
    if fold_node(node, ctx, model):
        return
    translator = get_translator(node.op_type)
    if translator is None:  # only reachable if folding failed on a const-only unsupported op
        raise unsupported_ops({node.op_type: [node.name or node.output[0]]})
    _check_window_attrs(node)
    translate(translator, ctx, node, lambda: node_label(node))


def _check_window_attrs(node: onnx.NodeProto) -> None:
    """strides / dilations / kernel_shape of convolutions and pooling must be positive."""
    for a in node.attribute:
        if a.name in ("strides", "dilations", "kernel_shape") and a.type == onnx.AttributeProto.INTS:
            bad = [int(v) for v in a.ints if v < 1]
            if bad:
                raise ConversionError(f"{node_label(node)}: {a.name} {list(a.ints)} must be >= 1 on every axis; "
                                      "the model is invalid - fix the attribute and re-export it")


def convert_onnx(path: str, opts: OnnxOptions) -> Graph:
    model = load_model(path, map_external=True)
    base = os.path.dirname(os.path.abspath(path))
    graph_name = model.graph.name or os.path.splitext(os.path.basename(path))[0]
    graph = Graph(graph_name)
    ctx = OnnxContext(graph, _opset(model))
    fuse_erf_gelu(model)          # one QNN Gelu, as Qualcomm's converter writes it
    ctx.keep_quant_nodes = opts.keep_quant_nodes
    qoperator_to_qdq(model)       # QLinearConv, QLinearAdd ... between quantized tensors -> the QDQ form
    graph.source_encodings.update(fold_qdq(model, activations=not opts.keep_quant_nodes))
    check_supported(model, opts.simplify)
    ctx.simplify = opts.simplify

    for init in model.graph.initializer:
        ctx.consts[init.name] = initializer_array(init, base)
    real_inputs = [vi for vi in model.graph.input if vi.name not in ctx.consts]
    check_input_names(opts, [vi.name for vi in real_inputs])
    # sequence-major inputs of recurrent nodes are TNF, which the legacy layout makes NTF (as SNPE)
    rnn_inputs = {n.input[0] for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN")
                  and not any(a.name == "layout" and a.i == 1 for a in n.attribute)}
    for vi in real_inputs:
        shape = _resolve_input_shape(vi, opts)
        elem = vi.type.tensor_type.elem_type
        requested = opts.input_dtypes.get(vi.name)
        dtype = np.dtype(np.float32) if elem == 0 else onnx_np_dtype(elem)     # 0: no type declared
        if dtype is None and requested is not None:
            dtype = qd.from_name(requested)
        elif dtype is None:
            tname = onnx.TensorProto.DataType.Name(elem) if elem in onnx.TensorProto.DataType.values() else elem
            raise ConversionError(f"input '{vi.name}' has ONNX element type {tname}, which the DLC runtime "
                                  f"cannot hold; give a supported type with --input_dtype {vi.name} float32")
        default = af.TNF if vi.name in rnn_inputs and len(shape) == 3 else af.onnx_default(len(shape))
        declare_input(graph, opts, vi.name, shape, dtype, default)

    ctx.translate_node = lambda node: translate_node(ctx, node, model)
    for node in track(model.graph.node, "Converting", "node"):
        translate_node(ctx, node, model)

    outputs = opts.out_names or [o.name for o in model.graph.output]
    for name in outputs:
        src = ctx.aliases.get(name)
        if src is not None and name not in graph.tensors:
            if bind_output(graph, src, name, keep=outputs) == name and src not in graph.tensors:   # renamed
                for k, v in list(ctx.aliases.items()):
                    if v == src:
                        ctx.aliases[k] = name
        if name not in graph.tensors:
            if name in ctx.consts:
                raise ConversionError(f"output '{name}' is a constant (it does not depend on any input); "
                                      "a DLC output must be computed from the inputs")
            known = [vi.name for vi in model.graph.input] + [o for n in model.graph.node for o in n.output if o]
            raise ConversionError(f"output '{name}' (--out_node) is not a tensor of the model (closest: "
                                  f"{closest(name, known) or 'none'})")
    graph.outputs = list(outputs)
    return graph

"""TorchScript archive -> IR graph.

The module is loaded with ``torch.jit.load``, frozen (parameters become constants, BatchNorm is
folded into convolutions by torch itself where it can) and inlined; then every node is visited
in order.  prim nodes and shape arithmetic are evaluated at convert time; aten nodes go through
the translator registry; a node whose inputs are all known at convert time is evaluated with
torch itself.  Unsupported op kinds are all reported in one error with their source lines.
"""
from __future__ import annotations

import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...extras import install_hint
from ...ir import axis_format as af
from ...ir import dtypes as qd
from ...ir.graph import Graph
from ...ir.limits import check_fold_size, fold_limit_bytes
from ...progress import track
from ..front_half import OpSurvey, bind_output, declare_input, unsupported_ops
from ..translator_registry import translate
from .context import Ref, TorchContext, TorchNode, describe, source_line
from .registry import get_translator

# prim kinds handled by the walker itself
_PRIM = {"prim::Constant", "prim::Loop", "prim::ListConstruct", "prim::TupleConstruct", "prim::ListUnpack",
         "prim::TupleUnpack", "prim::If", "prim::NumToTensor", "prim::RaiseException", "prim::Uninitialized",
         "prim::GetAttr", "prim::unchecked_cast", "prim::dtype", "prim::device", "prim::TupleIndex",
         "aten::ScalarImplicit", "aten::Int", "aten::Float", "aten::Bool", "prim::min", "prim::max",
         "aten::size", "aten::dim", "aten::len", "aten::__getitem__", "aten::numel", "aten::lift_fresh",
         "aten::warn", "prim::PythonOp", "aten::__is__", "aten::__isnot__", "aten::__not__",
         "prim::layout", "prim::is_cuda", "prim::isinstance", "aten::format", "prim::Print"}
# aten kinds that are fine when every input is known at convert time (evaluated with torch)
_STATIC_OK = {"aten::add", "aten::sub", "aten::mul", "aten::div", "aten::floordiv", "aten::remainder",
              "aten::eq", "aten::ne", "aten::lt", "aten::gt", "aten::le", "aten::ge", "aten::neg",
              "aten::floor", "aten::ceil", "aten::sqrt", "aten::list", "aten::tensor", "aten::arange",
              "aten::zeros", "aten::ones", "aten::full", "aten::to", "aten::append", "aten::__and__",
              "aten::__or__", "aten::mul_", "aten::scalar_tensor", "aten::detach", "aten::clone",
              "aten::is_floating_point", "aten::__range_length", "aten::__derive_index", "aten::pow",
              "aten::abs", "aten::log", "aten::exp", "aten::max", "aten::min", "aten::round",
              "aten::type_as", "aten::expand", "aten::repeat", "aten::view", "aten::reshape",
              "aten::unsqueeze", "aten::squeeze", "aten::slice", "aten::select", "aten::cat", "aten::stack",
              "aten::__contains__", "aten::zeros_like", "aten::ones_like", "aten::full_like", "aten::empty",
              "aten::new_zeros", "aten::new_ones", "aten::new_full"}


@dataclass
class TorchOptions:
    input_dims: list[tuple[str, list[int]]] = field(default_factory=list)   # ordered: forward() args
    out_names: list[str] = field(default_factory=list)
    input_dtypes: dict[str, str] = field(default_factory=dict)
    input_layouts: dict[str, str] = field(default_factory=dict)
    input_types: dict[str, str] = field(default_factory=dict)
    input_encodings: dict[str, tuple[str, str]] = field(default_factory=dict)
    fold_batchnorm: bool = True


def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConversionError(f"snpe-pytorch-to-dlc needs PyTorch: {install_hint('pytorch')}") from None
    return torch


def load_scripted(path: str, fold_batchnorm: bool = True):
    torch = import_torch()
    if not os.path.exists(path):
        raise ConversionError(f"input model not found: {path} (check --input_network)")
    scan_archive_code(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(path, map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"{path} is not a TorchScript archive ({first}); save the model with "
                              "torch.jit.trace(...)/torch.jit.script(...) and .save()") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = module.eval()
        # torch.jit.freeze evaluates every constant subgraph: refuse file I/O and oversized constants first
        unfrozen = module.graph.copy()
        torch._C._jit_pass_inline(unfrozen)
        check_no_file_io(unfrozen)
        precheck_constant_sizes(module, unfrozen)
        try:
            # optimize_numerics folds BatchNorm into convolutions: only when the user allows folding
            frozen = torch.jit.freeze(module, optimize_numerics=fold_batchnorm)
        except Exception:  # noqa: BLE001 - freezing is an optimisation, the graph is still usable
            frozen = module
        graph = frozen.graph.copy()
        torch._C._jit_pass_inline(graph)
    return frozen, graph


# ops that read or write files: never evaluated, never converted (any other op with a string
# argument named like a path is refused too)
FILE_IO_KINDS = {"aten::from_file", "aten::save", "aten::load", "aten::_load", "debugprims::load_tensor"}
_PATH_ARGS = {"filename", "file", "path", "filepath", "fname", "file_name"}


def _reads_or_writes_files(node) -> bool:
    if node.kind() in FILE_IO_KINDS:
        return True
    try:
        schema = node.schema()
        if schema == "(no schema)":
            return False
        import torch

        args = torch._C.parse_schema(schema).arguments
    except Exception:  # noqa: BLE001 - nodes without a (parsable) schema
        return False
    return any(a.name in _PATH_ARGS and "str" in str(a.type).lower() for a in args)


def _refuse_file_io(node) -> None:
    outs = ", ".join(f"%{o.debugName()}" for o in node.outputs()) or "no output"
    raise ConversionError(f"{describe(node)} -> {outs}: the model reads or writes files ({node.kind()}); "
                          "snpe-pytorch-to-dlc never runs file I/O from a model at convert time - remove it (keep "
                          "the data in a parameter or buffer) and save the model again")


_CODE_FILE_IO = re.compile(r"\b(?:torch|aten|ops\.aten|debugprims|ops\.debugprims)\s*\.\s*"
                           r"(from_file|save|load|_load|load_tensor)\s*\(")
_MAX_CODE_MEMBER = 64 << 20


def scan_archive_code(path: str) -> None:
    """Refuse, before torch loads (and so runs) anything, an archive whose TorchScript code calls a file-I/O op.

    torch.jit.load runs the model's ``__setstate__`` methods; TorchScript code can only reach files through
    a handful of ops (``torch.from_file``, ``torch.save``), so their names in ``code/*.py`` are enough.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return                      # not a TorchScript zip: torch.jit.load reports it
    with zf:
        for info in zf.infolist():
            name = info.filename
            if "/code/" not in f"/{name}" or not name.endswith(".py") or info.file_size > _MAX_CODE_MEMBER:
                continue
            try:
                text = zf.read(info).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001 - a damaged member: torch.jit.load reports it
                continue
            m = _CODE_FILE_IO.search(text)
            if m is None:
                continue
            line_no = text.count("\n", 0, m.start()) + 1
            before = text[:m.start()]
            cls = re.findall(r"^class\s+(\w+)", before, re.M)
            fn = re.findall(r"^\s+def\s+(\w+)", before, re.M)
            where = ".".join(x for x in (cls[-1] if cls else "", fn[-1] if fn else "") if x) or "module code"
            raise ConversionError(f"{path}: TorchScript method {where} ({name}:{line_no}) calls torch.{m.group(1)}, "
                                  "which reads or writes files; snpe-pytorch-to-dlc refuses such models before "
                                  "loading them - remove the call (keep the data in a parameter or buffer) and save "
                                  "the model again")


def check_no_file_io(graph) -> None:
    """Refuse (before anything evaluates the graph) ops that read or write files, such as aten::from_file."""
    for node in _all_nodes(graph):
        if _reads_or_writes_files(node):
            _refuse_file_io(node)


def _meta(torch, v):
    if isinstance(v, torch.Tensor):
        return v.detach().to("meta")
    if isinstance(v, list):
        return [_meta(torch, x) for x in v]
    if isinstance(v, tuple):
        return tuple(_meta(torch, x) for x in v)
    return v


def _tensor_bytes(torch, v) -> int:
    if isinstance(v, torch.Tensor):
        return v.numel() * v.element_size()
    if isinstance(v, (list, tuple)):
        return sum(_tensor_bytes(torch, x) for x in v)
    return 0


def _tensor_shapes(torch, v) -> list:
    if isinstance(v, torch.Tensor):
        return [(tuple(v.shape), str(v.dtype).replace("torch.", ""))]
    if isinstance(v, (list, tuple)):
        return [s for x in v for s in _tensor_shapes(torch, x)]
    return []


def _check_meta_result(torch, node, res) -> None:
    nbytes = _tensor_bytes(torch, res)
    if nbytes > fold_limit_bytes():
        shapes = _tensor_shapes(torch, res)
        shape, dtype = shapes[0] if len(shapes) == 1 else (None, None)
        check_fold_size(nbytes, describe(node), shape, dtype)


def _meta_call(torch, node, args):
    """Run an aten node on the meta device (shapes only, nothing allocated); raises when it cannot."""
    fn = getattr(torch.ops.aten, node.kind().split("::", 1)[1])
    pos, kw = _split_kwargs(torch, node, [_meta(torch, a) for a in args])
    if "device" in kw:
        kw["device"] = torch.device("meta")
    elif any(a.name == "device" for a in _schema_args(torch, node)):
        kw["device"] = torch.device("meta")
    return fn(*pos, **kw)


def _check_list_growth(node, args) -> None:
    """``list * n`` (aten::mul.left_t) builds a Python list: bound it like a tensor of 8-byte items."""
    if node.kind() == "aten::mul" and len(args) == 2 and isinstance(args[0], list) and isinstance(args[1], int):
        n = len(args[0]) * max(args[1], 0)
        check_fold_size(n * 8, describe(node), (n,), "int64")


def _schema_args(torch, node) -> list:
    try:
        return list(torch._C.parse_schema(node.schema()).arguments)
    except Exception:  # noqa: BLE001
        return []


def precheck_constant_sizes(module, graph) -> None:
    """Refuse constants that torch.jit.freeze would fold to more than the fold limit.

    The unfrozen graph is walked with every value that does not depend on the inputs (constants,
    parameters, what is computed from them) evaluated on torch's meta device: shapes and dtypes
    are exact but no data is allocated.  Values the meta device cannot compute are skipped.
    """
    torch = import_torch()
    vals: dict[str, Any] = {}
    inputs = list(graph.inputs())
    if inputs and inputs[0].type().kind() == "ClassType":
        vals[inputs[0].debugName()] = module

    def visit(block) -> None:
        for node in block.nodes():
            kind = node.kind()
            outs = list(node.outputs())
            if kind == "prim::Constant":
                try:
                    vals[outs[0].debugName()] = _meta(torch, outs[0].toIValue())
                except Exception:  # noqa: BLE001
                    pass
                continue
            if list(node.blocks()):
                for sub in node.blocks():
                    visit(sub)
                continue
            if not all(i.debugName() in vals for i in node.inputs()):
                continue
            args = [vals[i.debugName()] for i in node.inputs()]
            try:
                if kind == "prim::GetAttr":
                    res = _meta(torch, getattr(args[0], node.s("name")))
                elif kind == "prim::ListConstruct":
                    res = list(args)
                elif kind == "prim::TupleConstruct":
                    res = tuple(args)
                elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
                    for o, v in zip(outs, args[0]):
                        vals[o.debugName()] = v
                    continue
                elif kind.startswith("aten::") and kind not in _NEVER_FOLD:
                    _check_list_growth(node, args)
                    res = _meta_call(torch, node, args)
                else:
                    continue
            except ConversionError:
                raise
            except Exception:  # noqa: BLE001 - not computable on the meta device: its users are skipped too
                continue
            if kind.startswith("aten::"):      # parameters and constants are model data, not folding results
                _check_meta_result(torch, node, res)
            if len(outs) == 1:
                vals[outs[0].debugName()] = res
            elif isinstance(res, (list, tuple)) and len(res) == len(outs):
                for o, v in zip(outs, res):
                    vals[o.debugName()] = v

    visit(graph)


def _all_nodes(block):
    for node in block.nodes():
        yield node
        for sub in node.blocks():
            yield from _all_nodes(sub)


def op_census(graph) -> dict[str, int]:
    """How many nodes of each kind the TorchScript graph has (prim:: bookkeeping left out): --dry_run's table."""
    import collections

    return collections.Counter(n.kind() for n in _all_nodes(graph) if n.kind() not in _PRIM)


def op_details(graph) -> list[str]:
    """One line per node (kind, source line): --dry_run debug."""
    return [f"{n.kind()} at {source_line(n) or '?'}" for n in _all_nodes(graph) if n.kind() not in _PRIM]


def kind_supported(kind: str) -> bool:
    """True when the converter translates ``kind`` or can evaluate it at convert time."""
    return kind in _PRIM or kind in _STATIC_OK or get_translator(kind) is not None


# ops whose result is known at convert time even when their input is a run-time tensor
_SHAPE_QUERIES = {"aten::size", "aten::dim", "aten::numel", "aten::len", "prim::dtype", "prim::device",
                  "aten::is_floating_point", "prim::is_cuda", "prim::layout"}


def _runtime_values(graph) -> set[str]:
    """Debug names of values that (may) carry run-time tensor data: graph inputs and what flows from them."""
    tainted = {v.debugName() for v in list(graph.inputs())}

    def visit(block) -> None:
        for node in block.nodes():
            if node.kind() in _SHAPE_QUERIES:
                continue
            for sub in node.blocks():
                visit(sub)
            ins = any(v.debugName() in tainted for v in node.inputs())
            sub_out = any(v.debugName() in tainted for sub in node.blocks() for v in sub.outputs())
            if ins or sub_out:
                tainted.update(o.debugName() for o in node.outputs())

    for _ in range(2):   # loops carry values backwards once
        visit(graph)
    return tainted


def check_supported(graph) -> None:
    check_no_file_io(graph)
    missing: dict[str, list[str]] = {}
    runtime = _runtime_values(graph)
    for node in _all_nodes(graph):
        kind = node.kind()
        if kind in _PRIM or kind in _STATIC_OK or get_translator(kind) is not None:
            continue
        if not any(v.debugName() in runtime for v in node.inputs()):
            continue   # evaluated with torch at convert time
        if node.owningBlock() is not None and _in_error_branch(node):
            continue
        missing.setdefault(kind, []).append(source_line(node) or "?")
    if missing:
        raise unsupported_ops({k: sorted(v) for k, v in missing.items()})


def _in_error_branch(node) -> bool:
    """True for nodes inside a prim::If branch that only raises (input checks of scripted modules)."""
    block = node.owningBlock()
    while block is not None and block.owningNode() is not None:
        if any(n.kind() == "prim::RaiseException" for n in block.nodes()):
            return True
        block = block.owningNode().owningBlock()
    return False


def _has_ref(v: Any) -> bool:
    if isinstance(v, Ref):
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_ref(x) for x in v)
    return False


def _to_torch(v: Any):
    import torch

    if isinstance(v, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(v))
    if isinstance(v, list):
        return [_to_torch(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_to_torch(x) for x in v)
    return v


def _from_torch(v: Any):
    import torch

    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    if isinstance(v, list):
        return [_from_torch(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_from_torch(x) for x in v)
    if isinstance(v, (torch.dtype, torch.device)):
        return v
    return v


class _Walker:
    def __init__(self, ctx: TorchContext) -> None:
        self.ctx = ctx
        self.torch = import_torch()

    def get(self, value) -> Any:
        name = value.debugName()
        if name not in self.ctx.values:
            raise ConversionError(f"value %{name} is used before it is defined")
        return self.ctx.values[name]

    def set(self, value, v: Any) -> None:
        self.ctx.values[value.debugName()] = v

    def block(self, block) -> None:
        for node in block.nodes():
            self.node(node)

    def node(self, node) -> None:
        kind = node.kind()
        outs = list(node.outputs())
        if kind == "prim::Constant":
            self.set(outs[0], _from_torch(outs[0].toIValue()))
            return
        args = [self.get(i) for i in node.inputs()]
        if kind in ("prim::ListConstruct",):
            self.set(outs[0], list(args))
        elif kind == "prim::TupleConstruct":
            self.set(outs[0], tuple(args))
        elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            seq = args[0]
            if isinstance(seq, Ref):
                raise ConversionError(f"{describe(node)}: unpacking a run-time tensor list is not supported")
            for o, v in zip(outs, seq):
                self.set(o, v)
        elif kind == "prim::TupleIndex":
            self.set(outs[0], args[0][int(args[1])])
        elif kind == "prim::If":
            cond = args[0]
            if _has_ref(cond):
                raise ConversionError(f"{describe(node)}: a branch depends on run-time tensor values; "
                                      "only shape-dependent branches can be converted")
            blocks = list(node.blocks())
            chosen = blocks[0] if bool(cond) else blocks[1]
            self.block(chosen)
            for o, r in zip(outs, chosen.outputs()):
                self.set(o, self.get(r))
        elif kind == "prim::Loop":
            self.loop(node, args, outs)
        elif kind == "prim::RaiseException":
            raise ConversionError(f"{describe(node)}: the model raises an exception for these input "
                                  f"shapes ({args[0] if args else ''}); check -d/--input_dim")
        elif kind in ("prim::Uninitialized",):
            self.set(outs[0], None)
        elif kind in ("prim::unchecked_cast", "aten::lift_fresh"):
            self.set(outs[0], args[0])
        elif kind in ("aten::warn", "prim::Print"):
            pass
        elif kind == "prim::device":
            self.set(outs[0], "cpu")
        elif kind == "prim::dtype":
            self.set(outs[0], _torch_dtype_code(self.ctx.dtype(args[0])))
        elif kind == "aten::size":
            shape = list(self.ctx.shape(args[0]))
            self.set(outs[0], shape if len(args) == 1 else shape[int(args[1])])
        elif kind == "aten::dim":
            self.set(outs[0], self.ctx.rank(args[0]))
        elif kind == "aten::numel":
            self.set(outs[0], int(np.prod(self.ctx.shape(args[0]))))
        elif kind == "aten::len":
            v = args[0]
            self.set(outs[0], self.ctx.shape(v)[0] if isinstance(v, Ref) else len(v))
        elif kind == "prim::NumToTensor" and not _has_ref(args):
            self.set(outs[0], np.asarray(args[0]))
        elif kind in ("aten::Int", "aten::Float", "aten::Bool", "aten::ScalarImplicit") and not _has_ref(args):
            conv = {"aten::Int": int, "aten::Float": float, "aten::Bool": bool}.get(kind, lambda x: x.item()
                                                                                     if hasattr(x, "item") else x)
            self.set(outs[0], conv(np.asarray(args[0]).item()))
        elif kind in ("aten::__is__", "aten::__isnot__"):
            same = args[0] is args[1] or (args[0] is None and args[1] is None)
            self.set(outs[0], same if kind == "aten::__is__" else not same)
        elif kind == "aten::__not__":
            self.set(outs[0], not args[0])
        elif kind == "aten::__getitem__" and not isinstance(args[0], Ref):
            self.set(outs[0], args[0][int(args[1])])
        elif kind == "aten::list" and isinstance(args[0], (list, tuple)):
            self.set(outs[0], list(args[0]))
        elif kind in _SCALAR_OPS and args and all(isinstance(a, (bool, int, float)) for a in args):
            self.set(outs[0], _SCALAR_OPS[kind](*args))
        elif kind == "aten::slice" and isinstance(args[0], list) and not _has_ref(args[1:]):
            self.set(outs[0], args[0][slice(args[1], args[2], args[3] if len(args) > 3 else 1)])
        elif kind == "aten::add" and isinstance(args[0], list) and isinstance(args[1], list):
            self.set(outs[0], args[0] + args[1])
        elif kind == "aten::mul" and isinstance(args[0], list) and isinstance(args[1], int):
            _check_list_growth(node, args)
            self.set(outs[0], args[0] * args[1])
        elif kind == "aten::append" and isinstance(args[0], list):
            args[0].append(args[1])
            self.set(outs[0], args[0])
        elif kind in ("prim::min", "prim::max") and not _has_ref(args):
            fn = min if kind == "prim::min" else max
            self.set(outs[0], fn(args[0]) if len(args) == 1 else fn(args[0], args[1]))
        elif not _has_ref(args) and kind.startswith("aten::") and kind not in _NEVER_FOLD:
            self.fold(node, kind, args, outs)
        else:
            fn = get_translator(kind)
            if fn is None:
                raise unsupported_ops({kind: [source_line(node) or "?"]})
            self.bind(outs, self.translate(fn, node, args))

    def translate(self, fn, node, args: list) -> Any:
        """Run translator ``fn`` on ``node``; its errors leave naming the node (kind and source line)."""
        return translate(fn, self.ctx, TorchNode(node, args), lambda: describe(node), key=node.kind())

    def bind(self, outs: list, result: Any) -> None:
        """Bind a node's result (one value, or one per output) to its outputs."""
        if len(outs) == 1:
            self.set(outs[0], result)
        else:
            for o, r in zip(outs, result):
                self.set(o, r)

    def loop(self, node, args, outs) -> None:
        """Unroll a prim::Loop whose trip count and condition are known at convert time."""
        max_trips, cond, carried = args[0], args[1], list(args[2:])
        if _has_ref(max_trips) or _has_ref(cond):
            raise ConversionError(f"{describe(node)}: a loop whose trip count depends on run-time tensor values "
                                  "cannot be converted")
        body = list(node.blocks())[0]
        params = list(body.inputs())
        i = 0
        limit = int(max_trips) if max_trips is not None else 1 << 31
        while bool(cond) and i < limit:
            if i > 100000:
                raise ConversionError(f"{describe(node)}: loop runs more than 100000 iterations")
            self.set(params[0], i)
            for p, v in zip(params[1:], carried):
                self.set(p, v)
            self.block(body)
            res = [self.get(o) for o in body.outputs()]
            cond, carried = res[0], res[1:]
            if _has_ref(cond):
                raise ConversionError(f"{describe(node)}: a loop condition depends on run-time tensor values")
            i += 1
        for o, v in zip(outs, carried):
            self.set(o, v)

    def fold(self, node, kind, args, outs) -> None:
        """Evaluate an aten node whose inputs are all known, with torch itself."""
        name = kind.split("::", 1)[1]
        if _reads_or_writes_files(node):
            _refuse_file_io(node)
        try:
            meta = _meta_call(self.torch, node, args)
        except Exception:  # noqa: BLE001 - the meta device cannot tell: the real result is checked below
            meta = None
        if meta is not None:
            _check_meta_result(self.torch, node, meta)
        try:
            fn = getattr(self.torch.ops.aten, name)
            pos, kw = _split_kwargs(self.torch, node, [_to_torch(a) for a in args])
            res = fn(*pos, **kw)
        except Exception as exc:  # noqa: BLE001
            translator = get_translator(kind)
            if translator is None:
                raise ConversionError(f"{describe(node)}: cannot evaluate at convert time ({exc})") from None
            self.bind(outs, self.translate(translator, node, args))
            return
        _check_meta_result(self.torch, node, res)
        self.bind(outs, _from_torch(res))


def _div(a, b):
    return a / b


_SCALAR_OPS = {
    "aten::add": lambda a, b, *r: a + b, "aten::sub": lambda a, b, *r: a - b, "aten::mul": lambda a, b: a * b,
    "aten::div": _div, "aten::floordiv": lambda a, b: a // b, "aten::remainder": lambda a, b: a % b,
    "aten::eq": lambda a, b: a == b, "aten::ne": lambda a, b: a != b, "aten::lt": lambda a, b: a < b,
    "aten::gt": lambda a, b: a > b, "aten::le": lambda a, b: a <= b, "aten::ge": lambda a, b: a >= b,
    "aten::neg": lambda a: -a, "aten::__and__": lambda a, b: a and b, "aten::__or__": lambda a, b: a or b,
    "aten::pow": lambda a, b: a ** b, "aten::abs": abs,
}


def _split_kwargs(torch, node, args: list) -> tuple[list, dict]:
    """Keyword-only schema arguments (dtype=, device= ...) must be passed by name to torch.ops."""
    try:
        schema = torch._C.parse_schema(node.schema())
    except Exception:  # noqa: BLE001 - nodes without a schema: all positional
        return args, {}
    pos, kw = [], {}
    for a, v in zip(schema.arguments, args):
        if a.kwarg_only:
            if a.name == "device" and v is not None and not isinstance(v, torch.device):
                v = "cpu"
            kw[a.name] = v
        else:
            pos.append(v)
    return pos, kw


_NEVER_FOLD = {"aten::rand", "aten::randn", "aten::rand_like", "aten::randn_like", "aten::randint",
               "aten::bernoulli", "aten::normal", "aten::dropout"}


def _torch_dtype_code(dt: np.dtype) -> int:
    """The torch dtype of an IR dtype (``prim::dtype``): torch names its dtypes as numpy does."""
    import torch

    return getattr(torch, np.dtype(dt).name, torch.float32)


# A saved TorchScript file does not record its arguments' types.  An index-like --input_dtype (token ids,
# masks) is the type the model reads; any other (uint8 camera frames, float16 ...) is cast to the float32
# the model computes in, so that only that input changes.
_INDEX_DTYPES = ("int32", "int64", "bool")


def survey(path: str, opts: TorchOptions, debug: bool) -> OpSurvey:
    """What ``--dry_run`` reports of a TorchScript model (``tools/dry_run.py`` prints it); nothing is converted."""
    _module, tgraph = load_scripted(path, opts.fold_batchnorm)
    return OpSurvey.from_census(op_census(tgraph), kind_supported, lambda: check_supported(tgraph),
                                details=op_details(tgraph) if debug else [])


def convert_torchscript(path: str, opts: TorchOptions) -> Graph:
    _module, tgraph = load_scripted(path, opts.fold_batchnorm)
    check_supported(tgraph)
    inputs = list(tgraph.inputs())
    if inputs and inputs[0].type().kind() == "ClassType":
        inputs = inputs[1:]
    if not opts.input_dims:
        raise ConversionError("-d/--input_dim NAME DIMS is required for every forward() argument "
                              f"({len(inputs)} expected), e.g. -d input \"1,3,224,224\"")
    if len(opts.input_dims) != len(inputs):
        raise ConversionError(f"the model's forward() takes {len(inputs)} tensor argument(s) but "
                              f"{len(opts.input_dims)} -d/--input_dim were given; give one per argument, in order")
    graph = Graph(os.path.splitext(os.path.basename(path))[0] or "model")
    ctx = TorchContext(graph)
    for (name, dims), value in zip(opts.input_dims, inputs):
        requested = opts.input_dtypes.get(name)
        model_dtype = qd.from_name(requested) if requested in _INDEX_DTYPES else np.float32
        declare_input(graph, opts, name, dims, model_dtype, af.onnx_default(len(dims)))
        ctx.values[value.debugName()] = Ref(name)
    walker = _Walker(ctx)
    for node in track(tgraph.nodes(), "Converting", "node"):     # walker.block(tgraph), with a progress bar
        walker.node(node)
    results = []

    def flatten(v):
        if isinstance(v, (list, tuple)):
            for x in v:
                flatten(x)
        else:
            results.append(v)

    for o in tgraph.outputs():
        flatten(walker.get(o))
    refs = [r for r in results if isinstance(r, Ref)]
    if len(refs) != len(results):
        raise ConversionError("the model returns values that do not depend on its inputs (constants or "
                              "shapes); a DLC output must be a tensor computed from the inputs")
    if opts.out_names:
        if len(opts.out_names) != len(refs):
            raise ConversionError(f"--out_node was given {len(opts.out_names)} time(s) but the model returns "
                                  f"{len(refs)} tensor(s); name every output, in order")
        clash = sorted({n for n in opts.out_names if opts.out_names.count(n) > 1} | (set(opts.out_names) &
                                                                                   set(graph.inputs)))
        if clash:
            raise ConversionError(f"--out_node names must be unique and differ from the input names given with -d "
                                  f"(clashing: {', '.join(clash)})")
        names: list[str] = []
        renamed: dict[str, str] = {}
        for ref, new in zip(refs, opts.out_names):
            src = renamed.get(ref.name, ref.name)
            names.append(bind_output(graph, src, new, keep=names))
            if src not in graph.tensors:       # renamed: later references to the same value follow it
                renamed[ref.name] = new
    else:
        names = []
        for ref in refs:                       # an input or an output returned again gets its own tensor
            dup = ref.name in graph.inputs or ref.name in names
            names.append(bind_output(graph, ref.name, f"{ref.name}_out", keep=names) if dup else ref.name)
    graph.outputs = names
    return graph

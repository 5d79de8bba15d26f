"""Reading a ``.tflite`` file into plain Python objects, with the ``tflite`` schema package (no TensorFlow).

Everything the translators need is resolved here once: tensor shapes and numpy dtypes, constant
buffers as numpy arrays (sparse tensors densified, buffers stored past the flatbuffer for models over
2 GB read at their offset), quantization parameters, each operator's builtin name (or custom code)
and its options table read into a dict of snake_case names.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...extras import install_hint
from ...ir.limits import check_fold_shape

# TensorType enum of the TFLite schema -> numpy (None: no DLC equivalent)
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 5: None,
                           6: np.bool_, 7: np.int16, 8: None, 9: np.int8, 10: np.float64, 11: None,
                           12: np.uint64, 13: None, 14: None, 15: np.uint32, 16: np.uint16, 17: None, 18: None}
_TYPE_NAMES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
               7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64",
               13: "RESOURCE", 14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4", 18: "BFLOAT16"}
CUSTOM = 32


@dataclass
class QuantParams:
    """TFLite affine quantization: ``real = scale * (q - zero_point)``, per tensor or along ``axis``."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class TflTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    signature: tuple[int, ...]          # shape_signature: -1 marks a dynamic dim
    type_code: int
    data: np.ndarray | None
    quant: QuantParams | None

    @property
    def dtype(self) -> np.dtype:
        dt = _DTYPES.get(self.type_code)
        if dt is None:
            raise ConversionError(f"tensor '{self.name}' has TFLite type {self.type_name}, which a DLC cannot "
                                  "hold")
        return np.dtype(dt)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type_code, str(self.type_code))


@dataclass
class TflOp:
    index: int
    name: str                            # builtin name such as CONV_2D, or the custom code
    custom: bool
    inputs: list[int]                    # -1 = optional input left out
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    custom_options: bytes = b""          # a custom op's option bytes (a FlexBuffer map for TFLite's own)

    @property
    def padding(self) -> str:
        """The schema's ``padding`` option (enum SAME = 0, VALID = 1) as a scheme name of
        ``frontends/lowering/padding.py``; an op without options reads as VALID."""
        return "SAME" if self.options.get("padding", 1) == 0 else "VALID"


@dataclass
class Signature:
    key: str
    subgraph: int
    inputs: dict[str, int]               # signature name -> tensor index
    outputs: dict[str, int]


@dataclass
class TflSubgraph:
    index: int
    name: str
    tensors: list[TflTensor]
    ops: list[TflOp]
    inputs: list[int]
    outputs: list[int]


@dataclass
class TflModel:
    path: str
    subgraphs: list[TflSubgraph]
    signatures: list[Signature]
    schema_builtins: int                 # number of builtin operators the schema knows


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _options(tflite, op) -> dict[str, Any]:
    """An operator's BuiltinOptions table as ``{snake_case_name: value}`` (vectors as numpy)."""
    from tflite.BuiltinOptions import BuiltinOptions

    kind = op.BuiltinOptionsType()
    if kind == 0:
        return {}
    names = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
    cls = getattr(tflite, names[kind], None)
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return {}
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for attr in dir(cls):
        if attr.startswith("_") or attr in ("Init", "GetRootAs") or attr.startswith("GetRootAs") \
                or attr.endswith(("IsNone", "Length", "BufferHasIdentifier")):
            continue
        if hasattr(cls, attr + "AsNumpy"):
            v = getattr(obj, attr + "AsNumpy")()
            out[_snake(attr)] = np.asarray(v) if not isinstance(v, int) else np.zeros(0, np.int32)
        elif not attr.endswith("AsNumpy"):
            try:
                out[_snake(attr)] = getattr(obj, attr)()
            except TypeError:          # vector accessors that take an index
                continue
    return out


def _densify(values: np.ndarray, shape: tuple[int, ...], sp) -> np.ndarray:
    """Expand a TFLite sparse tensor (traversal order, block map, dense / CSR levels) to a dense array."""
    order = sp.TraversalOrderAsNumpy().tolist()
    block_map = sp.BlockMapAsNumpy().tolist() if not sp.BlockMapIsNone() else []
    levels = [sp.DimMetadata(i) for i in range(sp.DimMetadataLength())]
    n = len(shape)
    coords = np.zeros((1, len(order)), np.int64)
    pos = np.zeros(1, np.int64)                   # position of each partial path at the current level
    for lvl, md in enumerate(levels):
        if md.Format() == 0:                      # DENSE
            size = md.DenseSize()
            idx = np.tile(np.arange(size), pos.size)
            pos = np.repeat(pos, size) * size + idx
            coords = np.repeat(coords, size, axis=0)
            coords[:, lvl] = idx
        else:                                     # SPARSE_CSR
            seg = _int_vector(md.ArraySegmentsType(), md.ArraySegments())
            ind = _int_vector(md.ArrayIndicesType(), md.ArrayIndices())
            starts, ends = seg[pos], seg[pos + 1]
            counts = ends - starts
            new_pos = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if counts.sum() else \
                np.zeros(0, np.int64)
            coords = np.repeat(coords, counts, axis=0)
            coords[:, lvl] = ind[new_pos]
            pos = new_pos
    dense = np.zeros(shape, values.dtype)
    full = np.zeros((coords.shape[0], n), np.int64)
    for lvl, dim in enumerate(order):
        if lvl < n:
            full[:, dim] += coords[:, lvl] * (levels[n + block_map.index(dim)].DenseSize()
                                              if dim in block_map else 1)
        else:
            full[:, block_map[lvl - n]] += coords[:, lvl]
    dense[tuple(full.T)] = values.reshape(-1)[pos]
    return dense


def _int_vector(kind: int, table) -> np.ndarray:
    import tflite

    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    v = cls()
    v.Init(table.Bytes, table.Pos)
    return np.asarray(v.ValuesAsNumpy(), np.int64)


def load_tflite(path: str) -> TflModel:
    """Parse ``path``; every problem with the file becomes one ConversionError line."""
    try:
        import tflite
        from tflite.BuiltinOperator import BuiltinOperator
    except ImportError:
        raise ConversionError(f"snpe-tflite-to-dlc needs the TFLite schema package: {install_hint('tflite')}") \
            from None
    if not os.path.isfile(path):
        raise ConversionError(f"--input_network {path}: file not found")
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ConversionError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier); "
                              "give a .tflite file written by the TFLite converter")
    try:
        return _parse(tflite, BuiltinOperator, buf, path)
    except ConversionError:
        raise
    except Exception as exc:  # the flatbuffer accessors raise anything on a damaged file
        raise ConversionError(f"{path}: the TFLite flatbuffer is corrupt or truncated ({type(exc).__name__}: "
                              f"{exc}); re-export the model") from None


def _parse(tflite, builtin_enum, buf: bytes, path: str) -> TflModel:
    from tflite.utils import BUILTIN_OPCODE2NAME

    m = tflite.Model.GetRootAsModel(buf, 0)
    n_builtins = len([k for k in vars(builtin_enum) if not k.startswith("_")])
    opcodes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == CUSTOM:
            opcodes.append((oc.CustomCode().decode("utf-8", "replace"), True, oc.Version()))
        else:
            opcodes.append((BUILTIN_OPCODE2NAME.get(code, f"BUILTIN_{code}"), False, oc.Version()))
    buffers = [m.Buffers(i) for i in range(m.BuffersLength())]
    subgraphs = []
    for si in range(m.SubgraphsLength()):
        sg = m.Subgraphs(si)
        tensors = [_tensor(sg.Tensors(i), i, buffers, buf) for i in range(sg.TensorsLength())]
        ops = []
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name, custom, version = opcodes[op.OpcodeIndex()]
            ops.append(TflOp(oi, name, custom, op.InputsAsNumpy().tolist() if not op.InputsIsNone() else [],
                             op.OutputsAsNumpy().tolist() if not op.OutputsIsNone() else [],
                             {} if custom else _options(tflite, op), version,
                             op.CustomOptionsAsNumpy().tobytes() if custom and not op.CustomOptionsIsNone()
                             else b""))
        subgraphs.append(TflSubgraph(si, (sg.Name() or b"").decode("utf-8", "replace"), tensors, ops,
                                     sg.InputsAsNumpy().tolist() if not sg.InputsIsNone() else [],
                                     sg.OutputsAsNumpy().tolist() if not sg.OutputsIsNone() else []))
    signatures = []
    for i in range(m.SignatureDefsLength()):
        sd = m.SignatureDefs(i)
        signatures.append(Signature(
            (sd.SignatureKey() or b"").decode(), sd.SubgraphIndex(),
            {sd.Inputs(j).Name().decode(): sd.Inputs(j).TensorIndex() for j in range(sd.InputsLength())},
            {sd.Outputs(j).Name().decode(): sd.Outputs(j).TensorIndex() for j in range(sd.OutputsLength())}))
    return TflModel(path, subgraphs, signatures, n_builtins)


def _tensor(t, index: int, buffers, file_bytes: bytes) -> TflTensor:
    name = (t.Name() or b"").decode("utf-8", "replace") or f"tensor_{index}"
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if not t.ShapeIsNone() else ()
    sig = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if not t.ShapeSignatureIsNone() else shape
    code = t.Type()
    data = None
    b = buffers[t.Buffer()] if t.Buffer() < len(buffers) else None
    if b is not None:
        raw = None
        if b.Offset() > 1:                               # data stored after the flatbuffer (>2 GB models)
            raw = np.frombuffer(file_bytes, np.uint8, count=b.Size(), offset=b.Offset())
        elif not b.DataIsNone() and b.DataLength():
            raw = b.DataAsNumpy()
        if raw is not None:
            dt = _DTYPES.get(code)
            if dt is None:
                raise ConversionError(f"constant tensor '{name}' has TFLite type {_TYPE_NAMES.get(code, code)}, "
                                      "which a DLC cannot hold")
            values = np.frombuffer(raw.tobytes(), dtype=dt)
            sp = t.Sparsity()
            if sp is not None:
                # a sparse tensor is expanded at convert time: bounded like constant folding
                check_fold_shape(shape, dt, f"sparse constant tensor '{name}'")
                data = _densify(values, shape, sp)
            else:
                data = values.reshape(shape).copy()
    q = t.Quantization()
    quant = None
    if q is not None and not q.ScaleIsNone() and q.ScaleLength():
        scale = np.asarray(q.ScaleAsNumpy(), np.float32)
        zp = np.asarray(q.ZeroPointAsNumpy(), np.int64) if not q.ZeroPointIsNone() and q.ZeroPointLength() \
            else np.zeros(scale.size, np.int64)
        quant = QuantParams(scale, zp, int(q.QuantizedDimension()))
    return TflTensor(index, name, shape, sig, code, data, quant)

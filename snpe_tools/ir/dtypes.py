"""QNN data-type codes (``Qnn_DataType_t``), their numpy equivalents, and the one dtype table of the frontends.

The DLC stores these codes for every tensor and scalar parameter, so this table is
the single translation point between numpy and the container.

It is also the one place that says which numpy type a source-framework tensor becomes in the IR:

* :func:`narrow` / :func:`narrow_array` -- QNN targets have no 64-bit types, so float64 -> float32,
  int64 -> int32 and uint64 -> uint32 (Qualcomm's converters store ONNX int64 tensors -- ArgMax output,
  TopK/Gather indices -- as ``Int_32``; reference/dlc_compat.md).  Every frontend narrows through these
  two functions instead of its own ``{np.int64: np.int32, ...}`` dict.
* :data:`TYPE_NAMES` / :func:`from_name` -- the data-type names the converters' ``--input_dtype`` accepts
  (and the framework-neutral names a frontend reads from a model: ``"float32"``, ``"int64"`` ...).
  A name means the *source framework's* type: ``--input_dtype ids int64`` says the model reads int64
  data.  The DLC input that carries it is ``Int_32`` (:func:`dlc_from_name` = ``narrow(from_name(...))``),
  as Qualcomm's converter does, naming the inserted Cast ``<input>_cast_int32``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .graph import Encoding

INT_8, INT_16, INT_32, INT_64 = 0x0008, 0x0016, 0x0032, 0x0064
UINT_8, UINT_16, UINT_32, UINT_64 = 0x0108, 0x0116, 0x0132, 0x0164
FLOAT_16, FLOAT_32 = 0x0216, 0x0232
SFIXED_4, SFIXED_8, SFIXED_16, SFIXED_32 = 0x0304, 0x0308, 0x0316, 0x0332
UFIXED_4, UFIXED_8, UFIXED_16, UFIXED_32 = 0x0404, 0x0408, 0x0416, 0x0432
BOOL_8, STRING, UNDEFINED = 0x0508, 0x0608, 0x7FFFFFFF

_NP_TO_QNN = {
    np.dtype(np.int8): INT_8,
    np.dtype(np.int16): INT_16,
    np.dtype(np.int32): INT_32,
    np.dtype(np.int64): INT_64,
    np.dtype(np.uint8): UINT_8,
    np.dtype(np.uint16): UINT_16,
    np.dtype(np.uint32): UINT_32,
    np.dtype(np.uint64): UINT_64,
    np.dtype(np.float16): FLOAT_16,
    np.dtype(np.float32): FLOAT_32,
    np.dtype(np.bool_): BOOL_8,
}
_QNN_TO_NP = {v: k for k, v in _NP_TO_QNN.items()}
_QNN_TO_NP.update({SFIXED_4: np.dtype(np.int8), UFIXED_4: np.dtype(np.uint8),    # held unpacked in memory
                   SFIXED_8: np.dtype(np.int8), SFIXED_16: np.dtype(np.int16),
                   SFIXED_32: np.dtype(np.int32), UFIXED_8: np.dtype(np.uint8),
                   UFIXED_16: np.dtype(np.uint16), UFIXED_32: np.dtype(np.uint32)})

NAMES = {
    INT_8: "Int_8", INT_16: "Int_16", INT_32: "Int_32", INT_64: "Int_64",
    UINT_8: "UInt_8", UINT_16: "UInt_16", UINT_32: "UInt_32", UINT_64: "UInt_64",
    FLOAT_16: "Float_16", FLOAT_32: "Float_32", SFIXED_4: "sFxp_4", SFIXED_8: "sFxp_8", SFIXED_16: "sFxp_16",
    SFIXED_32: "sFxp_32", UFIXED_4: "uFxp_4", UFIXED_8: "uFxp_8", UFIXED_16: "uFxp_16", UFIXED_32: "uFxp_32",
    BOOL_8: "Bool_8", STRING: "String", UNDEFINED: "Undefined",
}


# numpy type of each data-type name (``--input_dtype`` choices, framework dtype names without their prefix)
TYPE_NAMES: dict[str, np.dtype] = {n: np.dtype(n) for n in (
    "float32", "float16", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")}
TYPE_NAMES["bool"] = np.dtype(np.bool_)

# the 64-bit types QNN targets lack, and the type that holds their values
_NARROW = {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.int64): np.dtype(np.int32),
           np.dtype(np.uint64): np.dtype(np.uint32)}


def narrow(dtype: np.dtype | type | str) -> np.dtype:
    """The IR/DLC type of a source tensor of ``dtype``: 64-bit types become their 32-bit kin, others stay."""
    dt = np.dtype(dtype)
    return _NARROW.get(dt, dt)


def narrow_array(arr: np.ndarray) -> np.ndarray:
    """``arr`` in its :func:`narrow` type; 64-bit integers are clipped to the 32-bit range, not wrapped."""
    arr = np.asarray(arr)
    target = _NARROW.get(arr.dtype)
    if target is None:
        return arr
    if target.kind in "iu":
        info = np.iinfo(target)
        arr = np.clip(arr, info.min, info.max)
    return arr.astype(target)


def from_name(type_name: str) -> np.dtype:
    """numpy type of a data-type name (``"int64"`` -> int64); ValueError naming the known names otherwise."""
    try:
        return TYPE_NAMES[type_name]
    except KeyError:
        raise ValueError(f"'{type_name}' is not a data type; use one of {', '.join(TYPE_NAMES)}") from None


def dlc_from_name(type_name: str) -> np.dtype:
    """Type a DLC tensor has for a source tensor of the named type (``"int64"`` -> int32)."""
    return narrow(from_name(type_name))


def to_qnn(dtype: np.dtype | type) -> int:
    """QNN code for a numpy dtype; float64 is stored as float32 (QNN has no f64 on targets)."""
    dt = np.dtype(dtype)
    if dt == np.float64:
        return FLOAT_32
    try:
        return _NP_TO_QNN[dt]
    except KeyError as exc:
        raise ValueError(f"no QNN data type for numpy dtype {dt}") from exc


def to_numpy(code: int) -> np.dtype:
    """numpy dtype that holds values of a QNN data type."""
    try:
        return _QNN_TO_NP[code]
    except KeyError as exc:
        raise ValueError(f"unknown QNN data type code 0x{code:04x}") from exc


def name(code: int) -> str:
    """Human-readable name used by snpe-dlc-info."""
    return NAMES.get(code, f"0x{code:04x}")


_FIXED = {INT_8: SFIXED_8, INT_16: SFIXED_16, INT_32: SFIXED_32,
          UINT_8: UFIXED_8, UINT_16: UFIXED_16, UINT_32: UFIXED_32}


PACKED_4 = {INT_8: SFIXED_4, UINT_8: UFIXED_4}


def tensor_code(dtype: np.dtype | type, encoding: Encoding | None) -> int:
    """QNN code of a tensor: an integer tensor carrying an encoding is fixed-point (``sFxp_8``...);
    4-bit values whose encoding is marked ``packed`` (``--pack_4_bit_weights``) are ``sFxp_4``/``uFxp_4``."""
    code = to_qnn(dtype)
    if encoding is None:
        return code
    if encoding.packed and code in PACKED_4:
        return PACKED_4[code]
    return _FIXED.get(code, code)


def is_packed_4(code: int) -> bool:
    """A 4-bit type: two values per byte in the file (ir/packing.py)."""
    return code in (SFIXED_4, UFIXED_4)

"""QNN data-type codes (``Qnn_DataType_t``) and their numpy equivalents.

The DLC stores these codes for every tensor and scalar parameter, so this table is
the single translation point between numpy and the container.
"""
from __future__ import annotations

import numpy as np

INT_8, INT_16, INT_32, INT_64 = 0x0008, 0x0016, 0x0032, 0x0064
UINT_8, UINT_16, UINT_32, UINT_64 = 0x0108, 0x0116, 0x0132, 0x0164
FLOAT_16, FLOAT_32 = 0x0216, 0x0232
SFIXED_8, SFIXED_16, SFIXED_32 = 0x0308, 0x0316, 0x0332
UFIXED_8, UFIXED_16, UFIXED_32 = 0x0408, 0x0416, 0x0432
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
_QNN_TO_NP.update({SFIXED_8: np.dtype(np.int8), SFIXED_16: np.dtype(np.int16),
                   SFIXED_32: np.dtype(np.int32), UFIXED_8: np.dtype(np.uint8),
                   UFIXED_16: np.dtype(np.uint16), UFIXED_32: np.dtype(np.uint32)})

NAMES = {
    INT_8: "Int_8", INT_16: "Int_16", INT_32: "Int_32", INT_64: "Int_64",
    UINT_8: "UInt_8", UINT_16: "UInt_16", UINT_32: "UInt_32", UINT_64: "UInt_64",
    FLOAT_16: "Float_16", FLOAT_32: "Float_32", SFIXED_8: "sFxp_8", SFIXED_16: "sFxp_16",
    SFIXED_32: "sFxp_32", UFIXED_8: "uFxp_8", UFIXED_16: "uFxp_16", UFIXED_32: "uFxp_32",
    BOOL_8: "Bool_8", STRING: "String", UNDEFINED: "Undefined",
}


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


def tensor_code(dtype: np.dtype | type, quantized: bool) -> int:
    """QNN code of a tensor: an integer tensor carrying an encoding is fixed-point (``sFxp_8``...)."""
    code = to_qnn(dtype)
    return _FIXED.get(code, code) if quantized else code

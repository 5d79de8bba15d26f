"""Decoding TorchScript operator arguments: dtype codes and schema argument names.

TorchScript passes every argument positionally and stores dtypes as ``c10::ScalarType`` codes; a
translator that needs an argument by name (``dtype=``, ``scale_factors``) looks it up in the node's
schema, so that the positions of different overloads never have to be hard-coded.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError

# c10::ScalarType codes (how TorchScript stores dtype arguments) -> numpy
_SCALAR_TYPES = {0: np.uint8, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.int64, 5: np.float16, 6: np.float32,
                 7: np.float64, 11: np.bool_, 15: np.float32}
_TORCH_NAMES = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
                "float16": np.float16, "float32": np.float32, "float64": np.float64, "bool": np.bool_,
                "bfloat16": np.float32}


def torch_dtype(v) -> np.dtype | None:
    """numpy dtype of a TorchScript dtype argument (ScalarType int, torch.dtype or None)."""
    if v is None:
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        if int(v) not in _SCALAR_TYPES:
            raise ConversionError(f"dtype code {int(v)} is not supported")
        return np.dtype(_SCALAR_TYPES[int(v)])
    name = str(v).replace("torch.", "")
    if name in _TORCH_NAMES:
        return np.dtype(_TORCH_NAMES[name])
    raise ConversionError(f"dtype {v} is not supported")


def ir_dtype(dt) -> np.dtype:
    """The dtype a tensor of torch dtype ``dt`` has in the IR (no 64-bit types on QNN targets)."""
    dt = np.dtype(dt)
    return {np.dtype(np.int64): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.float32),
            np.dtype(np.uint64): np.dtype(np.uint32)}.get(dt, dt)


def schema_args(node) -> list[str]:
    """Argument names of the node's operator overload (``aten::to.dtype(Tensor self, ...)``)."""
    try:
        text = node.schema()
    except Exception:  # noqa: BLE001
        return []
    if "(" not in text:
        return []
    inner = text[text.index("(") + 1:text.rindex(") ->") if ") ->" in text else len(text)]
    names = []
    depth = 0
    cur = ""
    for ch in inner + ",":
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            part = cur.strip()
            cur = ""
            if part and part != "*":
                names.append(part.split("=")[0].split()[-1])
            continue
        cur += ch
    return names


def schema_arg(node, name: str, default=None):
    """The resolved argument called ``name`` of a :class:`~.context.TorchNode`, ``default`` when absent."""
    names = schema_args(node)
    if name in names and names.index(name) < len(node.args):
        return node.args[names.index(name)]
    return default


"""Decoding TorchScript operator arguments: dtype codes and schema argument names.

TorchScript passes every argument positionally and stores dtypes as ``c10::ScalarType`` codes; a
translator that needs an argument by name (``dtype=``, ``scale_factors``) looks it up in the node's
schema, so that the positions of different overloads never have to be hard-coded.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import dtypes as qd

# c10::ScalarType codes (how TorchScript stores dtype arguments) -> data-type name (snpe_tools.ir.dtypes)
_SCALAR_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32",
                 7: "float64", 11: "bool", 15: "bfloat16"}


def torch_dtype(v) -> np.dtype | None:
    """numpy dtype of a TorchScript dtype argument (ScalarType int, torch.dtype or None).

    The names are those of :data:`snpe_tools.ir.dtypes.TYPE_NAMES`; bfloat16 (which numpy lacks) is
    computed in float32.
    """
    if v is None:
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        if int(v) not in _SCALAR_TYPES:
            raise ConversionError(f"dtype code {int(v)} is not supported")
        name = _SCALAR_TYPES[int(v)]
    else:
        name = str(v).replace("torch.", "")
    if name == "bfloat16":
        return np.dtype(np.float32)
    if name in qd.TYPE_NAMES:
        return qd.TYPE_NAMES[name]
    raise ConversionError(f"dtype {v} is not supported")


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


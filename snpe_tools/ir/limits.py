"""Convert-time safety limits shared by every frontend and by the IR constant-folding pass (kept in the
IR layer, below both).

Constant folding evaluates parts of an untrusted model on the converting machine, so the size of
every folded result is checked against :func:`fold_limit_bytes` *before* it is computed (from the
inferred shape), and a model cannot make the converter allocate without bound.  The limit is
1 GiB unless the environment variable ``SNPE_TOOLS_FOLD_LIMIT_BYTES`` says otherwise.
"""
from __future__ import annotations

import math
import os
from typing import Iterable

import numpy as np

from ..errors import ConversionError

FOLD_LIMIT_ENV = "SNPE_TOOLS_FOLD_LIMIT_BYTES"
DEFAULT_FOLD_LIMIT = 1 << 30


def fold_limit_bytes() -> int:
    """Largest tensor (in bytes) constant folding may create."""
    raw = os.environ.get(FOLD_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_FOLD_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConversionError(f"{FOLD_LIMIT_ENV}={raw!r} is not a positive number of bytes; set it to e.g. "
                              f"{FOLD_LIMIT_ENV}={2 * DEFAULT_FOLD_LIMIT} or unset it (default {DEFAULT_FOLD_LIMIT})")
    return value


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bytes"


def nbytes_of(shape: Iterable[int], dtype) -> int:
    """Size of a tensor of ``shape``/``dtype`` in bytes, in exact integer arithmetic (no overflow)."""
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:
        itemsize = 8
    return math.prod(max(int(d), 0) for d in shape) * max(itemsize, 1)


def check_fold_size(nbytes: int, what: str, shape: Iterable[int] | None = None, dtype=None) -> None:
    """Refuse a constant-folding result above the limit; ``what`` names the node (and its op)."""
    limit = fold_limit_bytes()
    if nbytes <= limit:
        return
    desc = ""
    if shape is not None:
        desc = f" (shape [{','.join(str(int(d)) for d in shape)}]" + (f", {_dtype_name(dtype)})" if dtype is not None
                                                                        else ")")
    suggest = max(nbytes + 1, 1 << 20)
    raise ConversionError(f"constant folding of {what} would create a {human_bytes(nbytes)} tensor{desc}, above the "
                          f"{human_bytes(limit)} fold limit; fix the model so this value is not a constant of that "
                          f"size, or, if you trust it and have the memory, raise the limit with "
                          f"{FOLD_LIMIT_ENV}={suggest}")


def _dtype_name(dtype) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype)


def check_fold_shape(shape: Iterable[int], dtype, what: str) -> None:
    shape = [int(d) for d in shape]
    check_fold_size(nbytes_of(shape, dtype), what, shape, dtype)

"""aten tensor factories (arange, *_like, new_*) evaluated at convert time into constants.

They have no IR family: the result is a numpy array (a convert-time value), never an op; the ops that
read it materialise it as a constant tensor.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ....ir import dtypes as qd
from ....ir.limits import check_fold_shape
from ..context import Ref, TorchContext
from ..registry import aten_op
from ..schema import schema_arg, schema_args, torch_dtype


def _filled(ctx, shape, fill, dt) -> np.ndarray:
    if isinstance(fill, Ref):
        raise ConversionError("a tensor fill value computed at run time is not supported")
    fill = np.asarray(fill)
    if dt is None:
        dt = fill.dtype if fill.dtype != np.float64 else np.float32
    check_fold_shape([int(s) for s in shape], qd.narrow(dt), "a constant-filled tensor")
    return np.full([int(s) for s in shape], fill, dtype=qd.narrow(dt))


@aten_op("zeros_like", "ones_like", "full_like", "empty_like")
def like(ctx: TorchContext, node):
    a = node.args
    kind = node.kind().split("::")[1].rstrip("_")
    x = a[0]
    if kind == "full_like":
        fill, dt = a[1], schema_arg(node, "dtype", a[2] if len(a) > 2 else None)
    else:
        fill, dt = (1 if kind == "ones_like" else 0), schema_arg(node, "dtype", a[1] if len(a) > 1 else None)
    dt = torch_dtype(dt) or ctx.dtype(x)
    return _filled(ctx, ctx.shape(x), fill, dt)


def _schema_kwonly(node) -> int | None:
    try:
        text = node.schema()
        inner = text[text.index("(") + 1:text.rindex(") ->")]
    except Exception:  # noqa: BLE001
        return None
    parts = [p.strip() for p in inner.split(",")]
    return parts.index("*") if "*" in parts else None


@aten_op("arange")
def arange(ctx: TorchContext, node):
    """Static ``arange`` (its dtype/layout/device arguments are keyword-only in the schema)."""
    a = node.args
    if any(isinstance(v, Ref) for v in a):
        raise ConversionError("arange with run-time bounds is not supported")
    import torch

    names = schema_args(node)
    kw = _schema_kwonly(node)
    pos = a if kw is None else a[:kw]
    kwargs = {} if kw is None else {n: v for n, v in zip(names[kw:], a[kw:]) if v is not None and n == "dtype"}
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, str(torch_dtype(kwargs["dtype"])))
    pos = [v.item() if isinstance(v, np.ndarray) else v for v in pos]
    return torch.arange(*pos, **kwargs).numpy()


@aten_op("new_zeros", "new_ones", "new_full", "new_empty")
def new_filled(ctx: TorchContext, node):
    a = node.args
    kind = node.kind().split("::")[1].rstrip("_")
    x, size = a[0], a[1]
    size = list(size) if isinstance(size, (list, tuple)) else [size]
    if kind == "new_full":
        fill, dt = a[2], schema_arg(node, "dtype", a[3] if len(a) > 3 else None)
    else:
        fill, dt = (1 if kind == "new_ones" else 0), schema_arg(node, "dtype", a[2] if len(a) > 2 else None)
    dt = torch_dtype(dt) or ctx.dtype(x)
    return _filled(ctx, size, fill, dt)

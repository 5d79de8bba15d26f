"""ONNX GridSample / AffineGrid -> QNN GridSample (``snpe_tools/ops/sampling.py``); AffineGrid as a
MatMul of the theta matrices with a constant base grid."""
from __future__ import annotations

import numpy as np

from ..context import FLOATS, OnnxContext, ValueBuilder, attrs
from ..registry import onnx_op

_GS_MODES = {"bilinear": 0, "linear": 0, "nearest": 1}
_GS_PADDING = {"zeros": 0, "border": 1, "reflection": 2}


@onnx_op("GridSample")
def grid_sample(ctx: OnnxContext, node) -> None:
    """QNN GridSample on the channel-last input; the grid keeps its [N, *out, k] layout."""
    q = ValueBuilder(ctx, node)
    a = attrs(node)
    x, grid = q.val(0), q.val(1)
    if x is None or grid is None:
        raise q.err("inputs X and grid are required")
    xs, gs = q.shape(x), q.shape(grid)
    k = len(xs) - 2
    if k not in (2, 3):
        raise q.err(f"rank-{len(xs)} input is not supported (2-D and 3-D sampling only)")
    if len(gs) != k + 2 or gs[-1] != k or gs[0] != xs[0]:
        raise q.err(f"grid shape {list(gs)} does not fit input {list(xs)}")
    if q.dtype(x) not in FLOATS or q.dtype(grid) not in FLOATS:
        raise q.err(f"input types {q.dtype(x)} / {q.dtype(grid)} are not supported (float only)")
    mode = str(a.get("mode", "linear" if ctx.opset >= 20 else "bilinear"))
    padding = str(a.get("padding_mode", "zeros"))
    if mode not in _GS_MODES:
        raise q.err(f"mode '{mode}' is not supported (QNN GridSample interpolates bilinear or nearest only)")
    if padding not in _GS_PADDING:
        raise q.err(f"padding_mode '{padding}' is not supported")
    params = {"align_corners": bool(a.get("align_corners", 0)), "mode": _GS_MODES[mode],
              "padding_mode": _GS_PADDING[padding]}
    ctx.emit_channel_last("GridSample", node, [node.input[0]], params, [q.t(grid, "grid")])


def _affine_base(sizes: list[int], align: bool) -> np.ndarray:
    """Homogeneous source grid ``[prod(sizes), k + 1]``, components (x, y[, z], 1) (ONNX reference)."""
    axes = []
    for length in sizes:
        if align:
            v = np.array([-1.0]) if length == 1 else -1.0 + np.arange(length) * (2.0 / (length - 1))
        else:
            step = 2.0 / length
            v = -1.0 + step / 2 + np.arange(length) * step
        axes.append(v)
    mesh = np.meshgrid(*axes, indexing="ij")          # D/H/W order
    comps = [m.reshape(-1) for m in reversed(mesh)]    # x (W) first
    comps.append(np.ones(int(np.prod(sizes))))
    return np.stack(comps, axis=1)


@onnx_op("AffineGrid")
def affine_grid(ctx: OnnxContext, node) -> None:
    """grid[n] = base @ theta[n]^T: one broadcast MatMul with a constant base grid, then a Reshape."""
    q = ValueBuilder(ctx, node)
    theta = q.val(0)
    size = np.asarray(ctx.require_const(node, 1, "size")).astype(np.int64).reshape(-1)
    if theta is None:
        raise q.err("input theta is required")
    k = len(size) - 2
    ts = q.shape(theta)
    if k not in (2, 3) or ts != (int(size[0]), k, k + 1):
        raise q.err(f"theta {list(ts)} / size {size.tolist()} are not a 2-D ([N,2,3], 4 sizes) or 3-D "
                    "([N,3,4], 5 sizes) affine grid")
    if np.any(size <= 0):
        raise q.err(f"size {size.tolist()} must be positive")
    dt = q.dtype(theta)
    if dt not in FLOATS:
        raise q.err(f"theta type {dt} is not supported (float only)")
    sizes = [int(s) for s in size[2:]]
    base = _affine_base(sizes, bool(attrs(node).get("align_corners", 0))).astype(dt)[None]
    mm = q.op("MatMul", [base, theta], "matmul", {"transpose_in1": True})
    q.op("Reshape", [mm], "grid", {"shape": [int(size[0])] + sizes + [k]}, out=node.output[0])

"""ONNX QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear, QLinearMatMul / QLinearConv /
MatMulInteger / ConvInteger -> QNN ops (``snpe_tools/ops/quant.py``: Quantize, Dequantize, Convert).

Every translator is an exact composition of ops with verified reference kernels, written the way
the ONNX reference implementation computes (integer steps stay integer):

* ``QuantizeLinear``: ``Cast(int32, Round(x / scale)) + zero_point``, clipped to the target range
  with ``ElementWiseMaximum`` / ``ElementWiseMinimum`` and ``Cast`` to the target type (uint8, int8,
  uint16, int16); per-tensor, per-axis and blocked (``block_size``) scales, ``output_dtype`` and
  ``precision``;
* ``DequantizeLinear``: ``(Cast(float32, x) - zero_point) * scale`` (int8/uint8/int16/uint16/int32),
  per-tensor, per-axis, blocked, ``output_dtype``;
* ``DynamicQuantizeLinear``: ``ReduceMin`` / ``ReduceMax`` and the scalar arithmetic of its ONNX
  function body;
* ``MatMulInteger`` / ``ConvInteger``: int32 ``MatMul`` / ``Conv2d`` on the zero-point-shifted
  operands (exact integer accumulation); ``QLinearMatMul`` / ``QLinearConv`` add the requantization
  ``Round(acc * (a_scale * b_scale / y_scale)) + y_zero_point`` (clipped, cast).

Scales and zero points may be run-time tensors (they are broadcast with ``Reshape`` / ``Gather``).
Types the DLC cannot hold (4-bit, 2-bit, float8, float4) are refused with a ConversionError.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ....ir import dtypes as qd
from ..context import FLOATS, OnnxContext, ValueBuilder, attrs
from ..registry import get_translator, onnx_op

# ONNX element type -> numpy type of the integer types a quantized DLC tensor can hold
_QTYPES = {2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16}
_RANGES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max)) for t in _QTYPES.values()}


def _broadcast_param(q: ValueBuilder, v, x_shape: tuple[int, ...], axis: int, block: int, what: str):
    """Scale / zero point made broadcastable to ``x``: scalar, per-axis 1-D, or blocked."""
    if v is None:
        return None
    shape = q.shape(v)
    rank = len(x_shape)
    size = int(np.prod(shape)) if shape else 1
    if size == 1 and not block:
        return q.scalar(v, rank, f"{what}.scalar")
    if not -rank <= axis < rank:
        raise q.err(f"axis {axis} is out of range for a rank-{rank} input")
    axis %= rank
    if not block:
        if len(shape) != 1 or shape[0] != x_shape[axis]:
            raise q.err(f"{what} has shape {list(shape)}; expected a scalar or [{x_shape[axis]}] "
                        f"(axis {axis})")
        dims = [1] * rank
        dims[axis] = x_shape[axis]
        return np.asarray(v).reshape(dims) if not isinstance(v, str) else q.op(
            "Reshape", [v], f"{what}.bcast", {"shape": dims})
    if block < 0:
        raise q.err(f"block_size {block} must be positive")
    want = list(x_shape)
    want[axis] = -(-x_shape[axis] // block)
    if list(shape) != want:
        raise q.err(f"{what} has shape {list(shape)}; blocked quantization (block_size {block}, axis {axis}) "
                    f"expects {want}")
    idx = (np.arange(x_shape[axis]) // block).astype(np.int32)
    if not isinstance(v, str):
        return np.take(np.asarray(v), idx, axis=axis)
    return q.op("Gather", [v, idx], f"{what}.blocks", {"axis": axis})


def _onnx_type_of(q: ValueBuilder, v, what: str) -> np.dtype:
    dt = q.dtype(v)
    if dt not in _RANGES and dt != np.dtype(np.int32):
        raise q.err(f"{what} type {dt} is not supported (int8/uint8/int16/uint16/int32)")
    return dt


def _quantize(q: ValueBuilder, x, scale, zp, out_dtype: np.dtype, axis: int, block: int, precision: np.dtype | None,
              out: str) -> None:
    """y = clip(int32(round(x / scale)) + zp) cast to ``out_dtype`` (ONNX reference order)."""
    x_shape = q.shape(x)
    xdt = q.dtype(x)
    fdt = precision or (xdt if xdt in FLOATS else q.dtype(scale))
    if fdt not in FLOATS:
        raise q.err(f"computation type {fdt} is not supported (float32/float16)")
    sc = _broadcast_param(q, scale, x_shape, axis, block, "scale")
    zpb = _broadcast_param(q, zp, x_shape, axis, block, "zero_point")
    lo, hi = _RANGES[out_dtype]
    if not any(isinstance(v, str) for v in (x, sc, zpb)):   # constant (e.g. weights): fold here
        with np.errstate(all="ignore"):
            acc = np.rint(np.asarray(x).astype(fdt) / np.asarray(sc).astype(fdt)).astype(np.int32)
        if zpb is not None:
            acc = acc + np.asarray(zpb).astype(np.int32)
        q.ctx.consts[out] = np.clip(acc, lo, hi).astype(out_dtype)
        return
    xf = q.cast(x, fdt, "xf")
    scf = q.cast(sc, fdt, "scalef")
    div = q.binary("ElementWiseDivide", np.divide, xf, scf, "div")
    rnd = q.op("ElementWiseRound", [div], "round")
    acc = q.cast(rnd, np.int32, "i32")
    if zpb is not None and (isinstance(zpb, str) or np.any(zpb)):
        acc = q.op("ElementWiseAdd", [acc, q.cast(zpb, np.int32, "zp32")], "addzp")
    acc = q.op("ElementWiseMaximum", [acc, np.array(lo, np.int32)], "clip_lo")
    acc = q.op("ElementWiseMinimum", [acc, np.array(hi, np.int32)], "clip_hi")
    q.op("Cast", [acc], "cast", {"to": _qnn(out_dtype)}, out=out)


def _qnn(dtype) -> int:
    return qd.to_qnn(np.dtype(dtype))


def _const_type(q: ValueBuilder, v, what: str) -> None:
    """Refuse constants of element types without a DLC equivalent (int4, float8 ...)."""
    if v is not None and not isinstance(v, str):
        dt = np.dtype(v.dtype)
        if dt.kind not in "iuf" or dt.name not in ("int8", "uint8", "int16", "uint16", "int32", "int64",
                                                   "float32", "float16", "float64"):
            raise q.err(f"{what} has type {dt.name}, which the DLC cannot hold (4-bit, 2-bit, float8 and "
                        "float4 quantization are not supported)")


@onnx_op("QuantizeLinear")
def quantize_linear(ctx: OnnxContext, node) -> None:
    q = ValueBuilder(ctx, node)
    a = attrs(node)
    x, scale, zp = q.val(0), q.val(1), q.val(2)
    for v, what in ((x, "x"), (scale, "y_scale"), (zp, "y_zero_point")):
        _const_type(q, v, what)
    if scale is None:
        raise q.err("y_scale is required")
    out_attr = int(a.get("output_dtype", 0))
    if out_attr and out_attr not in _QTYPES:
        raise q.err(f"output_dtype {onnx.TensorProto.DataType.Name(out_attr)} has no DLC equivalent "
                    "(uint8/int8/uint16/int16 only)")
    if zp is not None:
        out_dtype = q.dtype(zp)
        if out_dtype not in _RANGES:
            raise q.err(f"y_zero_point type {out_dtype} is not supported (uint8/int8/uint16/int16)")
        if out_attr and np.dtype(_QTYPES[out_attr]) != out_dtype:
            raise q.err(f"output_dtype {np.dtype(_QTYPES[out_attr])} differs from the zero point's type {out_dtype}")
    else:
        out_dtype = np.dtype(_QTYPES[out_attr]) if out_attr else np.dtype(np.uint8)
    precision = int(a.get("precision", 0))
    prec = None
    if precision:
        prec = {1: np.dtype(np.float32), 10: np.dtype(np.float16)}.get(precision)
        if prec is None:
            raise q.err(f"precision {onnx.TensorProto.DataType.Name(precision)} is not supported "
                        "(float32/float16)")
    if ctx.keep_quant_nodes and _keep_as_qnn_op(q, x, scale, zp, out_dtype, a):
        return
    _quantize(q, x, scale, zp, out_dtype, int(a.get("axis", 1)), int(a.get("block_size", 0)), prec,
              node.output[0])


def _same_grid(enc, scale, zp, storage: np.dtype) -> bool:
    from ....quantization.source import from_zero_point

    if enc is None or storage not in _RANGES:
        return False
    try:
        mine = from_zero_point(scale, zp, storage.itemsize * 8, storage.kind == "i")
    except ValueError:
        return False
    return (mine.bitwidth, mine.offset) == (enc.bitwidth, enc.offset) and np.isclose(mine.scale, enc.scale, rtol=1e-7)


def _keep_as_qnn_op(q: ValueBuilder, x, scale, zp, out_dtype: np.dtype, a: dict) -> bool:
    """--keep_quant_nodes: a per-tensor QuantizeLinear of a run-time float tensor becomes a QNN
    Quantize op whose output carries the grid as its encoding (SNPE's legacy behaviour)."""
    from ....quantization.source import from_zero_point

    if not isinstance(x, str) or isinstance(scale, str) or isinstance(zp, str) or np.size(scale) != 1 \
            or int(a.get("block_size", 0)) or q.dtype(x) not in FLOATS:
        return False
    try:
        enc = from_zero_point(scale, zp, out_dtype.itemsize * 8, out_dtype.kind == "i")
    except ValueError:
        return False
    out = q.op("Quantize", [x], "quantize", out=q.node.output[0])
    t = q.ctx.graph.tensors[out]
    # the unsigned view of SNPE's convention stores asymmetric int8 grids as uint8
    t.dtype = np.dtype(np.int8 if enc.offset == 0 and enc.min < 0 and out_dtype.kind == "i" else
                       {1: np.uint8, 2: np.uint16}[out_dtype.itemsize])
    t.encoding = enc
    return True


@onnx_op("DequantizeLinear")
def dequantize_linear(ctx: OnnxContext, node) -> None:
    q = ValueBuilder(ctx, node)
    a = attrs(node)
    x, scale, zp = q.val(0), q.val(1), q.val(2)
    for v, what in ((x, "x"), (scale, "x_scale"), (zp, "x_zero_point")):
        _const_type(q, v, what)
    if scale is None:
        raise q.err("x_scale is required")
    xdt = _onnx_type_of(q, x, "x")
    sdt = q.dtype(scale)
    if sdt not in FLOATS:
        raise q.err(f"x_scale type {sdt} is not supported (float32/float16)")
    out_attr = int(a.get("output_dtype", 0))
    out_dtype = sdt
    if out_attr:
        out_dtype = {1: np.dtype(np.float32), 10: np.dtype(np.float16)}.get(out_attr)
        if out_dtype is None:
            raise q.err(f"output_dtype {onnx.TensorProto.DataType.Name(out_attr)} is not supported")
    if zp is not None and q.dtype(zp) != xdt:
        raise q.err(f"zero point type {q.dtype(zp)} differs from the input type {xdt}")
    if ctx.keep_quant_nodes and isinstance(x, str) and not isinstance(scale, str) and np.size(scale) == 1 \
            and not isinstance(zp, str) and out_dtype == np.dtype(np.float32) \
            and _same_grid(ctx.graph.tensors[x].encoding, scale, zp, xdt):
        q.op("Dequantize", [x], "dequantize", out=node.output[0])     # the input's encoding is the grid
        return
    x_shape = q.shape(x)
    axis, block = int(a.get("axis", 1)), int(a.get("block_size", 0))
    sc = _broadcast_param(q, scale, x_shape, axis, block, "scale")
    zpb = _broadcast_param(q, zp, x_shape, axis, block, "zero_point")
    f32 = np.dtype(np.float32)
    dx = q.cast(x, f32, "xf")
    if zpb is not None and (isinstance(zpb, str) or np.any(zpb)):
        dx = q.binary("ElementWiseSubtract", np.subtract, dx, q.cast(zpb, f32, "zpf"), "sub")
    if not isinstance(dx, str) and not isinstance(sc, str):   # constant (e.g. weights): fold here
        ctx.consts[node.output[0]] = (np.asarray(dx, f32) * np.asarray(sc).astype(f32)).astype(out_dtype)
        return
    if out_dtype != f32:
        y = q.op("ElementWiseMultiply", [dx, q.cast(sc, f32, "scalef")], "mul")
        q.op("Cast", [y], "cast", {"to": _qnn(out_dtype)}, out=node.output[0])
    else:
        q.op("ElementWiseMultiply", [dx, q.cast(sc, f32, "scalef")], "mul", out=node.output[0])


@onnx_op("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx: OnnxContext, node) -> None:
    """ONNX function body: scale = (max(0, max x) - min(0, min x)) / 255 (1 if that is 0),
    zp = round(clip(-min / scale, 0, 255)), y = clip(round(x / scale) + zp, 0, 255)."""
    q = ValueBuilder(ctx, node)
    x = q.val(0)
    if not isinstance(x, str):
        raise q.err("the input is a constant; nothing to convert")
    dt = q.dtype(x)
    if dt != np.dtype(np.float32):
        raise q.err(f"input type {dt} is not supported (float32)")
    axes = list(range(len(q.shape(x))))
    zero = np.array(0, dt)
    if axes:
        mx = q.op("ReduceMax", [x], "max", {"axes": axes, "keep_dims": False})
        mn = q.op("ReduceMin", [x], "min", {"axes": axes, "keep_dims": False})
    else:
        mx = mn = x
    mx = q.op("ElementWiseMaximum", [mx, zero], "max0")
    mn = q.op("ElementWiseMinimum", [mn, zero], "min0")
    rng = q.op("ElementWiseSubtract", [mx, mn], "range")
    is0 = q.op("ElementWiseEqual", [rng, zero], "range0")
    rng = q.op("ElementWiseSelect", [is0, np.array(1, dt), rng], "range1")
    outs = list(node.output) + ["", "", ""]
    scale_name = outs[1] or None
    scale = q.op("ElementWiseDivide", [rng, np.array(255, dt)], "scale", out=scale_name)
    izp = q.op("ElementWiseSubtract", [zero, q.op("ElementWiseDivide", [mn, scale], "mn_s")], "izp")
    izp = q.op("ReluMinMax", [izp], "izp_clip", {"min_value": 0.0, "max_value": 255.0})
    zpf = q.op("ElementWiseRound", [izp], "zpf")
    if outs[2]:
        q.op("Cast", [zpf], "zp", {"to": _qnn(np.uint8)}, out=outs[2])
    if outs[0]:
        y = q.op("ElementWiseAdd", [q.op("ElementWiseRound", [q.op("ElementWiseDivide", [x, scale], "xs")], "xr"),
                                    zpf], "yf")
        y = q.op("ReluMinMax", [y], "yclip", {"min_value": 0.0, "max_value": 255.0})
        q.op("Cast", [y], "y", {"to": _qnn(np.uint8)}, out=outs[0])


# ---- integer matmul / conv ---------------------------------------------------------------------
def _shifted(q: ValueBuilder, v, zp, what: str, per_axis: int | None = None):
    """int32(v) - int32(zp); ``per_axis`` broadcasts a 1-D zero point along that axis of ``v``."""
    dt = _onnx_type_of(q, v, what)
    if dt not in (np.dtype(np.uint8), np.dtype(np.int8)):
        raise q.err(f"{what} type {dt} is not supported (uint8/int8)")
    if zp is not None and q.dtype(zp) != dt:
        raise q.err(f"{what} zero point type {q.dtype(zp)} differs from {dt}")
    v32 = q.cast(v, np.int32, f"{what}32")
    if zp is None:
        return v32
    size = int(np.prod(q.shape(zp))) if q.shape(zp) else 1
    if size == 1:
        zpb = q.scalar(zp, len(q.shape(v)), f"{what}.zp0")
    else:
        shape = q.shape(v)
        if per_axis is None or len(q.shape(zp)) != 1 or q.shape(zp)[0] != shape[per_axis]:
            raise q.err(f"{what} zero point shape {list(q.shape(zp))} is not supported for input "
                        f"{list(shape)}")
        dims = [1] * len(shape)
        dims[per_axis] = shape[per_axis]
        zpb = np.asarray(zp).reshape(dims) if not isinstance(zp, str) else q.op(
            "Reshape", [zp], f"{what}.zpb", {"shape": dims})
    if not isinstance(zpb, str) and not np.any(zpb):
        return v32
    return q.binary("ElementWiseSubtract", np.subtract, v32, q.cast(zpb, np.int32, f"{what}.zp32"), f"{what}.sub")


def _requantize(q: ValueBuilder, acc: str, scale_in, scale_w, y_scale, y_zp, out: str, default_dtype: np.dtype,
                per_axis_len: int | None, channel_axis: int) -> None:
    """clip(round(float(acc) * (s_in * s_w / s_y)) + zp_y) cast to the zero point's type."""
    sdt = q.dtype(scale_in)
    if sdt not in FLOATS:
        raise q.err(f"scale type {sdt} is not supported (float32/float16)")
    out_dtype = q.dtype(y_zp) if y_zp is not None else default_dtype
    if out_dtype not in (np.dtype(np.uint8), np.dtype(np.int8)):
        raise q.err(f"output type {out_dtype} is not supported (uint8/int8)")
    rank = len(q.shape(acc))

    def flat(v, what):
        size = int(np.prod(q.shape(v))) if q.shape(v) else 1
        if size == 1:
            return q.scalar(v, rank, f"{what}.s0")
        if per_axis_len is None or size != per_axis_len or len(q.shape(v)) != 1:
            raise q.err(f"{what} shape {list(q.shape(v))} is not supported")
        dims = [1] * rank
        dims[channel_axis] = size
        return np.asarray(v).reshape(dims) if not isinstance(v, str) else q.op(
            "Reshape", [v], f"{what}.sb", {"shape": dims})

    s_in, s_w, s_y = flat(scale_in, "a_scale"), flat(scale_w, "b_scale"), flat(y_scale, "y_scale")
    # multiplier computed in the scales' own type, as the reference does
    m = q.binary("ElementWiseDivide", np.divide, q.binary("ElementWiseMultiply", np.multiply, s_in, s_w, "sab"),
                 s_y, "mult")
    f32 = np.dtype(np.float32)
    d = q.op("ElementWiseMultiply", [q.cast(acc, f32, "accf"), q.cast(m, f32, "multf")], "scaled")
    r = q.op("ElementWiseRound", [d], "round")
    r = q.cast(r, np.int32, "r32")
    if y_zp is not None:
        zp = flat(y_zp, "y_zero_point")
        if isinstance(zp, str) or np.any(zp):
            r = q.op("ElementWiseAdd", [r, q.cast(zp, np.int32, "yzp32")], "addzp")
    lo, hi = _RANGES[out_dtype]
    r = q.op("ElementWiseMaximum", [r, np.array(lo, np.int32)], "clip_lo")
    r = q.op("ElementWiseMinimum", [r, np.array(hi, np.int32)], "clip_hi")
    q.op("Cast", [r], "cast", {"to": _qnn(out_dtype)}, out=out)


def _int_matmul(q: ValueBuilder, a, b, azp, bzp, out: str | None) -> str:
    sa, sb = q.shape(a), q.shape(b)
    if len(sa) < 1 or len(sb) < 1:
        raise q.err("scalar operands are not supported")
    a32 = _shifted(q, a, azp, "a", per_axis=len(sa) - 2 if len(sa) >= 2 else None)
    b32 = _shifted(q, b, bzp, "b", per_axis=len(sb) - 1)
    return q.op("MatMul", [a32, b32], "matmul", out=out)


@onnx_op("MatMulInteger")
def matmul_integer(ctx: OnnxContext, node) -> None:
    q = ValueBuilder(ctx, node)
    a, b, azp, bzp = q.val(0), q.val(1), q.val(2), q.val(3)
    for v, what in ((a, "A"), (b, "B"), (azp, "a_zero_point"), (bzp, "b_zero_point")):
        _const_type(q, v, what)
    _int_matmul(q, a, b, azp, bzp, node.output[0])


@onnx_op("QLinearMatMul")
def qlinear_matmul(ctx: OnnxContext, node) -> None:
    q = ValueBuilder(ctx, node)
    a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp = (q.val(i) for i in range(8))
    for v, what in ((a, "a"), (b, "b"), (a_zp, "a_zero_point"), (b_zp, "b_zero_point"), (y_zp, "y_zero_point")):
        _const_type(q, v, what)
    if any(v is None for v in (a_s, b_s, y_s)):
        raise q.err("scales are required")
    acc = _int_matmul(q, a, b, a_zp, b_zp, None)
    n = q.shape(b)[-1]
    _requantize(q, acc, a_s, b_s, y_s, y_zp, node.output[0], q.dtype(a), n, len(q.shape(acc)) - 1)


def _int_conv(q: ValueBuilder, x32, w32, bias, a: dict, out: str) -> str:
    """Emit an ONNX Conv through the Conv translator on int32 operands."""
    ctx = q.ctx
    names = []
    for tag, v in (("x", x32), ("w", w32), ("b", bias)):
        if v is None:
            names.append("")
        elif isinstance(v, str):
            names.append(v)
        else:
            nm = ctx.graph.unique_name(f"{q.base}.{tag}_i32")
            ctx.consts[nm] = np.asarray(v)
            names.append(nm)
    while names and not names[-1]:
        names.pop()
    keep = {k: v for k, v in a.items() if k in ("auto_pad", "dilations", "group", "kernel_shape", "pads",
                                                 "strides")}
    conv = helper.make_node("Conv", names, [out], name=f"{q.base}.conv", **keep)
    get_translator("Conv")(ctx, conv)
    return out


@onnx_op("ConvInteger")
def conv_integer(ctx: OnnxContext, node) -> None:
    q = ValueBuilder(ctx, node)
    x, w, xzp, wzp = q.val(0), q.val(1), q.val(2), q.val(3)
    for v, what in ((x, "x"), (w, "w"), (xzp, "x_zero_point"), (wzp, "w_zero_point")):
        _const_type(q, v, what)
    x32 = _shifted(q, x, xzp, "x")
    w32 = _shifted(q, w, wzp, "w", per_axis=0)
    x32 = q.t(x32, "x32")
    _int_conv(q, x32, w32, None, attrs(node), node.output[0])


@onnx_op("QLinearConv")
def qlinear_conv(ctx: OnnxContext, node) -> None:
    q = ValueBuilder(ctx, node)
    x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp, bias = (q.val(i) for i in range(9))
    for v, what in ((x, "x"), (w, "w"), (x_zp, "x_zero_point"), (w_zp, "w_zero_point"), (y_zp, "y_zero_point"),
                    (bias, "B")):
        _const_type(q, v, what)
    if any(v is None for v in (x_s, w_s, y_s)):
        raise q.err("scales are required")
    x32 = q.t(_shifted(q, x, x_zp, "x"), "x32")
    w32 = _shifted(q, w, w_zp, "w", per_axis=0)
    if bias is not None:
        if q.dtype(bias) != np.dtype(np.int32):
            raise q.err(f"bias type {q.dtype(bias)} is not supported (int32)")
    acc = ctx.graph.unique_name(f"{q.base}.acc")
    _int_conv(q, x32, w32, bias, attrs(node), acc)
    cout = q.shape(w)[0]
    _requantize(q, acc, x_s, w_s, y_s, y_zp, node.output[0], q.dtype(x), cout, 1)

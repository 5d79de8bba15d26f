"""CONV_3D, CONV_3D_TRANSPOSE -> QNN Conv3d (the 3-D ops of ``snpe_tools/ops/volumetric.py``).

NDHWC activations; CONV_3D's filter ``[kd,kh,kw,cin/g,cout]`` is already QNN's layout.  QNN has no 3-D
transposed convolution, so CONV_3D_TRANSPOSE is zero insertion followed by a Conv3d.
"""
from __future__ import annotations

import numpy as np

from ....errors import ConversionError
from ...lowering.padding import auto_pads, pad_amount, transposed_pads
from ..context import TfliteContext
from ..model import TflOp
from ..registry import tflite_op


@tflite_op("CONV_3D")
def conv_3d(ctx: TfliteContext, op: TflOp) -> None:
    """NDHWC input, filter [kd, kh, kw, cin/group, cout] (already QNN's Conv3d layout); SAME padding per axis."""
    x = ctx.tensor(op.inputs[0])
    shape = ctx.graph.tensors[x].shape
    kd, kh, kw, cig, _ = ctx.t(op.inputs[1]).shape
    if shape[4] % cig:
        raise ConversionError(f"CONV_3D op #{op.index} ({ctx.out_label(op)}): input depth {shape[4]} is not a "
                              f"multiple of the filter depth {cig}")
    o = op.options
    strides = [int(o.get(f"stride_{a}", 1)) for a in "dhw"]
    dil = [int(o.get(f"dilation_{a}_factor", 1)) for a in "dhw"]
    pads = auto_pads(op.padding, shape[1:4], (kd, kh, kw), strides, dil)
    q = ctx.quantized_io(op)
    w = ctx.weight(op.inputs[1], quantized=q)
    params = {"stride": strides, "dilation": dil, "pad_amount": pad_amount(pads), "group": shape[4] // cig}
    ctx.emit_out(op, "Conv3d", [x, w] + ctx.bias(op, 2, q), params)


@tflite_op("CONV_3D_TRANSPOSE")
def conv_3d_transpose(ctx: TfliteContext, op: TflOp) -> None:
    """No QNN 3-D transposed convolution: zero-insertion then a Conv3d with the flipped filter.

    A transposed convolution spreads x[i] to out[i*s + k - pad]; equivalently the input upsampled
    with s-1 zeros after every element, padded by (k - 1 - pad) in front, is correlated with the
    filter flipped in space and with in/out swapped ([kd,kh,kw,cout,cin] -> [kd,kh,kw,cin,cout]).
    ``pad`` is the front padding the matching forward convolution has (SAME: half of the total).
    """
    o = op.options
    if any(int(o.get(f"dilation_{a}_factor", 1)) != 1 for a in "dhw"):
        raise ConversionError(f"CONV_3D_TRANSPOSE op #{op.index} ({ctx.out_label(op)}): dilation is not supported; "
                              "re-export with dilation 1")
    out_shape = [int(v) for v in np.asarray(ctx.require_const(op, 0, "output_shape")).reshape(-1)]
    x = ctx.tensor(op.inputs[2])
    shape = list(ctx.graph.tensors[x].shape)
    kd, kh, kw, cout, cin = ctx.t(op.inputs[1]).shape
    strides = [int(o.get(f"stride_{a}", 1)) for a in "dhw"]
    base = ctx.t(op.outputs[0]).name
    pads = []
    for axis, (k, s) in enumerate(zip((kd, kh, kw), strides)):
        n, size = shape[1 + axis], out_shape[1 + axis]
        (front, _), _ = transposed_pads(n, size, k, s, op.padding == "SAME")
        x = _zero_insert(ctx, x, 1 + axis, s, f"{base}.upsampled{axis}")
        left = k - 1 - front
        right = size + k - 1 - left - n * s
        if left < 0:
            raise ConversionError(f"CONV_3D_TRANSPOSE op #{op.index} ({ctx.out_label(op)}): output size {size} "
                                  "is too small for the filter; the model is malformed, re-export it")
        if right < 0:                    # drop trailing (zero-inserted) positions the output never reads
            cur = list(ctx.graph.tensors[x].shape)
            ranges = [[0, d + (right if i == 1 + axis else 0), 1] for i, d in enumerate(cur)]
            x = ctx.emit("StridedSlice", [x], None, {"ranges": ranges}, name=f"{base}.cropped{axis}")[0]
            right = 0
        pads.append([left, right])
    w = ctx.real_const(op.inputs[1]) if ctx.is_const(op.inputs[1]) else None
    if w is None:
        raise ConversionError(f"CONV_3D_TRANSPOSE op #{op.index} ({ctx.out_label(op)}): the filter must be a "
                              "constant tensor; freeze the weights before converting")
    flipped = np.ascontiguousarray(np.transpose(w[::-1, ::-1, ::-1], (0, 1, 2, 4, 3)))
    inputs = [x, ctx.add_const(f"{base}.filter", flipped)]
    if len(op.inputs) > 3 and op.inputs[3] >= 0:
        inputs.append(ctx.weight(op.inputs[3], quantized=False))
    ctx.emit_out(op, "Conv3d", inputs, {"stride": [1, 1, 1], "dilation": [1, 1, 1], "pad_amount": pads, "group": 1})


def _zero_insert(ctx: TfliteContext, x: str, axis: int, s: int, name: str) -> str:
    """x with s-1 zeros after every element along ``axis`` (length n*s): Reshape, Pad, Reshape."""
    if s == 1:
        return x
    shape = list(ctx.graph.tensors[x].shape)
    split = shape[:axis + 1] + [1] + shape[axis + 1:]
    y = ctx.emit("Reshape", [x], None, {"shape": split}, name=f"{name}.split")[0]
    pad = [[0, 0]] * len(split)
    pad[axis + 1] = [0, s - 1]
    y = ctx.emit("Pad", [y], None, {"pad_amount": pad, "scheme": 0}, name=f"{name}.pad")[0]
    merged = shape[:axis] + [shape[axis] * s] + shape[axis + 1:]
    return ctx.emit("Reshape", [y], None, {"shape": merged}, name=name)[0]

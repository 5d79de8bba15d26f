"""ONNX DFT -> MatMul with constant cosine/sine matrices (QNN has no DFT op).

A DFT of static length is a linear map, so it is exact as matrices: with ``c = cos(2*pi*k*t/L)`` and
``s = sin(...)``, the forward transform of ``x = xr + i*xi`` is ``Yr = xr@C + xi@S``, ``Yi = xi@C - xr@S``
and the inverse is ``(xr@C - xi@S, xi@C + xr@S) / L``.  Zero-padding or truncating the signal to
``dft_length`` and keeping only the first ``L//2 + 1`` bins (``onesided``) are rows / columns of those
matrices.  An inverse ``onesided`` transform (irfft) rebuilds the Hermitian spectrum: bins strictly
between DC and Nyquist count twice and the imaginary parts of DC and Nyquist are ignored, as numpy's
irfft does.  The matrices are built in float64 and stored in the signal's float type.
"""
from __future__ import annotations

import numpy as np
import onnx

from ....errors import ConversionError
from ..context import NodeBuilder, OnnxContext, attrs
from ..registry import onnx_op


def _matrices(n_in: int, length: int, inverse: bool, onesided: bool) -> tuple[np.ndarray, ...]:
    """(Ar, Br, Ai, Bi) with ``Yr = xr@Ar + xi@Br`` and ``Yi = xr@Ai + xi@Bi``; Ai/Bi None for irfft."""
    if inverse and onesided:                                  # irfft: bins -> L real samples
        k = np.arange(n_in)[:, None]
        t = np.arange(length)[None, :]
        bins = length // 2 + 1
        weight = np.where((k == 0) | ((length % 2 == 0) & (k == length // 2)), 1.0, 2.0) * (k < bins)
        angle = 2 * np.pi * k * t / length
        return weight * np.cos(angle) / length, -weight * np.sin(angle) / length, None, None
    n_out = length // 2 + 1 if onesided else length
    t = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    angle = 2 * np.pi * ((t * k) % length) / length
    keep = t < length                                          # samples past dft_length are dropped
    c, s = np.cos(angle) * keep, np.sin(angle) * keep
    if inverse:
        return c / length, -s / length, s / length, c / length
    return c, s, -s, c


@onnx_op("DFT")
def dft(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    a = attrs(node)
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    rank = len(shape)
    dt = b.dtype(x)
    if dt not in (np.float32, np.float16) or shape[-1] not in (1, 2):
        raise ConversionError(f"DFT node '{b.n}': the input must be float32/float16 with a last dimension of 1 "
                              f"(real) or 2 (complex); got {dt} {shape}")
    if ctx.opset >= 20:
        axis = int(np.asarray(ctx.require_const(node, 2, "the axis")).reshape(-1)[0]) \
            if len(node.input) > 2 and node.input[2] else -2
    else:
        axis = int(a.get("axis", 1))
    axis = axis % rank
    if axis == rank - 1:
        raise ConversionError(f"DFT node '{b.n}': the axis cannot be the last (real/imaginary) dimension")
    inverse, onesided = bool(a.get("inverse", 0)), bool(a.get("onesided", 0))
    n_in = shape[axis]
    if len(node.input) > 1 and node.input[1]:
        length = int(np.asarray(ctx.require_const(node, 1, "dft_length")).reshape(-1)[0])
    else:
        length = 2 * (n_in - 1) if inverse and onesided else n_in
    if length < 1:
        raise ConversionError(f"DFT node '{b.n}': dft_length must be positive")
    _emit_dft(b, x, axis, length, inverse, onesided, node.output[0])


def _emit_dft(b: NodeBuilder, x: str, axis: int, length: int, inverse: bool, onesided: bool, out: str) -> None:
    """DFT of ``x [..., n, 1|2]`` along ``axis`` into ``out [..., n_out, 1|2]`` (same axis order)."""
    shape = b.shape(x)
    rank, dt, n_in = len(shape), b.dtype(x), shape[axis]
    # signal axis last, real/imaginary parts split: [..., n]
    perm = [d for d in range(rank - 1) if d != axis] + [rank - 1, axis]
    xt = b.transpose(x, perm, "signal_last")
    parts_shape = b.shape(xt)
    lead = parts_shape[:-2]
    if shape[-1] == 2:
        xr, xi = b.ops("Split", [xt], {"axis": rank - 2, "split_index": [1]}, "parts", n_out=2)
        xr, xi = b.reshape(xr, lead + [n_in], "real"), b.reshape(xi, lead + [n_in], "imag")
    else:
        xr, xi = b.reshape(xt, lead + [n_in], "real"), None
    ar, br, ai, bi = _matrices(n_in, length, inverse, onesided)

    def linear(m_x: np.ndarray, m_y: np.ndarray | None, tag: str) -> str:
        y = b.op("MatMul", [xr, b.const(f"{tag}_r", m_x, dt)], tag=f"{tag}_from_real")
        if xi is not None and m_y is not None:
            yi = b.op("MatMul", [xi, b.const(f"{tag}_i", m_y, dt)], tag=f"{tag}_from_imag")
            y = b.op("ElementWiseAdd", [y, yi], tag=tag)
        return y

    yr = linear(ar, br, "re")
    n_out = ar.shape[1]
    outs = [b.reshape(yr, lead + [1, n_out], "re_part")]
    if ai is not None:
        outs.append(b.reshape(linear(ai, bi, "im"), lead + [1, n_out], "im_part"))
    y = outs[0] if len(outs) == 1 else b.op("Concat", outs, {"axis": rank - 2}, "complex")
    inv = [perm.index(d) for d in range(rank)]
    b.transpose(y, inv, "out", out=out)


@onnx_op("STFT")
def stft(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    """Frames gathered with a constant index table, windowed, then the DFT above along the frame axis."""
    b = NodeBuilder(ctx, node)
    x = ctx.tensor(node.input[0])
    shape = b.shape(x)
    dt = b.dtype(x)
    if len(shape) != 3 or shape[-1] not in (1, 2) or dt not in (np.float32, np.float16):
        raise ConversionError(f"STFT node '{b.n}': the signal must be float32/float16 [batch, length, 1|2]; got "
                              f"{dt} {shape}")
    step = int(np.asarray(ctx.require_const(node, 1, "frame_step")).reshape(-1)[0])
    window = ctx.tensor(node.input[2]) if len(node.input) > 2 and node.input[2] else None   # may be run-time
    if len(node.input) > 3 and node.input[3]:
        frame = int(np.asarray(ctx.require_const(node, 3, "frame_length")).reshape(-1)[0])
    elif window is not None:
        frame = int(b.shape(window)[0])
    else:
        raise ConversionError(f"STFT node '{b.n}': give frame_length or a window")
    if window is not None and b.shape(window) != [frame]:
        raise ConversionError(f"STFT node '{b.n}': the window has shape {b.shape(window)}, frame_length is {frame}")
    onesided = bool(attrs(node).get("onesided", 1))
    if onesided and shape[-1] == 2:
        raise ConversionError(f"STFT node '{b.n}': onesided output is only defined for a real signal")
    n_frames = (shape[1] - frame) // step + 1
    if n_frames < 1 or step < 1:
        raise ConversionError(f"STFT node '{b.n}': a signal of {shape[1]} samples holds no frame of {frame} "
                              f"with step {step}")
    index = np.arange(n_frames)[:, None] * step + np.arange(frame)[None, :]
    frames = b.op("Gather", [x, b.const("frame_index", index, np.int32)], {"axis": 1}, "frames")
    if window is not None:
        frames = b.op("ElementWiseMultiply", [frames, b.reshape(window, [frame, 1], "window")], tag="windowed")
    _emit_dft(b, frames, 2, frame, False, onesided, node.output[0])

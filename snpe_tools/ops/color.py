"""Colour conversion ops that ``--input_encoding`` inserts: QNN ``ArgbToRgb`` (rgba/argb32 inputs) and
``Nv21ToRgb`` / ``Nv12ToRgb`` (YUV 4:2:0 semi-planar camera frames).

The input is an NHWC image with 4 channels, ordered ARGB (``input_order`` 0) or RGBA (1); the output
keeps the 3 colour channels, as RGB, or as BGR when ``reverse_output`` is set ("the order of the last 3
channels is reversed").  The alpha channel is dropped.  Qualcomm's 2.25 IR also carries
``input_encoding_in`` / ``input_encoding_out`` (the converter's encoding codes, e.g. 3 = rgba and
0 = bgr) as IR-internal attributes; they do not change the computation.
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, register

ARGB, RGBA = 0, 1
# channel indices of R, G, B in the input
_RGB = {ARGB: [1, 2, 3], RGBA: [0, 1, 2]}


def rgb_channels(input_order: int, reverse_output: bool) -> list[int]:
    """Input channel read by each output channel."""
    try:
        idx = _RGB[int(input_order)]
    except KeyError:
        raise ValueError(f"ArgbToRgb: unknown input_order {input_order} (0 ARGB, 1 RGBA)") from None
    return idx[::-1] if reverse_output else idx


@register
class ArgbToRgb(OpDef):
    """[b,h,w,4] ARGB/RGBA -> [b,h,w,3] RGB (or BGR with ``reverse_output``)."""

    type = "ArgbToRgb"
    params = {
        "input_order": Param(qd.UINT_32, default=ARGB),
        "reverse_output": Param(qd.BOOL_8, default=False),
        "input_encoding_in": Param(qd.UINT_8, default=None, internal=True, ir_attr=True),
        "input_encoding_out": Param(qd.UINT_8, default=None, internal=True, ir_attr=True),
    }

    def infer(self, op, ins):
        s = tuple(ins[0].shape)
        if len(s) != 4 or s[-1] != 4:
            raise ValueError(f"ArgbToRgb {op.name}: input must be [b,h,w,4], got {list(s)}")
        rgb_channels(op.params["input_order"], op.params["reverse_output"])
        return [(s[:3] + (3,), ins[0].dtype)]

    def compute(self, op, xs):
        idx = rgb_channels(op.params["input_order"], op.params["reverse_output"])
        return [np.ascontiguousarray(xs[0][..., idx])]


# ---- NV21 / NV12 (YUV 4:2:0 semi-planar) ----------------------------------------------------------
RGB_ORDER, BGR_ORDER = 0, 1
# BT.601 "video range" (Y 16..235, chroma 16..240 around 128), the conversion camera pipelines and
# common decoders use for NV21/NV12 frames: R = 1.164(Y-16) + 1.596(V-128), G = 1.164(Y-16) - 0.813(V-128)
# - 0.391(U-128), B = 1.164(Y-16) + 2.018(U-128), clipped to 0..255.
_Y_GAIN, _RV, _GV, _GU, _BU = 1.164, 1.596, 0.813, 0.391, 2.018


def yuv420sp_to_rgb(x: np.ndarray, height: int, width: int, vu_first: bool, bgr: bool) -> np.ndarray:
    """``[b, h*w*3/2]`` NV21 (``vu_first``) or NV12 frames -> ``[b, h, w, 3]`` RGB (BGR with ``bgr``).

    The frame is the Y plane (h*w bytes) followed by h/2 x w/2 interleaved chroma pairs, V then U for
    NV21 and U then V for NV12; each pair covers a 2x2 block of pixels.  Integer inputs give rounded
    integers of the same type, float inputs keep the exact values."""
    b = x.shape[0]
    y = x[:, :height * width].reshape(b, height, width).astype(np.float32)
    pairs = x[:, height * width:].reshape(b, height // 2, width // 2, 2).astype(np.float32)
    v, u = (pairs[..., 0], pairs[..., 1]) if vu_first else (pairs[..., 1], pairs[..., 0])
    u = np.repeat(np.repeat(u, 2, axis=1), 2, axis=2) - 128.0
    v = np.repeat(np.repeat(v, 2, axis=1), 2, axis=2) - 128.0
    luma = _Y_GAIN * (y - 16.0)
    rgb = np.stack([luma + _RV * v, luma - _GV * v - _GU * u, luma + _BU * u], axis=-1)
    rgb = np.clip(rgb, 0.0, 255.0)
    if bgr:
        rgb = rgb[..., ::-1]
    if np.issubdtype(x.dtype, np.integer):
        rgb = np.rint(rgb)
    return np.ascontiguousarray(rgb.astype(x.dtype))


class _Yuv420spToRgb(OpDef):
    """[b, h*w*3/2] YUV 4:2:0 semi-planar -> [b, h, w, 3]; the image size is that of the output tensor
    (``height``/``width`` are kept in the IR only and rebuilt from the output when a DLC is read)."""

    vu_first: bool = False
    params = {
        "output_order": Param(qd.INT_32, default=RGB_ORDER),      # INT_32, as Qualcomm's converter writes it
        "height": Param(qd.UINT_32, internal=True),
        "width": Param(qd.UINT_32, internal=True),
    }

    def infer(self, op, ins):
        s = tuple(ins[0].shape)
        h, w = op.params["height"], op.params["width"]
        if len(s) != 2 or h % 2 or w % 2 or s[1] != h * w * 3 // 2:
            raise ValueError(f"{self.type} {op.name}: input must be [b, {h}*{w}*3/2] with an even height and "
                             f"width, got {list(s)}")
        if op.params["output_order"] not in (RGB_ORDER, BGR_ORDER):
            raise ValueError(f"{self.type} {op.name}: output_order must be 0 (RGB) or 1 (BGR)")
        return [((s[0], h, w, 3), ins[0].dtype)]

    def compute(self, op, xs):
        return [yuv420sp_to_rgb(xs[0], op.params["height"], op.params["width"], self.vu_first,
                                op.params["output_order"] == BGR_ORDER)]

    def restore_params(self, op, ins, outs):
        op.params["height"], op.params["width"] = int(outs[0].shape[1]), int(outs[0].shape[2])


@register
class Nv21ToRgb(_Yuv420spToRgb):
    """NV21 (Android camera order: V before U) -> RGB/BGR."""

    type = "Nv21ToRgb"
    vu_first = True


@register
class Nv12ToRgb(_Yuv420spToRgb):
    """NV12 (U before V) -> RGB/BGR."""

    type = "Nv12ToRgb"
    vu_first = False

"""Colour conversion: QNN ``ArgbToRgb`` (what ``--input_encoding <in> rgba|argb32`` inserts).

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

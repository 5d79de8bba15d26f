"""Spatial padding of convolutions and pools -> QNN's explicit ``pad_amount``.

QNN ops only take explicit padding: ``pad_amount`` is ``[[begin, end], ...]`` per spatial axis. Every
frontend names its padding differently (TF/TFLite ``SAME``/``VALID``, ONNX ``auto_pad``
``SAME_UPPER``/``SAME_LOWER``/``VALID`` or a ``pads`` list), but the arithmetic is the same, so it
lives here once and each translator only maps its attribute names onto these functions.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ...errors import ConversionError

PadPair = tuple[int, int]

#: Padding schemes :func:`auto_pads` understands. TF and TFLite say ``SAME``; ONNX says ``SAME_UPPER``
#: for the same rule.
AUTO_PAD_MODES = ("SAME", "SAME_UPPER", "SAME_LOWER", "VALID")


def same_total(size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Total padding of one axis under SAME: enough for ``ceil(size / stride)`` outputs.

    The dilated kernel spans ``(kernel - 1) * dilation + 1`` pixels; the last output window must
    end inside the padded input. Never negative: a large stride can leave trailing pixels unread,
    which is not negative padding.
    """
    span = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    return max((out - 1) * stride + span - size, 0)


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> PadPair:
    """TF ``SAME`` / ONNX ``SAME_UPPER``: (begin, end) with the odd pixel at the end.

    TF's rule (and onnxruntime's for SAME_UPPER): ``begin = total // 2``, so an odd total pads one
    more row/column at the bottom/right. Getting this wrong shifts every output by one pixel.
    """
    total = same_total(size, kernel, stride, dilation)
    return total // 2, total - total // 2


def same_lower_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> PadPair:
    """ONNX ``SAME_LOWER``: the mirror of :func:`same_pads`, the odd pixel at the beginning."""
    end, begin = same_pads(size, kernel, stride, dilation)
    return begin, end


def auto_pads(mode: str, in_spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int] | None = None) -> list[PadPair]:
    """A named padding scheme -> (begin, end) per spatial axis.

    ``mode`` is one of :data:`AUTO_PAD_MODES`; VALID means no padding (outputs only where the whole
    window fits). Anything else is the caller's to reject with its own node in the message, so it
    is checked there; here it raises a plain ConversionError naming the schemes.
    """
    dil = list(dilations) if dilations is not None else [1] * len(kernel)
    if mode == "VALID":
        return [(0, 0)] * len(kernel)
    if mode in ("SAME", "SAME_UPPER"):
        rule = same_pads
    elif mode == "SAME_LOWER":
        rule = same_lower_pads
    else:
        raise ConversionError(f"padding {mode!r} is not supported (one of {', '.join(AUTO_PAD_MODES)})")
    return [rule(int(n), int(k), int(s), int(d)) for n, k, s, d in zip(in_spatial, kernel, strides, dil)]


def begin_end_pads(flat: Sequence[int]) -> list[PadPair]:
    """ONNX's ``pads`` layout ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` -> (begin, end) per axis."""
    n = len(flat) // 2
    return [(int(flat[i]), int(flat[i + n])) for i in range(n)]


def transposed_pads(in_size: int, out_size: int, kernel: int, stride: int, same: bool) -> tuple[PadPair, int]:
    """(begin, end) crop and ``output_padding`` of a transposed convolution asked for ``out_size``.

    A transposed convolution of ``in_size`` pixels covers ``(in_size - 1) * stride + kernel``; TF and
    TFLite give the wanted output size explicitly. The excess is cropped as the matching forward
    convolution padded it (SAME: the odd pixel at the end, like :func:`same_pads`; VALID: nothing at
    the beginning). A wanted size larger than the full output is made up by ``output_padding`` at
    the end, which is how QNN's TransposeConv2d grows its output.
    """
    full = (in_size - 1) * stride + kernel
    begin = max(full - out_size, 0) // 2 if same else 0
    end = full - out_size - begin
    return (begin, max(end, 0)), max(-end, 0)


def pad_amount(pairs: Iterable[Sequence[int]]) -> np.ndarray:
    """(begin, end) per axis -> QNN's ``pad_amount`` tensor: uint32 ``[axes, 2]``.

    QNN pads are unsigned; a negative pad (a crop) has no pad_amount and must become a slice, so it is
    refused here instead of wrapping round to four billion.
    """
    arr = np.asarray([[int(b), int(e)] for b, e in pairs], np.int64).reshape(-1, 2)
    if (arr < 0).any():
        raise ConversionError(f"negative padding {arr.tolist()} cannot be a pad_amount; crop with a slice instead")
    return arr.astype(np.uint32)

"""Packed 4-bit storage of quantized weights (``--pack_4_bit_weights``).

What SNPE documents (quantized models page, "Packed 4-bit quantization"; ``shared/reference/qnn_ops.md``
section 1.1): two 4-bit values share one byte, the first in the low nibble; a packed tensor has the type
``SFIXED_POINT_4``/``UFIXED_POINT_4`` (0x0304/0x0404), while unpacked 4-bit values sit one per byte in
``SFIXED_POINT_8``/``UFIXED_POINT_8``.  A per-tensor encoding packs the whole tensor in row-major order
(``ceil(n / 2)`` bytes); per-channel and per-row encodings pack each channel (row) on its own, so an odd
channel size ends in a padding nibble (the documentation's example: 27 values per channel -> 14 bytes).

The documentation's example is a convolution weight, shape (3, 3, 3, 32) with 32 output channels on the
last (HWIO) axis: "the quantized values are packed along each channel", 27 values -> 14 bytes per channel.
A channel's 27 values can only share 14 bytes if they sit together, so a per-axis tensor is stored channel
by channel in channel order (32 x 14 = 448 bytes here, where a flat packing would take 432), each channel's
values in the row-major order of the other dimensions.  For FullyConnected rows (``[out, in]``, axis 0) this
is plain row-major order.  No golden file holds a packed tensor, so this reading of the documentation is
not checked against Qualcomm's reader.

In memory (IR, runtime, quantizer) the values stay unpacked in int8/uint8; only the DLC holds the packed
bytes, so packing is the writer's job and unpacking the reader's.
"""
from __future__ import annotations

import numpy as np

from .graph import Encoding


def _rows(shape: tuple[int, ...], enc: Encoding) -> tuple[int, int]:
    """(number of independently packed slices, values per slice)."""
    count = int(np.prod(shape)) if shape else 1
    if enc.axis is None or not shape:
        return 1, count
    chans = int(shape[enc.axis])
    return chans, (count // chans if chans else 0)


def _channel_major(shape: tuple[int, ...], enc: Encoding) -> tuple[int, ...]:
    """``shape`` with the per-channel axis moved to the front: the order the packed bytes follow."""
    if enc.axis is None or not shape:
        return tuple(shape)
    return (shape[enc.axis],) + tuple(shape[: enc.axis]) + tuple(shape[enc.axis + 1:])


def layout_problem(shape: tuple[int, ...], enc: Encoding) -> str | None:
    """Why a tensor of ``shape`` with encoding ``enc`` cannot be stored packed, or None."""
    if enc.bitwidth != 4:
        return f"its encoding is {enc.bitwidth}-bit, not 4-bit"
    if enc.axis is not None and not 0 <= enc.axis < max(len(shape), 1):
        return f"its per-channel axis {enc.axis} is outside its shape {list(shape)}"
    return None


def packed_size(shape: tuple[int, ...], enc: Encoding) -> int:
    """Bytes a packed tensor takes in the file."""
    rows, n = _rows(shape, enc)
    return rows * ((n + 1) // 2)


def pack(q: np.ndarray, enc: Encoding) -> np.ndarray:
    """The file bytes (uint8) of 4-bit values ``q`` (int8 in [-8, 7] or uint8 in [0, 15])."""
    rows, n = _rows(q.shape, enc)
    if enc.axis is not None and q.ndim:
        q = np.moveaxis(q, enc.axis, 0)
    v = (np.ascontiguousarray(q).reshape(rows, n).view(np.uint8) & 0x0F)
    if n % 2:
        v = np.concatenate([v, np.zeros((rows, 1), np.uint8)], axis=1)
    return (v[:, 0::2] | (v[:, 1::2] << 4)).astype(np.uint8).reshape(-1)


def unpack(raw: np.ndarray, shape: tuple[int, ...], signed: bool, enc: Encoding) -> np.ndarray:
    """Values of a packed tensor of ``shape``: int8 (sign-extended nibbles) or uint8."""
    rows, n = _rows(shape, enc)
    b = np.asarray(raw, np.uint8).reshape(rows, (n + 1) // 2)
    v = np.empty((rows, b.shape[1] * 2), np.uint8)
    v[:, 0::2], v[:, 1::2] = b & 0x0F, b >> 4
    v = v[:, :n]
    if signed:
        v = ((v.astype(np.int16) ^ 8) - 8).astype(np.int8)
    v = v.reshape(_channel_major(tuple(shape), enc))
    if enc.axis is not None and len(shape):
        v = np.moveaxis(v, 0, enc.axis)
    return np.ascontiguousarray(v)

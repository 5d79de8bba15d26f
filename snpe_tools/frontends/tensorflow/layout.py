"""Layout and window attributes of TensorFlow's spatial nodes (conv, pool, norm, depth-to-space): the NHWC
check and ``padding``/``explicit_paddings`` -> QNN ``pad_amount`` through ``frontends/lowering/padding.py``.
Shared by several op families, so kept out of any one of them."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..lowering.padding import auto_pads, pad_amount


def check_nhwc(node) -> None:
    """Refuse a channel-first node: the frontend keeps TensorFlow's NHWC and never transposes."""
    fmt = node.attr("data_format", "NHWC")
    if fmt not in ("NHWC", "NDHWC"):
        raise ConversionError(f"{node.op} '{node.name}': data_format {fmt} is not supported (NHWC graphs only; "
                              "NCHW ops only run on GPU in TensorFlow)")


def spatial_pads(node, in_shape, kh: int, kw: int, strides, dilations) -> np.ndarray:
    """TF ``padding`` (SAME/VALID, or EXPLICIT ``explicit_paddings`` as NHWC pairs) -> ``pad_amount``."""
    padding = node.attr("padding", "VALID")
    if padding in ("SAME", "VALID"):
        return pad_amount(auto_pads(padding, in_shape[1:3], (kh, kw), strides, dilations))
    if padding == "EXPLICIT":
        ep = node.attr("explicit_paddings", [])
        ep = np.asarray(ep, np.int64).reshape(-1, 2)
        if ep[0].any() or ep[3].any():
            raise ConversionError(f"{node.op} '{node.name}': explicit padding of batch or channels")
        return pad_amount(ep[1:3])
    raise ConversionError(f"{node.op} '{node.name}': padding {padding} is not supported")

"""ONNX ``pads``/``auto_pad`` -> explicit (begin, end) pads: the one rule every ONNX conv/pool
translator (1-D/2-D in ``ops/nn.py``, 3-D in ``ops/volumetric.py``, ``ops/lp.py``) shares, kept in
its own module so those translator modules need not import one another."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence


def explicit_pads(node: Any, a: Mapping[str, Any], in_spatial: Sequence[int], kernel: Sequence[int],
                  strides: Sequence[int], dilations: Sequence[int]) -> list[tuple[int, int]]:
    """ONNX ``pads``/``auto_pad`` -> [(begin, end)] per spatial axis (SAME_UPPER puts the odd pixel at
    the end, SAME_LOWER at the beginning, as onnxruntime does)."""
    n = len(kernel)
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for i in range(n):
            eff = (kernel[i] - 1) * dilations[i] + 1
            total = max((math.ceil(in_spatial[i] / strides[i]) - 1) * strides[i] + eff - in_spatial[i], 0)
            small = total // 2
            out.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        return out
    if auto == "VALID":
        return [(0, 0)] * n
    pads = list(a.get("pads", [0] * (2 * n)))
    return [(int(pads[i]), int(pads[i + n])) for i in range(n)]

"""snpe_tools/ops/spatial.py: DepthToSpace/SpaceToDepth (both modes) against onnx.reference, SpaceToBatch and
BatchToSpace against their element-by-element definitions (TF SpaceToBatchND order)."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, nchw, nhwc, onnx_ref, rand, run_op
from snpe_tools.errors import ConversionError

MODES = {0: "DCR", 1: "CRD"}


@pytest.mark.parametrize("mode", [0, 1])
def test_depth_to_space_matches_onnx(mode):
    x = rand(2, 3, 4, 8)
    (y,) = run_op("DepthToSpace", [x], {"block_size": [2, 2], "mode": mode})
    assert_close(y, nhwc(onnx_ref("DepthToSpace", [nchw(x)], blocksize=2, mode=MODES[mode])[0]))


def test_space_to_depth_matches_onnx_dcr():
    x = rand(2, 4, 6, 3)
    (y,) = run_op("SpaceToDepth", [x], {"block_size": [2, 2]})
    assert_close(y, nhwc(onnx_ref("SpaceToDepth", [nchw(x)], blocksize=2)[0]))


@pytest.mark.parametrize("mode", [0, 1])
def test_space_to_depth_inverts_depth_to_space_with_rectangular_blocks(mode):
    x = rand(1, 4, 9, 5)
    (d,) = run_op("SpaceToDepth", [x], {"block_size": [2, 3], "mode": mode})
    assert d.shape == (1, 2, 3, 30)
    # CRD: depth index c*bh*bw + i*bw + j
    i, j, c = 1, 2, 4
    k = (i * 3 + j) * 5 + c if mode == 0 else c * 6 + i * 3 + j
    assert d[0, 1, 2, k] == x[0, 1 * 2 + i, 2 * 3 + j, c]
    (back,) = run_op("DepthToSpace", [d], {"block_size": [2, 3], "mode": mode})
    assert_close(back, x, rtol=0, atol=0)


def _space_to_batch_ref(x, bh, bw, pads):
    b, _, _, d = x.shape
    xp = np.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
    h, w = xp.shape[1] // bh, xp.shape[2] // bw
    out = np.zeros((bh * bw * b, h, w, d), x.dtype)
    for i in range(bh):
        for j in range(bw):
            for n in range(b):
                out[(i * bw + j) * b + n] = xp[n, i::bh, j::bw]
    return out


def test_space_to_batch_matches_definition():
    x = rand(2, 3, 5, 2)
    pads = [[1, 0], [0, 1]]
    (y,) = run_op("SpaceToBatch", [x], {"block_shape": [2, 3], "pad_amount": pads})
    assert_close(y, _space_to_batch_ref(x, 2, 3, pads))


def test_batch_to_space_inverts_space_to_batch_with_crops():
    x = rand(2, 3, 5, 2)
    pads = [[1, 0], [0, 1]]
    s2b = _space_to_batch_ref(x, 2, 3, pads)
    (y,) = run_op("BatchToSpace", [s2b], {"block_shape": [2, 3], "crops": pads})
    assert_close(y, x, rtol=0, atol=0)


def test_space_to_batch_rejects_a_size_the_block_does_not_divide():
    with pytest.raises(ConversionError, match="not a multiple"):
        run_op("SpaceToBatch", [rand(1, 3, 4, 1)], {"block_shape": [2, 2]})


def test_table_covers_the_family():
    assert family_ops("spatial") == {"DepthToSpace", "SpaceToDepth", "SpaceToBatch", "BatchToSpace"}

"""snpe_tools/ops/color.py: ArgbToRgb channel selection, Nv21ToRgb / Nv12ToRgb against the BT.601 per-pixel
formula (no ONNX equivalent), shape rules."""
from __future__ import annotations

import numpy as np
import pytest

from ir_harness import assert_close, family_ops, ints, rand, run_op
from snpe_tools.errors import ConversionError


@pytest.mark.parametrize("order,reverse,channels", [(0, False, [1, 2, 3]), (0, True, [3, 2, 1]),
                                                     (1, False, [0, 1, 2]), (1, True, [2, 1, 0])])
def test_argb_to_rgb_selects_colour_channels(order, reverse, channels):
    x = rand(2, 3, 2, 4)
    (y,) = run_op("ArgbToRgb", [x], {"input_order": order, "reverse_output": reverse})
    assert_close(y, np.stack([x[..., c] for c in channels], -1), rtol=0, atol=0)


def test_argb_to_rgb_needs_four_channels():
    with pytest.raises(ConversionError, match=r"\[b,h,w,4\]"):
        run_op("ArgbToRgb", [rand(1, 2, 2, 3)])


def _yuv_ref(frame, h, w, vu_first, bgr):
    out = np.zeros((h, w, 3))
    for r in range(h):
        for c in range(w):
            y = float(frame[r * w + c])
            pair = frame[h * w + (r // 2) * w + (c // 2) * 2:][:2].astype(float)
            v, u = (pair[0], pair[1]) if vu_first else (pair[1], pair[0])
            rgb = [1.164 * (y - 16) + 1.596 * (v - 128),
                   1.164 * (y - 16) - 0.813 * (v - 128) - 0.391 * (u - 128),
                   1.164 * (y - 16) + 2.018 * (u - 128)]
            out[r, c] = np.clip(rgb[::-1] if bgr else rgb, 0, 255)
    return out


@pytest.mark.parametrize("bgr", [False, True])
@pytest.mark.parametrize("type_,vu_first", [("Nv21ToRgb", True), ("Nv12ToRgb", False)])
def test_yuv420sp_matches_bt601_per_pixel(type_, vu_first, bgr):
    h, w = 4, 6
    frames = ints(2, h * w * 3 // 2, lo=0, hi=256).astype(np.float32)
    (y,) = run_op(type_, [frames], {"height": h, "width": w, "output_order": int(bgr)})
    for b in range(2):
        assert_close(y[b], _yuv_ref(frames[b], h, w, vu_first, bgr), rtol=1e-5, atol=1e-3)


def test_yuv_integer_frames_round_to_integers():
    frame = np.asarray([[16, 235, 128, 81] + [128, 128]], np.uint8)      # 2x2 luma, one neutral chroma pair
    (y,) = run_op("Nv12ToRgb", [frame], {"height": 2, "width": 2})
    assert y.dtype == np.uint8
    assert y[0, :, :, 0].tolist() == [[0, 255], [130, 76]]            # rint(1.164 * (Y - 16)), clipped
    assert (y[0, ..., 0] == y[0, ..., 1]).all() and (y[0, ..., 1] == y[0, ..., 2]).all()


def test_yuv_frame_size_must_match_height_and_width():
    with pytest.raises(ConversionError, match="even height"):
        run_op("Nv21ToRgb", [rand(1, 20)], {"height": 4, "width": 4})


def test_table_covers_the_family():
    assert family_ops("color") == {"ArgbToRgb", "Nv21ToRgb", "Nv12ToRgb"}

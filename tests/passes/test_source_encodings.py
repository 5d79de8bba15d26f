"""passes/source_encodings.py (``source_encodings``): encodings recorded from a quantized source and
``--quantization_overrides`` land on the final tensors; the runtime then computes on their grids."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ir_harness import check_pass, rand
from snpe_tools.errors import SnpeToolsError
from snpe_tools.ir.graph import Encoding, Graph
from snpe_tools.quantization.source import SourceEncoding

SCALE = 0.1


def _graph():
    g = Graph()
    g.add_input("x", (2, 8))
    g.add_op("Relu", ["x"], ["r"])
    g.outputs = g.add_op("ElementWiseMultiply", ["r", g.add_const("k", np.float32([1.0]))], ["y"]).outputs
    return g


def _on_grid(outs):
    """The outputs the encoded graph must give: the float ones rounded to the 0.1 grid of 'r'."""
    return [np.clip(np.round(o / SCALE) * SCALE, 0, 255 * SCALE) for o in outs]


def test_source_encodings_are_attached_by_tensor_name():
    g = _graph()
    g.source_encodings["r"] = SourceEncoding(Encoding(8, SCALE, 0, 0.0, 255 * SCALE))
    g.source_encodings["gone"] = SourceEncoding(Encoding(8, SCALE, 0, 0.0, 255 * SCALE))   # folded away: skipped
    check_pass("source_encodings", g, {"x": rand(2, 8)},
               pre=lambda g: g.tensors["r"].encoding is None,
               post=lambda g: g.tensors["r"].encoding is not None and g.tensors["r"].encoding.scale == SCALE
               and g.tensors["x"].encoding is None,
               expect=_on_grid, atol=1e-6)


def test_overrides_file_wins_and_nothing_to_do_is_no_change(tmp_path):
    path = tmp_path / "enc.json"
    path.write_text(json.dumps({"activation_encodings": {"r": [{"bitwidth": 8, "min": 0.0, "max": 255 * SCALE,
                                                                 "scale": SCALE, "offset": 0}]},
                                "param_encodings": {}}))
    g = _graph()
    g.source_encodings["r"] = SourceEncoding(Encoding(8, 1.0, 0, 0.0, 255.0))
    check_pass("source_encodings", g, {"x": rand(2, 8)}, options={"quantization_overrides": str(path)},
               pre=lambda g: True, post=lambda g: abs(g.tensors["r"].encoding.scale - SCALE) < 1e-9,
               expect=_on_grid, atol=1e-6)
    check_pass("source_encodings", _graph(), {"x": rand(2, 8)}, pre=lambda g: True,
               post=lambda g: all(t.encoding is None for t in g.tensors.values()), expect_change=False)


def test_override_of_an_unknown_tensor_is_refused(tmp_path):
    path = tmp_path / "enc.json"
    path.write_text(json.dumps({"activation_encodings": {"nope": [{"bitwidth": 8, "min": 0.0, "max": 1.0}]},
                                "param_encodings": {}}))
    from snpe_tools.passes.registry import get_pass
    with pytest.raises(SnpeToolsError, match="'nope' is not a tensor"):
        get_pass("source_encodings")(_graph(), {"quantization_overrides": str(path)})

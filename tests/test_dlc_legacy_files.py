"""DLCs written by snpe-tools before it wrote Qualcomm's real layout still read and run.

``tests/data/snpe_tools_0.1_net.dlc`` was written by snpe-tools 0.1 (commit 03c67e5) from
``test_dlc_container.conv_net`` with ``--input_type x image``: Input/Output pseudo-nodes, 32-bit
scalar slots, QNN op names, inline NETP weights.  Users may have such files; the reader recognises
them by their pseudo-nodes and gives the same graph a fresh conversion gives.
"""
from __future__ import annotations

import os

import numpy as np

import helpers
from test_dlc_container import conv_net
from snpe_tools.dlc import read_dlc
from snpe_tools.runtime import execute

OLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "snpe_tools_0.1_net.dlc")


def test_pre_2x_snpe_tools_dlc_reads_and_runs_like_a_new_conversion(tmp_path):
    old = read_dlc(OLD)
    assert old.graph.inputs == ["x"] and old.graph.outputs == ["prob"]
    assert old.graph.input_info["x"].input_type == "image"          # kept in its Input node
    src = str(tmp_path / "net.onnx")
    conv_net(src)
    new_path = str(tmp_path / "net.dlc")
    helpers.convert_in_process(src, new_path)
    new = read_dlc(new_path).graph
    assert [(op.name, op.type) for op in old.graph.ops] == [(op.name, op.type) for op in new.ops]
    for a, b in zip(old.graph.ops, new.ops):
        assert set(a.params) == set(b.params), a.name
        for k in a.params:
            if (a.type, k) == ("PoolAvg2d", "stride") and a.name == "gap":
                continue      # global pooling now writes stride = window, as Qualcomm's converter (same result)
            np.testing.assert_array_equal(np.asarray(a.params[k]), np.asarray(b.params[k]), err_msg=f"{a.name}.{k}")
    x = np.random.default_rng(3).standard_normal(new.tensors["x"].shape).astype(np.float32)
    np.testing.assert_allclose(execute(old.graph, {"x": x})["prob"], execute(new, {"x": x})["prob"], rtol=1e-5, atol=1e-7)
    # rewriting it gives a DLC in the real layout
    out = str(tmp_path / "rewritten.dlc")
    helpers.run_tool("snpe-dlc-info", "-i", OLD)
    from dlc_conformance import violations
    from snpe_tools.dlc import write_dlc
    write_dlc(old.graph, out, old.metadata)
    assert violations(out) == [] or all("metadata keys" in v for v in violations(out))

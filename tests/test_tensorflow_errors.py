"""snpe-tensorflow-to-dlc's failure paths: one line naming the problem and the fix, exit 1, no traceback,
no DLC written.  Most cases run main() in-process (a TF import per subprocess is slow); the launcher
itself is exercised by the first two cases."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import tf_models as M  # noqa: E402
from helpers import ROOT, run_tool  # noqa: E402

from snpe_tools.tools.common import run_main  # noqa: E402
from snpe_tools.tools.tensorflow_to_dlc import main  # noqa: E402


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tf_err")
    return {k: M.small_graph(str(d / f"{k}.pb"), k) for k in ("plain", "two_layers", "unsupported")}


def _fail(capsys, tmp_path, *args: str) -> str:
    dlc = tmp_path / "out.dlc"
    rc = run_main(main, [*args, "-o", str(dlc)])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert not dlc.exists()
    errors = [ln for ln in err.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def _ok_args(pb):
    return ["-i", pb, "-d", "x", "1,8,8,3", "--out_node", "out/Reshape_1"]


def test_node_in_two_layers_is_a_clear_error(graphs, tmp_path):
    proc = run_tool("snpe-tensorflow-to-dlc", "-i", graphs["two_layers"], "-d", "x", "1,8,8,3",
                    "--out_node", "out/Reshape_1", "-o", str(tmp_path / "o.dlc"), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "shared/Conv2D" in line and "branch_a/BiasAdd" in line and "branch_b/BiasAdd" in line, line
    assert "single layer" in line
    assert not (tmp_path / "o.dlc").exists()


def test_wrong_out_node_names_the_closest_nodes(graphs, tmp_path):
    proc = run_tool("snpe-tensorflow-to-dlc", "-i", graphs["plain"], "-d", "x", "1,8,8,3",
                    "--out_node", "out/Reshape_2", "-o", str(tmp_path / "o.dlc"), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "ERROR_TF_NODE_NOT_FOUND_IN_GRAPH" in line and "out/Reshape_2" in line and "out/Reshape_1" in line
    assert not (tmp_path / "o.dlc").exists()


def test_unsupported_op_stops_with_a_summary(graphs, tmp_path, capsys):
    line = _fail(capsys, tmp_path, *_ok_args(graphs["unsupported"]))
    assert "Erf x1" in line and "gelu/Erf" in line and "--show_unconsumed_nodes" in line


def test_show_unconsumed_nodes_lists_each_op(graphs, tmp_path, capsys):
    dlc = tmp_path / "o.dlc"
    rc = run_main(main, [*_ok_args(graphs["unsupported"]), "--show_unconsumed_nodes", "-o", str(dlc)])
    err = capsys.readouterr().err
    assert rc == 1 and not dlc.exists()
    assert "Operation (gelu/Erf) of type (Erf) is not supported by converter." in err


def test_allow_unconsumed_nodes_is_accepted_but_cannot_drop_a_needed_op(graphs, tmp_path, capsys):
    line = _fail(capsys, tmp_path, *_ok_args(graphs["unsupported"]), "--allow_unconsumed_nodes")
    assert "gelu/Erf" in line and "Erf" in line
    # on a fully supported graph the old flag is harmless (SNPE 1.x accepted it with a warning)
    dlc = tmp_path / "ok.dlc"
    assert run_main(main, [*_ok_args(graphs["plain"]), "--allow_unconsumed_nodes", "-o", str(dlc)]) == 0
    assert "WARNING_TF_ALLOW_UNCONSUMED_OPTION_USED" in capsys.readouterr().err and dlc.exists()


@pytest.mark.parametrize("args, expected", [
    (["-d", "y", "1,8,8,3", "--out_node", "out/Reshape_1"], ["ERROR_TF_NODE_NOT_FOUND_IN_GRAPH", "Node name: y"]),
    (["-d", "x", "1,9,9,3", "--out_node", "out/Reshape_1"], ["ERROR_TF_UNEXPECTED_INPUT_SHAPE", "[1,8,8,3]"]),
    (["-d", "x", "1,8,8", "--out_node", "out/Reshape_1"], ["ERROR_TF_UNEXPECTED_INPUT_SHAPE"]),
    (["-d", "x", "1,8,8,3"], ["--out_node is required"]),
    # -d on an interior node cuts the graph there, at the shape TF infers for it
    (["-d", "shared/Conv2D", "1,8,8,5", "--out_node", "out/Reshape_1"],
     ["ERROR_TF_UNEXPECTED_INPUT_SHAPE", "Conv2D node's output [1,8,8,4]"]),
    (["-d", "x", "1,8,8,3", "--out_node", "unrelated"], ["does not depend on the inputs"]),
    (["-d", "x", "1,8,8,3", "--out_node", "out/Reshape_1", "--input_layout", "x", "NCHW"], ["channel-last"]),
    (["-d", "x", "1,8,8,3", "--out_node", "out/Reshape_1", "--input_type", "z", "image"], ["not one of the inputs"]),
])
def test_bad_arguments(graphs, tmp_path, capsys, args, expected):
    line = _fail(capsys, tmp_path, "-i", graphs["plain"], *args)
    for text in expected:
        assert text in line, line


def test_bad_input_files(tmp_path, capsys):
    line = _fail(capsys, tmp_path, "-i", str(tmp_path / "missing.pb"), "-d", "x", "1,2", "--out_node", "y")
    assert "not found" in line and "missing.pb" in line
    bad = tmp_path / "corrupt.pb"
    bad.write_bytes(os.urandom(64) + b"\xff" * 64)
    line = _fail(capsys, tmp_path, "-i", str(bad), "-d", "x", "1,2", "--out_node", "y")
    assert "corrupt.pb" in line and ("GraphDef" in line or "no graph nodes" in line)
    meta = tmp_path / "lonely.meta"
    meta.write_bytes(b"")
    line = _fail(capsys, tmp_path, "-i", str(meta), "-d", "x", "1,2", "--out_node", "y")
    assert "checkpoint" in line
    empty_dir = tmp_path / "notsaved"
    empty_dir.mkdir()
    line = _fail(capsys, tmp_path, "-i", str(empty_dir), "-d", "x", "1,2", "--out_node", "y")
    assert "saved_model.pb" in line


def test_missing_tensorflow_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from snpe_tools.tools.common import run_main\n"
            "from snpe_tools.tools.tensorflow_to_dlc import main\n"
            f"sys.exit(run_main(main, ['-i', {str(tmp_path / 'm.pb')!r}, '-d', 'x', '1,8,8,3', "
            f"'--out_node', 'y', '-o', {str(tmp_path / 'm.dlc')!r}]))\n")
    (tmp_path / "m.pb").write_bytes(b"\x00")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "[tensorflow]" in lines[0] and "pip install" in lines[0], proc.stderr
    assert not (tmp_path / "m.dlc").exists()


def test_importing_the_tool_does_not_import_tensorflow():
    code = ("import sys, snpe_tools.tools.tensorflow_to_dlc as t; t.make_parser(); "
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_dry_run_lists_layers_and_writes_nothing(graphs, tmp_path, capsys):
    dlc = tmp_path / "d.dlc"
    assert run_main(main, [*_ok_args(graphs["unsupported"]), "--dry_run", "-o", str(dlc)]) == 0
    out = capsys.readouterr().out
    assert "Erf" in out and "unsupported" in out and not dlc.exists()


def test_plain_graph_converts_and_matches(graphs, tmp_path):
    dlc = str(tmp_path / "p.dlc")
    M.convert(graphs["plain"], dlc, {"x": "1,8,8,3"}, ["out/Reshape_1"])
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
    ref = M.run_graph_def(M.load_graph_def(graphs["plain"]), {"x": x}, ["out/Reshape_1"])[0]
    np.testing.assert_allclose(M.run_dlc(dlc, {"x:0": x})["out/Reshape_1:0"], ref, rtol=1e-3, atol=1e-4)

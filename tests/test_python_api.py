"""The Python API (issue 15): snpe_tools.convert / load_dlc / run, python -m snpe_tools, README example."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import helpers
import snpe_tools
from snpe_tools.errors import ConversionError, RuntimeInputError, SnpeToolsError

SAMPLE = os.path.join(helpers.ROOT, "models", "resnet_small.onnx")
SAMPLE_RAW = os.path.join(helpers.ROOT, "models", "sample_input.raw")


def test_run_equals_snpe_net_run_on_the_sample_model(tmp_path):
    dlc = snpe_tools.convert(SAMPLE, tmp_path / "sample.dlc")
    assert dlc == str(tmp_path / "sample.dlc")
    (tmp_path / "list.txt").write_text(SAMPLE_RAW + "\n")
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", str(tmp_path / "list.txt"),
                     "--output_dir", str(tmp_path / "out"))
    image = np.fromfile(SAMPLE_RAW, dtype=np.float32)
    outputs = snpe_tools.run(dlc, {"input": image.reshape(1, 64, 64, 3)})
    assert list(outputs) == ["logits"]
    net_run = np.fromfile(tmp_path / "out" / "Result_0" / "logits.raw", dtype=np.float32)
    assert outputs["logits"].dtype == np.float32 and outputs["logits"].shape == (1, 10)
    np.testing.assert_array_equal(outputs["logits"].reshape(-1), net_run)
    # one array for a one-input model, a loaded DLC instead of a path: the same numbers
    again = snpe_tools.run(snpe_tools.load_dlc(dlc), image)
    np.testing.assert_array_equal(again["logits"], outputs["logits"])


def test_convert_matches_the_command_line_tool(tmp_path):
    api = snpe_tools.convert(SAMPLE, tmp_path / "api.dlc", input_dims={"input": (1, 3, 64, 64)},
                             disable_batchnorm_folding=True)
    helpers.run_tool("snpe-onnx-to-dlc", "-i", SAMPLE, "-o", str(tmp_path / "cli.dlc"), "-d", "input", "1,3,64,64",
                     "--disable_batchnorm_folding")
    a, c = snpe_tools.load_dlc(api), snpe_tools.load_dlc(tmp_path / "cli.dlc")
    assert [(o.type, o.name) for o in a.graph.ops] == [(o.type, o.name) for o in c.graph.ops]
    assert any(o.type == "Batchnorm" for o in a.graph.ops)       # the keyword reached the tool
    cmd = a.metadata.get("converter-command") if hasattr(a.metadata, "get") else str(a.metadata)
    assert "disable_batchnorm_folding=True" in str(cmd)


def test_convert_dry_run_writes_nothing(tmp_path, capsys):
    assert snpe_tools.convert(SAMPLE, tmp_path / "x.dlc", dry_run=True) is None
    assert "All ops are supported." in capsys.readouterr().out and not (tmp_path / "x.dlc").exists()


def test_convert_default_output_path_and_per_input_tables(tmp_path):
    import shutil

    model = shutil.copy(SAMPLE, tmp_path / "m.onnx")
    out = snpe_tools.convert(model, input_dtypes={"input": "uint8"}, input_encodings={"input": ("bgr", "rgb")})
    assert out == str(tmp_path / "m.dlc") and os.path.isfile(out)
    graph = snpe_tools.load_dlc(out).graph
    assert [op.type for op in graph.ops[:2]] == ["Gather", "Cast"]


@pytest.mark.parametrize("call,error,needle", [
    (lambda p: snpe_tools.convert(p / "nope.onnx"), ConversionError, "not found"),
    (lambda p: snpe_tools.convert(p / "model.xyz"), ConversionError, "framework"),
    (lambda p: snpe_tools.convert(SAMPLE, p / "x.dlc", input_dtypes={"nope": "uint8"}), ConversionError, "nope"),
    (lambda p: snpe_tools.convert(SAMPLE, p / "x.dlc", framework="caffe"), ConversionError, "caffe"),
])
def test_convert_errors_raise_one_line(tmp_path, call, error, needle):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "x.dlc").exists()


def test_run_input_errors(tmp_path):
    dlc = snpe_tools.load_dlc(snpe_tools.convert(SAMPLE, tmp_path / "s.dlc"))
    with pytest.raises(RuntimeInputError, match="12288"):
        snpe_tools.run(dlc, {"input": np.zeros(10, np.float32)})
    with pytest.raises(RuntimeInputError, match="not an input"):
        snpe_tools.run(dlc, {"image": np.zeros(12288, np.float32)})
    with pytest.raises(SnpeToolsError):
        snpe_tools.run(dlc, [np.zeros(12288), np.zeros(12288)])


def test_python_m_snpe_tools_lists_every_tool():
    from snpe_tools.tools.catalog import tools

    proc = subprocess.run([sys.executable, "-m", "snpe_tools"], capture_output=True, text=True, cwd=helpers.ROOT)
    assert proc.returncode == 0, proc.stderr
    listed = re.findall(r"^  (\S+)  ", proc.stdout, re.M)
    assert listed == [t.name for t in tools()]
    assert "snpe-onnx-to-dlc" in listed and "cannot load" not in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "snpe_tools", "convert"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def _readme_example() -> str:
    with open(os.path.join(helpers.ROOT, "README.rst"), encoding="utf-8") as fh:
        text = fh.read()
    section = text.split("\nPython API\n----------\n", 1)[1]
    block = section.split("::\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines)


def test_readme_example_runs(tmp_path):
    code = _readme_example()
    assert "snpe_tools.run(" in code and "snpe_tools.convert(" in code
    os.symlink(os.path.join(helpers.ROOT, "models"), tmp_path / "models")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": helpers.ROOT})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['input'] (1, 64, 64, 3)", "{'logits': (1, 10)}"]
    assert (tmp_path / "sample.dlc").is_file()

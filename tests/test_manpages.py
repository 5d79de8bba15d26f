"""Man pages (issue 15): one per console script, generated from the tool's argparse parser with
argparse-manpage while the package builds, installed into share/man/man1; and --version on every tool."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import helpers
from snpe_tools import __version__
from snpe_tools.tools.catalog import tools
from snpe_tools.tools.manpages import render, write_man_pages

TOOLS = tools()
NAMES = [t.name for t in TOOLS]
# what `pip wheel` reads from the checkout (setup.cfg's scripts, metadata and package)
BUILD_FILES = ("setup.py", "setup.cfg", "pyproject.toml", "README.rst")
BUILD_DIRS = ("snpe_tools", "bin")


def test_every_console_script_is_in_the_catalog():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(helpers.ROOT, "setup.cfg"))
    scripts = [ln.split("=")[0].strip() for ln in cfg["options.entry_points"]["console_scripts"].splitlines()
               if "=" in ln]
    assert sorted(scripts) == sorted(NAMES)
    assert {"snpe-onnx-to-dlc", "snpe-net-run", "snpe-dlc-info", "snpe-dlc-quantize"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_version_on_every_tool(name):
    proc = helpers.run_tool(name, "--version")
    assert proc.stdout.strip() == f"{name} (snpe-tools) {__version__}", proc.stdout + proc.stderr


def _groff(roff: str) -> str:
    """The page as man shows it, formatted by groff (man -l needs a file; groff reads stdin)."""
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed")
    proc = subprocess.run([groff, "-man", "-Tutf8", "-rLL=200n", "-ww"], input=roff, capture_output=True,
                          text=True, check=True)
    assert "warning" not in proc.stderr.lower(), proc.stderr
    # strip overstrike bold/underline so the text can be searched
    out, i = [], 0
    text = proc.stdout
    while i < len(text):
        if i + 2 < len(text) and text[i + 1] == "\b":
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out).replace("\u2010", "-").replace("\u2212", "-")


@pytest.mark.parametrize("tool", TOOLS, ids=NAMES)
def test_man_page_renders_with_every_option(tool):
    roff = render(tool)
    assert roff.startswith(".TH ") and f"snpe\\-tools {__version__}" in roff
    page = _groff(roff)
    assert "NAME" in page and "SYNOPSIS" in page and "OPTIONS" in page
    assert f"{tool.name} - {tool.summary()}" in " ".join(page.split())     # NAME: the tool and its summary
    parser = tool.parser()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue                                # man pages leave out -h and hidden options
        for opt in action.option_strings:
            assert opt in page, f"{tool.name}: {opt} missing from the man page"


def test_man_command_shows_a_written_page(tmp_path):
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed")
    written = write_man_pages(str(tmp_path / "man1"))
    assert sorted(os.path.basename(p) for p in written) == sorted(f"{n}.1" for n in NAMES)
    proc = subprocess.run([man, "-l", str(tmp_path / "man1" / "snpe-onnx-to-dlc.1")], capture_output=True,
                          text=True, env={**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100"})
    assert proc.returncode == 0, proc.stderr
    assert "--input_network" in proc.stdout.replace("\u2010", "-") and "snpe-onnx-to-dlc" in proc.stdout


@pytest.mark.slow
def test_wheel_installs_the_man_pages(tmp_path):
    """`pip install .` installs from the wheel: its data folder must hold share/man/man1/<tool>.1."""
    src = tmp_path / "src"
    # Only the build's inputs: the checkout also holds CI's .venv (2.6 GB, twice through its lib64 link),
    # whose copy once filled the CI machine's disk.
    src.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(os.path.join(helpers.ROOT, name), src / name)
    for name in BUILD_DIRS:
        shutil.copytree(os.path.join(helpers.ROOT, name), src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheel, = (tmp_path / "dist").glob("snpe_tools-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        pages = {n.rsplit("/", 1)[1]: zf.read(n).decode() for n in zf.namelist() if "/share/man/man1/" in n}
    assert sorted(pages) == sorted(f"{n}.1" for n in NAMES)
    assert "\\-\\-input_network" in pages["snpe-onnx-to-dlc.1"]


def test_build_requirements_cover_what_the_man_page_step_imports():
    """setup.py imports every tool while building (to read its parser): pyproject.toml's build requirements
    must hold argparse-manpage and every runtime dependency of setup.cfg."""
    import configparser
    import re
    import tomllib

    with open(os.path.join(helpers.ROOT, "pyproject.toml"), "rb") as fh:
        build = tomllib.load(fh)["build-system"]["requires"]
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(helpers.ROOT, "setup.cfg"))

    def name(req: str) -> str:
        return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")

    runtime = {name(r) for r in cfg["options"]["install_requires"].splitlines() if r.strip()}
    assert runtime | {"argparse-manpage", "setuptools"} <= {name(r) for r in build}


def test_build_requirements_are_pinned_as_constraints_txt():
    """pip applies ``-c constraints.txt`` to the install, not to the isolated build environment, so the
    build requirements carry the same pins themselves (CI installs only pinned versions)."""
    import tomllib

    with open(os.path.join(helpers.ROOT, "pyproject.toml"), "rb") as fh:
        build = tomllib.load(fh)["build-system"]["requires"]
    with open(os.path.join(helpers.ROOT, "constraints.txt"), encoding="utf-8") as fh:
        pins = {line.split("==")[0].strip().lower(): line.split("==")[1].strip()
                for line in fh if "==" in line and not line.lstrip().startswith("#")}
    for req in build:
        if req.startswith(("setuptools", "wheel")):
            continue
        name, _, version = req.partition("==")
        assert version, f"build requirement {req!r} is not pinned"
        assert pins.get(name.lower()) == version, f"{req!r} differs from constraints.txt ({pins.get(name.lower())})"

"""The layering of docs/architecture.rst, enforced: import-linter contracts (.importlinter) and no
private names imported across modules."""
from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "snpe_tools"
CONFIG = ROOT / ".importlinter"

# `from x import _y` across modules that remain, each with its reason.  The test fails on a new one
# and on one listed here that is gone (then delete its line).
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


def _lint_imports() -> list[str]:
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed: pip install -c constraints.txt '.[test]'")
    return [exe, "--no-cache", "--no-logo", str(CONFIG)]


def test_import_contracts_are_kept():
    proc = subprocess.run(_lint_imports(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
    kept = [line for line in proc.stdout.splitlines() if " KEPT" in line]
    assert len(kept) == 3, proc.stdout


def test_every_package_has_a_layer():
    """A new top-level package or module must be placed in the layering, not slip past it."""
    cfg = configparser.ConfigParser()
    cfg.read(CONFIG)
    layers = cfg["importlinter:contract:layers"]["layers"]
    placed = {name.strip() for line in layers.splitlines() for name in line.replace(":", "|").split("|")}
    placed.discard("")
    present = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file()}
    assert present - placed == set(), f"place these in .importlinter's layers: {sorted(present - placed)}"
    assert placed - present == set(), f"layers name modules that do not exist: {sorted(placed - present)}"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private_imports() -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                target = ROOT.joinpath(*source.split("."), name)
                if target.with_suffix(".py").is_file() or (target / "__init__.py").is_file():
                    continue      # a private submodule imported by its own package (ops._all)
                found.add((path.relative_to(ROOT).as_posix(), source, name))
    return found


def test_no_private_names_imported_across_modules():
    found = _private_imports()
    new = found - KNOWN_PRIVATE_IMPORTS
    assert not new, "make these public (or keep them in one module): " + "; ".join(
        f"{f} imports {src}.{name}" for f, src, name in sorted(new))
    gone = KNOWN_PRIVATE_IMPORTS - found
    assert not gone, f"no longer imported, delete from KNOWN_PRIVATE_IMPORTS: {sorted(gone)}"


def test_private_import_scan_finds_a_private_import(tmp_path, monkeypatch):
    """The scan itself works: a module importing another's private name is reported."""
    pkg = tmp_path / "snpe_tools"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("_hidden = 1\n")
    (pkg / "sub" / "b.py").write_text("from .a import _hidden\nfrom . import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert _private_imports() == {("snpe_tools/sub/b.py", "snpe_tools.sub.a", "_hidden")}


def test_no_private_attributes_reached_across_modules():
    """``graph._names`` and the like stay inside the module of their class: another module goes through the
    public API (``Graph.reserve_names``/``release_name``), so the invariant has one owner."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in ("graph", "ctx", "model", "op")):
                found.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno} {node.value.id}.{node.attr}")
    assert not found, "use the owner's public API: " + "; ".join(found)

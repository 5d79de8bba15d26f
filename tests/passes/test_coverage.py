"""Every pass module has its test module here and every registered pass is run by one of them (by its
registered name, through ``check_pass`` or ``get_pass``): a new pass fails here until it has tests."""
from __future__ import annotations

import re
from pathlib import Path

import snpe_tools.passes
from snpe_tools.passes.registry import get_pass

HERE = Path(__file__).parent
PASS_DIR = Path(snpe_tools.passes.__file__).parent
MODULES = sorted(p.stem for p in Path(snpe_tools.passes.__file__).parent.glob("*.py")
                 if not p.stem.startswith("_") and p.stem != "registry")


def test_every_pass_module_has_a_test_module():
    missing = [m for m in MODULES if not (HERE / f"test_{m}.py").exists()]
    assert not missing, f"pass modules without tests/passes/test_<module>.py: {missing}"


def test_every_registered_pass_is_run_by_name():
    registered = {n for p in PASS_DIR.glob("*.py") for n in re.findall(r'@register_pass\("(\w+)"\)', p.read_text())}
    assert len(registered) >= 13
    for name in registered:
        get_pass(name)          # the name really is registered
    sources = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != "test_coverage.py")
    untested = sorted(name for name in registered if f'"{name}"' not in sources)
    assert not untested, f"registered passes no test runs: {untested}"

"""Every op family module has its test module here, and every registered op belongs to a family module:
a new family (or an op registered outside snpe_tools/ops/<family>.py) fails here until it has tests.
Each test_<family>.py checks with its own ``test_table_covers_the_family`` that it tests every op of its
family."""
from __future__ import annotations

from pathlib import Path

import snpe_tools.ops
from snpe_tools.ops.registry import all_op_types, get_op_def

HERE = Path(__file__).parent
# registry.py (OpDef, the registry) and fixed_point.py (how any op runs on quantized tensors) register no
# op: they are the family modules' infrastructure, tested in test_fixed_point.py and test_op_traits.py
INFRASTRUCTURE = {"registry", "fixed_point"}
FAMILIES = sorted(p.stem for p in Path(snpe_tools.ops.__file__).parent.glob("*.py")
                  if not p.stem.startswith("_") and p.stem not in INFRASTRUCTURE)


def test_every_family_module_has_a_test_module():
    missing = [f for f in FAMILIES if not (HERE / f"test_{f}.py").exists()]
    assert not missing, f"op families without tests/ops/test_<family>.py: {missing}"
    assert len(FAMILIES) == 21


def test_every_registered_op_lives_in_a_family_module():
    homes = {type(get_op_def(t)).__module__.rsplit(".", 1)[-1] for t in all_op_types()}
    assert homes <= set(FAMILIES)

"""torch is an optional extra: without it snpe-pytorch-to-dlc says which extra to install."""
from __future__ import annotations

import subprocess
import sys

from helpers import ROOT


def test_missing_torch_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from snpe_tools.tools.common import run_main\n"
            "from snpe_tools.tools.pytorch_to_dlc import main\n"
            f"sys.exit(run_main(main, ['-i', {str(tmp_path / 'm.pt')!r}, '-d', 'x', '1,3,8,8', "
            f"'-o', {str(tmp_path / 'm.dlc')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "[pytorch]" in lines[0] and "pip install" in lines[0], proc.stderr
    assert not (tmp_path / "m.dlc").exists()

"""Progress bars for long work (calibration, net-run over many inputs): tqdm on a terminal, else nothing.

Only a terminal gets a bar: logs, pipes and CI output stay free of carriage-return noise."""
from __future__ import annotations

import sys


def progress_bar(total: int, desc: str, unit: str, enabled: bool = True):
    """A tqdm bar on stderr when it is a terminal (and ``enabled``), otherwise None."""
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:         # tqdm is a dependency; a stripped environment still runs
        return None
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)

"""Progress bars for long work (calibration, net-run over many inputs): tqdm on a terminal, else nothing.

Only a terminal gets a bar: logs, pipes and CI output stay free of carriage-return noise."""
from __future__ import annotations

import sys


def progress_bar(total: int, desc: str, unit: str, enabled: bool = True, delay: float = 0.0):
    """A tqdm bar on stderr when it is a terminal (and ``enabled``), otherwise None; with ``delay`` it
    shows only once the work has run that many seconds."""
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:         # tqdm is a dependency; a stripped environment still runs
        return None
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, delay=delay)


def track(items, desc: str, unit: str, delay: float = 2.0):
    """Iterate over ``items`` with a bar that appears only once the work has run ``delay`` seconds
    (conversions: a small model converts without one), on a terminal only."""
    items = list(items)
    bar = progress_bar(len(items), desc, unit, delay=delay)
    try:
        for item in items:
            yield item
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()

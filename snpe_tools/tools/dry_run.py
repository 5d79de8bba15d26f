"""``--dry_run`` of the converters: one table of op types (count, supported or not), written the same way by
every frontend, then whether the whole model is convertible.  Nothing is written to disk."""
from __future__ import annotations

from collections import Counter
from typing import Callable

from ..errors import ConversionError


def report(counts: Counter, is_supported: Callable[[str], bool], check: Callable[[], None],
           details: list[str] | None = None) -> int:
    width = max([len(t) for t in counts] + [7])
    print(f"{'Op type':<{width}}  Count  Status")
    for name, n in sorted(counts.items()):
        print(f"{name:<{width}}  {n:>5}  {'supported' if is_supported(name) else 'unsupported'}")
    for line in details or []:
        print(f"  {line}")
    try:
        check()
        print("All ops are supported.")
    except ConversionError as exc:
        print(f"Unsupported: {exc}")
    return 0

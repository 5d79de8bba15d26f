"""``python -m snpe_tools``: the tools this package installs, and where the Python API is."""
from __future__ import annotations

import sys

from . import __version__
from .tools.catalog import listing


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--version"], ["-V"]):
        print(f"snpe-tools {__version__}")
        return 0
    if argv and argv not in (["-h"], ["--help"]):
        print(f"ERROR - python -m snpe_tools takes no arguments (got {' '.join(argv)}); run a tool by its name, "
              "e.g. snpe-onnx-to-dlc --help", file=sys.stderr)
        return 2
    print(f"snpe-tools {__version__}: open-source drop-in replacements for Qualcomm's SNPE model tools.\n")
    print("Tools (run '<tool> --help', or 'man <tool>' after pip install):")
    print(listing())
    print("\nPython API: snpe_tools.convert(model, ...), snpe_tools.load_dlc(path), snpe_tools.run(dlc, inputs)"
          " (help(snpe_tools)).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

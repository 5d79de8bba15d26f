"""How to install an optional extra (pytorch, tensorflow, tflite), said so that the command works where
the user is: ``pip install 'snpe-tools[tflite]'`` names the package on PyPI, which a user running from a
source checkout (``python bin/snpe-tflite-to-dlc`` or an editable install) has not installed from there;
that user gets ``pip install -e '<checkout>[tflite]'`` instead."""
from __future__ import annotations

import configparser
import os
import shlex

# the exact versions each extra installs (setup.cfg's extras_require), shown so the user knows what comes
EXTRA_PINS = {"pytorch": "torch==2.13.0, CPU build", "tensorflow": "tensorflow-cpu==2.21.0",
              "tflite": "tflite==2.18.0, ai-edge-litert==2.3.0"}


def source_tree() -> str | None:
    """The checkout this package is imported from (the folder with its setup.cfg), or None when installed."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = configparser.ConfigParser()
    try:
        cfg.read(os.path.join(root, "setup.cfg"), encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    return root if cfg.get("metadata", "name", fallback=None) == "snpe-tools" else None


def install_hint(extra: str) -> str:
    """``pip install ...`` for ``extra``, e.g. ``pip install 'snpe-tools[tflite]' (tflite==2.18.0, ...)``."""
    root = source_tree()
    target = f"pip install -e {shlex.quote(f'{root}[{extra}]')}" if root else f"pip install 'snpe-tools[{extra}]'"
    pins = EXTRA_PINS.get(extra)
    return f"{target} ({pins})" if pins else target

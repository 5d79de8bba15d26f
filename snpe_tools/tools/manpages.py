"""Man pages (section 1) of every tool, generated from its argparse parser with argparse-manpage.

``setup.py`` calls :func:`write_man_pages` while the package is built, and installs the pages into
``share/man/man1`` (``man snpe-onnx-to-dlc`` after ``pip install``).  The pages are never written by hand,
so they cannot drift from ``--help``."""
from __future__ import annotations

import os

from .. import __version__
from .catalog import tools

MANUAL = "snpe-tools manual"


def render(tool) -> str:
    """The roff text of ``tool``'s man page."""
    from argparse_manpage.manpage import Manpage

    page = Manpage(tool.parser(), _data={"project_name": "snpe-tools", "version": __version__,
                                         "manual_title": MANUAL, "manual_section": 1,
                                         "description": tool.summary()})
    # a text line starting with ' is a roff control line (e.g. help text "'MIN,MAX' ..."): escape it
    return "\n".join("\\&" + ln if ln.startswith("'") else ln for ln in str(page).split("\n"))


def write_man_pages(folder: str, setup_cfg: str | None = None) -> list[str]:
    """Write ``<tool>.1`` for every tool into ``folder``; returns the paths written."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for tool in tools(setup_cfg):
        path = os.path.join(folder, f"{tool.name}.1")
        text = render(tool)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths

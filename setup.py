"""Build script; metadata lives in setup.cfg.  The one addition: man pages.

While the package is built, every tool's man page is generated from its argparse parser with
argparse-manpage (snpe_tools/tools/manpages.py) into build/man/, and installed into share/man/man1,
so that ``man snpe-onnx-to-dlc`` works after ``pip install``."""
import configparser
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
MAN_DIR = os.path.join("build", "man")


def _tool_names():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(HERE, "setup.cfg"), encoding="utf-8")
    lines = cfg.get("options.entry_points", "console_scripts").splitlines()
    return sorted(line.split("=", 1)[0].strip() for line in lines if "=" in line)


class BuildWithManPages(build_py):
    """build_py, then the man pages (imports the package from this source tree)."""

    def run(self):
        super().run()
        sys.path.insert(0, HERE)
        try:
            from snpe_tools.tools.manpages import write_man_pages
        finally:
            sys.path.remove(HERE)
        for path in write_man_pages(os.path.join(HERE, MAN_DIR), os.path.join(HERE, "setup.cfg")):
            print(f"generated man page {os.path.relpath(path, HERE)}")


setup(
    cmdclass={"build_py": BuildWithManPages},
    data_files=[("share/man/man1", [os.path.join(MAN_DIR, f"{name}.1") for name in _tool_names()])],
)

"""Behaviour shared by every command-line tool: SNPE-style logging, errors and exit codes.

Log lines look like SNPE's: ``2021-10-07 03:37:16,403 - 199 - INFO - INFO_DLC_SAVE_LOCATION: ...``.
User errors print one line and exit 1 with no traceback (the traceback appears with --debug).
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from ..errors import SnpeToolsError

LOG = logging.getLogger("snpe_tools")
DEBUG_LEVELS = {0: logging.DEBUG, 1: 13, 2: 12, 3: 11}
for _lvl, _name in ((13, "DEBUG_1"), (12, "DEBUG_2"), (11, "DEBUG_3")):
    logging.addLevelName(_lvl, _name)


def setup_logging(debug: int | None) -> None:
    level = logging.INFO if debug is None or debug < 0 else DEBUG_LEVELS.get(debug, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(lineno)d - %(levelname)s - %(message)s"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(level)
    LOG.propagate = False


class ArgumentParser(argparse.ArgumentParser):
    """argparse with SNPE's 'required arguments' / 'optional arguments' grouping."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.required = self.add_argument_group("required arguments")
        self.optional = self.add_argument_group("optional arguments")


def _one_line(text: str) -> str:
    """Errors are one line even when they quote damaged data."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0")


def run_main(fn: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call a tool's main; turn user errors into one line + exit 1, never a traceback unless --debug."""
    args = sys.argv[1:] if argv is None else argv
    probe = argparse.ArgumentParser(add_help=False, allow_abbrev=True)
    probe.add_argument("--debug", nargs="?", const="0", default=None)
    try:
        debug = probe.parse_known_args(args)[0].debug is not None
    except SystemExit:
        debug = False
    try:
        return fn(argv)
    except SnpeToolsError as exc:
        if debug:
            LOG.exception("Encountered Error: %s", exc)
        else:
            print(f"ERROR - {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ERROR - interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal bug: still one line unless --debug
        if debug:
            LOG.exception("Encountered Error: %s", exc)
        else:
            print(f"ERROR - Encountered Error: {type(exc).__name__}: {_one_line(str(exc))} "
                  "(re-run with --debug for the stack trace and report it as a bug)", file=sys.stderr)
        return 1

"""Behaviour shared by every command-line tool: SNPE-style logging, errors and exit codes.

Log lines look like SNPE's: ``2021-10-07 03:37:16,403 - 199 - INFO - INFO_DLC_SAVE_LOCATION: ...``.
User errors print one line and exit 1 with no traceback (the traceback appears with --debug); a bad
command line is one line too (exit 2).  SIGTERM, SIGHUP and SIGINT raise :class:`~snpe_tools.errors.Interrupted`
/ KeyboardInterrupt so that temporary files are removed before the exit (143, 129, 130); a closed pipe
on stdout (``| head``) ends the tool quietly with exit 141, as other command-line tools do.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import stat
import sys
from typing import Callable, Iterable

from ..errors import Interrupted, OutputError, SnpeToolsError, file_kind, os_error_reason

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
    """argparse with SNPE's 'required arguments' / 'optional arguments' grouping.

    Two changes to argparse's behaviour: a value that starts with a negative number (``-d x -1,3,8,8``)
    is a value, not an unknown option, so the tool's own check reports it; and a usage error is one
    line naming the problem and ``--help`` instead of a usage dump.  Every tool also gets ``--version``
    (added when the parser is used, so that a tool with a version flag of its own keeps it)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        # argparse's own pattern is r'^-\d+$|^-\d*\.\d+$'; no option of ours looks like a number
        self._negative_number_matcher = re.compile(r"^-\.?\d[\d.,\s-]*$")
        self.required = self.add_argument_group("required arguments")
        self.optional = self.add_argument_group("optional arguments")

    def ensure_version(self) -> "ArgumentParser":
        """Add ``--version`` (``<prog> (snpe-tools) <version>``) unless the tool defines its own."""
        if "--version" not in self._option_string_actions:
            from .. import __version__

            self.optional.add_argument("--version", action="version", version=f"%(prog)s (snpe-tools) {__version__}",
                                       help="Print the version and exit.")
        return self

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.ensure_version()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.ensure_version()
        return super().format_help()

    def error(self, message: str):  # type: ignore[override]
        hint = f"see {self.prog} --help"
        m = re.match(r"argument (\S+): expected", message)
        if m:
            for action in self._actions:
                if "/".join(action.option_strings) == m.group(1) and isinstance(action.metavar, tuple):
                    hint = f"give {action.option_strings[0]} {' '.join(action.metavar)}; {hint}"
        self.exit(2, f"ERROR - {self.prog}: {_one_line(message)} ({hint})\n")


def _one_line(text: str) -> str:
    """Errors are one line even when they quote damaged data."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0")


# ---- input and output paths ----------------------------------------------------------------
def check_input_file(path: str, flag: str, what: str = "input model", allow_dir: bool = False,
                     error: type[SnpeToolsError] = SnpeToolsError) -> None:
    """An input must be a regular file (or, with ``allow_dir``, a directory): checked with ``os.stat``
    before anything opens it, so a FIFO cannot hang the tool and ``/dev/zero`` cannot fill the memory."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{what} file not found: {path} (check {flag})") from None
    except (OSError, ValueError) as exc:
        raise error(f"{flag} {path}: cannot read it ({os_error_reason(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        if allow_dir:
            return
        raise error(f"{flag} {path} is a directory; give the path of the {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{flag} {path} is {file_kind(st.st_mode)}, not a regular file; give the path of the {what} file")


def check_not_input(out: str, inputs: Iterable[str | None], flag: str, what: str = "the input model") -> None:
    """Refuse an output path that is (or links to) one of the inputs: writing it would destroy the input."""
    for src in inputs:
        if not src:
            continue
        try:
            same = os.path.samefile(src, out)
        except (OSError, ValueError):
            same = False
        if same or os.path.abspath(src) == os.path.abspath(out):
            raise OutputError(f"{flag} {out} is the same file as {what} {src}; writing it would destroy "
                              "the input: choose another output path")


# ---- running a tool ---------------------------------------------------------------------------
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _on_signal(signum, frame) -> None:
    """Raise in the main thread so that every ``finally``/``except BaseException`` cleanup runs; further
    signals are ignored meanwhile so that the cleanup itself is not cut short (SIGKILL still works)."""
    for s in _SIGNALS + (signal.SIGINT,):
        signal.signal(s, signal.SIG_IGN)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


def _install_signal_handlers() -> dict:
    old = {}
    for s in _SIGNALS + (signal.SIGINT,):
        try:
            if signal.getsignal(s) is signal.SIG_IGN and s != signal.SIGINT:
                continue        # nohup: SIGHUP stays ignored
            old[s] = signal.signal(s, _on_signal)
        except (ValueError, OSError):     # not the main thread: leave the handlers alone
            pass
    return old


def _restore_signal_handlers(old: dict) -> None:
    for s, h in old.items():
        try:
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def run_main(fn: Callable[[list[str] | None], int], argv: list[str] | None = None,
             debug_traces: bool = True) -> int:
    """Call a tool's main; turn user errors into one line + exit 1, never a traceback unless --debug
    (``debug_traces=False``: the tool's --debug means something else, e.g. snpe-net-run's layer dump)."""
    args = sys.argv[1:] if argv is None else argv
    probe = argparse.ArgumentParser(add_help=False, allow_abbrev=True)
    probe.add_argument("--debug", nargs="?", const="0", default=None)
    try:
        debug = debug_traces and probe.parse_known_args(args)[0].debug is not None
    except SystemExit:
        debug = False
    old_handlers = _install_signal_handlers()
    try:
        rc = fn(argv)
        if sys.stdout is not None:
            sys.stdout.flush()      # a closed pipe shows here, not in the interpreter's exit
        return rc
    except BrokenPipeError:
        _quiet_stdout()
        return 141                  # 128 + SIGPIPE, as a tool killed by the closed pipe
    except SnpeToolsError as exc:
        if debug:
            LOG.exception("Encountered Error: %s", exc)
        else:
            print(f"ERROR - {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        name = signal.Signals(exc.signum).name
        print(f"ERROR - stopped by {name}; temporary files were removed, earlier outputs are intact",
              file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("ERROR - interrupted; temporary files were removed, earlier outputs are intact", file=sys.stderr)
        return 130
    except OSError as exc:      # the environment, not a bug: stdout on a full disk, a file vanished ...
        if debug:
            LOG.exception("Encountered Error: %s", exc)
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError:
            _quiet_stdout()
        where = f"{exc.filename}" if exc.filename else "cannot write the output"
        print(f"ERROR - {_one_line(str(where))}: {_one_line(os_error_reason(exc))}", file=sys.stderr)
        return 1
    except MemoryError:
        print("ERROR - out of memory: the model or input is too large for this machine's memory",
              file=sys.stderr)
        return 1
    except Exception as exc:  # an internal bug: still one line unless --debug
        if debug:
            LOG.exception("Encountered Error: %s", exc)
        else:
            print(f"ERROR - Encountered Error: {type(exc).__name__}: {_one_line(str(exc))} "
                  "(re-run with --debug for the stack trace and report it as a bug)", file=sys.stderr)
        return 1
    finally:
        _restore_signal_handlers(old_handlers)

"""User-facing error types.

Every error a user can cause (bad file, bad flag, unsupported op) is raised as a
:class:`SnpeToolsError` subclass; the command-line entry points print its message as
one line and exit non-zero, so a Makefile sees a clean failure instead of a traceback.
"""


class SnpeToolsError(Exception):
    """Base class for errors that are reported to the user as one line."""


class ConversionError(SnpeToolsError):
    """The source model cannot be converted as asked."""


class UnsupportedOpError(ConversionError):
    """One or more source ops have no translation."""


class DLCError(SnpeToolsError):
    """A DLC file is missing, truncated, corrupt or not a DLC at all."""


class RuntimeInputError(SnpeToolsError):
    """Input data given to the reference runtime does not fit the model."""


class OutputError(SnpeToolsError):
    """An output path cannot be written: it is the input itself, not a regular file, in a missing or
    read-only folder, or the disk is full.  Nothing was written or replaced."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP arrived: raised by the tools' signal handler so that every ``finally`` and
    ``except BaseException`` cleanup (temporary files, staging folders) runs before the exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_FIXES = {
    "ENOSPC": "the disk is full: free some space or write to another disk",
    "EDQUOT": "the disk quota is exceeded: free some space or write to another disk",
    "EFBIG": "the file is too large for this file system or for the file-size limit (ulimit -f): "
             "write to a file system that allows larger files",
    "EROFS": "the file system is read-only: write to a writable folder",
    "EACCES": "permission denied: write to a folder you can write to",
    "EPERM": "operation not permitted: write to a folder you can write to",
    "ENOTDIR": "a part of the path is a file, not a folder: fix the path",
    "EISDIR": "it is a directory: give a file name",
    "ENOENT": "the folder does not exist: create it first",
    "ENAMETOOLONG": "the file name is too long: use a shorter path",
    "ELOOP": "too many levels of symbolic links: fix the path",
    "EIO": "input/output error on the device: check the disk",
    "EXDEV": "the temporary file and the target are on different file systems",
}


def file_kind(mode: int) -> str:
    """'a character device', 'a named pipe (FIFO)' ... for an ``os.stat`` mode that is not a regular file."""
    import stat

    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def os_error_reason(exc: BaseException) -> str:
    """A short reason and fix for an :class:`OSError` a user can cause (disk full, read-only, ...)."""
    import errno

    code = getattr(exc, "errno", None)
    name = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    if name in _FIXES:
        return _FIXES[name]
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__

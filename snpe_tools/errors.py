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

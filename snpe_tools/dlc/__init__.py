"""DLC v4 container: reader, writer, metadata (format described in docs/dlc-format.rst)."""
from .metadata import Metadata
from .reader import DLC, read_dlc
from .writer import write_dlc

__all__ = ["DLC", "Metadata", "read_dlc", "write_dlc"]

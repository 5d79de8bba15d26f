"""Reference runtime (numpy) behind snpe-net-run."""
from .executor import execute

__all__ = ["execute"]

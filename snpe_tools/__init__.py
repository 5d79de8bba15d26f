"""snpe-tools: open-source drop-in replacements for Qualcomm SNPE model-conversion tools."""

__version__ = "0.1.0"

# composition root: importing the op definitions binds their registry to the IR (ir.graph.bind_op_schemas),
# so every Graph can infer op shapes whichever layer built it
from . import ops as _ops  # noqa: E402,F401

__all__ = ["__version__", "convert", "load_dlc", "run"]


def __getattr__(name: str):
    """The API (snpe_tools.api) loads on first use, so that ``import snpe_tools`` stays light for the tools."""
    if name in ("convert", "load_dlc", "run"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'snpe_tools' has no attribute '{name}'")

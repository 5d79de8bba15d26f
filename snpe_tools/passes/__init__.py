"""IR passes, registered by name (see :mod:`snpe_tools.passes.registry`)."""
from .registry import LEGACY_PIPELINE, get_pass, legacy_pipeline, register_pass, run_pipeline

__all__ = ["LEGACY_PIPELINE", "get_pass", "legacy_pipeline", "register_pass", "run_pipeline"]

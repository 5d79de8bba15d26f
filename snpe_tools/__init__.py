"""snpe-tools: open-source drop-in replacements for Qualcomm SNPE model-conversion tools."""

__version__ = "0.1.0"

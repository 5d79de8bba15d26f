"""QNN op definitions: one registry (see :mod:`snpe_tools.ops.registry`)."""
from .registry import OpDef, Param, all_op_types, get_op_def, register

__all__ = ["OpDef", "Param", "all_op_types", "get_op_def", "register"]

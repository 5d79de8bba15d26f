"""QNN op definitions: one registry (see :mod:`snpe_tools.ops.registry`)."""
from ..ir.graph import bind_op_schemas
from .registry import OpDef, Param, all_op_types, get_op_def, register

bind_op_schemas(get_op_def)     # Graph.add_op infers shapes through this registry (the IR does not import ops)

__all__ = ["OpDef", "Param", "all_op_types", "get_op_def", "register"]

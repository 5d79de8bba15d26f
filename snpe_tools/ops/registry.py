"""The op registry: one :class:`OpDef` subclass per QNN op type.

An OpDef holds the op's whole story in one place:

* ``type``    - the QNN op type name (also the DLC node ``type`` string);
* ``params``  - QNN parameter names with their QNN dtype, scalar-or-tensor kind and
  default; the DLC writer/reader encode attributes from this table alone;
* ``infer``   - the shape/dtype rule;
* ``compute`` - the numpy reference kernel, in QNN semantics (channel-last
  activations, HWIO weights ...);
* ``macs``    - multiply-accumulate count reported by snpe-dlc-info.

Frontends map framework ops onto these types; nothing else invents op types.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..ir import dtypes as qd
from ..ir.graph import Op, Tensor

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """Declaration of one QNN parameter."""

    dtype: int                    # QNN data type code of the value
    tensor: bool = False          # True: stored as a static param tensor; False: scalar
    default: Any = REQUIRED
    internal: bool = False        # kept in the IR only (e.g. Reshape's target shape): not a QNN param

    def normalise(self, value: Any) -> Any:
        if self.tensor:
            return np.asarray(value, dtype=qd.to_numpy(self.dtype))
        if self.dtype == qd.FLOAT_32:
            return float(value)
        if self.dtype == qd.BOOL_8:
            return bool(value)
        if self.dtype == qd.STRING:
            return str(value)
        return int(value)


Spec = tuple[Sequence[int], Any]   # (shape, dtype) of one output


class OpDef:
    """Base class for op definitions; subclasses are registered with :func:`register`."""

    type: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    # fixed-point runtime: True when the op averages stored integers, so a quantized output rounds its
    # ties away from the stored zero rather than the real zero (see runtime/fixed_point.py)
    rounds_stored_values: ClassVar[bool] = False

    def num_outputs(self, params: dict[str, Any], n_inputs: int) -> int:
        return 1

    def complete_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults, normalise dtypes, and reject names QNN does not define for this op."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"{self.type}: unknown parameter(s) {sorted(unknown)}")
        out: dict[str, Any] = {}
        for name, p in self.params.items():
            if name in params:
                out[name] = p.normalise(params[name])
            elif p.default is REQUIRED:
                raise ValueError(f"{self.type}: missing required parameter '{name}'")
            elif p.default is not None:
                out[name] = p.normalise(p.default)
        return out

    def infer(self, op: Op, ins: list[Tensor | None]) -> list[Spec]:
        """Output (shape, dtype) list.  Default: same as the first input."""
        return [(ins[0].shape, ins[0].dtype)]

    def compute(self, op: Op, xs: list[np.ndarray | None]) -> list[np.ndarray]:
        raise NotImplementedError(self.type)

    def macs(self, op: Op, ins: list[Tensor | None], outs: list[Tensor]) -> int:
        return 0

    def restore_params(self, op: Op, ins: list[Tensor | None], outs: list[Tensor]) -> None:
        """Rebuild internal params after reading a DLC (they are not stored there)."""


_REGISTRY: dict[str, OpDef] = {}


def register(cls: type[OpDef]) -> type[OpDef]:
    """Class decorator: make an OpDef available under its QNN type name."""
    if not cls.type:
        raise TypeError(f"{cls.__name__} has no QNN type")
    if cls.type in _REGISTRY:
        raise TypeError(f"op type {cls.type} registered twice")
    _REGISTRY[cls.type] = cls()
    return cls


def get_op_def(type_: str) -> OpDef:
    _load_all()
    try:
        return _REGISTRY[type_]
    except KeyError as exc:
        raise KeyError(f"no op definition for QNN type '{type_}'") from exc


def all_op_types() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


_LOADED = False


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import _all  # noqa: F401  (imports every op family module)


# ---- helpers shared by op families -----------------------------------------------------
def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))


def u32(*vals: int) -> np.ndarray:
    return np.asarray(vals, dtype=np.uint32)

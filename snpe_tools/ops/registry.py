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
class DlcAttr:
    """A fixed attribute that the DLC form of an op carries (e.g. ``operation`` of ``Eltwise_Binary``)."""

    name: str
    dtype: int                    # QNN data type code (strings: UNDEFINED, as 2.25 writes them)
    value: Any
    flag: int                     # 1 QNN parameter, 2 IR-internal attribute


@dataclass(frozen=True)
class Param:
    """Declaration of one QNN parameter."""

    dtype: int                    # QNN data type code of the value
    tensor: bool = False          # True: stored as a static param tensor; False: scalar
    default: Any = REQUIRED
    internal: bool = False        # not a QNN parameter (e.g. Reshape's target shape)
    ir_attr: bool = False         # internal, yet carried in the DLC as an IR attribute (attribute flag 2),
                                  # as Qualcomm's converter does for e.g. Reshape ``shape`` or Lstm ``hidden_size``
    write_default: bool = True    # False: left out of the DLC when equal to the default (a parameter newer
                                  # than QAIRT 2.25, e.g. TopK ``largest``, so that 2.25 never sees it)

    @property
    def dlc_flag(self) -> int | None:
        """DLC attribute flag: 1 = QNN parameter (handed to the backend), 2 = IR-internal, None = not stored."""
        if not self.internal:
            return 1
        return 2 if self.ir_attr else None

    def normalise(self, value: Any) -> Any:
        if self.tensor:
            return np.asarray(value, dtype=qd.to_numpy(self.dtype))
        if self.dtype == qd.FLOAT_32:
            return float(value)
        if self.dtype == qd.BOOL_8:
            return bool(value)
        if self.dtype in (qd.STRING, qd.UNDEFINED):    # DLC strings carry the UNDEFINED kind
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
    # quantizer: outputs that hold indices or counts (class ids), integer-valued whatever the inputs; and
    # whether integer-valued inputs give integer-valued outputs (add, multiply, max ...).  Such tensors get
    # an integer grid (scale 1) when their range fits, so that class ids survive quantization exactly.
    index_outputs: ClassVar[tuple[int, ...]] = ()
    keeps_integers: ClassVar[bool] = False
    # DLC form (what Qualcomm's 2.25 converter writes, see docs/dlc-format.rst): the node type string when
    # it differs from ``type`` (e.g. "Pool", "Eltwise_Binary"), and the fixed attributes that select this
    # op within that type (e.g. pool_type="PoolMax2d").  The DLC reader inverts this table.
    dlc_type: ClassVar[str] = ""
    dlc_selector: ClassVar[tuple[DlcAttr, ...]] = ()
    # Axis formats of static weight inputs (input index -> (format, format in a channel-first source)),
    # e.g. Conv2d weights are HWIO, converted from ONNX OIHW.  Other static tensors are ANY.
    weight_axis_formats: ClassVar[dict[int, tuple[str, str]]] = {}
    # Index of the bias input of ops that take one (convolutions, FullyConnected): the DLC names it in
    # the IR attribute ``bias_op_name`` and, like Qualcomm's converter, gives a float op without a bias
    # an all-zero one (named ``<node>_bias``), so that the QNN graph has the same inputs.
    dlc_bias_input: ClassVar[int | None] = None

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

    # True when Qualcomm's 2.25 reader knows no type string for this op: the DLC writer then calls
    # :meth:`lower_for_dlc` to replace it by exactly equivalent ops it does know.
    lowers_for_dlc: ClassVar[bool] = False

    def lower_for_dlc(self, graph: Any, op: Op) -> None:
        """Replace ``op`` in ``graph`` by equivalent ops (same output tensor names); see ``lowers_for_dlc``."""
        raise NotImplementedError(self.type)

    def restore_params(self, op: Op, ins: list[Tensor | None], outs: list[Tensor]) -> None:
        """Rebuild internal params after reading a DLC (they are not stored there)."""

    def resize_params(self, op: Op, old_in_shapes: list[tuple[int, ...] | None], ins: list[Tensor | None]) -> None:
        """Adapt shape-holding params when the network is resized at load (snpe-net-run --input_dimensions):
        called before :meth:`infer` with the input shapes the DLC was built for.  Default: nothing to adapt."""


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

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
    # ties away from the stored zero rather than the real zero (see ops/fixed_point.py)
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

    # ---- traits read by the passes, the quantizer and the runtime (docs/architecture.rst lists them) ----
    # quantizer: index of the weight input (an integer kernel multiplies it with the activation), and which
    # per-axis quantization applies to it: "channel" (--per_channel: the convolution family) or "row"
    # (per-row: FullyConnected, MatMul); the axis is :meth:`weight_output_axis`.
    weight_input: ClassVar[int | None] = None
    weight_quant_axis: ClassVar[str] = ""
    # quantizer: every output value is a value of input 0 (Reshape, Transpose, max pooling, gathers ...),
    # so the output takes input 0's encoding and the op moves stored integers unchanged.  ``joins_inputs``:
    # every output value is a value of one of the inputs (Concat), invariant when they share one encoding.
    data_invariant: ClassVar[bool] = False
    joins_inputs: ClassVar[bool] = False
    # quantizer: an activation that clamps (Relu, ReluMinMax) whose producer, when the activation is its only
    # consumer, is quantized with the activation's output range (Conv+Relu as one group, as AIMET's configs
    # and onnxruntime's quantizer do, and as Qualcomm's QDQ import absorbs a Relu): the producer's saturation
    # then does the clamping, and its grid is not spent on values the activation discards
    fuses_into_producer: ClassVar[bool] = False
    # fixed-point runtime: the output is an integer accumulator sum(x_q * w_q) of inputs 0 and 1 (+ the
    # bias at the same scale), output channels on the last axis, requantized from the exact accumulator
    # as integer kernels do it (see ops/fixed_point.py)
    integer_accumulator: ClassVar[bool] = False
    # strip_encodings pass: the kernel is the identity on real values; the op only changes how they are
    # stored (float / fixed point, encoding), so between two float tensors it is a no-op
    converts_storage: ClassVar[bool] = False
    # layout rewrite (passes/layout.py): how a Transpose in front of the op sinks through it.
    # "" it cannot (layout-sensitive op); "all_inputs": every data input is permuted alike (elementwise
    # ops, Concat; static inputs are pre-transposed); "first_input": input 0 is the data, the others are
    # not permuted.  :meth:`permute_axes` remaps the op's axis parameters.
    layout_agnostic: ClassVar[str] = ""
    # cross-layer equalization (quantization/cle.py): the weight axis holding the input channels when the
    # op is the second of an equalized pair (None: the op takes no part in CLE)
    equalization_input_axis: ClassVar[int | None] = None
    # fold_batchnorm pass: a Batchnorm right after the op folds into its weights (:meth:`scale_output_channels`)
    folds_batchnorm: ClassVar[bool] = False

    @property
    def bias_input(self) -> int | None:
        """Index of the bias input, added at the accumulator's scale (the quantizer gives a 32-bit bias the
        input x weight scale): ``dlc_bias_input`` unless an op's DLC form names no bias."""
        return self.dlc_bias_input

    def weight_output_axis(self, op: Op, rank: int) -> int | None:
        """Axis of the weight input (of rank ``rank``) holding the output channels (rows), along which
        per-axis weight encodings run: by default the ``O`` of the declared weight layout."""
        fmts = self.weight_axis_formats.get(self.weight_input) if self.weight_input is not None else None
        if fmts and len(fmts[0]) == rank and "O" in fmts[0]:
            return fmts[0].index("O")
        return None

    def permute_axes(self, op: Op, perm: list[int], ins: list[Tensor | None]) -> list[int] | None:
        """Layout rewrite: input 0 (all data inputs with ``layout_agnostic == "all_inputs"``) is about to be
        read in the order before the Transpose ``perm``; rewrite the op's axis parameters in place for it and
        return the permutation that turns each output back into what it was (None: the op cannot take the
        permuted input, nothing was changed).  Default: parameters hold no axes, outputs move like input 0."""
        return list(perm)

    def scale_output_channels(self, op: Op, w: np.ndarray, s: np.ndarray) -> np.ndarray:
        """fold_batchnorm: the weights ``w`` with output channel ``c`` multiplied by ``s[c]``."""
        raise NotImplementedError(self.type)

    def is_identity(self, op: Op, ins: list[Tensor | None], outs: list[Tensor]) -> bool:
        """remove_identities: True when the op's output is input 0 unchanged (same shape, dtype and values)."""
        return False

    def absorb_zero_pad(self, op: Op, pad_amount: np.ndarray) -> bool:
        """squash_pad: take a zero constant Pad of input 0 (``pad_amount`` [rank, 2]) into the op's own padding;
        False (nothing changed) when the op cannot."""
        return False

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


# ---- validation shared by shape rules ---------------------------------------------------
# A model or DLC is untrusted: a shape rule refuses every parameter value its kernel cannot compute
# (``Graph.add_op`` turns the ValueError into a one-line ConversionError), so that nothing is accepted and
# then crashes in the kernel or silently computes something else.
def check_enum(op: Op, name: str, values: dict[int, str]) -> int:
    """The enum parameter ``name`` of ``op``, refused unless it is one of ``values`` (code -> QNN name)."""
    value = op.params[name]
    if value not in values:
        supported = ", ".join(f"{code} {label}" for code, label in values.items())
        raise ValueError(f"{op.type} {op.name}: {name} {value} is not supported (supported: {supported})")
    return int(value)


def check_axis(op: Op, name: str, rank: int, negative: bool = False) -> int:
    """The axis parameter ``name`` of ``op`` as an index in ``[0, rank)``; refused when out of range.
    ``negative``: the parameter is signed (QNN INT_32) and ``-rank .. -1`` count from the end."""
    axis = int(op.params[name])
    low = -rank if negative else 0
    if not low <= axis < rank:
        raise ValueError(f"{op.type} {op.name}: {name} {axis} is out of range for rank {rank} "
                         f"(supported: {low} .. {rank - 1})")
    return axis % rank


def check_axes(op: Op, name: str, rank: int) -> tuple[int, ...]:
    """The axes parameter ``name`` of ``op``: distinct indices in ``[0, rank)``; refused otherwise."""
    axes = tuple(int(a) for a in np.asarray(op.params[name]).reshape(-1))
    if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"{op.type} {op.name}: {name} {list(axes)} out of range or repeated for rank {rank} "
                         f"(supported: distinct axes in 0 .. {rank - 1})")
    return axes


# ---- helpers shared by op families -----------------------------------------------------
def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))


def u32(*vals: int) -> np.ndarray:
    return np.asarray(vals, dtype=np.uint32)


def permuted(values: Sequence[Any], perm: Sequence[int]) -> list[Any]:
    """Per-axis values (multiples, pad amounts, slice ranges) moved with their axes: entry ``i`` of the
    Transpose ``perm``'s output is entry ``perm[i]`` of its input (for :meth:`OpDef.permute_axes`)."""
    out: list[Any] = [None] * len(perm)
    for i, p in enumerate(perm):
        out[int(p)] = values[i]
    return out


def kept_axes_perm(perm: Sequence[int], dropped: Sequence[int]) -> list[int]:
    """Output permutation of an op that drops axes ``dropped`` (of the Transpose's output) from an input read
    before the Transpose ``perm``: the order of the remaining axes among themselves."""
    kept = [int(perm[i]) for i in range(len(perm)) if i not in set(dropped)]
    remaining = sorted(kept)
    return [remaining.index(k) for k in kept]


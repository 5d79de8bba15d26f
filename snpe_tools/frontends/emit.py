"""IR-emitting helpers shared by every frontend (ONNX, TorchScript, ...).

Source frameworks that are channel-first (ONNX, PyTorch) emit layout-sensitive ops as
``Transpose(to channel-last) -> QNN op -> Transpose(back)``; the ``spatial_first_layout`` pass
removes those Transposes wherever the layout propagates.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import axis_format as af
from ..ir import dtypes as qd
from ..ir.graph import Graph


class EmitMixin:
    """Needs ``self.graph``; gives frontends one way to add ops, constants and layout wrappers."""

    graph: Graph

    def default_format(self, rank: int) -> str:
        """Axis format of a new op output of this rank: the source framework's order (channel-first here)."""
        return af.onnx_default(rank)

    def emit(self, type_: str, inputs: list[str], outputs: list[str] | None = None,
             params: dict[str, Any] | None = None, name: str | None = None,
             fmt: str | None = None) -> list[str]:
        """Add a QNN op; outputs get the source framework's default format of their rank unless ``fmt``."""
        op = self.graph.add_op(type_, inputs, outputs, params, name=name)
        for o in op.outputs:
            t = self.graph.tensors[o]
            t.axis_format = fmt or self.default_format(t.rank)
        return op.outputs

    def transpose(self, x: str, perm: tuple[int, ...], out: str | None = None, fmt: str | None = None) -> str:
        t = self.graph.tensors[x]
        out = out or self.graph.unique_name(f"{x}.t")
        return self.emit("Transpose", [x], [out], {"perm": list(perm)}, name=out,
                         fmt=fmt or af.permute_format(t.axis_format, perm))[0]

    def ir_to_channel_last(self, x: str) -> str:
        """Channel-last twin of IR tensor ``x`` (static data is transposed at convert time)."""
        t = self.graph.tensors[x]
        perm = af.spatial_first_perm(t.rank)
        if t.is_static:
            return self.graph.derived_const(x, "nhwc", np.ascontiguousarray(np.transpose(t.data, perm)))
        return self.transpose(x, perm)

    def from_channel_last(self, x: str, out: str) -> str:
        rank = self.graph.tensors[x].rank
        return self.transpose(x, af.channel_first_perm(rank), out=out, fmt=af.onnx_default(rank))

    def wrap_channel_last(self, type_: str, x_cl: str, out: str, params: dict[str, Any],
                          extra_inputs: list[str] | None = None, name: str | None = None) -> str:
        """Run a QNN op on channel-last ``x_cl`` and bring its output back to channel-first ``out``."""
        tmp = self.graph.derived_name(out, "nhwc")
        rank = self.graph.tensors[x_cl].rank
        fmt = af.TO_SPATIAL_FIRST.get(af.onnx_default(rank), (af.NONTRIVIAL,))[0]
        self.emit(type_, [x_cl] + list(extra_inputs or []), [tmp], params, name=name or out, fmt=fmt)
        return self.from_channel_last(tmp, out)

    def add_const(self, base: str, arr: np.ndarray) -> str:
        return self.graph.add_const(base, qd.narrow_array(arr))

    def derived_const(self, source: str, role: str, arr: np.ndarray) -> str:
        """Constant made from source tensor ``source`` (e.g. its weights re-laid out): named
        ``<source>.<role>`` and recorded as derived, so the DLC can give it ``source`` back
        (``restore_source_names``) when nothing else holds that name."""
        return self.graph.derived_const(source, role, qd.narrow_array(arr))

"""The front half every converter shares: checking the per-input flags against the model, declaring the
graph inputs, naming the outputs, the unsupported-op report and what ``--dry_run`` reports.

Each frontend reads its own file format and walks its own nodes; what happens *around* that walk is the
same for ONNX, TensorFlow, TFLite and TorchScript, and users see it the same way whatever the framework:

* :func:`check_input_names` -- every ``-d``/``--input_dtype``/``--input_layout``/``--input_type``/
  ``--input_encoding`` must name an input of the model (one line naming the nearest input otherwise).
  (TensorFlow and TorchScript *define* their inputs with ``-d``: their tools check the other flags
  against the ``-d`` names with the same function.)
* :func:`declare_input` -- a graph input with the DLC type of the model's type (64-bit narrowed,
  :mod:`snpe_tools.ir.dtypes`), the ``--input_dtype`` Cast recorded (``passes/input_cast.py``), the axis
  format ``--input_layout`` declares (else the framework's default) and ``--input_type``/``--input_encoding``.
* :func:`bind_output` -- the IR tensor that carries a source output gets the output's name (the
  ``--out_node`` name or the model's); an identity Reshape keeps a graph input or another output intact.
* :func:`unsupported_ops` -- one line: how many nodes, each unsupported op type with its count and first
  nodes, and the fix.
* :class:`OpSurvey` -- what ``--dry_run`` prints (``tools/dry_run.py`` is its one printer): the op-type
  census with each type's status, per-node details for ``--dry_run debug``, and the convertibility check.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from ..errors import ConversionError, UnsupportedOpError
from ..ir import axis_format as af
from ..ir import dtypes as qd
from ..ir.graph import Graph, InputInfo, Tensor
from ..passes.input_cast import model_input_dtype


class InputFlags(Protocol):
    """The per-input flag tables every converter's options carry (name -> value)."""

    input_dtypes: Mapping[str, str]
    input_layouts: Mapping[str, str]
    input_types: Mapping[str, str]
    input_encodings: Mapping[str, tuple[str, str]]


# the per-input tables and the flag users type, in the order they are checked
_FLAG_TABLES = (("input_dims", "-d/--input_dim"), ("input_layouts", "--input_layout"),
                ("input_types", "--input_type"), ("input_dtypes", "--input_dtype"),
                ("input_encodings", "--input_encoding"))


def closest(name: str, names: Sequence[str]) -> str:
    """The name of ``names`` nearest to ``name`` (for "did you mean" in one-line errors); '' when empty."""
    near = difflib.get_close_matches(name, list(names), n=1, cutoff=0.0)
    return near[0] if near else ""


def check_input_names(opts: Any, inputs: Sequence[str], named_with: str | None = None) -> None:
    """Every name given to a per-input flag (``opts.input_dims``, ``input_layouts``, ``input_types``,
    ``input_dtypes``, ``input_encodings``) must be one of the model's ``inputs``; otherwise one
    ConversionError naming the flag, the inputs and the nearest one.  ``named_with``: the flag that
    defines the inputs when the model does not (``-d`` for TensorFlow and TorchScript)."""
    what = f"one of the inputs named with {named_with}: " if named_with else "an input of the model; model inputs: "
    for attr, flag in _FLAG_TABLES:
        for given in getattr(opts, attr, None) or {}:
            if given not in inputs:
                raise ConversionError(f"input '{given}' given on the command line ({flag}) is not "
                                      f"{what}{', '.join(inputs) or '(none)'}"
                                      + (f" (closest: {closest(given, inputs)})" if inputs else ""))


_FROM_FLAGS: Any = object()


def declare_input(graph: Graph, flags: InputFlags, name: str, shape: Sequence[int], model_dtype: Any,
                  default_format: str, *, lookup: Sequence[str] | None = None,
                  requested: str | None = _FROM_FLAGS) -> Tensor:
    """Add graph input ``name`` as the per-input flags ask; returns its IR tensor.

    ``model_dtype`` is the type the model reads (numpy; narrowed here: int64 data is int32 in a DLC).
    ``--input_dtype`` naming another type records a Cast (the DLC input takes that type, the model keeps
    its own), as SNPE does.  ``lookup`` lists the names the flags may use for this input (first found
    wins; default ``[name]``: TensorFlow accepts ``x`` and ``x:0``).  ``requested`` overrides the
    ``--input_dtype`` lookup (TFLite, whose quantized inputs handle that flag themselves).
    """
    keys = list(lookup or [name])

    def flag(table: Mapping[str, Any], default: Any) -> Any:
        return next((table[k] for k in keys if k in table), default)

    want = flag(flags.input_dtypes, None) if requested is _FROM_FLAGS else requested
    dtype, cast_from = model_input_dtype(want, qd.narrow(model_dtype))  # another --input_dtype: a Cast
    fmt = af.LAYOUT_NAMES.get(flag(flags.input_layouts, ""), default_format)
    enc_in, enc_out = flag(flags.input_encodings, ("bgr", "bgr"))
    info = InputInfo(flag(flags.input_types, "default"), enc_in, enc_out, cast_from)
    return graph.add_input(name, shape, dtype, fmt, info)


def bind_output(graph: Graph, src: str, name: str, keep: Iterable[str] = ()) -> str:
    """Make IR tensor ``src`` the graph output called ``name``; returns the IR name of that output.

    ``src`` is renamed to ``name`` unless it must keep its own name: it is a graph input, it is in
    ``keep`` (other outputs), or ``name`` is already another tensor.  Then an identity Reshape named
    ``name`` (made unique if taken) copies it.  A caller that maps source names to IR names updates its
    table when the result is ``name`` and ``src`` is gone from ``graph.tensors`` (a rename).
    """
    if src == name:
        return name
    if name in graph.tensors or src in graph.inputs or src in keep:
        new = graph.unique_name(name) if name in graph.tensors else name
        graph.add_op("Reshape", [src], [new], {"shape": list(graph.tensors[src].shape)}, name=new)
        graph.tensors[new].axis_format = graph.tensors[src].axis_format
        return new
    graph.rename_tensor(src, name)
    return name


UNSUPPORTED_FIX = ("replace them in the source model; --dry_run lists which op types are supported and which "
                   "are not supported")


def unsupported_ops(missing: Mapping[str, Sequence[str]], *, unit: str = "node", hint: str = "",
                    prefix: str = "") -> UnsupportedOpError:
    """The one-line error for op types without a translation (raise it).

    ``missing`` maps each unsupported op type (as users know it: ``Det``, ``aten::unique``, ``MyOp
    (custom op)``) to the nodes that use it (names, output tensors or source lines; the first three are
    shown).  ``unit`` is what the framework calls a node, ``hint`` a framework-specific clause put before
    the fix (``-n`` left a constant subgraph unfolded ...), ``prefix`` an error code (``ERROR_TF_...: ``).
    """
    parts = [f"{t} x{len(n)} ({', '.join(n[:3])}{', ...' if len(n) > 3 else ''})" for t, n in sorted(missing.items())]
    total = sum(len(n) for n in missing.values())
    return UnsupportedOpError(f"{prefix}{total} {unit}(s) use op types the converter does not support: "
                              f"{'; '.join(parts)}{hint}; {UNSUPPORTED_FIX}")


@dataclass
class OpSurvey:
    """What ``--dry_run`` reports of a model, built by each frontend's ``survey()`` without converting.

    ``rows``: (op type, count, supported) in the order to print; ``details``: one line per node for
    ``--dry_run debug`` (may be empty at level info); ``notes``: lines printed after the table at every
    level; ``check``: raises the error the conversion would stop with (unsupported ops, ...) or returns.
    """

    rows: list[tuple[str, int, bool]]
    check: Callable[[], None]
    details: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    column: str = "Op type"

    @classmethod
    def from_census(cls, counts: Mapping[str, int], is_supported: Callable[[str], bool],
                    check: Callable[[], None], **kw: Any) -> "OpSurvey":
        """Rows sorted by op type from a census (op type -> count) and a per-type predicate."""
        return cls([(t, n, is_supported(t)) for t, n in sorted(counts.items())], check, **kw)

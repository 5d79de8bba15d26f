"""snpe-dlc-info: summarise a DLC the way SNPE 2.x does (layer table, inputs, totals, metadata).

The layout follows SNPE's tool so that scripts and people used to reading its output can
read ours: a framed layer table (one row per op, parameters on continuation rows), the
runtime key, an input table, then totals and the converter metadata.  ``-s`` writes the
layer table as CSV; ``-m`` adds a per-tensor memory listing.  Encodings are printed as SNPE 2.x prints
them (``<tensor> encoding:  bitwidth 8, min ..., max ..., scale ..., offset ...``; per-axis encodings as
``axis-quant: axis: A, num_elements: C``); ``-d`` also lists every channel of a per-axis encoding.
``-t`` (framework trace) is refused: no snpe-tools converter records one.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import zipfile
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from ..dlc import Metadata, read_dlc
from ..dlc.reader import Container
from ..dlc.v3 import V3Model, is_v3, read_v3
from ..dlc.writer import atomic_output, output_target
from ..errors import DLCError, SnpeToolsError
from ..ir import dtypes as qd
from ..ir.graph import Encoding, Graph, Tensor
from ..ops.registry import get_op_def
from .common import ArgumentParser, check_input_file, check_not_input, run_main

PROG = "snpe-dlc-info"
HEADER = ["Id", "Name", "Type", "Inputs", "Outputs", "Out Dims", "Runtimes", "Parameters"]
RUNTIMES = "A D G C"          # every op runs on every runtime as far as the DLC can tell
MAX_TENSOR_PARAM = 16         # longer tensor params are truncated with "..."
FOOTER = ("Note: The supported runtimes column assumes a processor target of Snapdragon 855\n"
          "Key : A:AIP\n"
          "      D:DSP\n"
          "      G:GPU\n"
          "      C:CPU")


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Print the layers, inputs and totals of a DLC file.")
    p.required.add_argument("-i", "--input_dlc", required=True, help="Path to the DLC file.")
    p.optional.add_argument("-s", "--save", metavar="CSV", help="Also write the layer table to this CSV file.")
    p.optional.add_argument("-m", "--memory", "--display_memory", action="store_true",
                            help="Also list the memory size of every tensor.")
    p.optional.add_argument("-d", "--display_all_encodings", action="store_true",
                            help="List every channel of per-axis (per-channel) encodings, not only their axis "
                            "and channel count.")
    p.optional.add_argument("-t", "--dump_framework_trace", action="store_true",
                            help="Not supported: snpe-tools converters record no framework trace "
                            "(Qualcomm's --enable_framework_trace records are undocumented).")
    return p


# ---- formatting helpers ------------------------------------------------------------------
def dtype_name(t: Tensor) -> str:
    """SNPE's data-type name (``Float_32`` ...) for a tensor."""
    return qd.name(qd.tensor_code(t.dtype, t.encoding))


def si(n: float) -> str:
    """``6912`` -> ``6.912k``: SNPE reports MAC counts with k/M/G suffixes (4 significant digits)."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.4g}{suffix}"
    return str(int(n))


def pct(part: float, total: float) -> str:
    """Share of a total as SNPE prints it (3 significant digits); 0% when the total is 0."""
    return f"{(100.0 * part / total) if total else 0.0:.3g}%"


def _value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v.item() if isinstance(v, np.generic) else v)


def param_text(name: str, value: Any) -> str:
    """``name: value`` for scalars, ``name: [a, b, ...]`` (flattened, truncated) for tensor params."""
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        items = [_value(x) for x in flat[:MAX_TENSOR_PARAM]]
        if flat.size > MAX_TENSOR_PARAM:
            items.append("...")
        return f"{name}: [{', '.join(items)}]"
    return f"{name}: {_value(value)}"


def _scale_offset_text(bitwidth: int, mn: float, mx: float, scale: float, offset: float) -> str:
    return (f"bitwidth {bitwidth}, min {mn:.12f}, max {mx:.12f}, "
            f"scale {scale:.12f}, offset {float(offset):.12f}")


def encoding_text(enc: Encoding) -> str:
    """SNPE 2.x's encoding text: scale/offset for a per-tensor encoding, ``axis-quant: axis: A,
    num_elements: C`` for a per-axis one (its channels are listed with -d/--display_all_encodings)."""
    if enc.axis is not None:
        return f"axis-quant: axis: {enc.axis}, num_elements: {len(enc.channels or [])}"
    return _scale_offset_text(enc.bitwidth, enc.min, enc.max, enc.scale, enc.offset)


def encoding_rows(name: str, enc: Encoding, all_encodings: bool) -> list[str]:
    """``<tensor> encoding:  ...`` and, with -d for a per-axis encoding, one row per channel."""
    rows = [f"{name} encoding:  {encoding_text(enc)}"]
    if all_encodings and enc.axis is not None:
        rows += [f"    [{i}] {_scale_offset_text(enc.bitwidth, mn, mx, sc, off)}"
                 for i, (sc, off, mn, mx) in enumerate(enc.channels or [])]
    return rows


def dims(shape: Iterable[int], sep: str) -> str:
    shape = list(shape)
    return sep.join(str(d) for d in shape) if shape else "scalar"


def nbytes(t: Tensor) -> int:
    """Bytes the tensor occupies at its stored dtype (what a runtime must allocate)."""
    return int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.dtype).itemsize


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """A dashed-rule framed table; each column is as wide as its longest cell plus one space."""
    widths = [max(len(r[c]) for r in [header] + rows) + 1 for c in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + "| ".join(c.ljust(w) for c, w in zip(cells, widths)) + "|"

    head = line(header)
    rule = "-" * len(head)
    return "\n".join([rule, head, rule] + [line(r) for r in rows] + [rule])


# ---- analysis ----------------------------------------------------------------------------
@dataclass
class OpStats:
    """Per-op numbers shown in the table and summed in the totals."""

    params: int      # static-weight elements read by the op
    macs: int


def op_stats(graph: Graph) -> list[OpStats]:
    """Weight elements and MACs of each op; MACs come from the op's registry entry (one rule per type)."""
    out = []
    for op in graph.ops:
        ins = [graph.tensors[i] if i else None for i in op.inputs]
        outs = [graph.tensors[o] for o in op.outputs]
        static = {t.name: t for t in ins if t is not None and t.is_static}
        n_params = sum(int(np.prod(t.shape, dtype=np.int64)) for t in static.values())
        out.append(OpStats(n_params, int(get_op_def(op.type).macs(op, ins, outs))))
    return out


def static_tensors(graph: Graph) -> dict[str, Tensor]:
    """Static tensors the ops read (each once, even when shared by several ops)."""
    return {i: graph.tensors[i] for op in graph.ops for i in op.inputs if i and graph.tensors[i].is_static}


def peak_activation_bytes(graph: Graph) -> int:
    """Peak of the summed sizes of live activations when the ops run one after another in order.

    A graph input is live from the start until its last consumer; an op output is live from
    the op that produces it until its last consumer (graph outputs until the end).  At op
    ``i`` every tensor whose live range covers ``i`` is counted, including op ``i``'s own
    inputs and outputs, because both must exist while it runs.
    """
    last = len(graph.ops) - 1
    ranges: dict[str, list[int]] = {n: [0, 0] for n in graph.inputs}
    for i, op in enumerate(graph.ops):
        for name in op.inputs:
            if name in ranges:
                ranges[name][1] = i
        for name in op.outputs:
            ranges.setdefault(name, [i, i])
    for name in graph.outputs:
        if name in ranges:
            ranges[name][1] = max(last, 0)
    sizes = {n: nbytes(graph.tensors[n]) for n in ranges}
    return max((sum(sizes[n] for n, (s, e) in ranges.items() if s <= i <= e) for i in range(max(last + 1, 1))),
               default=0)


def memory_estimate(graph: Graph) -> int:
    """Steady-state bytes = every static tensor (weights stay resident) + peak live activations."""
    return sum(nbytes(t) for t in static_tensors(graph).values()) + peak_activation_bytes(graph)


def total_params(graph: Graph) -> int:
    """Elements of all static tensors; a weight shared by several ops is counted once."""
    return sum(int(np.prod(t.shape, dtype=np.int64)) for t in static_tensors(graph).values())


def layer_rows(graph: Graph, stats: list[OpStats], n_params: int, all_encodings: bool = False) -> list[list[str]]:
    """One row per op (graph order); its parameters, counts and encodings go on continuation rows."""
    total_macs = sum(s.macs for s in stats)
    graph_inputs = set(graph.inputs)
    rows: list[list[str]] = []
    for idx, (op, st) in enumerate(zip(graph.ops, stats)):
        ins = [graph.tensors[i] for i in op.inputs if i]
        outs = [graph.tensors[o] for o in op.outputs]
        opdef = get_op_def(op.type)
        extra = [param_text(k, v) for k, v in op.params.items()
                 if not (k in opdef.params and opdef.params[k].internal)]
        extra.append(f"param count: {st.params} ({pct(st.params, n_params)})")
        extra.append(f"MACs per inference: {si(st.macs)} ({pct(st.macs, total_macs)})")
        for t in [t for t in ins if t.is_static] + outs:
            if t.encoding is not None:
                extra += encoding_rows(t.name, t.encoding, all_encodings)
        in_text = ", ".join(f"{t.name} ({dtype_name(t)})" + (" [NW Input]" if t.name in graph_inputs else "")
                            for t in ins)
        out_text = ", ".join(f"{t.name} ({dtype_name(t)})" for t in outs)
        rows.append([str(idx), op.name, op.type, in_text, out_text,
                     ", ".join(dims(t.shape, "x") for t in outs), RUNTIMES, extra[0]])
        rows += [[""] * 7 + [e] for e in extra[1:]]
    return rows


def input_rows(graph: Graph) -> list[list[str]]:
    rows = []
    for name in graph.inputs:
        t = graph.tensors[name]
        enc = encoding_text(t.encoding) if t.encoding is not None else "No encoding info for this layer"
        rows.append([name, dims(t.shape, ","), dtype_name(t), enc])
    return rows


def memory_rows(graph: Graph) -> list[list[str]]:
    """Every tensor the graph touches, in the order it first appears, with its size in bytes."""
    order: dict[str, str] = {n: "input" for n in graph.inputs}
    for op in graph.ops:
        for n in op.inputs:
            if n and n not in order:
                order[n] = "static" if graph.tensors[n].is_static else "activation"
        for n in op.outputs:
            order.setdefault(n, "activation")
    return [[n, kind, dims(graph.tensors[n].shape, "x"), str(nbytes(graph.tensors[n]))]
            for n, kind in order.items()]


def write_csv(path: str, header: list[str], rows: list[list[str]]) -> None:
    """Write via ``.snpe-tools-XXXX.csv.tmp`` in the target folder + rename, so a failure (disk full, a
    signal) never leaves half a CSV nor damages an earlier one; stale temp files of killed runs are removed."""
    target = output_target(path, "-s/--save", "layers.csv")
    with atomic_output(target, ".csv.tmp", f"-s/--save {path}: cannot write the CSV file: {{reason}}") as raw:
        fh = io.TextIOWrapper(raw, newline="", encoding="utf-8")
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
        fh.flush()
        fh.detach()                   # the binary file stays open for atomic_output to finish


def report(path: str, graph: Graph, meta: Metadata, memory: bool,
           all_encodings: bool = False) -> tuple[str, list[list[str]]]:
    """The full text report and the layer rows (shared with the CSV writer)."""
    stats = op_stats(graph)
    n_params = total_params(graph)
    rows = layer_rows(graph, stats, n_params, all_encodings)
    total_macs = sum(s.macs for s in stats)
    mb = n_params * 4 / 1024 / 1024
    parts = [
        f"DLC info for: {os.path.abspath(path)}",
        f"Model Version: {meta.get('model-version')}",
        f"Model Copyright:{meta.get('model-copyright').rstrip(chr(10))}",
        render_table(HEADER, rows),
        FOOTER,
        render_table(["Input Name", "Dimensions", "Type", "Encoding Info"], input_rows(graph)),
        f"Total parameters: {n_params} ({mb:.0f} MB assuming single precision float)" if mb >= 1 else
        f"Total parameters: {n_params} ({mb:.3g} MB assuming single precision float)",
        f"Total MACs per inference: {si(total_macs)} (100%)",
        f"Converter command: {meta.get('converter-command')}",
        f"Quantizer command: {meta.get('quantizer-command')}",
        f"DLC created with converter version: {meta.get('converter-version')}",
        f"Ops used by DLC: {', '.join(sorted({op.type for op in graph.ops}))}",
        f"Est. Steady-State Memory Needed to Run: {memory_estimate(graph) / (1 << 20):.3g} MiB",
    ]
    if memory:
        parts.append("Tensor memory:\n" + render_table(["Tensor Name", "Kind", "Dimensions", "Size (bytes)"],
                                                        memory_rows(graph)))
    return "\n".join(parts), rows


def v3_report(model: V3Model) -> tuple[str, list[list[str]]]:
    """SNPE 1.x (DLC v3) files: the layer table with shapes, parameters and encodings (no MACs/memory)."""
    rows: list[list[str]] = []
    for layer in model.layers:
        extra = [f"{k}: {v}" for k, v in layer.params.items()]
        extra += [f"{name} encoding: {enc}" for name, enc in layer.encodings.items()]
        extra = extra or [""]
        rows.append([str(layer.index), layer.name, layer.type, ", ".join(layer.inputs), ", ".join(layer.outputs),
                     ", ".join("x".join(str(d) for d in dims) for dims in layer.output_dims), RUNTIMES, extra[0]])
        rows += [[""] * 7 + [e] for e in extra[1:]]
    meta = model.metadata
    parts = [f"DLC info for: {os.path.abspath(model.path)}",
             f"DLC version {model.version[0]}.{model.version[1]} (SNPE 1.x): shown read-only; "
             "re-convert the source model to run it",
             f"Model Version: {meta.get('model-version', 'N/A')}",
             f"Model Copyright:{meta.get('model-copyright', 'N/A')}",
             render_table(HEADER, rows), FOOTER,
             f"Converter command: {meta.get('converter-command', 'N/A')}",
             f"Quantizer command: {meta.get('quantizer-command', 'N/A')}",
             f"DLC created with converter version: {meta.get('converter-version', 'N/A')}",
             f"Layers used by DLC: {', '.join(sorted({layer.type for layer in model.layers}))}"]
    return "\n".join(parts), rows


def _check_v3_container(path: str) -> None:
    """The v3 reader reads whole members: refuse hostile declared sizes first (the v4 reader's checks)."""
    try:
        with zipfile.ZipFile(path) as zf:
            Container.check_sizes(path, zf.infolist(), os.path.getsize(path))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        pass                # not a ZIP (v3 files may be a bare flatbuffer): the v3 reader reports damage


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.dump_framework_trace:
        raise SnpeToolsError("-t/--dump_framework_trace is not supported by snpe-tools: its converters record no "
                             "framework trace and the layout of Qualcomm's trace records (--enable_framework_trace) "
                             "is not documented; the op names in the layer table are the source framework's names")
    check_input_file(args.input_dlc, "-i/--input_dlc", "DLC", error=DLCError)
    if args.save:
        check_not_input(args.save, [args.input_dlc], "-s/--save", "the input DLC")
        output_target(args.save, "-s/--save", "layers.csv")
    if is_v3(args.input_dlc):
        _check_v3_container(args.input_dlc)
        text, rows = v3_report(read_v3(args.input_dlc))
        if args.save:
            write_csv(args.save, HEADER, rows)
        print(text)
        return 0
    dlc = read_dlc(args.input_dlc)
    text, rows = report(args.input_dlc, dlc.graph, dlc.metadata, args.memory, args.display_all_encodings)
    if args.save:
        write_csv(args.save, HEADER, rows)
    print(text)
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

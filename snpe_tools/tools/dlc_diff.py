"""snpe-dlc-diff: compare two DLC files aspect by aspect.

SNPE's flags (short, ``snpe-dlc-diff``) and their ``qairt-dlc-diff`` long names: ``-c`` copyrights, ``-l``
layers (op names and types), ``-p`` parameters, ``-d`` dimensions (tensor shapes), ``-w`` weights (static
tensors), ``-o`` outputs (graph inputs and outputs), ``-i`` match ops by position instead of name, ``-s`` save
the differences as CSV.  Two more aspects of our own: ``-e/--compare_encodings`` (quantization encodings)
and ``-m/--compare_metadata`` (every metadata record: converter and quantizer commands, versions).
With no aspect flag every aspect is compared.  ``--weight_tolerance ATOL`` lets weights differ by that much
(default 0: exact).  ``-x`` (HTA/AIP records of SNPE 1.x files) is refused: snpe-tools reads no AIP records.

The report is one framed table ``| Aspect | Name | <dlc 1> | <dlc 2> |`` with a row per difference, then
a summary line.  As SNPE's tool, the exit status is 0 whether or not the files differ (it is a report);
a missing or damaged file is a one-line error, exit 1.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

from ..dlc import read_dlc
from ..dlc.reader import DLC
from ..errors import DLCError, SnpeToolsError
from ..ir.graph import Encoding, Graph, Op
from ..ops.registry import get_op_def
from .common import ArgumentParser, check_input_file, check_not_input, run_main
from .dlc_info import dims, dtype_name, encoding_text, render_table, write_csv

PROG = "snpe-dlc-diff"
ASPECTS = ("copyrights", "layers", "parameters", "dimensions", "weights", "outputs", "encodings", "metadata")
HEADER = ["Aspect", "Name", "DLC 1", "DLC 2"]
MAX_CELL = 120                # longer cells (converter commands ...) are cut in the table, kept whole in the CSV


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Compare two DLC files: layers, parameters, dimensions, weights, "
                       "encodings, outputs and metadata.")
    p.required.add_argument("-i1", "--input_dlc_one", "--input_dlc1", required=True, help="First DLC.")
    p.required.add_argument("-i2", "--input_dlc_two", "--input_dlc2", required=True, help="Second DLC.")
    o = p.optional
    o.add_argument("-c", "--copyrights", "--compare_copyrights", action="store_true", help="Compare copyrights.")
    o.add_argument("-l", "--layers", "--compare_layers", action="store_true", help="Compare layer names and types.")
    o.add_argument("-p", "--parameters", "--compare_parameters", action="store_true",
                   help="Compare layer parameters.")
    o.add_argument("-d", "--dimensions", "--compare_dimensions", action="store_true",
                   help="Compare tensor dimensions and data types.")
    o.add_argument("-w", "--weights", "--compare_weights", action="store_true", help="Compare static tensors.")
    o.add_argument("-o", "--outputs", "--compare_outputs", action="store_true",
                   help="Compare the graph inputs and outputs.")
    o.add_argument("-e", "--encodings", "--compare_encodings", action="store_true",
                   help="Compare quantization encodings (snpe-tools).")
    o.add_argument("-m", "--metadata", "--compare_metadata", action="store_true",
                   help="Compare every metadata record (snpe-tools).")
    o.add_argument("-i", "--diff_by_id", "--enable_diff_by_id", action="store_true",
                   help="Match layers by position instead of by name.")
    o.add_argument("-x", "--hta", "--compare_hta_records", action="store_true",
                   help="Not supported: snpe-tools reads no HTA/AIP records.")
    o.add_argument("--weight_tolerance", type=float, default=0.0, metavar="ATOL",
                   help="Weights equal within this absolute difference (default 0: exact).")
    o.add_argument("-s", "--save", metavar="CSV", help="Also write the differences to this CSV file.")
    return p


# ---- comparisons ---------------------------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return bool(a == b)


def _show(v: Any) -> str:
    if isinstance(v, np.ndarray):
        flat = v.reshape(-1)
        text = ", ".join(str(x) for x in flat[:8].tolist()) + (", ..." if flat.size > 8 else "")
        return f"[{text}]"
    return "-" if v is None else str(v)


def _pairs(g1: Graph, g2: Graph, by_id: bool) -> tuple[list[tuple[Op, Op]], list[Op], list[Op]]:
    """Matched ops and the ops found in one graph only."""
    if by_id:
        n = min(len(g1.ops), len(g2.ops))
        return list(zip(g1.ops[:n], g2.ops[:n])), g1.ops[n:], g2.ops[n:]
    by_name = {op.name: op for op in g2.ops}
    pairs = [(op, by_name[op.name]) for op in g1.ops if op.name in by_name]
    names1 = {op.name for op in g1.ops}
    return pairs, [op for op in g1.ops if op.name not in by_name], [op for op in g2.ops if op.name not in names1]


def _enc_key(enc: Encoding | None) -> Any:
    if enc is None:
        return None
    return (enc.bitwidth, enc.scale, enc.offset, enc.min, enc.max, enc.axis,
            tuple(tuple(c) for c in enc.channels or ()))


def _enc_show(enc: Encoding | None) -> str:
    if enc is None:
        return "no encoding"
    text = encoding_text(enc)
    if enc.axis is not None:
        text += "; " + "; ".join(f"[{i}] scale {c[0]:.12f} offset {c[1]}" for i, c in enumerate(enc.channels or []))
    return text


def compare(d1: DLC, d2: DLC, aspects: set[str], by_id: bool, atol: float) -> list[list[str]]:
    g1, g2 = d1.graph, d2.graph
    rows: list[list[str]] = []

    def add(aspect: str, name: str, a: Any, b: Any) -> None:
        rows.append([aspect, name, a if isinstance(a, str) else _show(a), b if isinstance(b, str) else _show(b)])

    m1, m2 = d1.metadata.values, d2.metadata.values
    if "copyrights" in aspects:
        for key in ("model-copyright", "model-version"):
            if m1.get(key) != m2.get(key):
                add("copyrights", key, m1.get(key), m2.get(key))
    if "metadata" in aspects:
        for key in sorted(set(m1) | set(m2)):
            if key not in ("model-copyright", "model-version") and m1.get(key) != m2.get(key):
                add("metadata", key, m1.get(key), m2.get(key))
    if "outputs" in aspects:
        for what, a, b in (("graph inputs", g1.inputs, g2.inputs), ("graph outputs", g1.outputs, g2.outputs)):
            if list(a) != list(b):
                add("outputs", what, ", ".join(a), ", ".join(b))
    pairs, only1, only2 = _pairs(g1, g2, by_id)
    if "layers" in aspects:
        if len(g1.ops) != len(g2.ops):
            add("layers", "layer count", str(len(g1.ops)), str(len(g2.ops)))
        for op in only1:
            add("layers", op.name, op.type, "missing")
        for op in only2:
            add("layers", op.name, "missing", op.type)
        for a, b in pairs:
            if a.type != b.type or (by_id and a.name != b.name):
                add("layers", a.name if a.name == b.name else f"{a.name} / {b.name}", f"{a.name} ({a.type})",
                    f"{b.name} ({b.type})")
    seen: set[tuple[str, str]] = set()      # a tensor shared by several layers is reported once
    for a, b in pairs:
        label = a.name if a.name == b.name else f"{a.name} / {b.name}"
        if "parameters" in aspects:
            internal = {k for k, p in get_op_def(a.type).params.items() if p.internal}
            for key in sorted((set(a.params) | set(b.params)) - internal):
                va, vb = a.params.get(key), b.params.get(key)
                if not _same(va, vb):
                    add("parameters", f"{label}: {key}", va, vb)
        t_pairs = list(zip(a.inputs, b.inputs)) + list(zip(a.outputs, b.outputs))
        if len(a.inputs) != len(b.inputs) and "layers" in aspects:
            add("layers", f"{label}: input count", str(len(a.inputs)), str(len(b.inputs)))
        for n1, n2 in t_pairs:
            if not n1 or not n2 or (n1, n2) in seen:
                continue
            seen.add((n1, n2))
            t1, t2 = g1.tensors[n1], g2.tensors[n2]
            tname = n1 if n1 == n2 else f"{n1} / {n2}"
            static = t1.is_static or t2.is_static
            if "dimensions" in aspects and not static and (t1.shape != t2.shape or dtype_name(t1) != dtype_name(t2)):
                add("dimensions", f"tensor {tname}", f"{dims(t1.shape, 'x')} {dtype_name(t1)}",
                    f"{dims(t2.shape, 'x')} {dtype_name(t2)}")
            if "weights" in aspects and static:
                _compare_weights(add, f"tensor {tname}", t1.data, t2.data, atol)
            if "encodings" in aspects and _enc_key(t1.encoding) != _enc_key(t2.encoding):
                add("encodings", f"tensor {tname}", _enc_show(t1.encoding), _enc_show(t2.encoding))
    if "dimensions" in aspects:             # graph inputs, even when no op of the other DLC matches theirs
        for name in [n for n in g1.inputs if n in g2.inputs and (n, n) not in seen]:
            t1, t2 = g1.tensors[name], g2.tensors[name]
            if t1.shape != t2.shape or dtype_name(t1) != dtype_name(t2):
                add("dimensions", f"tensor {name}", f"{dims(t1.shape, 'x')} {dtype_name(t1)}",
                    f"{dims(t2.shape, 'x')} {dtype_name(t2)}")
    return rows


def _compare_weights(add, name: str, a: np.ndarray | None, b: np.ndarray | None, atol: float) -> None:
    if a is None or b is None:
        add("weights", name, "static" if a is not None else "not static", "static" if b is not None else "not static")
        return
    if a.shape != b.shape or a.dtype != b.dtype:
        add("weights", name, f"{dims(a.shape, 'x')} {a.dtype.name}", f"{dims(b.shape, 'x')} {b.dtype.name}")
        return
    if a.size == 0:
        return
    if a.dtype.kind in "fiub":
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        worst = float(np.max(diff))
        if worst > atol:
            n = int(np.count_nonzero(diff > atol))
            add("weights", name, f"max abs diff {worst:.6g} at {n} of {a.size} values", f"tolerance {atol:g}")
    elif not np.array_equal(a, b):
        add("weights", name, "differs", "differs")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.hta:
        raise SnpeToolsError("-x/--compare_hta_records is not supported by snpe-tools: HTA (AIP) records belong to "
                             "SNPE 1.x AIP DLCs and snpe-tools reads none; compare the other aspects")
    if not args.weight_tolerance >= 0:
        raise SnpeToolsError(f"--weight_tolerance {args.weight_tolerance}: give a non-negative number")
    for flag, path in (("-i1", args.input_dlc_one), ("-i2", args.input_dlc_two)):
        check_input_file(path, flag, "DLC", error=DLCError)
    if args.save:
        check_not_input(args.save, [args.input_dlc_one, args.input_dlc_two], "-s/--save", "an input DLC")
    aspects = {a for a in ASPECTS if getattr(args, a)} or set(ASPECTS)
    d1, d2 = read_dlc(args.input_dlc_one), read_dlc(args.input_dlc_two)
    rows = compare(d1, d2, aspects, args.diff_by_id, args.weight_tolerance)
    if args.save:
        write_csv(args.save, HEADER, rows)
    header = ["Aspect", "Name", os.path.basename(args.input_dlc_one), os.path.basename(args.input_dlc_two)]
    if header[2] == header[3]:
        header[2:] = [args.input_dlc_one, args.input_dlc_two]
    print(f"DLC 1: {os.path.abspath(args.input_dlc_one)}")
    print(f"DLC 2: {os.path.abspath(args.input_dlc_two)}")
    print(f"Compared: {', '.join(a for a in ASPECTS if a in aspects)}"
          + (" (layers matched by position)" if args.diff_by_id else ""))
    if rows:
        print(render_table(header, [[c if len(c) <= MAX_CELL else c[:MAX_CELL - 3] + "..." for c in r] for r in rows]))
        print(f"{len(rows)} difference(s) found")
    else:
        print("No differences found")
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

"""snpe-net-run: execute a DLC on the numpy reference runtime (the CPU runtime of snpe-tools).

Writes ``<output_dir>/Result_<N>/<tensor>.raw`` (float32 by default) for every line of
the input list; a ``/`` in a tensor name makes subdirectories, as SNPE does.  As in SNPE, float32
input files feeding a quantized (fixed-point) input are quantized with its encoding and quantized
outputs are written dequantized, unless ``--use_native_input_files`` / ``--use_native_output_files``.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..dlc import read_dlc
from ..errors import RuntimeInputError
from ..ir.graph import Graph
from ..runtime import execute
from ..runtime.fixed_point import dequantize, is_quantized, quantize
from ..runtime.input_list import parse_input_list
from .common import LOG, ArgumentParser, run_main, setup_logging

PROG = "snpe-net-run"


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run a DLC on the snpe-tools reference (numpy) runtime.")
    p.required.add_argument("--container", required=True, help="Path to the DLC container.")
    p.required.add_argument("--input_list", required=True, help="File listing the raw input files per inference.")
    o = p.optional
    o.add_argument("--output_dir", default="./output", help="Directory for the outputs (default ./output).")
    o.add_argument("--set_output_tensors", default=None,
                   help="Comma-separated tensor names to write instead of the graph outputs.")
    o.add_argument("--debug", action="store_true", help="Write the output of every op (layer dump).")
    o.add_argument("--use_native_input_files", action="store_true",
                   help="Read input files in each input's native data type instead of float32.")
    o.add_argument("--use_native_output_files", action="store_true",
                   help="Write outputs in their native data type instead of float32.")
    return p


def _read_raw(path: str, name: str, graph: Graph, native: bool) -> np.ndarray:
    t = graph.tensors[name]
    dtype = np.dtype(t.dtype) if native else np.dtype(np.float32)
    if not os.path.isfile(path):
        raise RuntimeInputError(f"input file not found: {path} (for input '{name}')")
    size = os.path.getsize(path)
    expected = int(np.prod(t.shape))
    if size % dtype.itemsize or size // dtype.itemsize != expected:
        raise RuntimeInputError(f"{path}: input '{name}' expects {expected} {dtype.name} elements "
                                f"(shape {list(t.shape)}), the file holds {size / dtype.itemsize:g}")
    arr = np.fromfile(path, dtype=dtype).reshape(t.shape)
    if not native and is_quantized(t):      # float data for a fixed-point input: quantize with its encoding
        return quantize(t, arr)
    return arr.astype(t.dtype, copy=False)


def _feeds(entry: dict[str, str], graph: Graph, native: bool, lineno: int) -> dict[str, np.ndarray]:
    if "" in entry:
        if len(graph.inputs) != 1:
            raise RuntimeInputError(f"input list line {lineno}: the model has {len(graph.inputs)} inputs "
                                    f"({', '.join(graph.inputs)}); use name:=path pairs")
        entry = {graph.inputs[0]: entry[""]}
    unknown = set(entry) - set(graph.inputs)
    if unknown:
        raise RuntimeInputError(f"input list line {lineno}: {', '.join(sorted(unknown))} is not a model input; "
                                f"model inputs: {', '.join(graph.inputs)}")
    missing = [n for n in graph.inputs if n not in entry]
    if missing:
        raise RuntimeInputError(f"input list line {lineno}: no file for input(s) {', '.join(missing)}")
    return {n: _read_raw(entry[n], n, graph, native) for n in graph.inputs}


def output_file(out_dir: str, tensor: str) -> str:
    """``<dir>/<tensor>.raw``; '/' in names makes subfolders, ':' is kept except on Windows."""
    safe = tensor.replace(":", "_") if os.name == "nt" else tensor
    parts = [p for p in safe.split("/") if p not in ("", ".", "..")]
    return os.path.join(out_dir, *parts[:-1], parts[-1] + ".raw")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(0 if args.debug else -1)
    dlc = read_dlc(args.container)
    graph = dlc.graph
    il = parse_input_list(args.input_list)
    wanted: list[str] = []
    if args.set_output_tensors:
        wanted = [t.strip() for t in args.set_output_tensors.split(",") if t.strip()]
    else:
        wanted = list(il.out_tensors)
        for layer in il.out_layers:
            op = next((o for o in graph.ops if o.name == layer), None)
            if op is None:
                raise RuntimeInputError(f"output layer '{layer}' (from the input list's # line) is not in the DLC")
            wanted += op.outputs
    wanted = wanted or list(graph.outputs)
    for i, entry in enumerate(il.entries):
        feeds = _feeds(entry, graph, args.use_native_input_files, i + 1)
        results = execute(graph, feeds, wanted, keep_intermediates=args.debug)
        if args.debug:
            results.update(execute(graph, feeds, wanted))
        rdir = os.path.join(args.output_dir, f"Result_{i}")
        for name, value in results.items():
            path = output_file(rdir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            arr = np.asarray(value)
            if not args.use_native_output_files:
                t = graph.tensors.get(name)
                arr = (dequantize(t, arr) if t is not None and is_quantized(t) else arr).astype(np.float32)
            arr.tofile(path)
        LOG.debug("inference %d done: %d tensors written to %s", i, len(results), rdir)
    print(f"Processed {len(il.entries)} inference(s); results in {os.path.abspath(args.output_dir)}")
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

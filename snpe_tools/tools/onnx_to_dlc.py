"""snpe-onnx-to-dlc: convert an ONNX model into a DLC (legacy spatial-first layout)."""
from __future__ import annotations

import os
import sys

from ..errors import ConversionError
from ..frontends.onnx.converter import OnnxOptions, convert_onnx
from ..ir import axis_format as af
from .common import check_not_input, run_main, setup_logging
from .dry_run import dry_run
from .converter_args import (DTYPES, INPUT_TYPES, build_parser, check_paths, encoding_layouts, encodings,
                             model_version, pairs, parse_dims, read_copyright)
from .dlc_backend import optimise_and_save

PROG = "snpe-onnx-to-dlc"


def make_parser():
    p = build_parser(PROG, "Convert an ONNX model into a DLC file (snpe-tools).")
    o = p.optional
    o.add_argument("--input_dim", "-d", nargs=2, action="append", metavar=("INPUT_NAME", "INPUT_DIM"),
                   help='Dimensions of an input, e.g. -d data "1,3,224,224"; repeat per input.')
    o.add_argument("--batch", "-b", type=int, help="Batch size: overrides dimension 0 of every input.")
    o.add_argument("--define_symbol", "-s", nargs=2, action="append", metavar=("SYMBOL_NAME", "VALUE"),
                   help="Value of a symbolic dimension, e.g. -s height 224.")
    o.add_argument("--no_simplification", "-n", action="store_true",
                   help="Do not simplify the model: constant subgraphs fold only through ops the converter "
                        "translates (and the IR constant-folding pass is off), so a constant subgraph of an "
                        "unsupported op (e.g. HannWindow, Det) is refused, as SNPE's -n warns.")
    return p


def _external_data_files(model_path: str, out: str) -> list[str]:
    """The external-data files of the model, looked up only when ``out`` is an existing file in the
    model's folder tree (the only case where writing the DLC could replace one of them)."""
    if not os.path.isfile(out):
        return []
    folder = os.path.realpath(os.path.dirname(os.path.abspath(model_path)))
    if not os.path.realpath(out).startswith(folder + os.sep):
        return []
    try:
        import onnx

        model = onnx.load(model_path, load_external_data=False)
    except Exception:       # not loadable: the conversion reports it
        return []
    names = set()
    for t in _initializers(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            names.update(e.value for e in t.external_data if e.key == "location")
    return [os.path.join(folder, n) for n in sorted(names)]


def _initializers(graph):
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _initializers(attr.g)
            for g in attr.graphs:
                yield from _initializers(g)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(args.debug)
    out = check_paths(args)
    if out is not None:
        check_not_input(out, _external_data_files(args.input_network, out), "-o/--output_path",
                        "the external-data file")
    if args.batch is not None and args.batch <= 0:
        raise ConversionError("-b/--batch must be a positive integer")
    symbols = {}
    for name, val in args.define_symbol or []:
        try:
            symbols[name] = int(val)
        except ValueError:
            raise ConversionError(f"-s/--define_symbol {name} {val}: the value must be an integer") from None
        if symbols[name] <= 0:
            raise ConversionError(f"-s/--define_symbol {name} {val}: the value must be a positive integer")
    encs = encodings(args.input_encoding)
    opts = OnnxOptions(
        input_dims={n: parse_dims(n, d) for n, d in (args.input_dim or [])},
        batch=args.batch, symbols=symbols, out_names=list(args.out_names),
        input_layouts=encoding_layouts(pairs(args.input_layout, "--input_layout", None), encs),
        input_types=pairs(args.input_type, "--input_type", INPUT_TYPES),
        input_dtypes=pairs(args.input_dtype, "--input_dtype", DTYPES),
        input_encodings=encs, keep_quant_nodes=args.keep_quant_nodes,
        simplify=not args.no_simplification)
    for name, lay in opts.input_layouts.items():
        if lay not in af.LAYOUT_NAMES:
            raise ConversionError(f"--input_layout {name} {lay}: layout must be one of {', '.join(af.LAYOUT_NAMES)}")
    if args.dry_run:
        return dry_run("onnx", args.input_network, opts, args.dry_run)
    # validate the file-type flags before the (possibly long) conversion
    read_copyright(args.copyright_file)
    model_version(args.model_version)
    graph = convert_onnx(args.input_network, opts)
    optimise_and_save(graph, args, PROG, fold_constants=not args.no_simplification)
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

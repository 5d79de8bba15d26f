"""snpe-tflite-to-dlc: convert a TFLite flatbuffer (float, fp16 weights, dynamic-range or int8/int16 quantized)."""
from __future__ import annotations

import sys

from ..errors import ConversionError
from ..frontends.tflite.converter import TfliteOptions, convert_tflite
from ..ir import axis_format as af
from .common import run_main, setup_logging
from .dry_run import dry_run
from .converter_args import (DTYPES, INPUT_TYPES, build_parser, check_paths, encoding_layouts, encodings,
                             model_version, pairs, parse_dims, read_copyright)
from .dlc_backend import optimise_and_save

PROG = "snpe-tflite-to-dlc"


def make_parser():
    p = build_parser(PROG, "Convert a TFLite model (.tflite) into a DLC file (snpe-tools).")
    o = p.optional
    o.add_argument("--input_dim", "-d", nargs=2, action="append", default=[], metavar=("INPUT_NAME", "INPUT_DIM"),
                   help='Name and dimensions of an input tensor, e.g. -d input "1,299,299,3": gives the free (-1) '
                        "dimensions of a dynamic input (required for it); fixed dimensions must match the model.")
    o.add_argument("--signature_name", "-sn", default=None,
                   help="Convert the subgraph of this SignatureDef (default: the main subgraph).")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(args.debug)
    check_paths(args)
    dims = {}
    for name, text in args.input_dim:
        if name in dims:
            raise ConversionError(f"-d/--input_dim {name} is given twice")
        dims[name] = parse_dims(name, text)
    encs = encodings(args.input_encoding)
    opts = TfliteOptions(
        input_dims=dims, out_names=list(args.out_names), signature_name=args.signature_name,
        input_dtypes=pairs(args.input_dtype, "--input_dtype", DTYPES),
        input_types=pairs(args.input_type, "--input_type", INPUT_TYPES),
        input_encodings=encs,
        input_layouts=encoding_layouts(pairs(args.input_layout, "--input_layout", tuple(af.LAYOUT_NAMES)), encs))
    for name, layout in opts.input_layouts.items():
        if layout not in ("NHWC", "NDHWC", "NFC", "NF", "NTF", "F", "NONTRIVIAL"):
            raise ConversionError(f"--input_layout {name} {layout}: TFLite tensors are channel-last; a "
                                  "channel-first layout cannot be declared for them")
    if args.dry_run:
        return dry_run("tflite", args.input_network, opts, args.dry_run)
    read_copyright(args.copyright_file)
    model_version(args.model_version)
    graph = convert_tflite(args.input_network, opts)
    optimise_and_save(graph, args, PROG, spatial_first=False)
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

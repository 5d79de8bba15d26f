"""snpe-pytorch-to-dlc: convert a TorchScript model (traced or scripted, saved with .save()) into a DLC."""
from __future__ import annotations

import sys

from ..errors import ConversionError
from ..frontends.pytorch.converter import TorchOptions, convert_torchscript
from ..ir import axis_format as af
from .common import run_main, setup_logging
from .converter_args import (DTYPES, INPUT_TYPES, build_parser, encodings, model_version, pairs, parse_dims,
                             read_copyright)
from .dlc_backend import optimise_and_save

PROG = "snpe-pytorch-to-dlc"


def make_parser():
    p = build_parser(PROG, "Convert a TorchScript model (.pt) into a DLC file (snpe-tools).")
    p.required.add_argument("--input_dim", "-d", nargs=2, action="append", required=True,
                            metavar=("INPUT_NAME", "INPUT_DIM"),
                            help='Name and dimensions of each forward() argument, in order, e.g. '
                                 '-d input "1,3,224,224".')
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(args.debug)
    if args.dry_run:
        raise ConversionError("--dry_run is not supported by snpe-pytorch-to-dlc yet; run without it")
    layouts = pairs(args.input_layout, "--input_layout", tuple(af.LAYOUT_NAMES))
    opts = TorchOptions(
        input_dims=[(n, parse_dims(n, d)) for n, d in args.input_dim],
        out_names=list(args.out_names), input_dtypes=pairs(args.input_dtype, "--input_dtype", DTYPES),
        input_layouts=layouts, input_types=pairs(args.input_type, "--input_type", INPUT_TYPES),
        input_encodings=encodings(args.input_encoding), fold_batchnorm=not args.disable_batchnorm_folding)
    names = [n for n, _ in opts.input_dims]
    if len(set(names)) != len(names):
        raise ConversionError("-d/--input_dim names must be unique")
    for flag, given in (("--input_dtype", opts.input_dtypes), ("--input_layout", opts.input_layouts),
                        ("--input_type", opts.input_types), ("--input_encoding", opts.input_encodings)):
        for name in given:
            if name not in names:
                raise ConversionError(f"{flag} {name}: not one of the inputs named with -d ({', '.join(names)})")
    read_copyright(args.copyright_file)
    model_version(args.model_version)
    graph = convert_torchscript(args.input_network, opts)
    optimise_and_save(graph, args, PROG)
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

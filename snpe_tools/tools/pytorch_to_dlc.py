"""snpe-pytorch-to-dlc: convert a TorchScript model (traced or scripted, saved with .save()) into a DLC."""
from __future__ import annotations

import importlib.util
import sys

from ..frontends.pytorch.converter import TorchOptions, convert_torchscript, import_torch
from .common import run_main, setup_logging
from .dry_run import dry_run
from .converter_args import (build_parser, check_input_names, check_paths, input_flags, model_version,
                             parse_dims, read_copyright)
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
    if importlib.util.find_spec("torch") is None:      # a missing extra is reported before any path
        import_torch()
    check_paths(args)
    flags = input_flags(args)
    opts = TorchOptions(input_dims=[(n, parse_dims(n, d)) for n, d in args.input_dim], out_names=list(args.out_names),
                        fold_batchnorm=not args.disable_batchnorm_folding, **flags)
    check_input_names([n for n, _ in opts.input_dims], flags)
    if args.dry_run:
        return dry_run("pytorch", args.input_network, opts, args.dry_run)
    read_copyright(args.copyright_file)
    model_version(args.model_version)
    graph = convert_torchscript(args.input_network, opts)
    optimise_and_save(graph, args, PROG)
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

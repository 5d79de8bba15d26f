"""snpe-tensorflow-to-dlc: convert a TensorFlow model (frozen .pb, .meta + checkpoint, SavedModel) into a DLC.

TensorFlow graphs are NHWC already, so the IR is built channel-last and the layout pass is off:
the DLC holds only the Transposes the graph itself has.  TensorFlow is imported only when a
conversion runs (``pip install 'snpe-tools[tensorflow]'``).
"""
from __future__ import annotations

import sys

from .common import LOG, run_main, setup_logging
from .converter_args import (build_parser, check_input_names, check_paths, input_flags, model_version,
                             parse_dims, read_copyright)
from .dlc_backend import optimise_and_save
from .dry_run import dry_run

PROG = "snpe-tensorflow-to-dlc"


def make_parser():
    p = build_parser(PROG, "Convert a TensorFlow model (frozen .pb, <model>.meta with its checkpoint, or a "
                           "SavedModel directory) into a DLC file (snpe-tools).")
    r, o = p.required, p.optional
    r.add_argument("--input_dim", "-d", nargs=2, action="append", required=True, metavar=("INPUT_NAME", "INPUT_DIM"),
                   help='Name of an input placeholder node and its dimensions, e.g. -d input "1,299,299,3"; '
                        "repeat per input.")
    o.add_argument("--show_unconsumed_nodes", action="store_true",
                   help="List every operation the converter does not support.")
    o.add_argument("--allow_unconsumed_nodes", action="store_true",
                   help="(SNPE 1.x option) Continue past unsupported operations as long as no converted layer "
                        "needs their output.")
    o.add_argument("--saved_model_tag", default="serve",
                   help="MetaGraph tag of a SavedModel (default serve; the first MetaGraph is used, with a "
                        "warning, if the tag is missing).")
    o.add_argument("--saved_model_signature_key", default="serving_default",
                   help="Signature key of a SavedModel (default serving_default; the first signature is used, "
                        "with a warning, if the key is missing).")
    o.add_argument("--no_optimization", "-n", action="store_true",
                   help="Do not fold constant ops in the IR (constant subgraphs of the TF graph are still "
                        "evaluated).")
    # the out node is required for TensorFlow (a GraphDef has no declared outputs)
    for action in p._actions:
        if action.dest == "out_names":
            action.help = "Name of a graph output node, e.g. InceptionV3/Predictions/Reshape_1 (required; repeat " \
                          "for several outputs)."
    return p


def _options(args):
    from ..frontends.tensorflow.converter import TFOptions

    flags = input_flags(args)
    opts = TFOptions(
        input_dims=[(n, parse_dims(n, d)) for n, d in args.input_dim], out_names=list(args.out_names),
        saved_model_tag=args.saved_model_tag, saved_model_signature_key=args.saved_model_signature_key,
        show_unconsumed_nodes=args.show_unconsumed_nodes, allow_unconsumed_nodes=args.allow_unconsumed_nodes,
        **flags)
    check_input_names([n for n, _ in opts.input_dims], flags)
    return opts


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(args.debug)
    check_paths(args, allow_dir=True)
    opts = _options(args)
    if args.allow_unconsumed_nodes:
        LOG.warning("WARNING_TF_ALLOW_UNCONSUMED_OPTION_USED: --allow_unconsumed_nodes is accepted for old scripts; "
                    "unsupported operations are skipped only when no converted layer needs their output")
    if args.dry_run:
        return dry_run("tensorflow", args.input_network, opts, args.dry_run)
    read_copyright(args.copyright_file)
    model_version(args.model_version)
    from ..frontends.tensorflow.converter import convert_tensorflow

    graph = convert_tensorflow(args.input_network, opts)
    optimise_and_save(graph, args, PROG, fold_constants=not args.no_optimization, spatial_first=False)
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

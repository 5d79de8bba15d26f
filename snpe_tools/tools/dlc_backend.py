"""The back half every legacy ``snpe-*-to-dlc`` converter shares: IR passes, metadata, DLC write, SNPE log lines."""
from __future__ import annotations

import argparse
import os

from .. import __version__
from ..dlc import Metadata, write_dlc
from ..ir.graph import Graph
from ..passes import legacy_pipeline, run_pipeline
from .common import LOG
from .stage_log import log_serialised, log_translated
from .converter_args import check_float_args, converter_command, default_output_path, model_version, read_copyright
from .io_config import IoRequest, custom_io_template, preserve_io, read_custom_io, resolve, write_template


def legacy_io_request(args: argparse.Namespace) -> tuple[IoRequest, str]:
    """The legacy converters' I/O flags: ``--custom_io`` wins over ``--preserve_io`` for the tensors it names."""
    req = read_custom_io(args.custom_io) if args.custom_io else IoRequest()
    req.keep_layout, req.keep_dtype = preserve_io(args.preserve_io)
    return req, "--custom_io" if args.custom_io else "--preserve_io"


def optimise_and_save(graph: Graph, args: argparse.Namespace, prog: str, fold_constants: bool = True,
                      spatial_first: bool = True, io: tuple[IoRequest, str] | None = None) -> None:
    """Run the legacy pipeline as the flags ask and write the DLC (``-o`` or the input path with ``.dlc``).

    ``io`` is the graph I/O request (layouts and float types, io_config.py) and the flag it came from;
    by default the legacy ``--custom_io``/``--preserve_io``.  ``args.float_bitwidth`` 16 makes a float16
    DLC (passes/float_precision.py)."""
    if getattr(args, "dump_custom_io_config_template", ""):
        write_template(custom_io_template(graph), args.dump_custom_io_config_template,
                       "--dump_custom_io_config_template")
        LOG.info("Custom I/O template written to %s", args.dump_custom_io_config_template)
        return
    check_float_args(args)
    req, flag = io if io is not None else legacy_io_request(args)
    io_options = resolve(graph, req, flag)
    copyright_text = read_copyright(args.copyright_file)
    version = model_version(args.model_version)
    out_path = args.output_path or default_output_path(args.input_network)
    LOG.info("INFO_INITIALIZATION_SUCCESS: Model translated into the IR (%d ops)", len(graph.ops))
    log_translated(graph)
    run_pipeline(graph, legacy_pipeline(fold_batchnorm=not args.disable_batchnorm_folding,
                                        remove_dead=not args.keep_disconnected_nodes,
                                        fold_constants=fold_constants, spatial_first=spatial_first),
                 {**io_options, "float_bitwidth": getattr(args, "float_bitwidth", 32),
                  "strip_quant": getattr(args, "export_format", "DLC_DEFAULT") == "DLC_STRIP_QUANT",
                  "float_bias_bitwidth": getattr(args, "float_bias_bitwidth", 0),
                  "quantization_overrides": getattr(args, "quantization_overrides", None)})
    meta = Metadata({"converter-command": converter_command(prog, args), "converter-version": __version__,
                     "model-copyright": copyright_text, "model-version": version,
                     "quantizer-command": "N/A"})
    # Qualcomm's converters name the graph after the output file's stem (cnn.dlc -> graph "cnn")
    graph.name = os.path.splitext(os.path.basename(out_path))[0] or graph.name
    LOG.info("INFO_DLC_SAVE_LOCATION: Saving model at %s", out_path)
    log_serialised(graph, out_path)
    write_dlc(graph, out_path, meta)
    LOG.info("INFO_CONVERSION_SUCCESS: Conversion completed successfully")

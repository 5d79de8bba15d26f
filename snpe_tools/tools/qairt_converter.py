"""qairt-converter: one converter for ONNX, TensorFlow, TFLite and PyTorch models (QAIRT 2.2x/2.3x options).

The framework comes from the model's extension (``.onnx``, ``.pb`` or a SavedModel folder, ``.tflite``,
``.pt``).  Unlike the legacy ``snpe-*-to-dlc`` converters, graph inputs and outputs keep the source
model's layouts: the inside of an ONNX/PyTorch graph still runs spatial-first, with one
Transpose per channel-first input and output at the boundary (as Qualcomm's own files show,
``dlc-real/preserve_io_layout``).  ``--config`` (YAML) and the ``--desired_*``/``--source_model_*`` options
set them per tensor; the command line wins over the YAML.  The conversion itself is the legacy
converters' (same frontends, same passes, same DLC writer), so both give the same numbers.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..dlc.writer import output_target
from ..errors import ConversionError
from ..ir import axis_format as af
from .common import LOG, ArgumentParser, check_input_file, run_main, setup_logging
from .converter_args import (DTYPES, add_float_args, add_quant_args, check_overrides_file, check_paths, encodings,
                             model_version, parse_dims, read_copyright)
from .dlc_backend import optimise_and_save
from .dry_run import dry_run
from .io_config import (IoRequest, TensorRequest, layout_name, layout_tag, names_or_all, qairt_template,
                        read_qairt_config, write_template)

PROG = "qairt-converter"
EXTENSIONS = {".onnx": "onnx", ".pb": "tensorflow", ".tflite": "tflite", ".pt": "pytorch"}

# Options of Qualcomm's qairt-converter that snpe-tools does not implement, with the reason (refused in one line).
REFUSED = {
    ("--enable_framework_trace",): "framework op tracing is not recorded in snpe-tools DLCs",
    ("--onnx_validate_models",): "model validation against onnxruntime is not built in; run the DLC with "
                                 "snpe-net-run and compare",
    ("--onnx_summary",): "the model summary is not printed; use --dry_run for the op table",
    ("--onnx_perform_sequence_construct_optimizer",): "ONNX sequence ops are not converted",
    ("--tf_summary",): "the model summary is not printed; use --dry_run for the op table",
    ("--tf_override_batch",): "give the batch in --source_model_input_shape",
    ("--tf_validate_models",): "model validation against TensorFlow is not built in; run the DLC with "
                               "snpe-net-run and compare",
    ("--dump_exported_onnx",): "PyTorch models are converted from TorchScript directly, not through ONNX",
    ("--gguf_config",): "GGUF models are not supported",
    ("--lora_weight_list",): "LoRA adapters are not supported",
    ("--target_backend",): "backend-specific graph rewrites are not implemented; the DLC is backend-neutral",
    ("--target_soc_model",): "backend-specific graph rewrites are not implemented; the DLC is backend-neutral",
    ("--backend",): "backend-specific graph rewrites are not implemented; the DLC is backend-neutral",
    ("--soc_model",): "backend-specific graph rewrites are not implemented; the DLC is backend-neutral",
    ("--op_package_lib", "-opl"): "custom op packages are not supported",
    ("--converter_op_package_lib", "-cpl"): "custom op packages are not supported",
    ("--package_name", "-p"): "custom op packages are not supported",
    ("--op_package_config", "-opc"): "custom op packages are not supported",
    ("--use_onnx_relay",): "the ONNX frontend does not go through TVM Relay",
    ("--dump_relay",): "no TVM Relay graph is built",
}

# Legacy snpe-*-to-dlc options that qairt-converter does not have, and what to use instead.
LEGACY_ONLY = {
    ("--input_dim",): "--source_model_input_shape",
    ("--out_node", "--out_name"): "--out_tensor_node",
    ("--input_dtype",): "--source_model_input_datatype",
    ("--input_layout",): "--source_model_input_layout",
    ("--input_encoding",): "--desired_input_color_encoding",
    ("--input_type", "-t"): "--desired_input_color_encoding (image inputs need no type)",
    ("--custom_io",): "--config",
    ("--dump_custom_io_config_template",): "--dump_config_template",
    ("--preserve_io",): "nothing (qairt-converter keeps I/O layouts and data types by default) or "
                        "--preserve_io_datatype",
    ("--define_symbol",): "--onnx_define_symbol",
    ("--batch", "-b"): "--onnx_override_batch",
    ("--no_simplification", "-n"): "--onnx_skip_simplification",
    ("--no_optimization",): "--tf_disable_optimization",
    ("--show_unconsumed_nodes",): "--tf_show_unconsumed_nodes",
    ("--allow_unconsumed_nodes",): "--tf_show_unconsumed_nodes (unsupported operations are reported)",
    ("--saved_model_tag",): "--tf_saved_model_tag",
    ("--saved_model_signature_key",): "--tf_saved_model_signature_key",
    ("--signature_name", "-sn"): "--tflite_signature_name",
    ("--disable_batchnorm_folding",): "snpe-onnx-to-dlc (qairt-converter always folds batch normalisation)",
    ("--keep_disconnected_nodes",): "snpe-onnx-to-dlc (qairt-converter drops disconnected nodes)",
    ("--validation_target",): "nothing (the option is obsolete)",
}


class _Refuse(argparse.Action):
    """An option we know but do not accept: a one-line usage error naming the reason."""

    def __init__(self, option_strings, dest, reason: str = "", **kwargs) -> None:
        self.reason = reason
        super().__init__(option_strings, dest, nargs="*", help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string}: {self.reason}")


class _Deprecated(argparse.Action):
    """An older spelling: stores into the new option's destination and is reported with a warning."""

    def __init__(self, option_strings, dest, new: str = "", append: bool = False, **kwargs) -> None:
        self.new, self.append = new, append
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.append:
            items = list(getattr(namespace, self.dest) or [])
            items.append(values)
            values = items
        setattr(namespace, self.dest, values)
        namespace.deprecated_options = getattr(namespace, "deprecated_options", []) + [(option_string, self.new)]


def make_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Convert an ONNX, TensorFlow, TFLite or PyTorch model into a DLC "
                                              "file, keeping the source model's input/output layouts (snpe-tools).")
    r, o = p.required, p.optional
    r.add_argument("--input_network", "-i", required=True,
                   help="Path to the source model: .onnx, .pb (or a SavedModel folder), .tflite or .pt.")
    o.add_argument("--source_model_input_shape", "-s", nargs=2, action="append", metavar=("INPUT_NAME", "INPUT_DIM"),
                   help='Name and dimensions of an input, e.g. -s input "1,299,299,3" (required for TensorFlow and '
                        "PyTorch; repeat per input).")
    o.add_argument("--desired_input_shape", "-d", nargs=2, dest="source_model_input_shape",
                   action=_Deprecated, new="--source_model_input_shape", append=True, help=argparse.SUPPRESS)
    o.add_argument("--out_tensor_node", "--out_tensor_name", dest="out_names", action="append", default=[],
                   help="Name of a graph output (required for TensorFlow; repeat for several outputs).")
    o.add_argument("--source_model_input_datatype", nargs=2, action="append", metavar=("INPUT_NAME", "DATATYPE"),
                   help=f"Data type of an input in the source model: {', '.join(DTYPES)}.")
    o.add_argument("--source_model_input_layout", "-l", nargs=2, action="append", metavar=("INPUT_NAME", "LAYOUT"),
                   help="Layout of an input in the source model: " + ", ".join(af.LAYOUT_NAMES) + ".")
    o.add_argument("--desired_input_layout", nargs=2, action="append", metavar=("INPUT_NAME", "LAYOUT"),
                   help="Layout of an input in the DLC (default: the source layout), e.g. NHWC.")
    o.add_argument("--source_model_output_layout", nargs=2, action="append", metavar=("OUTPUT_NAME", "LAYOUT"),
                   help="Layout of an output in the source model (checked against the model).")
    o.add_argument("--desired_output_layout", nargs=2, action="append", metavar=("OUTPUT_NAME", "LAYOUT"),
                   help="Layout of an output in the DLC (default: the source layout).")
    o.add_argument("--desired_input_color_encoding", "--input_color_encoding", "-e", nargs="+", action="append",
                   metavar="INPUT_NAME ENCODING_IN [ENCODING_OUT]",
                   help="Colour encoding of an image input: the DLC input takes ENCODING_IN, the model gets "
                        "ENCODING_OUT (bgr, rgb, rgba, argb32, nv21, nv12).")
    o.add_argument("--preserve_io_datatype", nargs="*", action="append", metavar="NAME",
                   help="Keep the source data type of these graph inputs/outputs (all when no name is given), "
                        "e.g. float32 I/O of a --float_bitwidth 16 DLC, with a Cast at the boundary.")
    o.add_argument("--dump_config_template", metavar="FILE",
                   help="Write an I/O configuration YAML template for the model and exit.")
    o.add_argument("--dump_io_config_template", dest="dump_config_template", action=_Deprecated,
                   new="--dump_config_template", help=argparse.SUPPRESS)
    o.add_argument("--config", metavar="YAML", help="I/O configuration YAML (see --dump_config_template); the "
                                                    "command line wins over it.")
    o.add_argument("--io_config", dest="config", action=_Deprecated, new="--config", help=argparse.SUPPRESS)
    o.add_argument("--dry_run", nargs="?", const="info", default=None, choices=("info", "debug"),
                   help="Evaluate the model without writing a DLC: list supported and unsupported ops.")
    o.add_argument("--export_format", default="DLC_DEFAULT", choices=("DLC_DEFAULT", "DLC_STRIP_QUANT"),
                   help="DLC_DEFAULT: a quantized source gives a DLC with encodings; DLC_STRIP_QUANT: a float "
                        "DLC without any quantization data.")
    add_quant_args(o)
    o.add_argument("--onnx_skip_simplification", "-oss", action="store_true",
                   help="ONNX: do not fold constant ops in the IR.")
    o.add_argument("--onnx_no_simplification", dest="onnx_skip_simplification", action=_Deprecated, nargs=0,
                   const=True, new="--onnx_skip_simplification", help=argparse.SUPPRESS)
    o.add_argument("--onnx_override_batch", type=int, metavar="BATCH",
                   help="ONNX: batch size that overrides dimension 0 of every input.")
    o.add_argument("--onnx_batch", dest="onnx_override_batch", type=int, action=_Deprecated,
                   new="--onnx_override_batch", help=argparse.SUPPRESS)
    o.add_argument("--onnx_define_symbol", nargs=2, action="append", metavar=("SYMBOL_NAME", "VALUE"),
                   help="ONNX: value of a symbolic dimension, e.g. --onnx_define_symbol batch 1.")
    o.add_argument("--tf_disable_optimization", action="store_true",
                   help="TensorFlow: do not fold constant ops in the IR.")
    o.add_argument("--tf_no_optimization", dest="tf_disable_optimization", action=_Deprecated, nargs=0,
                   const=True, new="--tf_disable_optimization", help=argparse.SUPPRESS)
    o.add_argument("--tf_show_unconsumed_nodes", action="store_true",
                   help="TensorFlow: list every operation the converter does not support.")
    o.add_argument("--tf_saved_model_tag", default="serve", help="TensorFlow SavedModel MetaGraph tag.")
    o.add_argument("--tf_saved_model_signature_key", default="serving_default",
                   help="TensorFlow SavedModel signature key.")
    o.add_argument("--tflite_signature_name", default=None, help="TFLite: convert the subgraph of this signature.")
    o.add_argument("--debug", type=int, nargs="?", const=0, default=-1,
                   help="Run the converter in debug mode (0: all debug logs; 1-3: per stage).")
    o.add_argument("-o", "--output_path", help="Path of the DLC to write (default: the input path with .dlc).")
    o.add_argument("--copyright_file", help="Path to a text file whose content is stored in the DLC.")
    o.add_argument("--set_model_version", dest="model_version",
                   help="User-defined ASCII model version (first 64 characters kept).")
    o.add_argument("--model_version", dest="model_version", action=_Deprecated, new="--set_model_version",
                   help=argparse.SUPPRESS)
    add_float_args(o)
    o.add_argument("--keep_io_legacy_snpe_layout", "--keep_io_legacy_qnn_layout", dest="disable_preserve_io",
                   action="store_true", help=argparse.SUPPRESS)
    for flags, reason in REFUSED.items():
        o.add_argument(*flags, dest=argparse.SUPPRESS, action=_Refuse, reason=f"not supported by snpe-tools ({reason})")
    for flags, new in LEGACY_ONLY.items():
        o.add_argument(*flags, dest=argparse.SUPPRESS, action=_Refuse,
                       reason=f"a legacy snpe-*-to-dlc option, not a qairt-converter one: use {new}")
    p.set_defaults(disable_batchnorm_folding=False, keep_disconnected_nodes=False)
    return p


def detect_framework(path: str) -> str:
    """The source framework from the model path (a folder is a TensorFlow SavedModel)."""
    if os.path.isdir(path):
        if any(f.endswith(".pb") for f in os.listdir(path)):
            return "tensorflow"
        raise ConversionError(f"{path} is a folder without a .pb file; --input_network must be a .onnx, .pb, "
                              ".tflite or .pt file or a TensorFlow SavedModel folder")
    framework = EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if framework is None:
        raise ConversionError("Invalid model format specified. Supported types are .onnx/.pb/.tflite/.pt "
                              f"(--input_network {path}); rename the file with its framework's extension")
    return framework


# ---- the I/O request: YAML first, then the command line ------------------------------------------------
def _cli_pairs(values) -> list[tuple[str, str]]:
    return [(str(n), str(v)) for n, v in values or []]


def io_request(args: argparse.Namespace) -> IoRequest:
    """The graph I/O the user asks for: ``--config`` YAML, then each command-line option on top of it."""
    req = read_qairt_config(args.config) if args.config else IoRequest()

    def inp(name: str) -> TensorRequest:
        return req.inputs.setdefault(name, TensorRequest(name))

    def out(name: str) -> TensorRequest:
        return req.outputs.setdefault(name, TensorRequest(name))

    seen: set[str] = set()
    for name, dims in _cli_pairs(args.source_model_input_shape):
        if name in seen:
            raise ConversionError(f"--source_model_input_shape {name} is given twice: several shapes for one "
                                  "input (network specialization) are not supported; give one shape per input")
        seen.add(name)
        inp(name).shape = parse_dims(name, dims)
    for name, dtype in _cli_pairs(args.source_model_input_datatype):
        if dtype not in DTYPES:
            raise ConversionError(f"--source_model_input_datatype {name} {dtype}: not one of {', '.join(DTYPES)}")
        inp(name).src_dtype = dtype
    for name, lay in _cli_pairs(args.source_model_input_layout):
        inp(name).src_layout = layout_tag(lay, f"--source_model_input_layout {name}")
    for name, lay in _cli_pairs(args.desired_input_layout):
        inp(name).layout = layout_tag(lay, f"--desired_input_layout {name}")
    for name, lay in _cli_pairs(args.source_model_output_layout):
        out(name).src_layout = layout_tag(lay, f"--source_model_output_layout {name}")
    for name, lay in _cli_pairs(args.desired_output_layout):
        out(name).layout = layout_tag(lay, f"--desired_output_layout {name}")
    for item in args.desired_input_color_encoding or []:
        inp(item[0]).color = list(item[1:])
    if args.out_names:
        req.out_names = list(args.out_names)
    req.keep_layout = set() if args.disable_preserve_io else True
    # --preserve_io_datatype: float graph I/O keep the source type in a float16 DLC (all, or the names given);
    # without it every float tensor, the I/O included, follows --float_bitwidth as in the legacy converters
    req.keep_dtype = names_or_all(args.preserve_io_datatype)
    return req


def _frontend_flags(req: IoRequest) -> dict:
    """The per-input tables every frontend takes, from the request."""
    enc_items = [[n] + list(t.color) for n, t in req.inputs.items() if t.color]
    return {"input_dtypes": {n: t.src_dtype for n, t in req.inputs.items() if t.src_dtype},
            "input_layouts": {n: layout_name(t.src_layout) for n, t in req.inputs.items() if t.src_layout},
            "input_encodings": encodings(enc_items)}


def _symbols(values) -> dict[str, int]:
    out = {}
    for name, val in values or []:
        try:
            out[name] = int(val)
        except ValueError:
            out[name] = 0
        if out[name] <= 0:
            raise ConversionError(f"--onnx_define_symbol {name} {val}: the value must be a positive integer")
    return out


def _shapes(req: IoRequest) -> list[tuple[str, list[int]]]:
    return [(n, t.shape) for n, t in req.inputs.items() if t.shape]


def frontend_options(framework: str, args: argparse.Namespace, req: IoRequest):
    flags = _frontend_flags(req)
    shapes = _shapes(req)
    if framework == "onnx":
        from ..frontends.onnx.converter import OnnxOptions

        if args.onnx_override_batch is not None and args.onnx_override_batch <= 0:
            raise ConversionError("--onnx_override_batch must be a positive integer")
        return OnnxOptions(input_dims=dict(shapes), batch=args.onnx_override_batch,
                           symbols=_symbols(args.onnx_define_symbol), out_names=req.out_names,
                           keep_quant_nodes=args.keep_quant_nodes, **flags)
    if framework == "tensorflow":
        from ..frontends.tensorflow.converter import TFOptions

        if not shapes:
            raise ConversionError("TensorFlow models need --source_model_input_shape NAME DIMS for every input, "
                                  'e.g. --source_model_input_shape input "1,299,299,3"')
        if not req.out_names:
            raise ConversionError("TensorFlow models need --out_tensor_node NAME, e.g. --out_tensor_node "
                                  "InceptionV3/Predictions/Reshape_1")
        return TFOptions(input_dims=shapes, out_names=req.out_names, saved_model_tag=args.tf_saved_model_tag,
                         saved_model_signature_key=args.tf_saved_model_signature_key,
                         show_unconsumed_nodes=args.tf_show_unconsumed_nodes, **flags)
    if framework == "tflite":
        from ..frontends.tflite.converter import TfliteOptions

        return TfliteOptions(input_dims=dict(shapes), out_names=req.out_names,
                             signature_name=args.tflite_signature_name, **flags)
    from ..frontends.pytorch.converter import TorchOptions

    if not shapes:
        raise ConversionError("PyTorch models need --source_model_input_shape NAME DIMS for every forward() "
                              'argument, in order, e.g. --source_model_input_shape input "1,3,224,224"')
    return TorchOptions(input_dims=shapes, out_names=req.out_names, **flags)


def convert(framework: str, path: str, opts):
    if framework == "onnx":
        from ..frontends.onnx.converter import convert_onnx
        return convert_onnx(path, opts)
    if framework == "tensorflow":
        from ..frontends.tensorflow.converter import convert_tensorflow
        return convert_tensorflow(path, opts)
    if framework == "tflite":
        from ..frontends.tflite.converter import convert_tflite
        return convert_tflite(path, opts)
    from ..frontends.pytorch.converter import convert_torchscript
    return convert_torchscript(path, opts)


def qairt_dry_run(framework: str, args: argparse.Namespace, opts) -> int:
    """The converters' one --dry_run report; for ONNX followed by the unused graph inputs and outputs."""
    rc = dry_run(framework, args.input_network, opts, args.dry_run)
    if framework == "onnx":
        _unused_io(args.input_network)
    return rc


def _unused_io(path: str) -> None:
    """ONNX graph inputs no node reads and outputs no node writes (qairt's dry run lists them)."""
    from ..frontends.onnx.converter import load_model

    g = load_model(path).graph
    read = {i for n in g.node for i in n.input}
    written = {o for n in g.node for o in n.output}
    inits = {i.name for i in g.initializer}
    unused_in = [i.name for i in g.input if i.name not in read and i.name not in inits]
    unused_out = [o.name for o in g.output if o.name not in written and o.name not in {i.name for i in g.input}]
    print(f"Unused inputs: {', '.join(unused_in) or 'none'}")
    print(f"Outputs no node produces: {', '.join(unused_out) or 'none'}")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(args.debug)
    for old, new in vars(args).pop("deprecated_options", []):     # not part of the recorded command
        LOG.warning("%s is deprecated; use %s", old, new)
    if args.dump_config_template:      # writes the template only: the DLC output path does not matter
        check_input_file(args.input_network, "--input_network", allow_dir=True, error=ConversionError)
        output_target(args.dump_config_template, "--dump_config_template", "io_config.yaml")
    else:
        check_paths(args, allow_dir=True)
    framework = detect_framework(args.input_network)
    req = io_request(args)
    opts = frontend_options(framework, args, req)
    check_overrides_file(args)
    if args.dry_run:
        return qairt_dry_run(framework, args, opts)
    read_copyright(args.copyright_file)
    model_version(args.model_version)
    graph = convert(framework, args.input_network, opts)
    if args.dump_config_template:
        write_template(qairt_template(graph), args.dump_config_template, "--dump_config_template")
        LOG.info("I/O configuration template written to %s", args.dump_config_template)
        return 0
    no_fold = args.onnx_skip_simplification if framework == "onnx" else \
        args.tf_disable_optimization if framework == "tensorflow" else False
    optimise_and_save(graph, args, PROG, fold_constants=not no_fold,
                      spatial_first=framework in ("onnx", "pytorch"),
                      io=(req, "--config" if args.config else PROG))
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

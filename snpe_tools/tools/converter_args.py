"""Command-line options shared by the legacy ``snpe-*-to-dlc`` converters (SNPE 2.x names and aliases)."""
from __future__ import annotations

import argparse
import glob
import os

from ..dlc.writer import output_target
from ..errors import ConversionError
from ..frontends import front_half
from ..ir import axis_format as af
from .common import ArgumentParser, check_input_file, check_not_input

COPYRIGHT_LIMIT = 1 << 20      # bytes of --copyright_file text stored in the DLC metadata

INPUT_TYPES = ("image", "default", "opaque")
ENCODINGS = ("bgr", "rgb", "rgba", "argb32", "nv21", "nv12", "time_series", "other")
DTYPES = ("float32", "float16", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "bool")


def build_parser(prog: str, description: str) -> ArgumentParser:
    p = ArgumentParser(prog=prog, description=description)
    r, o = p.required, p.optional
    r.add_argument("--input_network", "-i", required=True, help="Path to the source framework model.")
    o.add_argument("--out_node", "--out_name", dest="out_names", action="append", default=[],
                   help="Name of a graph output; repeat for several outputs (default: the model's outputs).")
    o.add_argument("--input_type", "-t", nargs=2, action="append", metavar=("INPUT_NAME", "INPUT_TYPE"),
                   help=f"Type of an input: one of {', '.join(INPUT_TYPES)}.")
    o.add_argument("--input_dtype", nargs=2, action="append", metavar=("INPUT_NAME", "INPUT_DTYPE"),
                   help="Data type of an input (default float32).")
    o.add_argument("--input_encoding", "-e", nargs="+", action="append",
                   metavar="INPUT_NAME ENCODING_IN [ENCODING_OUT]",
                   help=f"Image encoding of an input: {', '.join(ENCODINGS)} (default bgr).")
    o.add_argument("--input_layout", "-l", nargs=2, action="append", metavar=("INPUT_NAME", "INPUT_LAYOUT"),
                   help="Source layout of an input: " + ", ".join(af.LAYOUT_NAMES) + ".")
    o.add_argument("--debug", type=int, nargs="?", const=0, default=-1,
                   help="Debug logs: 1 = every op translated into the IR, 2 = also each IR optimisation pass, "
                        "3 = also every node written to the DLC; 0 or no value = all of them (and a stack trace "
                        "on errors).")
    o.add_argument("-o", "--output_path", help="Path of the DLC to write (default: the input path with .dlc).")
    o.add_argument("--copyright_file", help="Path to a text file whose content is stored in the DLC.")
    o.add_argument("--model_version", help="User-defined ASCII model version (first 64 characters kept).")
    o.add_argument("--disable_batchnorm_folding", action="store_true",
                   help="Do not fold batch normalisation into the preceding convolution.")
    o.add_argument("--keep_disconnected_nodes", action="store_true",
                   help="Keep ops that do not contribute to any graph output.")
    o.add_argument("--dry_run", nargs="?", const="info", default=None, choices=("info", "debug"),
                   help="Evaluate the model without writing a DLC: list supported and unsupported ops.")
    add_float_args(o)
    add_quant_args(o)
    o.add_argument("--custom_io", default="",
                   help="YAML file of per-tensor graph I/O layouts and data types (see "
                        "--dump_custom_io_config_template).")
    o.add_argument("--dump_custom_io_config_template", default="", metavar="FILE",
                   help="Write a --custom_io YAML template for the model's inputs and outputs and exit.")
    o.add_argument("--preserve_io", nargs="*", action="append", metavar="[layout|datatype] NAME",
                   help="Keep graph inputs/outputs as in the source model: --preserve_io (layout and data type "
                        "of all), --preserve_io layout [NAME ...], --preserve_io datatype [NAME ...].")
    return p


def add_float_args(group) -> None:
    """--float_bitwidth / --float_bias_bitwidth, shared by the legacy converters and qairt-converter."""
    group.add_argument("--float_bitwidth", "--float_bw", type=int, default=32, choices=(32, 16),
                       help="Bit width of float tensors: 32 (default) or 16 (a float16 DLC).")
    group.add_argument("--float_bias_bitwidth", "--float_bias_bw", type=int, default=0, choices=(0, 16, 32),
                       help="Bit width of float biases: 0 (default: as --float_bitwidth), 16 or 32.")


def add_quant_args(group) -> None:
    """--quantization_overrides / --keep_quant_nodes: encodings a quantized source or an AIMET file gives."""
    group.add_argument("--quantization_overrides", "-q", default="", metavar="FILE",
                       help="AIMET encodings JSON (legacy or 1.0.0 format): the encodings land on the named tensors "
                            "and are applied by snpe-dlc-quant --override_params / qairt-quantizer.")
    group.add_argument("--keep_quant_nodes", action="store_true",
                       help="Keep the source model's quantize/dequantize nodes as QNN Quantize/Dequantize ops "
                            "instead of folding them into tensor encodings.")


def check_overrides_file(args: argparse.Namespace) -> None:
    """A missing or unreadable --quantization_overrides file fails before the conversion starts."""
    if getattr(args, "quantization_overrides", ""):
        from ..quantization.overrides import load_overrides, parse_overrides, refuse_float32

        floats: dict[str, int] = {}
        parse_overrides(load_overrides(args.quantization_overrides), floats)
        refuse_float32(floats)


def check_float_args(args: argparse.Namespace) -> None:
    if args.float_bitwidth == 32 and args.float_bias_bitwidth == 16:
        raise ConversionError("--float_bias_bitwidth 16 needs --float_bitwidth 16 (float16 biases in a float32 "
                              "model are not supported); drop it or add --float_bitwidth 16")


def parse_dims(name: str, text: str) -> list[int]:
    text = text.strip()
    try:
        dims = [int(d) for d in text.replace(" ", "").split(",") if d != ""]
    except ValueError:
        raise ConversionError(f"-d/--input_dim {name} \"{text}\": dimensions must be comma-separated "
                              "integers, e.g. \"1,3,224,224\"") from None
    if not dims or any(d <= 0 for d in dims):
        raise ConversionError(f"-d/--input_dim {name} \"{text}\": every dimension must be a positive integer, "
                              "e.g. \"1,3,224,224\"")
    return dims


def pairs(values, what: str, choices=None) -> dict[str, str]:
    out = {}
    for name, val in values or []:
        if choices is not None and val not in choices:
            raise ConversionError(f"{what} {name} {val}: '{val}' is not one of {', '.join(choices)}")
        out[name] = val
    return out


def encodings(values) -> dict[str, tuple[str, str]]:
    """``NAME ENC_IN [ENC_OUT]``.  ENC_OUT defaults to bgr (as in SNPE) for the formats that need a
    conversion (rgba, argb32, nv21, nv12); a single 3-channel or non-image encoding takes the data as it is.
    The conversions themselves are passes/color_transform.py's."""
    from ..passes.color_transform import COLOUR_IN, COLOUR_OUT

    out = {}
    for item in values or []:
        if len(item) not in (2, 3):
            raise ConversionError("--input_encoding takes INPUT_NAME ENCODING_IN [ENCODING_OUT]")
        name, enc_in = item[0], item[1].lower()
        enc_out = item[2].lower() if len(item) == 3 else \
            ("bgr" if enc_in in ("rgba", "argb32", "nv21", "nv12") else enc_in)
        for e in (enc_in, enc_out):
            if e not in ENCODINGS:
                raise ConversionError(f"--input_encoding {name}: '{e}' is not one of {', '.join(ENCODINGS)}")
        if enc_in != enc_out and not (enc_in in COLOUR_IN and enc_out in COLOUR_OUT):
            raise ConversionError(f"--input_encoding {name} {enc_in} {enc_out}: no colour conversion from "
                                  f"{enc_in} to {enc_out}; supported: [ARGB32|RGBA|NV21|NV12|BGR|RGB] to [RGB|BGR]")
        out[name] = (enc_in, enc_out)
    return out


def encoding_layouts(layouts: dict[str, str], encs: dict[str, tuple[str, str]]) -> dict[str, str]:
    """``--input_encoding NAME other``: SNPE gives that input the NONTRIVIAL axis format (its data is taken
    as it is, with no layout change) unless ``--input_layout`` names one."""
    out = dict(layouts)
    for name, (enc_in, _) in encs.items():
        if enc_in == "other":
            out.setdefault(name, "NONTRIVIAL")
    return out


def input_flags(args) -> dict[str, dict]:
    """The per-input flags shared by every converter, parsed and checked (``name -> value`` tables)."""
    encs = encodings(args.input_encoding)
    return {"input_dtypes": pairs(args.input_dtype, "--input_dtype", DTYPES),
            "input_layouts": encoding_layouts(pairs(args.input_layout, "--input_layout", tuple(af.LAYOUT_NAMES)),
                                              encs),
            "input_types": pairs(args.input_type, "--input_type", INPUT_TYPES),
            "input_encodings": encs}


def check_input_names(names: list[str], flags: dict[str, dict]) -> None:
    """-d names are unique (TensorFlow and TorchScript define their inputs with -d), and every per-input
    flag names one of them (the frontends' one check, :func:`front_half.check_input_names`)."""
    if len(set(names)) != len(names):
        raise ConversionError("-d/--input_dim names must be unique")
    front_half.check_input_names(argparse.Namespace(**flags), names, named_with="-d")


def read_copyright(path: str | None) -> str:
    if not path:
        return "N/A"
    check_input_file(path, "--copyright_file", "copyright", error=ConversionError)
    try:
        with open(path, "rb") as fh:
            data = fh.read(COPYRIGHT_LIMIT + 1)
    except OSError as exc:
        raise ConversionError(f"--copyright_file {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > COPYRIGHT_LIMIT:
        raise ConversionError(f"--copyright_file {path}: the file is larger than {COPYRIGHT_LIMIT >> 20} MiB; "
                              "give a short text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConversionError(f"--copyright_file {path}: not UTF-8 text (a binary file?); give a text file") \
            from None


def model_version(text: str | None) -> str:
    if text is None:
        return "N/A"
    if not text.isascii():
        raise ConversionError("--model_version must be ASCII text")
    return text[:64]


def converter_command(prog: str, args: argparse.Namespace, extra: dict | None = None) -> str:
    """SNPE's recorded command: ``<tool> key=value ...`` over every option except input/output paths."""
    values = dict(vars(args))
    values.update(extra or {})
    for k in ("input_network", "output_path"):
        values.pop(k, None)
    return " ".join([prog] + [f"{k}={values[k]}" for k in sorted(values)])


def default_output_path(input_path: str) -> str:
    base, _ = os.path.splitext(os.path.realpath(input_path))
    return base + ".dlc"


def check_paths(args: argparse.Namespace, allow_dir: bool = False, extra_inputs: tuple[str, ...] = ()) -> str | None:
    """Checks made before a conversion starts, so that a mistake fails in a second and touches nothing.

    The input (and --copyright_file) must be regular files (a directory too with ``allow_dir``, for a
    SavedModel): devices and FIFOs are refused before they are opened.  The output (``-o`` or the input
    path with .dlc) must not be the input itself (same path, symbolic or hard link), nor an existing
    directory, device or FIFO, and its folder must exist and be writable (folders are not created, as
    SNPE's converters do not create them).  Returns the output path (None with --dry_run, which writes
    nothing)."""
    check_input_file(args.input_network, "--input_network", allow_dir=allow_dir, error=ConversionError)
    if args.copyright_file:
        check_input_file(args.copyright_file, "--copyright_file", "copyright", error=ConversionError)
    check_overrides_file(args)
    if args.dry_run:
        return None
    out = args.output_path or default_output_path(args.input_network)
    flag = "-o/--output_path" if args.output_path else "the default output path"
    src = args.input_network
    inputs = [src, args.copyright_file, getattr(args, "quantization_overrides", "") or None, *extra_inputs]
    if src.endswith(".meta"):                       # TF checkpoint: <stem>.index, <stem>.data-*
        inputs += glob.glob(glob.escape(src[:-5]) + ".*")
    check_not_input(out, inputs, flag)
    if os.path.isdir(src) and os.path.exists(out):
        real_dir, real_out = os.path.realpath(src), os.path.realpath(out)
        if real_out.startswith(real_dir + os.sep):
            raise ConversionError(f"{flag} {out} is a file of the input SavedModel {src}; writing it would "
                                  "damage the model: choose an output path outside the SavedModel folder")
    output_target(out, flag)
    return out

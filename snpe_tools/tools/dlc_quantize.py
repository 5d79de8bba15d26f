"""snpe-dlc-quantize, snpe-dlc-quant and qairt-quantizer: quantize a float DLC with calibration inputs.

The three tools share one pipeline (:func:`quantize_dlc`): read the float DLC, check the input list and
every file it names, run the float graph over the calibration inputs on the reference runtime
(streaming min/max per tensor), compute SNPE's encodings (:mod:`snpe_tools.quantization`) and write
the fixed-point DLC (integer tensors with encodings) with a ``quantizer-command`` metadata entry.

* ``snpe-dlc-quant`` (SNPE 2.x) and ``snpe-dlc-quantize`` (the 1.x tool, a 2.x wrapper that also runs
  graph preparation with ``--enable_htp``) take boost-style options: ``--opt=value`` or ``--opt value``,
  switches without a value, and the SNPE logging flags.  Their ``quantizer-command`` is written as
  SNPE 1.x files carry it: the tool name, then every option in declaration order as ``name=value``
  (``true``/``false`` for switches, ``[value]`` or ``[]`` for valued options).
* ``qairt-quantizer`` takes Python-style options, and records ``qairt-quantizer key=value ...`` in
  alphabetical order, as our converters record ``converter-command``.

Options that snpe-tools does not implement yet are refused with a one-line error naming the option
(exit 2) instead of being ignored; deprecated spellings print SNPE's deprecation warnings.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from typing import Any, Iterator

import numpy as np

from .. import __version__
from ..dlc import Metadata, read_dlc
from ..dlc.metadata import KEY_ORDER, NA
from ..dlc.writer import output_target, write_dlc
from ..errors import DLCError, SnpeToolsError
from ..ir.encodings import QNN_MIN_RANGE, SNPE_MIN_RANGE
from ..ir.graph import Encoding, Graph
from ..passes import run_pipeline
from ..quantization import QuantOptions, calibrate, quantize_graph
from ..quantization.calibration import activation_tensors
from ..quantization.algorithms import DEFAULT_PERCENTILE, stats_factory
from ..quantization.cle import equalize
from ..quantization.float_io import check_io_names, preserve_float_io
from ..quantization.overrides import apply_overrides
from ..quantization.preset import (fall_back_to_float, float16_in_mixed_graph, float_tensors, propagate_preset,
                                   strip_encodings, take_preset)
from ..quantization.quantizer import QuantSummary, is_already_quantized
from ..quantization.report import format_table, layer_sqnr
from ..runtime.feeds import plan_feeds, read_feed
from ..runtime.input_list import InputList, parse_input_list, selected_outputs
from .io_config import names_or_all
from .common import LOG, ArgumentParser, check_input_file, check_not_input, run_main, setup_logging

QUANTIZE = "snpe-dlc-quantize"
QUANT = "snpe-dlc-quant"
QAIRT = "qairt-quantizer"

_NYI = "not supported by snpe-tools yet"


# ---- argument parsing -----------------------------------------------------------------------------
def _flag(group, name: str, help_: str) -> None:
    group.add_argument(name, action="store_true", help=help_)


def _value(group, name: str, help_: str, **kw) -> None:
    group.add_argument(name, default=None, help=help_, **kw)


def _snpe_parser(prog: str) -> ArgumentParser:
    """snpe-dlc-quantize / snpe-dlc-quant: options in the order SNPE declares them (quantizer-command order)."""
    htp = prog == QUANTIZE
    p = ArgumentParser(prog=prog, description=(
        "Quantize a float DLC: calibrate on the inputs of --input_list with the reference runtime and write "
        "a fixed-point DLC (8/16-bit activations, 8/16-bit weights, 8/32-bit biases).  Options take "
        "--opt=value or --opt value."))
    lg, r, o = p.add_argument_group("logging options"), p.required, p.optional
    _flag(o, "--version", "Print the version and exit.")
    _flag(lg, "--verbose", "Print every encoding as it is set (INFO).")
    _flag(lg, "--quiet", "Print warnings and errors only.")
    _flag(lg, "--silent", "Print errors only.")
    lg.add_argument("--debug", nargs="?", const="0", default=None, metavar="LEVEL", help="Debug logging.")
    for n in (1, 2, 3):
        _flag(lg, f"--debug{n}", f"Debug logging, level {n}.")
    _value(lg, "--log-mask", "Log levels per area, e.g. '.*=USER_ERROR' or '.*=INFO'; the level for '.*' "
                             "(else the most verbose one) applies.")
    _value(lg, "--log-file", "Also write the log to this file (in --log-dir if given).")
    _value(lg, "--log-dir", f"Also write the log to a file in this folder ({prog}.log unless --log-file).")
    _flag(lg, "--log-file-include-hostname", "Insert the host name into the log file name.")
    _value(r, "--input_dlc", "Path to the float DLC to quantize (required).")
    _value(r, "--input_list", "File listing the calibration inputs, one inference per line (.raw float32 files "
                              "in the DLC's input layout; name:=path pairs for several inputs).")
    _flag(o, "--no_weight_quantization", "Deprecated: keep weights and biases float, quantize activations only.")
    _value(o, "--output_dlc", "Path of the quantized DLC (default <input>_quantized.dlc).")
    if htp:
        _flag(o, "--enable_hta", "Retired (HTA is not supported by SNPE 2.x).")
        _value(o, "--hta_partitions", "Retired (HTA is not supported by SNPE 2.x).")
        _flag(o, "--enable_htp", "Also prepare an HTP cache: snpe-tools quantizes and warns that no cache record "
                                 "is produced (the device prepares the graph at load time).")
        _flag(o, "--skip_quantization", f"Hidden SNPE option; {_NYI}.")
        _value(o, "--htp_socs", "SoCs to prepare HTP caches for (with --enable_htp), e.g. sm8750.")
    _flag(o, "--use_enhanced_quantizer", "Deprecated (--param_quantizer/--act_quantizer enhanced): TF-enhanced "
                                         "range search for weights and activations with long tails.")
    _flag(o, "--use_adjusted_weights_quantizer", "Deprecated (--param_quantizer adjusted): 8-bit weights whose "
                                                 "range is widened, not shifted, to hold zero exactly.")
    o.add_argument("--optimizations", action="append", default=None, metavar="cle|bc",
                   help="cle: cross-layer equalization of Conv -> ReLU -> Conv pairs before calibration; bc: a "
                        "no-op in SNPE 2.x.")
    if htp:
        _value(o, "--clip_alpha", f"Hidden SNPE option; {_NYI}.")
    _flag(o, "--override_params", "Use the encodings given at conversion (quantized source model, "
                                  "--quantization_overrides) instead of calibrating those tensors.")
    _flag(o, "--use_encoding_optimizations", "Deprecated no-op.")
    _value(o, "--udo_package_path", f"UDO packages; {_NYI}.")
    _flag(o, "--use_symmetric_quantize_weights", "Deprecated (--param_quantizer symmetric): symmetric weights.")
    _value(o, "--bitwidth", "Deprecated: weights and activations bit width, 8 or 16.", choices=["8", "16"])
    _value(o, "--weights_bitwidth", "Weights bit width: 4, 8 (default) or 16 (4-bit values are stored one per "
                                    "byte unless --pack_4_bit_weights).",
           choices=["4", "8", "16"])
    _value(o, "--act_bitwidth", "Activations bit width: 8 (default) or 16.", choices=["8", "16"])
    _value(o, "--bias_bitwidth", "Bias bit width: 8 (default) or 32.", choices=["8", "32"])
    _flag(o, "--axis_quant", "Deprecated (--use_per_channel_quantization).")
    # SNPE 2.x additions
    _value(o, "--param_quantizer", "Weights quantizer: tf (min/max, default), enhanced (range search for long "
                                   "tails), adjusted (8-bit) or symmetric.",
           choices=["tf", "enhanced", "adjusted", "symmetric"])
    _value(o, "--act_quantizer", "Activations quantizer: tf (min/max, default), enhanced or symmetric.",
           choices=["tf", "enhanced", "adjusted", "symmetric"])
    _value(o, "--float_bitwidth", "Bit width of the tensors that stay float (float fallback, float overrides): "
                                  "32 (default) or 16.", choices=["16", "32"])
    _value(o, "--float_bias_bitwidth", "Bit width of the biases of float ops: as --float_bitwidth (default), 16 "
                                       "or 32.", choices=["16", "32"])
    _flag(o, "--float_fallback", "Quantize from the encodings in the DLC without an input list (needs "
                                 "--override_params); ops without encodings stay float.")
    _flag(o, "--use_per_channel_quantization", "Per-channel (symmetric) weights for the convolution ops.")
    _flag(o, "--use_per_row_quantization", "Per-row (symmetric) weights for MatMul/FullyConnected.")
    _flag(o, "--enable_per_row_quantized_bias", "With --use_per_row_quantization and --bias_bitwidth=32: "
                                                "FullyConnected biases per row instead of one scale.")
    _value(o, "--restrict_quantization_steps", "'MIN,MAX': the integer steps symmetric weights use, as hex or "
                                               "decimal, e.g. '-0x7F,0x7F' (8-bit weights without -128).")
    _flag(o, "--pack_4_bit_weights", "Store 4-bit weights (--weights_bitwidth=4) two per byte, first value in "
                                     "the low nibble (types sFxp_4/uFxp_4) instead of one per byte.")
    _flag(o, "--use_native_dtype", "Deprecated (--use_native_input_files).")
    _flag(o, "--use_native_input_files", "Calibration files hold each input in its own type (int32 ids, float16 "
                                         "inputs of a float16 DLC ...) instead of float32.")
    _flag(o, "--use_native_output_files", "Not supported: the quantizer writes no output files.")
    if htp:
        _flag(o, "--overwrite_cache_records", "With --enable_htp: replace existing cache records (none are made).")
        _flag(o, "--use_float_io", f"Deprecated HTP option (float inputs/outputs); {_NYI}.")
    return p


# boost-style options refused whenever they are given: reason
_SNPE_REFUSED = {
    "skip_quantization": "a hidden SNPE option",
    "clip_alpha": "a hidden SNPE option",
    "udo_package_path": "UDO packages are not supported",
    "use_native_output_files": "the quantizer writes no output files (native output files are an snpe-net-run "
                               "option)",
    "use_float_io": "a deprecated HTP option (qairt-quantizer --preserve_io_datatype keeps float graph inputs/outputs)",
}


def _qairt_parser() -> ArgumentParser:
    p = ArgumentParser(prog=QAIRT, description=(
        "Quantize a float DLC: calibrate on the inputs of --input_list with the reference runtime and write "
        "a fixed-point DLC."))
    r, o = p.required, p.optional
    r.add_argument("-i", "--input_dlc", required=True, help="Path to the float DLC to quantize.")
    o.add_argument("-o", "--output_dlc", default=None, help="Path of the quantized DLC (default "
                                                           "<input>_quantized.dlc).")
    o.add_argument("-l", "--input_list", default=None, help="File listing the calibration inputs.")
    o.add_argument("-f", "--float_fallback", "--enable_float_fallback", dest="float_fallback", action="store_true",
                   help="Quantize from the encodings in the DLC without an input list; ops without "
                        "encodings stay float.")
    o.add_argument("--algorithms", "--apply_algorithms", dest="algorithms", nargs="+", default=None,
                   help="Optimization algorithms: cle (cross-layer equalization before calibration).")
    o.add_argument("--bias_bitwidth", type=int, default=8, choices=[8, 32], help="Bias bit width (default 8).")
    o.add_argument("--act_bitwidth", type=int, default=8, choices=[8, 16], help="Activations bit width (default 8).")
    o.add_argument("--weights_bitwidth", type=int, default=8, choices=[4, 8, 16],
                   help="Weights bit width: 4, 8 (default) or 16 (4-bit values are stored one per byte "
                        "unless --pack_4_bit_weights).")
    o.add_argument("--float_bitwidth", type=int, default=32, choices=[16, 32],
                   help="Bit width of the tensors that stay float (float fallback, float overrides): 32 "
                        "(default) or 16.")
    o.add_argument("--float_bias_bitwidth", type=int, default=0, choices=[0, 16, 32],
                   help="Bit width of the biases of float ops: 0 (default: as --float_bitwidth), 16 or 32.")
    o.add_argument("--ignore_encodings", "--ignore_quantization_overrides", dest="ignore_encodings",
                   action="store_true", help="Ignore the encodings given at conversion: every tensor is "
                                             "calibrated.")
    o.add_argument("-q", "--quantization_overrides", default=None, metavar="FILE",
                   help="AIMET encodings JSON applied to the named tensors before quantizing.")
    o.add_argument("--use_per_channel_quantization", action="store_true",
                   help="Per-channel (symmetric) weights for the convolution ops.")
    o.add_argument("--use_per_row_quantization", action="store_true",
                   help="Per-row (symmetric) weights for MatMul/FullyConnected.")
    o.add_argument("--enable_per_row_quantized_bias", action="store_true",
                   help="With --use_per_row_quantization and --bias_bitwidth 32: FullyConnected biases per row "
                        "(input scale x row scale) instead of one scale.")
    o.add_argument("--preserve_io_datatype", nargs="*", action="append", default=None, metavar="NAME",
                   help="Keep the float type of the graph inputs/outputs named (all when no name is given): a "
                        "Quantize behind each input, a Dequantize in front of each output.")
    o.add_argument("--use_native_input_files", action="store_true",
                   help="Calibration files hold each input in its own type (int32 ids, float16 inputs of a "
                        "float16 DLC ...) instead of float32.")
    o.add_argument("--use_native_output_files", action="store_true",
                   help="Not supported: the quantizer writes no output files.")
    o.add_argument("--restrict_quantization_steps", default=None, metavar="'MIN MAX'",
                   help="The integer steps symmetric weights use, as hex or decimal, e.g. '-0x7F 0x7F' (8-bit "
                        "weights without -128).")
    o.add_argument("--keep_weights_quantized", action="store_true",
                   help="Ops that stay float (float fallback, float overrides) keep fixed-point weights; their "
                        "bias follows the op's float output.")
    o.add_argument("--adjust_bias_encoding", action="store_true",
                   help="32-bit biases with one scale per channel (per-channel weights, per-row weights with "
                        "--enable_per_row_quantized_bias): where a bias does not fit 32 bits at input scale x "
                        "weight scale, widen that weight channel's scale (coarser weights) so that it does.")
    o.add_argument("--act_quantizer_calibration", default="min-max",
                   choices=["min-max", "sqnr", "entropy", "mse", "percentile"],
                   help="Activation calibration: min-max (default), sqnr, entropy, mse or percentile.")
    o.add_argument("--param_quantizer_calibration", default="min-max",
                   choices=["min-max", "sqnr", "entropy", "mse", "percentile"],
                   help="Weights calibration: min-max (default), sqnr, entropy, mse or percentile.")
    o.add_argument("--act_quantizer_schema", default="asymmetric",
                   choices=["asymmetric", "symmetric", "unsignedsymmetric"],
                   help="Activation schema: asymmetric (default), symmetric or unsignedsymmetric.")
    o.add_argument("--param_quantizer_schema", default="asymmetric",
                   choices=["asymmetric", "symmetric", "unsignedsymmetric"],
                   help="Weights schema: asymmetric (default), symmetric or unsignedsymmetric.")
    o.add_argument("--percentile_calibration_value", type=float, default=None,
                   help="Percentile for percentile calibration, 90-100 (default 99.99).")
    o.add_argument("--use_aimet_quantizer", action="store_true", help=f"{_NYI}.")
    o.add_argument("-c", "--config_file", "--config", dest="config_file", default=None, help=f"YAML config; {_NYI}.")
    o.add_argument("-opl", "--op_package_lib", default=None, help=f"Op packages; {_NYI}.")
    o.add_argument("--dump_encoding_json", action="store_true",
                   help="Also write the encodings as AIMET-style JSON (<output>_encoding.json).")
    o.add_argument("--include_data_invariant_ops", action="store_true",
                   help="Calibrate data-invariant ops (Reshape, Transpose ...) instead of giving their outputs "
                        "their input's encoding.")
    o.add_argument("--export_stripped_dlc", action="store_true", help=f"{_NYI}.")
    o.add_argument("--target_backend", default=None, help=f"{_NYI}.")
    o.add_argument("--target_soc_model", default=None, help=f"{_NYI}.")
    o.add_argument("--param_quantizer", default="tf", choices=["tf", "enhanced", "adjusted", "symmetric"],
                   help=argparse.SUPPRESS)
    o.add_argument("--act_quantizer", default="tf", choices=["tf", "enhanced", "adjusted", "symmetric"],
                   help=argparse.SUPPRESS)
    o.add_argument("--use_dynamic_16_bit_weights", action="store_true", help=argparse.SUPPRESS)
    o.add_argument("--pack_4_bit_weights", action="store_true", help=argparse.SUPPRESS)
    o.add_argument("--debug", type=int, nargs="?", const=0, default=-1, help="Debug logging.")
    return p


_QAIRT_REFUSED = {
    "use_native_output_files": "the quantizer writes no output files (native output files are a qnn-net-run "
                               "option)",
    "use_aimet_quantizer": "the AIMET quantizer is not available",
    "config_file": "quantizer configuration files are not supported yet",
    "op_package_lib": "op packages are not supported",
    "export_stripped_dlc": "stripped DLCs are not supported yet",
    "target_backend": "backend-specific quantization is not implemented",
    "target_soc_model": "backend-specific quantization is not implemented",
    "use_dynamic_16_bit_weights": "dynamic 16-bit weights are not implemented",
}


def _refuse_given(parser: argparse.ArgumentParser, args: argparse.Namespace, table: dict[str, str]) -> None:
    for a in parser._actions:
        if a.dest in table and getattr(args, a.dest, None) not in (None, False, a.default):
            names = [o for o in a.option_strings if o.startswith("--")] or a.option_strings
            parser.error(f"{'/'.join(names)} is not supported: {table[a.dest]}")


# ---- recorded command -------------------------------------------------------------------------------
def boost_command(prog: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """``<tool> help=false version=false verbose=... input_dlc=[...] ...`` as SNPE 1.x files record it."""
    parts = [prog]
    for a in parser._actions:
        name = max(a.option_strings, key=len).lstrip("-")
        if isinstance(a, argparse._HelpAction):
            parts.append("help=false")
            continue
        value = getattr(args, a.dest, None)
        if isinstance(a, argparse._StoreTrueAction):
            parts.append(f"{name}={'true' if value else 'false'}")
        elif value is None:
            parts.append(f"{name}=[]")
        elif isinstance(value, list):
            parts.append(f"{name}=[{','.join(str(v) for v in value)}]")
        else:
            parts.append(f"{name}=[{value}]")
    return " ".join(parts)


def python_command(prog: str, args: argparse.Namespace) -> str:
    """``<tool> key=value ...`` in alphabetical order, as our converters record converter-command; like
    qairt-quantizer's ``quantizer_command`` it leaves out the input and output DLC (``snpe_reference.md``
    section 1.1)."""
    values = {k: v for k, v in vars(args).items() if k not in ("input_dlc", "output_dlc")}
    return " ".join([prog] + [f"{k}={values[k]!r}" if isinstance(values[k], str) else f"{k}={values[k]}"
                              for k in sorted(values)])


# ---- logging ----------------------------------------------------------------------------------------
_MASK_LEVELS = (("ERROR", logging.ERROR), ("WARN", logging.WARNING), ("INFO", logging.INFO),
                ("VERBOSE", logging.INFO), ("DEBUG", logging.DEBUG))


def _mask_level(mask: str) -> int:
    """The log level a ``--log-mask`` asks for: the one of area ``.*``, else the most verbose given."""
    chosen, levels = None, []
    for item in mask.split(","):
        item = item.strip()
        if not item:
            continue
        area, _, lvl = item.rpartition("=")
        lvl = lvl.strip().upper()
        level = next((v for k, v in _MASK_LEVELS if k in lvl), None)
        if level is None:
            raise SnpeToolsError(f"--log-mask {mask}: unknown log level '{lvl}' (use ERROR, WARN, INFO, VERBOSE "
                                 "or DEBUG, optionally prefixed USER_)")
        levels.append(level)
        if area.strip() in (".*", ""):
            chosen = level
    if chosen is None:
        if not levels:
            raise SnpeToolsError(f"--log-mask '{mask}' names no level, e.g. --log-mask='.*=INFO'")
        chosen = min(levels)
    return chosen


def _setup_snpe_logging(prog: str, args: argparse.Namespace) -> None:
    debug = None
    if args.debug is not None or args.debug1 or args.debug2 or args.debug3:
        debug = 3 if args.debug3 else 2 if args.debug2 else 1 if args.debug1 else 0
    setup_logging(debug)
    if debug is None:
        if args.silent:
            LOG.setLevel(logging.ERROR)
        elif args.quiet:
            LOG.setLevel(logging.WARNING)
    if args.log_mask:
        LOG.setLevel(_mask_level(args.log_mask))
    if args.log_file or args.log_dir or args.log_file_include_hostname:
        name = args.log_file or f"{prog}.log"
        if args.log_file_include_hostname:
            stem, ext = os.path.splitext(name)
            name = f"{stem}_{socket.gethostname()}{ext or '.log'}"
        path = os.path.join(args.log_dir, name) if args.log_dir else name
        target = output_target(path, "log file", "quantize.log")
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(LOG.handlers[0].formatter)
        LOG.addHandler(handler)


# ---- input list ---------------------------------------------------------------------------------------
def check_calibration_inputs(il: InputList, graph: Graph, native: bool = False) -> list[list]:
    """Every line of the input list mapped to the model's inputs and every file checked (exists, is a
    regular file, holds exactly the input's element count in float32, or with ``native``
    (``--use_native_input_files``) in the input's own type) before calibration starts, with
    snpe-net-run's checks and messages."""
    return [plan_feeds(entry, graph, native, i + 1) for i, entry in enumerate(il.entries)]


def _feed_iter(plans: list[list], graph: Graph, native: bool = False) -> Iterator[dict[str, np.ndarray]]:
    for plan in plans:
        yield {f.name: read_feed(f, graph, native) for f in plan}


# ---- the shared pipeline ------------------------------------------------------------------------------
def _equalize(graph: Graph, frozen: set[str], sample: dict[str, np.ndarray] | None) -> None:
    """--optimizations cle / --algorithms cle: cross-layer equalization before calibration; ``frozen``
    tensors (given encodings) are left alone; ``sample`` (the first calibration input) measures what
    rewriting ReLU6 to ReLU changes."""
    summary = equalize(graph, frozen=frozen, sample=sample)
    if not summary.pairs:
        LOG.warning("cross-layer equalization: no Conv -> ReLU -> Conv pair to equalize; the model is unchanged")
        return
    LOG.info("cross-layer equalization: %d conv pair(s) equalized in %d sweep(s)", len(summary.pairs), summary.sweeps)
    if summary.relu6_rewritten:
        LOG.warning("cross-layer equalization replaced %d ReLU6 by ReLU, as SNPE does (e.g. '%s'): values above 6 are "
                    "no longer clipped", len(summary.relu6_rewritten), summary.relu6_rewritten[0])
    if summary.relu6_clipped:
        worst = max(summary.relu6_clipped, key=summary.relu6_clipped.get)
        LOG.warning("on the first calibration input %d of those ReLU6 clipped values (up to %.1f%% at '%s'): the "
                    "model's outputs change with cle; quantize without it if they matter",
                    len(summary.relu6_clipped), 100 * summary.relu6_clipped[worst], worst)


def default_output(input_dlc: str) -> str:
    base, ext = os.path.splitext(input_dlc)
    return f"{base}_quantized{ext or '.dlc'}"


def _fmt(enc: Encoding) -> str:
    return (f"bw: {enc.bitwidth}, min: {enc.min:.6f}, max: {enc.max:.6f}, delta: {enc.scale:.6f}, "
            f"offset: {float(enc.offset):.6f}")


def encoding_json(summary: QuantSummary) -> dict[str, Any]:
    """The encodings in AIMET's legacy JSON form (one entry per channel for per-channel encodings)."""
    def entries(enc: Encoding) -> list[dict[str, Any]]:
        chans = enc.channels if enc.axis is not None and enc.channels else [(enc.scale, enc.offset, enc.min,
                                                                             enc.max)]
        sym = "True" if all(c[1] == 0 for c in chans) and enc.min < 0 else "False"
        return [{"bitwidth": enc.bitwidth, "dtype": "int", "is_symmetric": sym, "max": float(mx),
                 "min": float(mn), "offset": int(off), "scale": float(sc)} for sc, off, mn, mx in chans]

    return {"activation_encodings": {n: entries(e) for n, e in summary.activations.items()},
            "param_encodings": {n: entries(e) for n, (_, e) in summary.params.items()},
            "version": "0.6.1"}


def quantize_dlc(prog: str, input_dlc: str, input_list: str, output_dlc: str | None, opts: QuantOptions,
                 command: str, verbose: bool = False, progress: bool = True,
                 dump_json: bool = False, use_encodings: bool = False, float_fallback: bool = False,
                 overrides: str | None = None, float_bitwidth: int = 32,
                 float_bias_bitwidth: int = 0, float_io: set[str] | bool = frozenset(),
                 native_inputs: bool = False, keep_weights: bool = False) -> tuple[str, QuantSummary]:
    """Read, calibrate, quantize and write; returns the output path.  Nothing is written on any error.

    ``float_bitwidth`` 16: the tensors that stay float (float fallback, float overrides, opaque inputs)
    are written as float16, as the converters' ``--float_bitwidth 16`` does for a whole graph; with
    ``float_bias_bitwidth`` 32 the biases of those float ops stay float32.  ``float_io`` (True: all, or a
    set of names): graph I/O keep their float type (``--preserve_io_datatype``).  ``native_inputs``: the
    calibration files hold each input in its own type (``--use_native_input_files``), not float32.
    ``keep_weights``: the weights of ops that stay float stay fixed point (``--keep_weights_quantized``)."""
    check_input_file(input_dlc, "--input_dlc", "input DLC", error=DLCError)
    out = output_dlc or default_output(input_dlc)
    check_not_input(out, [input_dlc, input_list, overrides], "--output_dlc", "an input")
    output_target(out, "DLC")
    dlc = read_dlc(input_dlc)
    graph = dlc.graph
    fixed = is_already_quantized(graph)
    if fixed:
        raise DLCError(f"{input_dlc} is quantized already ({len(fixed)} fixed-point tensors, e.g. '{fixed[0]}'); "
                       "quantize the float DLC the converter wrote")
    if float_io is not True:
        check_io_names(graph, set(float_io), "--preserve_io_datatype")
    io_types = {n: graph.tensors[n].dtype for n in graph.inputs + graph.outputs
                if np.dtype(graph.tensors[n].dtype).kind == "f"}
    forced = float16_in_mixed_graph(graph)     # dtype float overrides: these tensors stay float
    if overrides:
        given: dict[str, int] = {}
        applied = apply_overrides(graph, overrides, floats=given)
        forced = {**{n: b for n, b in forced.items() if n not in applied}, **given}
    preset = take_preset(graph) if use_encodings else {}
    dropped = 0 if use_encodings else strip_encodings(graph)
    keep: set[str] = set()
    if float_fallback:
        if opts.cle:
            raise SnpeToolsError("cross-layer equalization (cle) cannot be combined with --float_fallback: it "
                                 "rescales weights whose encodings are given; calibrate with --input_list instead")
        if not preset:
            raise DLCError(f"{input_dlc} carries no encodings to quantize from: --float_fallback needs a DLC "
                           "converted from a quantized model or with --quantization_overrides; give --input_list "
                           "to calibrate instead")
        preset = propagate_preset(graph, {n: e for n, e in preset.items() if n not in forced})
        keep = float_tensors(graph, preset, keep_weights_quantized=keep_weights)
        stats = {}
        LOG.info("float fallback: %d tensors stay float", len(keep))
    else:
        il = parse_input_list(input_list)
        selected = selected_outputs(il, graph)
        entries = check_calibration_inputs(il, graph, native_inputs)
        if len(entries) < 5:
            LOG.info("calibrating on %d input(s); SNPE recommends 5-10 for quick results, 50-100 for robust ones",
                     len(entries))
        if opts.cle:
            _equalize(graph, set(opts.preset) | set(preset),
                      next(_feed_iter(entries[:1], graph, native_inputs), None))
        t0 = time.perf_counter()
        stats = calibrate(graph, _feed_iter(entries, graph, native_inputs), len(entries), progress=progress,
                          make_stats=stats_factory(opts.act_method), outputs=selected)
        elapsed = time.perf_counter() - t0
        LOG.info("calibrated %d tensors on %d input(s) in %.2f s", len(stats), len(entries), elapsed)
        if selected is not None:
            LOG.warning("%s: the #/%% line selects %d output(s); only the %d tensors they depend on are calibrated, "
                        "the other %d get no calibrated encodings (omit the line to get encodings for all layers)",
                        input_list, len(selected), len(stats), len(activation_tensors(graph)) - len(stats))
    if forced:
        keep |= float_tensors(graph, preset, set(forced), keep_weights_quantized=keep_weights)
        preset = {n: e for n, e in preset.items() if n not in keep}
        LOG.info("%d tensors stay float as the overrides ask (with the weights and biases of their ops)",
                 len(forced))
    opaque = {n for n in graph.inputs if getattr(graph.input_info.get(n), "input_type", None) == "opaque"
              and np.dtype(graph.tensors[n].dtype).kind == "f"}
    if opaque:      # an opaque input stays float: the ops reading it run float too (weights included)
        keep |= float_tensors(graph, {}, opaque, keep_weights_quantized=keep_weights)
    originals = {n: graph.tensors[n].data for n in keep if graph.tensors[n].is_static}
    dtypes = {n: graph.tensors[n].dtype for n in keep}
    if preset:
        LOG.info("%d tensors keep the encodings given at conversion", len(preset))
    if dropped:
        LOG.info("%d tensors carry encodings from the converter; not applied (%s), every tensor is calibrated",
                 dropped, "--ignore_encodings" if prog == QAIRT else "no --override_params")
    opts.preset = {**opts.preset, **preset}
    summary = quantize_graph(graph, stats, opts)
    if keep:
        n_deq = fall_back_to_float(graph, keep, originals, summary, dtypes)
        LOG.info("mixed precision: %d tensors stay float, %d Dequantize op(s) in front of float ops", len(keep),
                 n_deq)
    if float_bitwidth == 16:
        _float16_rest(graph, float_bias_bitwidth)
    if float_io:                # after float16: preserved I/O keep the float DLC's type
        kept = preserve_float_io(graph, None if float_io is True else set(float_io), io_types)
        LOG.info("--preserve_io_datatype: %d graph input(s)/output(s) stay float (%s)", len(kept),
                 ", ".join(kept) or "none was quantized")
    if summary.nonfinite:
        LOG.warning("%d tensors held NaN or infinite values during calibration (e.g. '%s'); their ranges use the "
                    "finite values only", len(summary.nonfinite), summary.nonfinite[0])
    if summary.adjusted_weights:
        first = next(iter(summary.adjusted_weights))
        LOG.info("--adjust_bias_encoding: %d channel(s) of %d weight(s) widened so that their 32-bit bias fits "
                 "(e.g. '%s')", sum(summary.adjusted_weights.values()), len(summary.adjusted_weights), first)
    if summary.widened_biases:
        LOG.warning("%d bias(es) do not fit 32 bits at input scale x weight scale (e.g. '%s'); they get a wider "
                    "scale instead of saturating%s", len(summary.widened_biases), summary.widened_biases[0],
                    "" if prog != QAIRT or opts.adjust_bias or not _per_axis_biases(opts) else
                    " (--adjust_bias_encoding widens their weight channels instead)")
    if opts.pack_4bit:
        if summary.packed:
            LOG.info("--pack_4_bit_weights: %d 4-bit weight tensor(s) stored two values per byte", len(summary.packed))
        else:
            LOG.warning("--pack_4_bit_weights: no weight is 4-bit, nothing is packed (add --weights_bitwidth 4)")
    if summary.float_inputs:
        LOG.info("opaque input(s) kept float: %s", ", ".join(summary.float_inputs))
    if verbose and not float_fallback:
        _log_sqnr_report(input_dlc, graph, entries, native_inputs)
    if verbose:
        producer = {o: op.name for op in graph.ops for o in op.outputs}
        for name, enc in summary.activations.items():
            LOG.info("Setting activation for layer: %s and buffer: %s", producer.get(name, name), name)
            LOG.info(_fmt(enc))
        for name, (role, enc) in summary.params.items():
            LOG.info("Setting %s encoding for: %s", role, name)
            LOG.info(_fmt(enc) + (f", per-channel on axis {enc.axis} ({len(enc.channels)} channels)"
                                  if enc.axis is not None and enc.channels else ""))
    values = {key: dlc.metadata.values.get(key, NA) for key in KEY_ORDER}
    values["quantizer-command"] = command
    if dump_json:
        stem, _ = os.path.splitext(out)
        json_path = output_target(stem + "_encoding.json", "encodings JSON", "model_encoding.json")
    write_dlc(graph, out, Metadata(values))
    LOG.info("quantized %d activation and %d static tensors (activations %d-bit, weights %d-bit, bias %d-bit%s)",
             len(summary.activations), len(summary.params), opts.act_bitwidth, opts.weights_bitwidth,
             opts.bias_bitwidth, ", per-channel" if opts.per_channel else "")
    LOG.info("Writing quantized model to: %s", out)
    if dump_json:
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(encoding_json(summary), fh, indent=2)
        LOG.info("encodings written to %s", json_path)
    return out, summary


def _float16_rest(graph: Graph, float_bias_bitwidth: int) -> None:
    """``--float_bitwidth 16``: every float32 tensor left without an encoding becomes float16 (the
    converters' ``float_bitwidth`` pass, so both tools agree on what a float16 tensor is)."""
    before = [n for n, t in graph.tensors.items() if t.encoding is None and np.dtype(t.dtype) == np.float32]
    run_pipeline(graph, ["float_bitwidth"], {"float_bitwidth": 16, "float_bias_bitwidth": float_bias_bitwidth})
    half = [n for n in before if np.dtype(graph.tensors[n].dtype) == np.float16]
    if half:
        LOG.info("--float_bitwidth 16: %d float tensor(s) written as float16 (e.g. '%s')", len(half), half[0])
    else:
        LOG.info("--float_bitwidth 16: no tensor stays float, nothing to write as float16")


def _restrict_steps(parser: ArgumentParser, text: str | None, opts: QuantOptions, sep: str) -> None:
    """--restrict_quantization_steps MIN,MAX (qairt: 'MIN MAX'): hex or decimal integers, MIN < 0 < MAX,
    within the signed range of the weights' bit width; symmetric parameters only, as SNPE documents."""
    if text is None:
        return
    flag = f"--restrict_quantization_steps{sep}"
    parts = text.replace(",", " ").split()
    try:
        lo, hi = (int(p, 0) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None:
        parser.error(f"{flag}{text!r}: give two integers MIN and MAX, e.g. '-0x7F{',' if sep == '=' else ' '}0x7F'")
    bw = opts.weights_bitwidth
    half = 1 << (bw - 1)
    if not -half <= lo < 0 < hi <= half - 1:
        parser.error(f"{flag}{text!r}: MIN must be in [{-half}, -1] and MAX in [1, {half - 1}] for "
                     f"{bw}-bit weights")
    if not (opts.per_channel or opts.per_row or opts.symmetric_weights or opts.param_schema == "symmetric"):
        parser.error(f"{flag}{text!r} applies to symmetric weights only: add --use_per_channel_quantization or "
                     f"symmetric weights (--param_quantizer{sep}symmetric"
                     + (", --param_quantizer_schema symmetric)" if sep == " " else ")"))
    opts.restrict_steps = (lo, hi)


def _per_axis_biases(opts: QuantOptions) -> bool:
    """Whether some 32-bit bias gets one scale per channel: those of per-channel convolution weights, and
    those of per-row FullyConnected weights with --enable_per_row_quantized_bias."""
    return opts.bias_bitwidth == 32 and (opts.per_channel or (opts.per_row and opts.per_row_bias))


def _warn_bias_flags(opts: QuantOptions, sep: str) -> None:
    """The bias flags act on 32-bit per-axis biases only; a flag that cannot act says so once."""
    if opts.per_row_bias and (opts.bias_bitwidth != 32 or not opts.per_row):
        LOG.warning(f"--enable_per_row_quantized_bias has no effect here: it applies to the 32-bit biases "
                    f"(--bias_bitwidth{sep}32) of per-row weights (--use_per_row_quantization); 8-bit biases take "
                    "their own range")
    if opts.adjust_bias and not _per_axis_biases(opts):
        LOG.warning(f"--adjust_bias_encoding has no effect here: it applies to 32-bit biases (--bias_bitwidth{sep}32) "
                    "with one scale per channel: per-channel weights (--use_per_channel_quantization), or per-row "
                    "weights with --enable_per_row_quantized_bias")


def _check_float_widths(parser: ArgumentParser, float_bitwidth: int, float_bias_bitwidth: int, sep: str) -> None:
    """The converters' rule: float16 biases only in a float16 float part."""
    if float_bias_bitwidth == 16 and float_bitwidth != 16:
        parser.error(f"--float_bias_bitwidth{sep}16 needs --float_bitwidth{sep}16 (float16 biases of float32 ops are "
                     f"not supported); drop it or add --float_bitwidth{sep}16")


def _log_sqnr_report(input_dlc: str, quant_graph: Graph, entries: list[list], native: bool = False) -> None:
    """--verbose: the per-layer SQNR of the quantized graph against the float one on the calibration
    inputs, worst first, at INFO (SNPE has no option that writes it to a file)."""
    float_graph = read_dlc(input_dlc).graph
    for t in float_graph.tensors.values():
        t.encoding = None
    if [op.name for op in float_graph.ops] != [op.name for op in quant_graph.ops]:
        LOG.info("per-layer SQNR: not available (the quantized graph has ops the float graph has not)")
        return
    rows = layer_sqnr(float_graph, quant_graph, _feed_iter(entries, float_graph, native), len(entries))
    LOG.info("Per-layer SQNR, float vs quantized on %d calibration input(s), worst first:", len(entries))
    for line in format_table(rows):
        LOG.info(line)


# ---- snpe-dlc-quantize / snpe-dlc-quant -------------------------------------------------------------
def _snpe_options(parser: ArgumentParser, args: argparse.Namespace, prog: str) -> QuantOptions:
    _refuse_given(parser, args, _SNPE_REFUSED)
    if args.bitwidth is not None:
        if any(v is not None for v in (args.weights_bitwidth, args.act_bitwidth, args.bias_bitwidth)):
            parser.error("--bitwidth cannot be combined with --weights_bitwidth, --act_bitwidth or --bias_bitwidth")
        LOG.warning("--bitwidth is deprecated, use --weights_bitwidth and --act_bitwidth")
    param_q, act_q = args.param_quantizer, args.act_quantizer
    if args.use_enhanced_quantizer:
        LOG.warning("--use_enhanced_quantizer option is deprecated, use --param_quantizer and --act_quantizer options")
        if (param_q or "enhanced") != "enhanced" or (act_q or "enhanced") != "enhanced":
            parser.error("--use_enhanced_quantizer cannot be combined with another --param_quantizer/--act_quantizer")
        param_q, act_q = "enhanced", "enhanced"
    if args.use_adjusted_weights_quantizer:
        LOG.warning("--use_adjusted_weights_quantizer option is deprecated, use --param_quantizer option")
        if param_q not in (None, "adjusted"):
            parser.error(f"--use_adjusted_weights_quantizer cannot be combined with --param_quantizer={param_q}")
        param_q = "adjusted"
    _check_float_widths(parser, int(args.float_bitwidth or 32), int(args.float_bias_bitwidth or 0), "=")
    for opt in args.optimizations or []:
        if opt == "cle":
            continue
        elif opt == "bc":
            LOG.warning("--optimizations=bc is deprecated and has no effect in SNPE 2.x")
        else:
            parser.error(f"--optimizations={opt}: unknown optimization (cle or bc)")
    if args.axis_quant:
        LOG.warning("--axis_quant is deprecated, use --use_per_channel_quantization")
    if args.use_symmetric_quantize_weights:
        LOG.warning("--use_symmetric_quantize_weights is deprecated, use --param_quantizer=symmetric")
    if args.use_encoding_optimizations:
        LOG.warning("--use_encoding_optimizations is deprecated and has no effect")
    if args.use_native_dtype:
        LOG.warning("--use_native_dtype is deprecated, use --use_native_input_files")
    if args.no_weight_quantization:
        LOG.warning("--no_weight_quantization is deprecated: weights and biases are kept float")
    if prog == QUANTIZE:
        if args.enable_hta or args.hta_partitions:
            LOG.warning("--enable_hta and --hta_partitions are retired (no HTA in SNPE 2.x) and have no effect")
        if not args.enable_htp and (args.htp_socs or args.overwrite_cache_records):
            LOG.warning("--htp_socs and --overwrite_cache_records have no effect without --enable_htp")
    bw = int(args.bitwidth) if args.bitwidth else None
    opts = QuantOptions(
        act_bitwidth=int(args.act_bitwidth or bw or 8),
        weights_bitwidth=int(args.weights_bitwidth or bw or 8),
        bias_bitwidth=int(args.bias_bitwidth or 8),
        symmetric_weights=bool(args.use_symmetric_quantize_weights),
        per_channel=bool(args.axis_quant or args.use_per_channel_quantization),
        per_row=bool(args.use_per_row_quantization),
        cle="cle" in (args.optimizations or []),
        quantize_weights=not args.no_weight_quantization,
        pack_4bit=bool(args.pack_4_bit_weights),
        per_row_bias=bool(args.enable_per_row_quantized_bias),
        min_range=SNPE_MIN_RANGE)
    _warn_bias_flags(opts, "=")
    _apply_quantizers(parser, opts, param_q or "tf", act_q or "tf", "=")
    _restrict_steps(parser, args.restrict_quantization_steps, opts, "=")
    return opts


# SNPE's quantizer names as (calibration method, schema) of snpe_tools.quantization.algorithms
_QUANTIZERS = {"tf": ("min-max", "asymmetric"), "enhanced": ("enhanced", "asymmetric"),
               "symmetric": ("min-max", "symmetric"), "adjusted": ("adjusted", "asymmetric")}


def _apply_quantizers(parser: ArgumentParser, opts: QuantOptions, param_q: str, act_q: str, sep: str) -> None:
    """--param_quantizer / --act_quantizer onto the options (on top of qairt's calibration/schema flags)."""
    if act_q == "adjusted":
        parser.error(f"--act_quantizer{sep}adjusted is not supported: the adjusted quantizer is for 8-bit weights "
                     "only (SNPE); use tf, enhanced or symmetric")
    if param_q == "adjusted" and opts.weights_bitwidth != 8:
        parser.error(f"--param_quantizer{sep}adjusted needs 8-bit weights (SNPE's adjusted quantizer is 8-bit only); "
                     f"drop it or use --weights_bitwidth{sep}8")
    for kind, name in (("param", param_q), ("act", act_q)):
        if name == "tf":
            continue
        method, schema = _QUANTIZERS[name]
        cur_method, cur_schema = getattr(opts, f"{kind}_method"), getattr(opts, f"{kind}_schema")
        if (method != "min-max" and cur_method != "min-max") or (schema != "asymmetric" and cur_schema != "asymmetric"):
            parser.error(f"--{kind}_quantizer {name} cannot be combined with --{kind}_quantizer_calibration "
                         f"{cur_method} / --{kind}_quantizer_schema {cur_schema}: give one of them")
        if method != "min-max":
            setattr(opts, f"{kind}_method", method)
        if schema != "asymmetric":
            setattr(opts, f"{kind}_schema", schema)


def quantize_parser() -> ArgumentParser:
    """snpe-dlc-quantize's parser (man page, python -m snpe_tools)."""
    return _snpe_parser(QUANTIZE)


def quant_parser() -> ArgumentParser:
    """snpe-dlc-quant's parser."""
    return _snpe_parser(QUANT)


def qairt_parser() -> ArgumentParser:
    """qairt-quantizer's parser."""
    return _qairt_parser()


def snpe_main(prog: str, argv: list[str] | None = None) -> int:
    parser = _snpe_parser(prog)
    args = parser.parse_args(argv)
    if args.version:
        print(f"{prog} (snpe-tools) {__version__}")
        return 0
    _setup_snpe_logging(prog, args)
    if not args.input_dlc:
        parser.error("the following arguments are required: --input_dlc")
    opts = _snpe_options(parser, args, prog)
    if args.float_fallback and args.input_list:
        parser.error("--float_fallback and --input_list are mutually exclusive (float fallback quantizes from the "
                     "encodings in the DLC); give one of them")
    if args.float_fallback and not args.override_params:
        parser.error("--float_fallback needs --override_params (it quantizes from the encodings given at conversion)")
    if not args.input_list and not args.float_fallback:
        parser.error("the following arguments are required: --input_list (calibration inputs; or --override_params "
                     "--float_fallback to quantize from the encodings in the DLC)")
    verbose = args.verbose or LOG.level <= logging.DEBUG
    quantize_dlc(prog, args.input_dlc, args.input_list, args.output_dlc, opts, boost_command(prog, parser, args),
                 verbose=verbose, progress=not (args.quiet or args.silent), use_encodings=args.override_params,
                 float_fallback=args.float_fallback, float_bitwidth=int(args.float_bitwidth or 32),
                 float_bias_bitwidth=int(args.float_bias_bitwidth or 0),
                 native_inputs=bool(args.use_native_input_files or args.use_native_dtype))
    if prog == QUANTIZE and args.enable_htp:
        socs = args.htp_socs or "the default SoC"
        LOG.warning("--enable_htp: no HTP cache record was produced for %s (snpe-tools does not build HTP caches); "
                    "the quantized DLC is complete and the device prepares the graph at load time, as SNPE does for "
                    "a DLC without a matching cache record", socs)
    return 0


def quantize_main(argv: list[str] | None = None) -> int:
    return snpe_main(QUANTIZE, argv)


def quant_main(argv: list[str] | None = None) -> int:
    return snpe_main(QUANT, argv)


# ---- qairt-quantizer ---------------------------------------------------------------------------------
def qairt_main(argv: list[str] | None = None) -> int:
    parser = _qairt_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug)
    _refuse_given(parser, args, _QAIRT_REFUSED)
    _check_float_widths(parser, args.float_bitwidth, args.float_bias_bitwidth, " ")
    for algorithm in args.algorithms or []:
        if algorithm != "cle":
            parser.error(f"--algorithms {algorithm}: unknown algorithm (cle is the one available)")
    percentile = args.percentile_calibration_value
    if percentile is not None:
        if not 90.0 <= percentile <= 100.0:
            parser.error(f"--percentile_calibration_value {percentile:g} is out of range: give a value from 90 to 100")
        if "percentile" not in (args.act_quantizer_calibration, args.param_quantizer_calibration):
            parser.error("--percentile_calibration_value needs --act_quantizer_calibration percentile or "
                         "--param_quantizer_calibration percentile")
    if bool(args.input_list) == bool(args.float_fallback):
        parser.error("one of --input_list or --float_fallback is required (they are mutually exclusive)")
    if args.ignore_encodings and (args.quantization_overrides or args.float_fallback):
        parser.error("--ignore_encodings cannot be combined with --quantization_overrides or --float_fallback "
                     "(both quantize from encodings)")
    opts = QuantOptions(act_bitwidth=args.act_bitwidth, weights_bitwidth=args.weights_bitwidth,
                        bias_bitwidth=args.bias_bitwidth, per_channel=args.use_per_channel_quantization,
                        per_row=args.use_per_row_quantization, min_range=QNN_MIN_RANGE,
                        cle="cle" in (args.algorithms or []),
                        propagate_invariant=not args.include_data_invariant_ops,
                        act_method=args.act_quantizer_calibration, act_schema=args.act_quantizer_schema,
                        param_method=args.param_quantizer_calibration, param_schema=args.param_quantizer_schema,
                        percentile=DEFAULT_PERCENTILE if percentile is None else percentile,
                        pack_4bit=args.pack_4_bit_weights, adjust_bias=args.adjust_bias_encoding,
                        per_row_bias=args.enable_per_row_quantized_bias)
    _warn_bias_flags(opts, " ")
    _apply_quantizers(parser, opts, args.param_quantizer, args.act_quantizer, " ")
    _restrict_steps(parser, args.restrict_quantization_steps, opts, " ")
    quantize_dlc(QAIRT, args.input_dlc, args.input_list, args.output_dlc, opts, python_command(QAIRT, args),
                 verbose=args.debug >= 0, dump_json=args.dump_encoding_json,
                 use_encodings=not args.ignore_encodings, float_fallback=args.float_fallback,
                 overrides=args.quantization_overrides, float_bitwidth=args.float_bitwidth,
                 float_bias_bitwidth=args.float_bias_bitwidth, float_io=names_or_all(args.preserve_io_datatype),
                 native_inputs=args.use_native_input_files, keep_weights=args.keep_weights_quantized)
    return 0


def quantize_entry() -> None:
    sys.exit(run_main(quantize_main))


def quant_entry() -> None:
    sys.exit(run_main(quant_main))


def qairt_entry() -> None:
    sys.exit(run_main(qairt_main))

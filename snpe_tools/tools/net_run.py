"""snpe-net-run: execute a DLC on the numpy reference runtime (the CPU runtime of snpe-tools).

Writes ``<output_dir>/Result_<N>/<tensor>.raw`` (float32 by default) for every line of
the input list; a ``/`` in a tensor name makes subdirectories, as SNPE does.  As in SNPE, float32
input files feeding a quantized (fixed-point) input are quantized with its encoding and quantized
outputs are written dequantized, unless ``--use_native_input_files`` / ``--use_native_output_files``.

A run is all or nothing.  The whole input list is checked first (every file exists, is a regular
file and has the size its input needs) before the first inference.  The results are written into a
staging folder ``<output_dir>/.snpe-tools-XXXX.tmp`` and every write is checked (a full disk, a
too-large file or a read-only folder is a one-line error, exit 1); only when every inference has
succeeded are the ``Result_<N>`` folders moved into place.  An existing ``Result_<N>`` is replaced
by the new one at that moment (SNPE overwrites it too) and is kept intact until then: a failed or
interrupted run (SIGINT, SIGTERM, SIGHUP) leaves the output folder exactly as it was.  ``Result_<N>``
folders of earlier runs beyond this run's count are left alone.  The output folder is created if
missing (as SNPE does); stale staging folders of killed runs older than an hour are removed.

Every option of SNPE's snpe-net-run is either honoured or refused with a one-line reason:

* runtime selection (``--use_cpu/gpu/dsp/aip``, ``--runtime_order``, ``--enable_cpu_fallback``) with SNPE's
  semantics on a device that has only a CPU (:mod:`snpe_tools.runtime.runtimes`);
* ``--input_name/--input_dimensions`` resize the network at load (:mod:`snpe_tools.runtime.resize`);
* the userbuffer flags, ``--tensor_mode``, ``--data_type_map`` and ``--static_min_max`` choose the data type
  each input and output passes through (:mod:`snpe_tools.runtime.feeds`);
* ``--profiling_level basic|moderate|detailed`` writes ``<output_dir>/SNPEDiag.log`` (format in
  :mod:`snpe_tools.runtime.diag_log`; SNPE's default level writes a log on every run, ours only when asked);
  ``snpe-diagview --input_log`` prints it;
* input files holding one element of a batch-B input run B lines at a time (the last batch zero-padded), each
  line with its own ``Result_N``, as SNPE batches;
* ``--duration`` repeats the list, ``--set_unconsumed_as_output`` adds dangling tensors, ``--userlogs``
  sets the log level and file, ``--graph_init/--graph_execute`` check the graph name;
* options that only tune an accelerator (:data:`NO_EFFECT`) are accepted and stated once as having no
  effect here; options that cannot be honoured (:data:`REFUSED`) stop the run with their reason.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from ..dlc import read_dlc
from ..dlc.writer import TEMP_PREFIX, output_target, remove_stale_temps
from ..errors import OutputError, RuntimeInputError, file_kind, os_error_reason
from ..ir.graph import Graph
from ..progress import progress_bar
from ..runtime import execute, resize, runtimes
from ..runtime.diag_log import FILE_NAME, DiagLog
from ..runtime.feeds import (BUFFER_TYPES, FLOAT, Feed, FeedOptions, batch_size, plan_feeds, read_feed,
                             tensor_to_file, zero_element)
from ..runtime.input_list import parse_input_list, selected_outputs
from .common import LOG, ArgumentParser, check_input_file, run_main, setup_logging

PROG = "snpe-net-run"

#: SNPE options this host cannot honour, with the reason printed when one is given
REFUSED = {
    "--encoding_type": "NV21 input files need a DLC built with --input_encoding nv21 and SNPE's ITensor NV21 "
                       "path, which snpe-tools does not implement; convert the NV21 data to the model's input "
                       "layout first",
    "--userbuffer_glbuffer": "OpenGL buffers belong to the GPU runtime, which this host does not have "
                             "(snpe-tools has only the reference CPU runtime)",
    "--resizable_dim": "snpe-tools DLCs have static shapes only, so there are no resizable dimensions to bound",
    "--udo_package_path": "UDO packages are compiled Qualcomm runtime plug-ins; the reference runtime cannot load "
                          "them",
    "--inferences_per_duration": "throughput pacing is a device benchmarking mode; use --duration for repeated runs",
    "--dbglogs": "SNPE's internal debug logs do not exist here; use --userlogs=verbose",
}
#: accepted options that cannot change anything on a host with only the CPU runtime (stated once per run)
NO_EFFECT = {
    "perf_profile": "the reference CPU runtime has no power/performance modes",
    "perf_config_yaml": "the reference CPU runtime has no power/performance modes",
    "gpu_mode": "it configures the GPU runtime, which this host does not have",
    "enable_init_cache": "the init cache holds DSP/HTP graph preparations; the CPU runtime has none",
    "platform_options": "platform options configure the DSP/HTP runtime, which this host does not have",
    "priority_hint": "the reference CPU runtime runs one network at a time",
    "timeout": "the execution timeout applies to the HTP runtime only",
    "cache_compatibility_mode": "HTP offline caches are not used by the CPU runtime",
    "validate_cache": "HTP offline caches are not used by the CPU runtime",
    "userbuffer_memorymapped": "memory-mapped (ION/DMA) buffers hold the same values as ordinary buffers",
    "storage_dir": "the CPU runtime stores no metadata files",
}
PERF_PROFILES = ("low_balanced", "balanced", "default", "high_performance", "sustained_high_performance", "burst",
                 "low_power_saver", "power_saver", "high_power_saver", "extreme_power_saver", "system_settings")
USERLOG_LEVELS = {"verbose": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
                  "error": logging.ERROR, "fatal": logging.CRITICAL}


class _Refuse(argparse.Action):
    """An SNPE option snpe-tools cannot honour: one line with the reason, exit 1."""

    def __init__(self, option_strings, dest, nargs="?", **kwargs):
        super().__init__(option_strings, dest, nargs=nargs, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        raise RuntimeInputError(f"{option_string} is not supported by snpe-tools: {REFUSED[option_string]}")


def _choice(*choices: str):
    def check(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice '{text}' (choose from {', '.join(choices)})")
        return text
    return check


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run a DLC on the snpe-tools reference (numpy) CPU runtime.")
    p.required.add_argument("--container", required=True, help="Path to the DLC container.")
    p.required.add_argument("--input_list", required=True, help="File listing the raw input files per inference.")
    o = p.optional
    o.add_argument("--output_dir", default="./output", help="Directory for the outputs (default ./output).")
    o.add_argument("--set_output_tensors", default=None,
                   help="Comma-separated tensor names to write instead of the graph outputs.")
    o.add_argument("--set_unconsumed_as_output", action="store_true",
                   help="Also write every tensor that no layer consumes.")
    o.add_argument("--debug", action="store_true", help="Write the output of every op (layer dump).")
    o.add_argument("--use_native_input_files", action="store_true",
                   help="Read input files in the input buffers' data type instead of float32.")
    o.add_argument("--use_native_output_files", action="store_true",
                   help="Write outputs in the output buffers' data type instead of float32.")
    r = p.add_argument_group("runtime selection (this host has the reference CPU runtime only)")
    r.add_argument("--use_cpu", action="store_true", help="Use the CPU runtime (the default).")
    r.add_argument("--use_gpu", action="store_true", help="Use the GPU runtime (not on this host).")
    r.add_argument("--use_dsp", action="store_true", help="Use the DSP runtime (not on this host).")
    r.add_argument("--use_aip", action="store_true", help="Use the AIP runtime (not on this host).")
    r.add_argument("--runtime_order", metavar="LIST",
                   help="Runtimes in order of preference, e.g. dsp,gpu,cpu (1.x names such as cpu_float32 too).")
    r.add_argument("--enable_cpu_fallback", action="store_true",
                   help="Run on the CPU when the requested runtime is not available.")
    r.add_argument("--gpu_mode", type=_choice("default", "float16"), help="GPU runtime mode (no effect here).")
    r.add_argument("--perf_profile", type=_choice(*PERF_PROFILES), help="Performance profile (no effect here).")
    r.add_argument("--perf_config_yaml", metavar="FILE", help="Custom performance settings (no effect here).")
    r.add_argument("--enable_init_cache", action="store_true", help="DSP init cache (no effect here).")
    r.add_argument("--platform_options", metavar="OPTS", help="DSP platform options (no effect here).")
    r.add_argument("--priority_hint", type=_choice("low", "normal", "normal_high", "high"),
                   help="Execution priority (no effect here).")
    r.add_argument("--timeout", metavar="US", type=int, help="HTP execution timeout (no effect here).")
    r.add_argument("--cache_compatibility_mode", type=_choice("permissive", "strict", "always_generate_new"),
                   help="HTP cache mode (no effect here).")
    r.add_argument("--validate_cache", action="store_true", help="Validate HTP caches (no effect here).")
    r.add_argument("--storage_dir", metavar="DIR", help="Folder for runtime metadata (none is written here).")
    r.add_argument("--graph_init", metavar="GRAPHS", help="Comma-separated graphs to initialise.")
    r.add_argument("--graph_execute", metavar="GRAPHS", help="Comma-separated graphs to execute.")
    n = p.add_argument_group("network resizing")
    n.add_argument("--input_name", action="append", default=[], help="Input to resize (repeat with each "
                   "--input_dimensions; 2.25 form '<graph> <input>' too).")
    n.add_argument("--input_dimensions", action="append", default=[], help="New dimensions, e.g. 1,224,224,3.")
    b = p.add_argument_group("buffers (data types of the input and output files)")
    b.add_argument("--userbuffer_auto", action="store_true", help="Buffers of each tensor's own data type.")
    b.add_argument("--userbuffer_float", action="store_true", help="float32 buffers.")
    b.add_argument("--userbuffer_floatN", type=_choice("16", "32"), help="float16 or float32 buffers.")
    b.add_argument("--userbuffer_tf8", action="store_true", help="8-bit fixed-point (tf8) buffers.")
    b.add_argument("--userbuffer_tfN", type=_choice("8", "16"), help="tf8 or tf16 fixed-point buffers.")
    b.add_argument("--userbuffer_tf16", action="store_true", help="16-bit fixed-point buffers (= --userbuffer_tfN=16).")
    b.add_argument("--userbuffer_float_output", action="store_true", help="float32 output buffers.")
    b.add_argument("--userbuffer_floatN_output", type=_choice("16", "32"), help="float16/32 output buffers.")
    b.add_argument("--userbuffer_tf8_output", action="store_true", help="tf8 output buffers.")
    b.add_argument("--userbuffer_tfN_output", type=_choice("8", "16"), help="tf8/tf16 output buffers.")
    b.add_argument("--userbuffer_uintN_output", type=_choice("8", "16", "32"),
                   help="Unsigned integer output buffers (fixed-point or integer outputs).")
    b.add_argument("--userbuffer_memorymapped", action="store_true", help="Memory-mapped buffers (no effect here).")
    b.add_argument("--static_min_max", action="store_true",
                   help="tf buffers use the model's encodings instead of the input data's range.")
    b.add_argument("--tensor_mode", type=_choice("userBuffer", "itensor"), help="userBuffer or itensor (float).")
    b.add_argument("--data_type_map", action="append", default=[], metavar="NAME=TYPE",
                   help="Buffer type of one tensor: " + ", ".join(t for t in BUFFER_TYPES if t != "native") + ".")
    m = p.add_argument_group("profiling and logging")
    m.add_argument("--profiling_level", type=_choice("off", "basic", "moderate", "detailed", "linting"),
                   default="off", help="Write per-inference (basic) or per-layer (moderate, detailed) times to "
                   "<output_dir>/SNPEDiag.log; read it with snpe-diagview.")
    m.add_argument("--duration", type=float, metavar="SECONDS",
                   help="Repeat the input list until this many seconds have passed.")
    m.add_argument("--userlogs", metavar="LEVEL[,PATH]",
                   help="Log level (verbose, info, warn, error, fatal) and optional log file.")
    for flag in REFUSED:
        p.optional.add_argument(flag, action=_Refuse, help=argparse.SUPPRESS)
    return p


def output_file(out_dir: str, tensor: str) -> str:
    """``<dir>/<tensor>.raw``; '/' in names makes subfolders, ':' is kept except on Windows."""
    safe = tensor.replace(":", "_") if os.name == "nt" else tensor
    parts = [p for p in safe.split("/") if p not in ("", ".", "..")] or ["_"]
    return os.path.join(out_dir, *parts[:-1], parts[-1] + ".raw")


def _write_raw(path: str, arr: np.ndarray) -> None:
    """Write one result file; every error (ENOSPC, EFBIG, EROFS ...) propagates as OSError."""
    data = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    with open(path, "xb") as fh:          # the staging folder is new: nothing is ever overwritten here
        written = fh.write(data)
    if written != data.size:
        raise OSError(28, "short write")


def _prepare_output_dir(out_dir: str, count: int) -> list[str]:
    """The output folder exists (created if missing, as SNPE does) and every Result_N we will replace is a
    folder.  Returns the folders created here (removed again if the run fails)."""
    try:
        st = os.stat(out_dir)
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as exc:
        raise OutputError(f"--output_dir {out_dir}: {os_error_reason(exc)}") from None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        kind = "a file" if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)
        raise OutputError(f"--output_dir {out_dir} is {kind}, not a folder; give a folder for the results")
    created: list[str] = []
    if st is None:
        missing, d = [], os.path.abspath(out_dir)
        while not os.path.lexists(d):
            missing.append(d)
            d = os.path.dirname(d)
        try:
            for d in reversed(missing):
                os.mkdir(d)
                created.append(d)
        except OSError as exc:
            _remove_created(created)
            raise OutputError(f"--output_dir {out_dir}: cannot create the folder: {os_error_reason(exc)}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        ro = hasattr(os, "statvfs") and bool(os.statvfs(out_dir).f_flag & os.ST_RDONLY)
        raise OutputError(f"--output_dir {out_dir}: the folder is "
                          + ("on a read-only file system" if ro else "not writable (permission denied)")
                          + "; give another folder")
    for i in range(count):
        res = os.path.join(out_dir, f"Result_{i}")
        if os.path.lexists(res) and not os.path.isdir(res):
            _remove_created(created)
            raise OutputError(f"--output_dir {out_dir}: {res} exists and is not a folder; move it away or give "
                              "another output folder")
    return created


def _remove_created(created: list[str]) -> None:
    for d in reversed(created):
        try:
            os.rmdir(d)
        except OSError:
            break


class _Staging:
    """``<out_dir>/.snpe-tools-XXXX.tmp``: the run's results until all are done, then moved into place."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        remove_stale_temps(out_dir)
        try:
            self.path = tempfile.mkdtemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=out_dir)
        except OSError as exc:
            raise OutputError(f"--output_dir {out_dir}: cannot write there: {os_error_reason(exc)}") from None

    def result_dir(self, i: int) -> str:
        return os.path.join(self.path, f"Result_{i}")

    def commit(self, names: list[str]) -> None:
        """Move every staged entry (``Result_N`` folders, the profiling log) into out_dir; the previous one stays
        until its new one is in place, and on a failure midway every entry already moved is put back."""
        old_dir = os.path.join(self.path, "previous")
        os.mkdir(old_dir)
        done: list[tuple[str, bool]] = []
        try:
            for name in names:
                final = os.path.join(self.out_dir, name)
                had_old = os.path.lexists(final)
                if had_old:
                    os.rename(final, os.path.join(old_dir, name))
                done.append((name, had_old))
                os.rename(os.path.join(self.path, name), final)
        except BaseException:
            for name, had_old in reversed(done):
                final = os.path.join(self.out_dir, name)
                staged = os.path.join(self.path, name)
                try:
                    if os.path.lexists(final) and not os.path.lexists(staged):
                        os.rename(final, staged)
                    if had_old:
                        os.rename(os.path.join(old_dir, name), final)
                except OSError:
                    pass
            raise

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _wanted(args, il, graph: Graph) -> list[str]:
    if args.set_output_tensors:
        wanted = [t.strip() for t in args.set_output_tensors.split(",") if t.strip()]
    else:
        wanted = selected_outputs(il, graph) or []
    wanted = wanted or list(graph.outputs)
    if args.set_unconsumed_as_output:
        consumed = {i for op in graph.ops for i in op.inputs if i}
        wanted += [o for op in graph.ops for o in op.outputs if o not in consumed and o not in wanted]
    for name in wanted:
        if name not in graph.tensors:
            raise RuntimeInputError(f"output tensor '{name}' is not in the DLC; model outputs: "
                                    f"{', '.join(graph.outputs)}")
    return wanted


@dataclass
class _Buffers:
    """Buffer type of every input and output (see :mod:`snpe_tools.runtime.feeds`)."""

    inputs: dict[str, str]
    output_default: str
    outputs: dict[str, str]

    def output(self, name: str) -> str:
        return self.outputs.get(name, self.output_default)


def _buffers(args, graph: Graph) -> _Buffers:
    """SNPE's userbuffer flags: one input mode (applies to outputs too), output overrides, a per-tensor map."""
    modes = [(f, v) for f, v in (("--userbuffer_auto", "native" if args.userbuffer_auto else None),
                                 ("--userbuffer_float", FLOAT if args.userbuffer_float else None),
                                 ("--userbuffer_floatN", args.userbuffer_floatN and f"float{args.userbuffer_floatN}"),
                                 ("--userbuffer_tf8", "tf8" if args.userbuffer_tf8 else None),
                                 ("--userbuffer_tfN", args.userbuffer_tfN and f"tf{args.userbuffer_tfN}"),
                                 ("--userbuffer_tf16", "tf16" if args.userbuffer_tf16 else None)) if v]
    if len(modes) > 1:
        raise RuntimeInputError(f"{modes[0][0]} and {modes[1][0]} both given; choose one userbuffer type")
    if args.tensor_mode == "itensor" and (modes or args.data_type_map):
        raise RuntimeInputError(f"--tensor_mode itensor uses float tensors; it cannot be combined with "
                                f"{modes[0][0] if modes else '--data_type_map'}")
    mode = modes[0][1] if modes else None
    if mode is None and args.tensor_mode == "userBuffer":
        mode = "native"
    outs = [(f, v) for f, v in (("--userbuffer_float_output", FLOAT if args.userbuffer_float_output else None),
                                ("--userbuffer_floatN_output",
                                 args.userbuffer_floatN_output and f"float{args.userbuffer_floatN_output}"),
                                ("--userbuffer_tf8_output", "tf8" if args.userbuffer_tf8_output else None),
                                ("--userbuffer_tfN_output",
                                 args.userbuffer_tfN_output and f"tf{args.userbuffer_tfN_output}"),
                                ("--userbuffer_uintN_output",
                                 args.userbuffer_uintN_output and f"uint{args.userbuffer_uintN_output}")) if v]
    if len(outs) > 1:
        raise RuntimeInputError(f"{outs[0][0]} and {outs[1][0]} both given; choose one output buffer type")
    if outs and mode is None and not args.data_type_map:
        raise RuntimeInputError(f"{outs[0][0]} overrides the output userbuffers: give a userbuffer input type too "
                                "(e.g. --userbuffer_float or --userbuffer_auto)")
    if args.static_min_max and mode not in ("tf8", "tf16"):
        raise RuntimeInputError("--static_min_max applies to tf8/tf16 userbuffers: add --userbuffer_tf8 or "
                                "--userbuffer_tfN=16")
    per_tensor: dict[str, str] = {}
    for item in args.data_type_map:
        name, sep, typ = item.rpartition("=")
        if not sep or not name or typ not in BUFFER_TYPES or typ == "native":
            raise RuntimeInputError(f"--data_type_map {item}: give NAME=TYPE with TYPE one of "
                                    + ", ".join(t for t in BUFFER_TYPES if t != "native"))
        if name not in graph.tensors:
            raise RuntimeInputError(f"--data_type_map {item}: '{name}' is not a tensor of the DLC")
        per_tensor[name] = typ
    default_in = mode or "native"
    inputs = {n: per_tensor.get(n, default_in) for n in graph.inputs}
    return _Buffers(inputs, outs[0][1] if outs else (mode or "native"),
                    {n: t for n, t in per_tensor.items() if n not in graph.inputs})


def _graph_names(flag: str, value: str | None, graph: Graph) -> None:
    """--graph_init/--graph_execute name graphs of a multi-graph DLC; snpe-tools DLCs hold one graph."""
    if value is None:
        return
    for name in (v.strip() for v in value.split(",") if v.strip()):
        if name != graph.name:
            raise RuntimeInputError(f"{flag}: the DLC has no graph '{name}'; its only graph is '{graph.name}'")


def _setup_logs(args) -> None:
    setup_logging(0 if args.debug else -1)
    if not args.userlogs:
        return
    level, _, path = args.userlogs.partition(",")
    if level not in USERLOG_LEVELS:
        raise RuntimeInputError(f"--userlogs {args.userlogs}: level must be one of {', '.join(USERLOG_LEVELS)}")
    LOG.setLevel(USERLOG_LEVELS[level])
    if path:
        target = output_target(path, "--userlogs log file", "snpe-net-run.log")
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(LOG.handlers[0].formatter)
        LOG.addHandler(handler)


def _state_no_effect(args) -> None:
    """One INFO line per accepted option that cannot change anything on this host."""
    if args.perf_config_yaml:
        check_input_file(args.perf_config_yaml, "--perf_config_yaml", "performance config", error=RuntimeInputError)
    for dest, why in NO_EFFECT.items():
        value = getattr(args, dest)
        if value not in (None, False):
            shown = "" if value is True else f" {value}"
            LOG.info("--%s%s: accepted, no effect on this host (%s)", dest, shown, why)


def _batches(plans: list[list[Feed]], graph: Graph) -> tuple[int, list[tuple[int, list[list[Feed]]]]]:
    """SNPE's batching: when every file holds one element of a batch-B input, the lines run B at a time (the
    last batch zero-padded) and each line still gets its own Result_N.  Returns B (1: one line per run) and
    the groups as (index of the first line, plans)."""
    kinds = {f.whole for plan in plans for f in plan}
    if kinds == {False}:
        split = batch_size(graph.tensors[graph.inputs[0]])
        return split, [(k, plans[k:k + split]) for k in range(0, len(plans), split)]
    if len(kinds) > 1:
        raise RuntimeInputError("some input files hold the whole batch and others one batch element; each file "
                                "must be one element or the whole batch, the same for every file of the list")
    return 1, [(k, [plan]) for k, plan in enumerate(plans)]


def _group_feeds(group: list[list[Feed]], graph: Graph, fopts: FeedOptions, split: int) -> dict[str, np.ndarray]:
    if split == 1:
        return {f.name: read_feed(f, graph, fopts) for f in group[0]}
    feeds = {}
    for k, name in enumerate(graph.inputs):
        parts = [read_feed(plan[k], graph, fopts) for plan in group]
        parts += [zero_element(graph.tensors[name])] * (split - len(group))
        feeds[name] = np.concatenate(parts, axis=0)
    return feeds


def _element(results: dict[str, np.ndarray], j: int, split: int) -> dict[str, np.ndarray]:
    """Line j's share of a batched run: element j of every output whose leading dimension is the batch."""
    if split == 1:
        return results
    return {n: (v[j:j + 1] if np.ndim(v) and np.shape(v)[0] == split else v) for n, v in results.items()}


def _write_results(rdir: str, results: dict, graph: Graph, buffers: _Buffers, native_out: bool) -> None:
    os.mkdir(rdir)
    for name, value in results.items():
        arr = tensor_to_file(graph.tensors.get(name), buffers.output(name), value, native_out)
        path = output_file(rdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_raw(path, arr)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    _setup_logs(args)
    if args.profiling_level == "linting":
        raise RuntimeInputError("--profiling_level linting profiles HTP ops (cycle counts), and this host has no "
                                "HTP runtime; use basic, moderate or detailed")
    if args.duration is not None and not args.duration > 0:
        raise RuntimeInputError(f"--duration {args.duration:g}: give a positive number of seconds")
    choice = runtimes.select(runtimes.requested(args.use_cpu, args.use_gpu, args.use_dsp, args.use_aip,
                                                args.runtime_order), args.enable_cpu_fallback)
    if choice.note:
        LOG.info(choice.note)
    if len(args.input_name) != len(args.input_dimensions):
        raise RuntimeInputError(f"{len(args.input_name)} --input_name and {len(args.input_dimensions)} "
                                "--input_dimensions given; give one --input_dimensions per --input_name")
    _state_no_effect(args)
    t0 = time.perf_counter()
    dlc = read_dlc(args.container)
    t_load = time.perf_counter() - t0
    graph = dlc.graph
    t0 = time.perf_counter()
    _graph_names("--graph_init", args.graph_init, graph)
    _graph_names("--graph_execute", args.graph_execute, graph)
    if args.input_name:
        new_dims = {resize.input_name(graph, n): resize.parse_dims(d)
                    for n, d in zip(args.input_name, args.input_dimensions)}
        changed = resize.resize(graph, new_dims)
        LOG.info("network resized: %s; output shapes now %s",
                 ", ".join(f"{n} {','.join(map(str, d))}" for n, d in new_dims.items()),
                 ", ".join(f"{o} {','.join(map(str, graph.tensors[o].shape))}" for o in changed) or "unchanged")
    il = parse_input_list(args.input_list)
    wanted = _wanted(args, il, graph)
    buffers = _buffers(args, graph)
    fopts = FeedOptions(args.use_native_input_files, tuple(buffers.inputs.items()), args.static_min_max)
    plans = [plan_feeds(entry, graph, fopts, i + 1) for i, entry in enumerate(il.entries)]
    split, groups = _batches(plans, graph)
    if split > 1:
        LOG.info("input files hold one batch element each: %d input lines run in %d batch(es) of %d%s",
                 len(plans), len(groups), split, " (the last zero-padded)" if len(plans) % split else "")
    diag = None
    if args.profiling_level != "off":
        diag = DiagLog(os.path.abspath(args.container), args.profiling_level, runtimes.LABEL[choice.runtime],
                       layers=[{"id": i, "name": op.name, "type": op.type} for i, op in enumerate(graph.ops)])
    created = _prepare_output_dir(args.output_dir, len(plans))
    try:
        staging = _Staging(args.output_dir)
    except BaseException:
        _remove_created(created)
        raise
    t_create = time.perf_counter() - t0
    ok = False
    bar = progress_bar(len(plans), PROG, "inference", enabled=len(plans) > 1)
    runs = 0
    try:
        deadline = time.monotonic() + args.duration if args.duration else None
        first_pass = True
        while True:
            for first, group in groups:
                feeds = _group_feeds(group, graph, fopts, split)
                op_times: list[float] | None = [] if diag is not None else None
                t_inf = time.perf_counter()
                if args.debug:
                    results = execute(graph, feeds, wanted, keep_intermediates=True, op_times=op_times)
                    results.update(execute(graph, feeds, wanted))
                else:
                    results = execute(graph, feeds, wanted, op_times=op_times)
                if diag is not None:
                    diag.add_inference(time.perf_counter() - t_inf, op_times)
                runs += 1
                if first_pass:
                    for j in range(len(group)):
                        i = first + j
                        try:
                            _write_results(staging.result_dir(i), _element(results, j, split), graph, buffers,
                                           args.use_native_output_files)
                        except OSError as exc:
                            raise OutputError(f"--output_dir {args.output_dir}: cannot write the results of "
                                              f"inference {i}: {os_error_reason(exc)}; the output folder was left "
                                              "as it was") from None
                        if bar is not None:
                            bar.update(1)
                LOG.debug("inference %d done: %d tensors written", first, len(results))
            first_pass = False
            if deadline is None or time.monotonic() >= deadline:
                break
        names = [f"Result_{i}" for i in range(len(plans))]
        if diag is not None:
            diag.init = {"load": round(t_load * 1e6, 3), "deserialize": 0.0, "create": round(t_create * 1e6, 3)}
            try:
                with open(os.path.join(staging.path, FILE_NAME), "x", encoding="utf-8") as fh:
                    fh.write(diag.to_json())
            except OSError as exc:
                raise OutputError(f"--output_dir {args.output_dir}: cannot write {FILE_NAME}: "
                                  f"{os_error_reason(exc)}; the output folder was left as it was") from None
            names.append(FILE_NAME)
        try:
            staging.commit(names)
        except OSError as exc:
            raise OutputError(f"--output_dir {args.output_dir}: cannot move the results into place: "
                              f"{os_error_reason(exc)}; the output folder was left as it was") from None
        ok = True
    finally:
        if bar is not None:
            bar.close()
        staging.remove()
        if not ok:
            _remove_created(created)
    repeat = f" ({runs} runs in {args.duration:g} s)" if args.duration else ""
    print(f"Processed {len(il.entries)} inference(s){repeat}; results in {os.path.abspath(args.output_dir)}")
    if diag is not None:
        log_path = os.path.join(os.path.abspath(args.output_dir), FILE_NAME)
        print(f"Profiling ({args.profiling_level}) written to {log_path}; view it with snpe-diagview --input_log")
    return 0


def entry() -> None:
    sys.exit(run_main(main, debug_traces=False))     # --debug is SNPE's layer dump here


if __name__ == "__main__":
    entry()

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
"""
from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from ..dlc import read_dlc
from ..dlc.writer import TEMP_PREFIX, remove_stale_temps
from ..errors import OutputError, RuntimeInputError, file_kind, os_error_reason
from ..ir.graph import Graph
from ..runtime import execute
from ..runtime.fixed_point import dequantize, is_quantized, quantize
from ..runtime.input_list import parse_input_list
from .common import LOG, ArgumentParser, run_main, setup_logging

PROG = "snpe-net-run"


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run a DLC on the snpe-tools reference (numpy) runtime.")
    p.required.add_argument("--container", required=True, help="Path to the DLC container.")
    p.required.add_argument("--input_list", required=True, help="File listing the raw input files per inference.")
    o = p.optional
    o.add_argument("--output_dir", default="./output", help="Directory for the outputs (default ./output).")
    o.add_argument("--set_output_tensors", default=None,
                   help="Comma-separated tensor names to write instead of the graph outputs.")
    o.add_argument("--debug", action="store_true", help="Write the output of every op (layer dump).")
    o.add_argument("--use_native_input_files", action="store_true",
                   help="Read input files in each input's native data type instead of float32.")
    o.add_argument("--use_native_output_files", action="store_true",
                   help="Write outputs in their native data type instead of float32.")
    return p


@dataclass
class _Feed:
    """One input file of one inference, checked before any inference runs."""

    name: str
    path: str
    dtype: np.dtype


def _check_raw(path: str, name: str, graph: Graph, native: bool) -> _Feed:
    t = graph.tensors[name]
    dtype = np.dtype(t.dtype) if native else np.dtype(np.float32)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise RuntimeInputError(f"input file not found: {path} (for input '{name}')") from None
    except (OSError, ValueError) as exc:
        raise RuntimeInputError(f"{path}: cannot read the file for input '{name}' ({os_error_reason(exc)})") \
            from None
    if not stat.S_ISREG(st.st_mode):
        raise RuntimeInputError(f"{path} is {file_kind(st.st_mode)}, not a regular file (for input '{name}'); "
                                "give a raw data file")
    size = st.st_size
    expected = int(np.prod(t.shape))
    if size % dtype.itemsize or size // dtype.itemsize != expected:
        raise RuntimeInputError(f"{path}: input '{name}' expects {expected} {dtype.name} elements "
                                f"(shape {list(t.shape)}), the file holds {size / dtype.itemsize:g}")
    return _Feed(name, path, dtype)


def _read_raw(feed: _Feed, graph: Graph, native: bool) -> np.ndarray:
    t = graph.tensors[feed.name]
    count = int(np.prod(t.shape))
    try:
        arr = np.fromfile(feed.path, dtype=feed.dtype, count=count)
    except (OSError, ValueError) as exc:
        raise RuntimeInputError(f"{feed.path}: cannot read the file for input '{feed.name}' "
                                f"({os_error_reason(exc)})") from None
    if arr.size != count:          # changed since the check
        raise RuntimeInputError(f"{feed.path}: input '{feed.name}' expects {count} {feed.dtype.name} elements, "
                                f"the file now holds {arr.size}")
    arr = arr.reshape(t.shape)
    if not native and is_quantized(t):      # float data for a fixed-point input: quantize with its encoding
        return quantize(t, arr)
    return arr.astype(t.dtype, copy=False)


def _plan_feeds(entry: dict[str, str], graph: Graph, native: bool, lineno: int) -> list[_Feed]:
    if "" in entry:
        if len(graph.inputs) != 1:
            raise RuntimeInputError(f"input list line {lineno}: the model has {len(graph.inputs)} inputs "
                                    f"({', '.join(graph.inputs)}); use name:=path pairs")
        entry = {graph.inputs[0]: entry[""]}
    unknown = set(entry) - set(graph.inputs)
    if unknown:
        raise RuntimeInputError(f"input list line {lineno}: {', '.join(sorted(unknown))} is not a model input; "
                                f"model inputs: {', '.join(graph.inputs)}")
    missing = [n for n in graph.inputs if n not in entry]
    if missing:
        raise RuntimeInputError(f"input list line {lineno}: no file for input(s) {', '.join(missing)}")
    return [_check_raw(entry[n], n, graph, native) for n in graph.inputs]


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

    def commit(self, count: int) -> None:
        """Move every staged Result_N into out_dir; the previous Result_N stays until its new one is in
        place, and on a failure midway every folder already moved is put back."""
        old_dir = os.path.join(self.path, "previous")
        os.mkdir(old_dir)
        done: list[tuple[int, bool]] = []
        try:
            for i in range(count):
                final = os.path.join(self.out_dir, f"Result_{i}")
                had_old = os.path.lexists(final)
                if had_old:
                    os.rename(final, os.path.join(old_dir, f"Result_{i}"))
                done.append((i, had_old))
                os.rename(self.result_dir(i), final)
        except BaseException:
            for i, had_old in reversed(done):
                final = os.path.join(self.out_dir, f"Result_{i}")
                try:
                    if os.path.isdir(final) and not os.path.exists(self.result_dir(i)):
                        os.rename(final, self.result_dir(i))
                    if had_old:
                        os.rename(os.path.join(old_dir, f"Result_{i}"), final)
                except OSError:
                    pass
            raise

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _wanted(args, il, graph: Graph) -> list[str]:
    if args.set_output_tensors:
        wanted = [t.strip() for t in args.set_output_tensors.split(",") if t.strip()]
    else:
        wanted = list(il.out_tensors)
        for layer in il.out_layers:
            op = next((o for o in graph.ops if o.name == layer), None)
            if op is None:
                raise RuntimeInputError(f"output layer '{layer}' (from the input list's # line) is not in the DLC")
            wanted += op.outputs
    wanted = wanted or list(graph.outputs)
    for name in wanted:
        if name not in graph.tensors:
            raise RuntimeInputError(f"output tensor '{name}' is not in the DLC; model outputs: "
                                    f"{', '.join(graph.outputs)}")
    return wanted


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(0 if args.debug else -1)
    dlc = read_dlc(args.container)
    graph = dlc.graph
    il = parse_input_list(args.input_list)
    wanted = _wanted(args, il, graph)
    native_in = args.use_native_input_files
    plans = [_plan_feeds(entry, graph, native_in, i + 1) for i, entry in enumerate(il.entries)]
    created = _prepare_output_dir(args.output_dir, len(plans))
    try:
        staging = _Staging(args.output_dir)
    except BaseException:
        _remove_created(created)
        raise
    ok = False
    try:
        for i, plan in enumerate(plans):
            feeds = {f.name: _read_raw(f, graph, native_in) for f in plan}
            results = execute(graph, feeds, wanted, keep_intermediates=args.debug)
            if args.debug:
                results.update(execute(graph, feeds, wanted))
            rdir = staging.result_dir(i)
            try:
                os.mkdir(rdir)
                for name, value in results.items():
                    path = output_file(rdir, name)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    arr = np.asarray(value)
                    if not args.use_native_output_files:
                        t = graph.tensors.get(name)
                        arr = (dequantize(t, arr) if t is not None and is_quantized(t) else arr).astype(np.float32)
                    _write_raw(path, arr)
            except OSError as exc:
                raise OutputError(f"--output_dir {args.output_dir}: cannot write the results of inference {i}: "
                                  f"{os_error_reason(exc)}; the output folder was left as it was") from None
            LOG.debug("inference %d done: %d tensors written", i, len(results))
        try:
            staging.commit(len(plans))
        except OSError as exc:
            raise OutputError(f"--output_dir {args.output_dir}: cannot move the results into place: "
                              f"{os_error_reason(exc)}; the output folder was left as it was") from None
        ok = True
    finally:
        staging.remove()
        if not ok:
            _remove_created(created)
    print(f"Processed {len(il.entries)} inference(s); results in {os.path.abspath(args.output_dir)}")
    return 0


def entry() -> None:
    sys.exit(run_main(main, debug_traces=False))     # --debug is SNPE's layer dump here


if __name__ == "__main__":
    entry()

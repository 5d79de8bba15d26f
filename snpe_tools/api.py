"""The Python API: convert a model, load a DLC, run it, from a script instead of a shell.

* :func:`convert` runs the same code as the ``snpe-*-to-dlc`` command (same options, same DLC, same
  errors, raised as :class:`~snpe_tools.errors.SnpeToolsError`), so a script and a shell pipeline agree;
* :func:`load_dlc` reads a DLC (ours or Qualcomm's);
* :func:`run` executes one inference on the reference CPU runtime as ``snpe-net-run`` does with its
  default float input/output files: arrays in the DLC's input layout (NHWC for images) in, float32 arrays
  in the DLC's output layout out, keyed by output tensor name.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .dlc import DLC, read_dlc
from .errors import ConversionError, RuntimeInputError
from .runtime import execute
from .ops.fixed_point import dequantize, is_quantized, quantize

# model file suffix -> framework; a directory is a TensorFlow SavedModel
_SUFFIX_FRAMEWORK = {".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch", ".torchscript": "pytorch",
                     ".tflite": "tflite", ".pb": "tensorflow", ".meta": "tensorflow"}
# framework -> module of its converter tool (each has main(argv))
_CONVERTERS = {"onnx": "onnx_to_dlc", "pytorch": "pytorch_to_dlc", "tensorflow": "tensorflow_to_dlc",
               "tflite": "tflite_to_dlc"}


def _framework(model: str, framework: str | None) -> str:
    if framework is not None:
        if framework not in _CONVERTERS:
            raise ConversionError(f"framework '{framework}' is not one of {', '.join(sorted(_CONVERTERS))}")
        return framework
    if os.path.isdir(model):
        return "tensorflow"
    suffix = os.path.splitext(model)[1].lower()
    if suffix not in _SUFFIX_FRAMEWORK:
        raise ConversionError(f"{model}: cannot tell the framework from the suffix '{suffix}'; pass "
                              f"framework= one of {', '.join(sorted(_CONVERTERS))}")
    return _SUFFIX_FRAMEWORK[suffix]


def _dims(shape: Sequence[int] | str) -> str:
    return shape if isinstance(shape, str) else ",".join(str(int(d)) for d in shape)


def _argv(model: str, output_path: str | None, per_input: dict[str, Mapping[str, Any] | None],
          out_names: Sequence[str] | None, options: dict[str, Any]) -> list[str]:
    argv = ["--input_network", model]
    if output_path is not None:
        argv += ["--output_path", output_path]
    for flag, table in per_input.items():
        for name, value in (table or {}).items():
            if flag == "--input_dim":
                value = _dims(value)
            values = [value] if isinstance(value, str) else list(value)
            argv += [flag, name, *map(str, values)]
    for name in out_names or []:
        argv += ["--out_node", name]
    for key, value in options.items():
        flag = "--" + key
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, *(map(str, v) if isinstance(v, (list, tuple)) else [str(v)])]
        else:
            argv += [flag, str(value)]
    return argv


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


@contextlib.contextmanager
def _log_level(quiet: bool) -> Iterator[None]:
    log = logging.getLogger("snpe_tools")
    filt = _BelowWarning()
    if quiet:
        log.addFilter(filt)
    try:
        yield
    finally:
        log.removeFilter(filt)


def convert(model: str | os.PathLike, output_path: str | os.PathLike | None = None, *,
            framework: str | None = None, input_dims: Mapping[str, Sequence[int] | str] | None = None,
            out_names: Sequence[str] | None = None, input_dtypes: Mapping[str, str] | None = None,
            input_encodings: Mapping[str, str | Sequence[str]] | None = None,
            input_layouts: Mapping[str, str] | None = None, input_types: Mapping[str, str] | None = None,
            quiet: bool = True, **options: Any) -> str | None:
    """Convert ``model`` into a DLC, exactly as ``snpe-<framework>-to-dlc`` does; returns the DLC's path
    (None with ``dry_run=True``, which prints the op table and writes nothing).

    ``framework`` (onnx, pytorch, tensorflow, tflite) defaults from the file suffix (a folder is a
    SavedModel).  The per-input tables are the repeated per-input flags: ``input_dims={"x": (1, 3, 224,
    224)}`` is ``-d x 1,3,224,224`` (for PyTorch, in forward() order), ``input_encodings={"x": ("nv21",
    "rgb")}`` is ``-e x nv21 rgb``.  Any other option of the tool is a keyword: ``no_simplification=True``
    is ``--no_simplification``, ``batch=4`` is ``--batch 4``, a list repeats the flag.  ``quiet`` hides the
    INFO log lines.  Errors raise :class:`~snpe_tools.errors.SnpeToolsError` with the tool's one-line text.
    """
    import importlib

    model = os.fspath(model)
    fw = _framework(model, framework)
    argv = _argv(model, None if output_path is None else os.fspath(output_path),
                 {"--input_dim": input_dims, "--input_dtype": input_dtypes, "--input_encoding": input_encodings,
                  "--input_layout": input_layouts, "--input_type": input_types}, out_names, options)
    tool = importlib.import_module(f".tools.{_CONVERTERS[fw]}", __package__)
    with _log_level(quiet):
        try:
            rc = tool.main(argv)
        except SystemExit as exc:       # argparse: a bad option (its one line is on stderr)
            raise ConversionError(f"snpe-{fw}-to-dlc rejected the options {argv[2:]} (exit {exc.code})") from None
    if rc != 0:
        raise ConversionError(f"snpe-{fw}-to-dlc returned {rc}")
    if options.get("dry_run"):
        return None
    if output_path is not None:
        return os.fspath(output_path)
    from .tools.converter_args import default_output_path

    return default_output_path(model)


def load_dlc(path: str | os.PathLike) -> DLC:
    """Read a DLC file: ``.graph`` (inputs, outputs, ops, tensors) and ``.metadata``."""
    return read_dlc(os.fspath(path))


def _feeds(dlc: DLC, inputs: Mapping[str, Any] | Sequence[Any] | np.ndarray) -> dict[str, np.ndarray]:
    graph = dlc.graph
    if isinstance(inputs, Mapping):
        unknown = sorted(set(inputs) - set(graph.inputs))
        if unknown:
            raise RuntimeInputError(f"{', '.join(unknown)}: not an input of the DLC; its inputs are "
                                    f"{', '.join(graph.inputs)}")
        named = dict(inputs)
    else:
        arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
        if len(arrays) != len(graph.inputs):
            raise RuntimeInputError(f"the DLC has {len(graph.inputs)} input(s) ({', '.join(graph.inputs)}), "
                                    f"{len(arrays)} array(s) given; pass a dict name -> array")
        named = dict(zip(graph.inputs, arrays))
    feeds = {}
    for name in graph.inputs:
        if name not in named:
            raise RuntimeInputError(f"no data for input '{name}'")
        t = graph.tensors[name]
        arr = np.asarray(named[name], dtype=np.float32)       # as snpe-net-run's float32 input files
        if arr.size != int(np.prod(t.shape)):
            raise RuntimeInputError(f"input '{name}' has {arr.size} values, the DLC expects "
                                    f"{int(np.prod(t.shape))} (shape {list(t.shape)}, {t.axis_format})")
        arr = arr.reshape(t.shape)
        feeds[name] = quantize(t, arr) if is_quantized(t) else arr.astype(t.dtype, copy=False)
    return feeds


def run(dlc: DLC | str | os.PathLike, inputs: Mapping[str, Any] | Sequence[Any] | np.ndarray,
        outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """One inference of ``dlc`` (a path or :func:`load_dlc`'s result) on the reference CPU runtime.

    ``inputs``: a dict input name -> array, or the arrays in the DLC's input order (one array for a
    one-input model), in the DLC's layout (see ``snpe-dlc-info``), converted to float32 first as
    snpe-net-run reads its input files.  Returns output name -> float32 array (fixed-point outputs
    dequantized), the values snpe-net-run writes to its .raw files."""
    if not isinstance(dlc, DLC):
        dlc = load_dlc(dlc)
    graph = dlc.graph
    values = execute(graph, _feeds(dlc, inputs), outputs)
    result = {}
    for name, value in values.items():
        t = graph.tensors.get(name)
        real = dequantize(t, value) if t is not None and is_quantized(t) else value
        result[name] = np.asarray(real).astype(np.float32)
    return result

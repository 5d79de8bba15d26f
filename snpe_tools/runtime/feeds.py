"""Input and output files of snpe-net-run: which data type each file holds and how it becomes a tensor.

SNPE hands data to its runtime in *buffers* whose data type the user picks (``--userbuffer_float``,
``--userbuffer_tf8`` ...; default: float ITensors).  The .raw files are float32 unless
``--use_native_input_files`` / ``--use_native_output_files``, in which case a file holds the buffer's own
data type (uint8 for tf8, float16 for floatN=16 ...).  Going through a buffer type is observable, so it is
modelled here, not ignored:

* ``float32`` / ``float16``: real values (a float16 buffer rounds them to half precision);
* ``tf8`` / ``tf16``: unsigned fixed point.  The encoding is the tensor's own (``--static_min_max``, or a
  native file, or a fixed-point output) or, as SNPE's "input specific quantization" does, the data's own
  range under the tf min/max rules; real values are rounded to that grid;
* ``uint8/16/32``, ``int8/16/32``: integers (stored integers of a fixed-point tensor, values otherwise);
* ``native``: the tensor's own type (``--userbuffer_auto``; the default of the native-file flags).

:func:`plan_feeds` checks every file of an input-list line before anything runs; :func:`read_feed` turns a
checked file into the array the runtime executes.  snpe-dlc-quant uses both with the defaults.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import numpy as np

from ..errors import RuntimeInputError, file_kind, os_error_reason
from ..ir.encodings import dequantize_array, is_signed, quantize_array, tf_encoding
from ..ir.graph import Encoding, Graph, Tensor
from ..ops.fixed_point import dequantize, is_quantized, quantize

#: buffer type name -> (kind, bits); the names of ``--data_type_map`` and the userbuffer flags
BUFFER_TYPES: dict[str, tuple[str, int]] = {
    "float32": ("float", 32), "float16": ("float", 16), "tf8": ("tf", 8), "tf16": ("tf", 16),
    "uint8": ("uint", 8), "uint16": ("uint", 16), "uint32": ("uint", 32),
    "int8": ("int", 8), "int16": ("int", 16), "int32": ("int", 32), "native": ("native", 0),
}
FLOAT = "float32"


def buffer_dtype(buf: str, t: Tensor) -> np.dtype:
    """The element type of a buffer (and of a native file) of type ``buf`` for tensor ``t``."""
    kind, bits = BUFFER_TYPES[buf]
    if kind == "native":
        return np.dtype(t.dtype)
    return np.dtype({"float": f"float{bits}", "tf": f"uint{bits}", "uint": f"uint{bits}",
                     "int": f"int{bits}"}[kind])


@dataclass
class Feed:
    """One input file of one inference, checked before any inference runs."""

    name: str
    path: str
    dtype: np.dtype          # element type of the file
    buffer: str = "native"   # buffer type the data goes through
    whole: bool = True       # the file holds the whole tensor (False: one batch element of it)


@dataclass(frozen=True)
class FeedOptions:
    """How input files are read: native files, the buffer type per input, model encodings for tf buffers."""

    native: bool = False
    buffers: tuple[tuple[str, str], ...] = ()     # (input name, buffer type); missing: "native"
    static_min_max: bool = False

    def buffer_of(self, name: str) -> str:
        return dict(self.buffers).get(name, "native")


def file_dtype(t: Tensor, opts: FeedOptions) -> np.dtype:
    return buffer_dtype(opts.buffer_of(t.name), t) if opts.native else np.dtype(np.float32)


def check_raw(path: str, name: str, graph: Graph, opts: FeedOptions) -> Feed:
    """The file exists, is a regular file and holds exactly the input's element count."""
    t = graph.tensors[name]
    dtype = file_dtype(t, opts)
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
    batch = batch_size(t)
    if not size % dtype.itemsize and size // dtype.itemsize == expected:
        return Feed(name, path, dtype, opts.buffer_of(name))
    if batch > 1 and not size % dtype.itemsize and size // dtype.itemsize == expected // batch:
        return Feed(name, path, dtype, opts.buffer_of(name), whole=False)
    one = f" or {expected // batch} (one element of the batch of {batch})" if batch > 1 else ""
    raise RuntimeInputError(f"{path}: input '{name}' expects {expected} {dtype.name} elements "
                            f"(shape {list(t.shape)}){one}, the file holds {size / dtype.itemsize:g}")


def batch_size(t: Tensor) -> int:
    """The batch of an input: its leading dimension (SNPE's convention)."""
    return int(t.shape[0]) if len(t.shape) else 1


def plan_feeds(entry: dict[str, str], graph: Graph, opts: FeedOptions | bool, lineno: int) -> list[Feed]:
    """The checked files of one input-list line, in the order of the graph's inputs (``opts`` may be just
    the native-files flag)."""
    if isinstance(opts, bool):
        opts = FeedOptions(native=opts)
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
    return [check_raw(entry[n], n, graph, opts) for n in graph.inputs]


def _tf_encoding_for(t: Tensor, bits: int, data: np.ndarray | None, use_model: bool, what: str) -> Encoding:
    """The encoding of a tf8/tf16 buffer: the tensor's (same bit width, or its range at ``bits``) when asked
    or when the data is already fixed point; otherwise the range of the data itself."""
    enc = t.encoding
    if use_model:
        if enc is None or enc.axis is not None:
            raise RuntimeInputError(f"{what} '{t.name}' has no per-tensor quantization encoding in the DLC; "
                                    "quantize the DLC (snpe-dlc-quant) or drop --static_min_max / the native "
                                    "files for this tf buffer")
        return enc if enc.bitwidth == bits and not is_signed(enc) else tf_encoding(enc.min, enc.max, bits)
    arr = np.asarray(data, np.float64)
    return tf_encoding(float(arr.min()) if arr.size else 0.0, float(arr.max()) if arr.size else 0.0, bits)


def _int_range_check(arr: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    info = np.iinfo(dtype)
    a = np.asarray(arr)
    if a.size and (np.any(a < info.min) or np.any(a > info.max)):
        raise RuntimeInputError(f"{what}: values outside the {dtype.name} range [{info.min}, {info.max}]")
    return a.astype(dtype)


def buffer_to_tensor(t: Tensor, buf: str, arr: np.ndarray, native: bool, static_min_max: bool) -> np.ndarray:
    """The tensor value the runtime executes for file data ``arr`` passed through buffer type ``buf``."""
    kind, bits = BUFFER_TYPES[buf]
    what = f"input '{t.name}'"
    if kind == "native":
        if not native and is_quantized(t):      # float data for a fixed-point input: quantize with its encoding
            return quantize(t, arr)
        return arr.astype(t.dtype, copy=False)
    if kind == "float":
        real = np.asarray(arr, np.float64) if native else np.asarray(arr, np.float32).astype(f"float{bits}")
    elif kind == "tf":
        enc = _tf_encoding_for(t, bits, None if native else arr, native or static_min_max, what)
        q = arr if native else quantize_array(enc, arr)
        if is_quantized(t) and enc is t.encoding:
            return _int_range_check(q, np.dtype(t.dtype), what)
        real = dequantize_array(enc, q)
    else:                                       # integers: stored integers of a fixed-point tensor, else values
        ints = _int_range_check(arr if native else np.rint(arr), buffer_dtype(buf, t), what)
        if is_quantized(t) or np.issubdtype(np.dtype(t.dtype), np.integer):
            return _int_range_check(ints, np.dtype(t.dtype), what)
        return ints.astype(t.dtype)
    if is_quantized(t):
        return quantize(t, real)
    return np.asarray(real).astype(t.dtype)


def read_feed(feed: Feed, graph: Graph, opts: FeedOptions | bool = False) -> np.ndarray:
    """Read a checked file and convert it through its buffer type into the tensor's value."""
    if isinstance(opts, bool):
        opts = FeedOptions(native=opts)
    t = graph.tensors[feed.name]
    shape = tuple(t.shape) if feed.whole else (1,) + tuple(t.shape[1:])
    count = int(np.prod(shape))
    try:
        arr = np.fromfile(feed.path, dtype=feed.dtype, count=count)
    except (OSError, ValueError) as exc:
        raise RuntimeInputError(f"{feed.path}: cannot read the file for input '{feed.name}' "
                                f"({os_error_reason(exc)})") from None
    if arr.size != count:          # changed since the check
        raise RuntimeInputError(f"{feed.path}: input '{feed.name}' expects {count} {feed.dtype.name} elements, "
                                f"the file now holds {arr.size}")
    return buffer_to_tensor(t, feed.buffer, arr.reshape(shape), opts.native, opts.static_min_max)


def zero_element(t: Tensor) -> np.ndarray:
    """One batch element of real value 0 in the tensor's stored type (padding of an incomplete batch)."""
    zeros = np.zeros((1,) + tuple(t.shape[1:]), np.float32)
    return quantize(t, zeros) if is_quantized(t) else zeros.astype(t.dtype)


def tensor_to_file(t: Tensor | None, buf: str, value: np.ndarray, native: bool) -> np.ndarray:
    """The array written to an output file: the tensor's value passed through buffer type ``buf``, then
    float32 unless the output files are native."""
    arr = np.asarray(value)
    kind, bits = BUFFER_TYPES[buf]
    quant = t is not None and is_quantized(t)
    what = f"output '{t.name if t is not None else '?'}'"
    if kind == "native":
        if native:
            return arr
        return (dequantize(t, arr) if quant else arr).astype(np.float32)
    real = dequantize(t, arr) if quant else arr
    if kind == "float":
        out = np.asarray(real).astype(f"float{bits}")
        return out if native else out.astype(np.float32)
    if kind == "tf":
        use_model = t is not None and t.encoding is not None and t.encoding.axis is None
        enc = _tf_encoding_for(t, bits, real, use_model, what)
        q = quantize_array(enc, real)
        return q if native else dequantize_array(enc, q).astype(np.float32)
    if not (quant or np.issubdtype(arr.dtype, np.integer)):
        raise RuntimeInputError(f"{what} is {arr.dtype.name}; a {buf} output buffer holds the values of "
                                "fixed-point or integer outputs only (use a float or tf buffer for it)")
    ints = _int_range_check(arr, buffer_dtype(buf, t), what)
    return ints if native else ints.astype(np.float32)

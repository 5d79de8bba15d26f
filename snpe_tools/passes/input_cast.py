"""``--input_dtype NAME TYPE`` on an input the model reads as another type: a DLC input of TYPE and a Cast.

SNPE's converters give the DLC input the requested type and insert a ``Cast`` to the type the model was
built for, so only that input changes: the rest of the graph keeps its types (a uint8 camera frame feeds a
float model unchanged).  Before this, the frontends declared the input with the requested type and every
op's type rule carried it through the whole graph.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConversionError
from ..ir import dtypes as qd
from ..ir.graph import Graph
from .input_splice import splice_input

def dlc_dtype(name: str) -> np.dtype:
    """The DLC tensor type of an ``--input_dtype`` type name (``uint8``, ``float16``, ``int64`` -> int32 ...)."""
    try:
        return qd.dlc_from_name(name)
    except ValueError:
        raise ConversionError(f"--input_dtype: '{name}' is not a data type") from None


def cast_input(graph: Graph, name: str, dtype: Any) -> str | None:
    """Give graph input ``name`` the type ``dtype`` (a numpy type or ``--input_dtype`` name) and cast it to
    the type the model reads.  Returns the Cast's output name, or None when the types already agree."""
    want = dlc_dtype(dtype) if isinstance(dtype, str) else np.dtype(dtype)
    t = graph.tensors[name]
    if want == t.dtype:
        return None
    # named <input>_cast_<type> as Qualcomm's converter names its input Cast (<input>_cast_int32 for int64 inputs)
    return splice_input(graph, name, t.shape, want, t.axis_format, "Cast", {"to": qd.to_qnn(t.dtype)},
                        f"_cast_{np.dtype(t.dtype).name}")


def model_input_dtype(requested: str | None, model_dtype: Any) -> tuple[np.dtype, str | None]:
    """For a frontend declaring an input: the type the model reads and the ``InputInfo.dtype`` to record
    (None when ``--input_dtype`` was not given or names the model's own type)."""
    model = np.dtype(model_dtype)
    if requested is None or dlc_dtype(requested) == model:
        return model, None
    return model, requested

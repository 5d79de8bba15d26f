"""Graph I/O configuration: qairt-converter's ``--config`` YAML, the legacy ``--custom_io`` YAML and
``--preserve_io``, all turned into one request: per graph input/output, the layout and the float type
the DLC should give it.

Both YAML schemata are SNPE's (snpe_reference.md section 1.5); every field is either honoured or refused
in one line.  The request is resolved against the converted IR graph (whose tensors still carry their
source layouts) by :func:`resolve`; the passes ``io_layouts`` and ``io_dtypes`` then add the boundary
Transposes and Casts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConversionError
from ..ir import axis_format as af
from ..ir.graph import Graph
from .common import check_input_file

YAML_LIMIT = 1 << 20
FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float16": np.dtype(np.float16)}
DESIRED_DTYPES = ("float32", "float16", "uint8", "int8")
COLORS = ("BGR", "RGB", "RGBA", "ARGB32", "NV21", "NV12")
_DISPLAY = {v: k for k, v in af.LAYOUT_NAMES.items()}


@dataclass
class TensorRequest:
    """What a configuration asks for one graph input or output (None: not given)."""

    name: str
    src_dtype: str | None = None
    src_layout: str | None = None
    dtype: str | None = None
    layout: str | None = None
    shape: list[int] | None = None
    color: list[str] | None = None


@dataclass
class IoRequest:
    """Per-tensor requests plus the blanket ones (``True`` = every input/output)."""

    inputs: dict[str, TensorRequest] = field(default_factory=dict)
    outputs: dict[str, TensorRequest] = field(default_factory=dict)
    out_names: list[str] = field(default_factory=list)
    listed_inputs: list[str] = field(default_factory=list)     # YAML "Converted Graph: Input Tensors"
    keep_layout: set[str] | bool = field(default_factory=set)
    keep_dtype: set[str] | bool = field(default_factory=set)


def layout_tag(name: str, where: str) -> str:
    tag = af.LAYOUT_NAMES.get(str(name).upper())
    if tag is None:
        raise ConversionError(f"{where}: layout '{name}' is not one of {', '.join(af.LAYOUT_NAMES)}")
    return tag


def layout_name(tag: str) -> str:
    return _DISPLAY.get(tag, "NONTRIVIAL")


# ---- reading ------------------------------------------------------------------------------------
def load_yaml(path: str, flag: str) -> Any:
    """A YAML file given on the command line, parsed safely (no Python objects), or a one-line error."""
    import yaml

    check_input_file(path, flag, "configuration", error=ConversionError)
    with open(path, "rb") as fh:
        data = fh.read(YAML_LIMIT + 1)
    if len(data) > YAML_LIMIT:
        raise ConversionError(f"{flag} {path}: larger than {YAML_LIMIT >> 20} MiB; give a small YAML file")
    try:
        return yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = str(exc).replace("\n", " ")
        raise ConversionError(f"{flag} {path}: not valid YAML ({reason[:200]})") from None


def _mapping(value: Any, where: str, keys: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConversionError(f"{where}: expected a mapping with {', '.join(keys)}")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise ConversionError(f"{where}: unknown field '{unknown[0]}' (fields: {', '.join(keys)})")
    return value


def _names(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return [str(v) for v in value]
    raise ConversionError(f"{where}: expected a list of tensor names")


def _dtype(value: Any, where: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    text = str(value).lower()
    if text not in choices:
        raise ConversionError(f"{where}: data type '{value}' is not one of {', '.join(choices)}")
    return text


def _shape(value: Any, where: str) -> list[int] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).replace("(", "").replace(")", "").split(",")
    try:
        dims = [int(str(d).strip()) for d in items if str(d).strip() != ""]
    except ValueError:
        dims = []
    if not dims or any(d <= 0 for d in dims):
        raise ConversionError(f"{where}: shape '{value}' must be positive integers, e.g. 1,3,224,224")
    return dims


def _quant(value: Any, where: str, keys: tuple[str, ...]) -> None:
    q = _mapping(value, where, keys)
    if any(q.get(k) not in (None, "QNN_DEFINITION_UNDEFINED") for k in keys):
        raise ConversionError(f"{where}: quantized graph I/O is not supported (the DLC I/O stays float); "
                              "remove the quantization parameters")


def read_qairt_config(path: str, flag: str = "--config") -> IoRequest:
    """qairt-converter's I/O YAML: ``Converted Graph`` (Input/Output Tensors), ``Input Tensor Configuration``
    and ``Output Tensor Configuration`` lists of Name / Src Model Parameters / Desired Model Parameters."""
    doc = _mapping(load_yaml(path, flag), f"{flag} {path}",
                   ("Converted Graph", "Input Tensor Configuration", "Output Tensor Configuration"))
    req = IoRequest()
    graph_part = doc.get("Converted Graph") or []
    if isinstance(graph_part, dict):
        graph_part = [graph_part]
    for item in graph_part:
        part = _mapping(item, f"{flag}: Converted Graph", ("Input Tensors", "Output Tensors"))
        req.out_names += _names(part.get("Output Tensors"), f"{flag}: Converted Graph: Output Tensors")
        req.listed_inputs += _names(part.get("Input Tensors"), f"{flag}: Converted Graph: Input Tensors")
    for section, is_input in (("Input Tensor Configuration", True), ("Output Tensor Configuration", False)):
        desired_keys = ("DataType", "Layout", "Shape", "Color Conversion", "QuantParams", "Optional") if is_input \
            else ("DataType", "Layout", "QuantParams")
        for i, entry in enumerate(doc.get(section) or []):
            where = f"{flag}: {section} #{i + 1}"
            e = _mapping(entry, where, ("Name", "Src Model Parameters", "Desired Model Parameters"))
            if not e.get("Name"):
                raise ConversionError(f"{where}: Name is missing")
            name = str(e["Name"])
            where = f"{flag}: {section} {name}"
            src = _mapping(e.get("Src Model Parameters"), f"{where}: Src Model Parameters", ("DataType", "Layout"))
            want = _mapping(e.get("Desired Model Parameters"), f"{where}: Desired Model Parameters", desired_keys)
            _quant(want.get("QuantParams"), f"{where}: QuantParams", ("Scale", "Offset"))
            if want.get("Optional"):
                raise ConversionError(f"{where}: Optional inputs are not supported (every graph input is fed); "
                                      "remove 'Optional'")
            table = req.inputs if is_input else req.outputs
            t = table.setdefault(name, TensorRequest(name))
            t.src_dtype = _dtype(src.get("DataType"), f"{where}: Src DataType",
                                 ("float32", "float16", "int8", "uint8", "int16", "uint16", "int32", "int64",
                                  "bool"))
            t.src_layout = layout_tag(src["Layout"], f"{where}: Src Layout") if src.get("Layout") else None
            t.dtype = _dtype(want.get("DataType"), f"{where}: Desired DataType", DESIRED_DTYPES)
            t.layout = layout_tag(want["Layout"], f"{where}: Desired Layout") if want.get("Layout") else None
            if is_input:
                t.shape = _shape(want.get("Shape"), f"{where}: Desired Shape")
                color = want.get("Color Conversion")
                if color is not None:
                    t.color = color if isinstance(color, list) else str(color).split()
    return req


def read_custom_io(path: str, flag: str = "--custom_io") -> IoRequest:
    """The legacy converters' custom I/O YAML: a list of ``IOName`` / ``Layout {Model, Custom}`` /
    ``Datatype`` / ``QuantParam {Type, Scale, Offset}`` entries (names may be inputs or outputs)."""
    doc = load_yaml(path, flag)
    if doc is None:
        doc = []
    if not isinstance(doc, list):
        raise ConversionError(f"{flag} {path}: expected a list of '- IOName: ...' entries")
    req = IoRequest()
    for i, entry in enumerate(doc):
        e = _mapping(entry, f"{flag} entry #{i + 1}", ("IOName", "Layout", "Datatype", "QuantParam"))
        if not e.get("IOName"):
            raise ConversionError(f"{flag} entry #{i + 1}: IOName is missing")
        name = str(e["IOName"])
        where = f"{flag} {name}"
        lay = _mapping(e.get("Layout"), f"{where}: Layout", ("Model", "Custom"))
        _quant(e.get("QuantParam"), f"{where}: QuantParam", ("Type", "Scale", "Offset"))
        t = TensorRequest(name, src_layout=layout_tag(lay["Model"], f"{where}: Layout Model") if lay.get("Model")
                          else None,
                          layout=layout_tag(lay["Custom"], f"{where}: Layout Custom") if lay.get("Custom") else None,
                          dtype=_dtype(e.get("Datatype"), f"{where}: Datatype", DESIRED_DTYPES))
        # one table for both: the entry applies to whichever graph tensor carries the name
        req.inputs[name] = t
        req.outputs[name] = t
    return req


def names_or_all(given: list[list[str]] | None) -> set[str] | bool:
    """A repeatable ``nargs="*"`` flag such as ``--preserve_io_datatype [NAME ...]``: the names given (an empty
    set when the flag is absent), or True when it is given once without names (every input and output)."""
    if given is None:
        return set()
    if any(not names for names in given):
        return True
    return {n for names in given for n in names}


def preserve_io(values: list[list[str]] | None) -> tuple[set[str] | bool, set[str] | bool]:
    """``--preserve_io`` forms: none (all, layout and data type), ``layout [names]``, ``datatype [names]``."""
    layout: set[str] | bool = set()
    dtype: set[str] | bool = set()
    forms = set()
    for item in values or []:
        if not item:
            layout = dtype = True
            forms.add("all")
            continue
        kind, names = item[0], set(item[1:])
        if kind not in ("layout", "datatype"):
            raise ConversionError(f"--preserve_io {' '.join(item)}: the first value must be 'layout' or "
                                  "'datatype' (or give no value to keep both for every input and output)")
        forms.add(kind)
        if kind == "layout":
            layout = True if not names else (layout if layout is True else layout | names)
        else:
            dtype = True if not names else (dtype if dtype is True else dtype | names)
    if len(forms) > 1:
        raise ConversionError("--preserve_io: use one form at a time (all, 'layout ...' or 'datatype ...')")
    return layout, dtype


# ---- resolving against the graph ----------------------------------------------------------------
def _graph_names(graph: Graph, req: IoRequest) -> None:
    """TensorFlow tensors are ``node:0`` in the graph, and named by their node in options: accept both."""
    alias = {n[:-2]: n for n in graph.inputs + graph.outputs if n.endswith(":0")}
    for table in (req.inputs, req.outputs):
        for name in [n for n in table if n in alias and alias[n] not in table]:
            table[alias[name]] = table.pop(name)
    for attr in ("keep_layout", "keep_dtype"):
        names = getattr(req, attr)
        if names is not True:
            setattr(req, attr, {alias.get(n, n) for n in names})


def check_names(graph: Graph, req: IoRequest, flag: str) -> None:
    """Every tensor a configuration names is a graph input or output of the converted model."""
    _graph_names(graph, req)
    io = set(graph.inputs) | set(graph.outputs)
    for name, r in list(req.inputs.items()) + list(req.outputs.items()):
        # shapes, source types and colours were the frontend's to check (it knows the model's own names)
        if name not in io and (r.layout or r.dtype or (r.src_layout and r in req.outputs.values())):
            raise ConversionError(f"{flag}: '{name}' is not a graph input or output of the model "
                                  f"(inputs: {', '.join(graph.inputs)}; outputs: {', '.join(graph.outputs)})")
    for name in req.listed_inputs:
        if name not in graph.inputs and f"{name}:0" not in graph.inputs:
            raise ConversionError(f"{flag}: Converted Graph: Input Tensors names '{name}', which is not a graph input "
                                  f"(inputs: {', '.join(graph.inputs)}); cutting the graph at inner tensors is not "
                                  "supported")
    for sets in (req.keep_layout, req.keep_dtype):
        for name in (sets if sets is not True else ()):
            if name not in io:
                raise ConversionError(f"--preserve_io: '{name}' is not a graph input or output of the model")


def resolve(graph: Graph, req: IoRequest, flag: str) -> dict[str, dict[str, Any]]:
    """Pass options for the converted graph, whose tensors still carry source layouts and types:
    ``io_layouts`` (name -> format asked for), ``io_layouts_keep`` (name -> source format, for the tensors
    that keep it) and ``io_dtypes`` (name -> numpy float dtype)."""
    check_names(graph, req, flag)
    layouts: dict[str, str] = {}
    kept: dict[str, str] = {}
    dtypes: dict[str, np.dtype] = {}
    for name in graph.inputs + graph.outputs:
        t = graph.tensors[name]
        is_input = name in graph.inputs
        r = (req.inputs if is_input else req.outputs).get(name)
        if r is not None and r.src_layout is not None and r.src_layout != t.axis_format:
            raise ConversionError(f"{flag} {name}: the model gives this tensor layout {layout_name(t.axis_format)}, "
                                  f"not {layout_name(r.src_layout)}"
                                  + (" (declare an input's source layout with --input_layout)" if is_input else ""))
        # a colour conversion works on an NHWC image (passes/color_transform.py): such an input takes the
        # camera's format, not the model's layout
        info = graph.input_info.get(name) if is_input else None
        if r is not None and r.src_dtype is not None and not is_input and r.src_dtype != np.dtype(t.dtype).name:
            raise ConversionError(f"{flag} {name}: the model gives this output data type {np.dtype(t.dtype).name}, "
                                  f"not {r.src_dtype}")
        colour = info is not None and info.encoding_in != info.encoding_out \
            and info.encoding_in not in ("time_series", "other")
        keep = req.keep_layout is True or name in req.keep_layout
        if r is not None and r.layout is not None:
            if colour and r.layout != af.NSC:
                raise ConversionError(f"{flag} {name}: an input with a colour conversion is an NHWC image; "
                                      f"it cannot be given layout {layout_name(r.layout)}")
            layouts[name] = r.layout
        elif keep and not colour:
            kept[name] = t.axis_format
        keep_t = req.keep_dtype is True or name in req.keep_dtype
        if r is not None and r.dtype is not None:
            if r.dtype not in FLOAT_DTYPES:
                raise ConversionError(f"{flag} {name}: data type {r.dtype} (quantized graph I/O) is not supported; "
                                      "the DLC I/O stays float: use float32 or float16")
            if np.dtype(t.dtype).kind != "f":
                raise ConversionError(f"{flag} {name}: the tensor is {np.dtype(t.dtype).name}; only float "
                                      "tensors can be given a float data type")
            dtypes[name] = FLOAT_DTYPES[r.dtype]
        elif keep_t and np.dtype(t.dtype).kind == "f":
            dtypes[name] = np.dtype(t.dtype)
    return {"io_layouts": layouts, "io_layouts_keep": kept, "io_dtypes": dtypes}


# ---- templates ----------------------------------------------------------------------------------
def _io_rows(graph: Graph) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    def row(n):
        t = graph.tensors[n]
        return n, np.dtype(t.dtype).name, layout_name(t.axis_format)
    return [row(n) for n in graph.inputs], [row(n) for n in graph.outputs]


def qairt_template(graph: Graph) -> str:
    """``--dump_config_template``: every field of the schema, filled with the model's I/O."""
    import yaml

    ins, outs = _io_rows(graph)
    doc = {
        "Converted Graph": [{"Input Tensors": [n for n, _, _ in ins]}, {"Output Tensors": [n for n, _, _ in outs]}],
        "Input Tensor Configuration": [
            {"Name": n, "Src Model Parameters": {"DataType": d, "Layout": lay},
             "Desired Model Parameters": {"DataType": None, "Layout": None, "Shape": None, "Color Conversion": None,
                                          "QuantParams": {"Scale": None, "Offset": None}, "Optional": None}}
            for n, d, lay in ins],
        "Output Tensor Configuration": [
            {"Name": n, "Src Model Parameters": {"DataType": d, "Layout": lay},
             "Desired Model Parameters": {"DataType": None, "Layout": None,
                                          "QuantParams": {"Scale": None, "Offset": None}}}
            for n, d, lay in outs],
    }
    head = ("# qairt-converter I/O configuration (--config). Fill the Desired Model Parameters you want;\n"
            "# empty fields keep the source model's values. DataType: float32, float16; Layout: "
            + ", ".join(af.LAYOUT_NAMES) + "; Color Conversion: " + ", ".join(COLORS) + "\n")
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def custom_io_template(graph: Graph) -> str:
    """``--dump_custom_io_config_template``: one entry per graph input and output."""
    import yaml

    ins, outs = _io_rows(graph)
    doc = [{"IOName": n, "Layout": {"Model": lay, "Custom": lay}, "Datatype": d,
            "QuantParam": {"Type": "QNN_DEFINITION_UNDEFINED", "Scale": None, "Offset": None}}
           for n, d, lay in ins + outs]
    head = ("# Custom I/O configuration (--custom_io). Layout Custom: the layout the DLC gives the tensor;\n"
            "# Datatype: float32 or float16. Entries you do not need can be deleted.\n")
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def write_template(text: str, path: str, flag: str) -> None:
    from ..dlc.writer import atomic_output, output_target

    target = output_target(path, flag, "io_config.yaml")
    with atomic_output(target, ".yaml", f"{flag} {path}: cannot write the template ({{reason}})") as fh:
        fh.write(text.encode("utf-8"))

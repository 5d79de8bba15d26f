"""ONNX QuantizeLinear/DequantizeLinear (QDQ) pairs -> encodings on the DLC tensors, as SNPE folds them.

A QDQ model (``onnxruntime.quantization.quantize_static``, QAT exports) states its quantization as
``x -> QuantizeLinear -> DequantizeLinear -> consumer`` around activations and as constant integer data
behind a ``DequantizeLinear`` for weights and biases.  Qualcomm's converter removes those nodes and keeps
their grids as encodings on float tensors (``shared/reference/dlc-real/qdq_cnn``; ``snpe_reference.md``
section 1.5, "QAT handling"), which ``snpe-dlc-quant --override_params`` / ``qairt-quantizer`` then apply:

* an activation pair ``x -Q-> q -DQ-> y`` disappears; the producer of ``x`` now writes ``y`` (the DQ
  output's name, as in Qualcomm's file) with the pair's encoding; a graph input keeps its own name;
* a constant ``DequantizeLinear`` (int8 weights, int32 biases) still folds to float data under the DQ
  output's name, and that tensor gets the per-tensor or per-axis encoding (the axis remapped to the
  layout the translator gives the weight, e.g. the output-channel axis 3 of QNN's HWIO);
* everything else (a lone DequantizeLinear of a quantized graph input, a Q whose output is a graph
  output, pairs with run-time or mismatched scales) is translated op by op, exactly.

With ``--keep_quant_nodes`` nothing is folded: the pairs become QNN ``Quantize``/``Dequantize`` ops whose
quantized tensor carries the encoding (:func:`keep_quant_nodes`).
"""
from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import numpy_helper

from ...ir.graph import Encoding
from ...quantization.source import SourceEncoding, from_zero_point
from .fusions import node_maps

log = logging.getLogger("snpe_tools")

_SMALL = 1 << 16          # scale / zero-point tensors larger than this are not quantization parameters
_INT_TYPES = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32)}


def _constants(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    vals = {i.name: i for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output and n.attribute and n.attribute[0].name == "value":
            vals[n.output[0]] = n.attribute[0].t
    return vals


def _small(protos: dict[str, onnx.TensorProto], name: str) -> np.ndarray | None:
    t = protos.get(name)
    if t is None or t.data_location == onnx.TensorProto.EXTERNAL or int(np.prod(t.dims)) > _SMALL:
        return None
    try:
        return numpy_helper.to_array(t)
    except Exception:  # noqa: BLE001 - a damaged tensor is reported when the node is translated
        return None


def _params(protos, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray | None, int] | None:
    """(scale, zero point or None, axis) of a Q/DQ node when they are constants of a foldable kind."""
    if len(node.input) < 2 or any(a.name == "block_size" and a.i for a in node.attribute):
        return None
    scale = _small(protos, node.input[1])
    zp = _small(protos, node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scale is None or scale.dtype.kind != "f" or (len(node.input) > 2 and node.input[2] and zp is None):
        return None
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    return scale, zp, int(axis)


def _grid(scale: np.ndarray, zp: np.ndarray | None, storage: np.dtype, axis: int,
          shape: tuple[int, ...] | None) -> Encoding | None:
    if storage not in _INT_TYPES:
        return None
    per_axis = scale.size > 1
    if per_axis and (shape is None or not -len(shape) <= axis < len(shape) or shape[axis] != scale.size):
        return None
    try:
        return from_zero_point(scale, zp, storage.itemsize * 8, storage.kind == "i",
                               axis=(axis % len(shape)) if per_axis else None)
    except ValueError:
        return None


def _storage_of_q(node: onnx.NodeProto, zp: np.ndarray | None) -> np.dtype:
    if zp is not None:
        return np.dtype(zp.dtype)
    out = next((a.i for a in node.attribute if a.name == "output_dtype"), 0)
    return np.dtype({2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16}.get(out, np.uint8)) if out in (0, 2, 3, 4, 5) \
        else np.dtype(np.float32)


def fold_qdq(model: onnx.ModelProto, activations: bool = True) -> dict[str, SourceEncoding]:
    """Remove foldable QDQ pairs from ``model.graph`` (in place); returns tensor name -> encoding.

    With ``activations=False`` (``--keep_quant_nodes``) only the constant weights' encodings are
    collected and the pairs are left for the QNN Quantize/Dequantize translators."""
    g = model.graph
    protos = _constants(model)
    found: dict[str, SourceEncoding] = {}
    consumers, producer = node_maps(g)
    graph_inputs = {vi.name for vi in g.input if vi.name not in protos}
    in_subgraphs = _subgraph_reads(g)      # outer-scope names read inside If/Loop/Scan bodies keep their names
    graph_outputs = [o.name for o in g.output]

    # constant DequantizeLinear: weights and biases keep their float data and gain the encoding
    for n in g.node:
        if n.op_type != "DequantizeLinear" or n.input[0] not in protos or n.domain not in ("", "ai.onnx"):
            continue
        p = _params(protos, n)
        data = protos[n.input[0]]
        if p is None:
            continue
        storage = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data.data_type))
        enc = _grid(p[0], p[1], storage, p[2], tuple(int(d) for d in data.dims))
        if enc is not None:
            found[n.output[0]] = SourceEncoding(enc, tuple(int(d) for d in data.dims), on_grid=True)

    # activation pairs
    drop: set[int] = set()
    rename: dict[str, str] = {}          # DQ output -> the name that replaces it
    for q in (g.node if activations else []):
        if q.op_type != "QuantizeLinear" or q.domain not in ("", "ai.onnx") or q.input[0] in protos:
            continue
        x, qout = q.input[0], q.output[0]
        dqs = consumers.get(qout, [])
        if not dqs or qout in graph_outputs or any(d.op_type != "DequantizeLinear" for d in dqs):
            continue
        pq = _params(protos, q)
        if pq is None or pq[0].size != 1:
            continue
        storage = _storage_of_q(q, pq[1])
        enc = _grid(pq[0], pq[1], storage, pq[2], None)
        if enc is None or any(_differs(protos, q, d) for d in dqs):
            continue
        ys = [d.output[0] for d in dqs]
        if in_subgraphs & {x, *ys}:
            continue
        if x in rename:                # x is a folded DQ output already: a second pair on the same grid
            kept = _final(rename, x)
            if found.get(kept) is None or found[kept].encoding != enc or any(y in graph_outputs for y in ys):
                continue
            drop.update(id(n) for n in [q, *dqs])
            rename.update({y: kept for y in ys})
            continue
        if x in found and found[x].encoding != enc:
            continue                   # two grids on one tensor: keep the nodes (exact either way)
        # the name the value keeps: the first DQ output, unless x must keep its own (graph input, a
        # graph output, a tensor also read by other nodes)
        x_pinned = x in graph_inputs or x in graph_outputs or x not in producer or \
            any(c is not q for c in consumers.get(x, []))
        out_ys = [y for y in ys if y in graph_outputs]
        if x_pinned and out_ys or len(out_ys) > 1:
            continue                   # the DQ output is a graph output and cannot take x's place
        keep = x if x_pinned else (out_ys[0] if out_ys else ys[0])
        for d in dqs:
            drop.add(id(d))
        drop.add(id(q))
        if keep != x:
            rename[x] = keep
        for y in ys:
            if y != keep:
                rename[y] = keep
        found[keep] = SourceEncoding(enc)

    if not drop:
        return found
    nodes = [n for n in g.node if id(n) not in drop]
    for n in nodes:
        for k, i in enumerate(n.input):
            if i in rename:
                n.input[k] = _final(rename, i)
        for k, o in enumerate(n.output):
            if o in rename:
                n.output[k] = _final(rename, o)
    del g.node[:]
    g.node.extend(nodes)
    for vi in list(g.value_info):
        if vi.name in rename:
            g.value_info.remove(vi)
    log.debug("QDQ: %d QuantizeLinear/DequantizeLinear nodes folded into %d encodings", len(drop), len(found))
    return found


def _subgraph_reads(g: onnx.GraphProto) -> set[str]:
    names: set[str] = set()
    for n in g.node:
        for a in n.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                names.update(i for node in sub.node for i in node.input)
                names |= _subgraph_reads(sub)
    return names


def _final(rename: dict[str, str], name: str) -> str:
    seen = set()
    while name in rename and name not in seen:
        seen.add(name)
        name = rename[name]
    return name


def _differs(protos, q: onnx.NodeProto, d: onnx.NodeProto) -> bool:
    """True unless the DQ node uses the Q node's scale and zero point (same names or equal values)."""
    pd = _params(protos, d)
    pq = _params(protos, q)
    if pd is None or pq is None:
        return True
    if pd[0].shape != pq[0].shape or not np.array_equal(pd[0], pq[0]):
        return True
    zq = pq[1] if pq[1] is not None else np.zeros((), np.uint8)
    zd = pd[1] if pd[1] is not None else np.zeros((), np.uint8)
    return zq.dtype != zd.dtype or not np.array_equal(zq, zd)


# ---- QOperator models (QLinearConv, com.microsoft QLinearAdd ...) -> the QDQ form -----------------
# op -> (float op, [(data, scale, zero point) input indices], (y scale, y zero point) indices or None,
#        attributes that must be unset: the float op has no equivalent)
_QLINEAR = {
    ("", "QLinearConv"): ("Conv", [(0, 1, 2), (3, 4, 5)], (6, 7), ()),
    ("", "QLinearMatMul"): ("MatMul", [(0, 1, 2), (3, 4, 5)], (6, 7), ()),
    ("com.microsoft", "QGemm"): ("Gemm", [(0, 1, 2), (3, 4, 5)], (7, 8), ()),
    ("com.microsoft", "QLinearAdd"): ("Add", [(0, 1, 2), (3, 4, 5)], (6, 7), ()),
    ("com.microsoft", "QLinearMul"): ("Mul", [(0, 1, 2), (3, 4, 5)], (6, 7), ()),
    ("com.microsoft", "QLinearGlobalAveragePool"): ("GlobalAveragePool", [(0, 1, 2)], (3, 4), ("channels_last",)),
    ("com.microsoft", "QLinearAveragePool"): ("AveragePool", [(0, 1, 2)], (3, 4), ("channels_last",)),
    ("com.microsoft", "QLinearSigmoid"): ("Sigmoid", [(0, 1, 2)], (3, 4), ()),
    ("com.microsoft", "QLinearLeakyRelu"): ("LeakyRelu", [(0, 1, 2)], (3, 4), ()),
    ("com.microsoft", "QLinearSoftmax"): ("Softmax", [(0, 1, 2)], (3, 4), ()),
    ("com.microsoft", "QLinearConcat"): ("Concat", [], (0, 1), ()),      # inputs: y scale/zp, then triplets
}
# ops that move stored integers unchanged (max commutes with the monotonic dequantization)
_ON_STORED = {"MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Slice", "Gather",
              "DepthToSpace", "SpaceToDepth", "Tile", "Resize", "Split"}


def qoperator_to_qdq(model: onnx.ModelProto) -> int:
    """Rewrite QOperator-format nodes whose quantized inputs come from QuantizeLinear (or from another
    rewritten node) into ``DequantizeLinear -> float op -> QuantizeLinear`` (in place), so that
    :func:`fold_qdq` turns them into encodings like a QDQ model's.  Float tensors take the name the
    quantized one had without its ``_quantized`` suffix (the float model's name, for onnxruntime
    models).  Nodes at a graph boundary (quantized graph inputs / outputs) are left to the exact
    integer translators.  Returns the number of nodes rewritten."""
    g = model.graph
    protos = _constants(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    taken = {o for n in g.node for o in n.output} | {i for n in g.node for i in n.input} | set(protos) | \
        {vi.name for vi in g.input}
    grid: dict[str, tuple[str, str]] = {}        # quantized tensor -> (scale, zero point) names
    dq_of: dict[str, str] = {}
    out_nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    rewritten = 0

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    def dequantized(x: str, scale: str, zp: str, axis: int | None = None) -> str:
        if x in dq_of:
            return dq_of[x]
        base = x[: -len("_quantized")] if x.endswith("_quantized") else f"{x}_dequantized"
        y = fresh(base)
        kw = {"axis": axis} if axis is not None else {}
        out_nodes.append(onnx.helper.make_node("DequantizeLinear", [x, scale, zp], [y], name=f"{y}_DequantizeLinear",
                                               **kw))
        dq_of[x] = y
        return y

    def const_ok(name: str) -> bool:
        return bool(name) and _small(protos, name) is not None

    for n in g.node:
        key = (n.domain if n.domain != "ai.onnx" else "", n.op_type)
        if n.op_type == "QuantizeLinear" and key[0] == "" and len(n.input) == 3 and const_ok(n.input[1]) \
                and const_ok(n.input[2]) and _small(protos, n.input[1]).size == 1:
            grid[n.output[0]] = (n.input[1], n.input[2])
        elif key in _QLINEAR and _expand(n, key, protos, grid, const_ok, dequantized, fresh, out_nodes, new_inits,
                                         opset):
            rewritten += 1
            continue
        elif n.op_type in _ON_STORED and key[0] == "" and n.input and n.input[0] in grid:
            s, z = grid[n.input[0]]
            x = dequantized(n.input[0], s, z)
            outs = [o for o in n.output if o]
            yfs = [fresh(f"{o}_float") for o in outs]
            op = onnx.helper.make_node(n.op_type, [x, *n.input[1:]], yfs, name=n.name)
            op.attribute.extend(n.attribute)
            out_nodes.append(op)
            for o, yf in zip(outs, yfs):
                out_nodes.append(onnx.helper.make_node("QuantizeLinear", [yf, s, z], [o], name=f"{o}_QuantizeLinear"))
                grid[o] = (s, z)
            rewritten += 1
            continue
        out_nodes.append(n)
    if rewritten:
        del g.node[:]
        g.node.extend(out_nodes)
        g.initializer.extend(new_inits)
    return rewritten


def _expand(n, key, protos, grid, const_ok, dequantized, fresh, out_nodes, new_inits, opset: int) -> bool:
    """One QOperator node as DequantizeLinear(s) -> float op -> QuantizeLinear (False: left as it is)."""
    float_op, triplets, yq, dropped = _QLINEAR[key]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
    if float_op == "Softmax":
        # onnxruntime's opset attribute: the axis semantics of that Softmax version; 13+ is the model's own
        if int(attrs.pop("opset", 13)) < 13 or opset < 13:
            return False
    if float_op == "Concat":
        triplets = [(2 + 3 * k, 3 + 3 * k, 4 + 3 * k) for k in range((len(n.input) - 2) // 3)]
        if not triplets or len(n.input) != 2 + 3 * len(triplets):
            return False
    ins = list(n.input) + [""] * 10
    if any(attrs.get(d) for d in dropped) or (key[1] == "QGemm" and float(attrs.get("alpha", 1.0)) != 1.0):
        return False
    if yq is None or not all(const_ok(ins[i]) for i in yq) or any(
            not (const_ok(ins[s]) and (not ins[z] or const_ok(ins[z]))) for _, s, z in triplets):
        return False
    if any(ins[d] not in grid and ins[d] not in protos for d, _, _ in triplets):
        return False                    # a quantized graph input: the exact integer translation applies
    floats = []
    for k, (d, s, z) in enumerate(triplets):
        axis = None
        if ins[d] in protos and _small(protos, ins[s]).size > 1:          # per-channel weights
            rank = len(protos[ins[d]].dims)
            axis = 0 if float_op == "Conv" else (0 if attrs.get("transB") else rank - 1) \
                if float_op == "Gemm" else rank - 1
        floats.append(dequantized(ins[d], ins[s], ins[z], axis))
    bias_idx = {"Conv": 8, "Gemm": 6}.get(float_op)
    if bias_idx is not None and ins[bias_idx]:
        b = ins[bias_idx]
        if b not in protos:
            return False
        s_in, s_w = _small(protos, ins[triplets[0][1]]), _small(protos, ins[triplets[1][1]])
        scale = (s_in.astype(np.float32) * s_w.astype(np.float32)).reshape(-1)
        s_name, z_name = fresh(f"{b}_scale"), fresh(f"{b}_zero_point")
        for name, arr in ((s_name, scale), (z_name, np.zeros(scale.shape, np.int32))):
            t = numpy_helper.from_array(arr, name)
            protos[name] = t
            new_inits.append(t)
        floats.append(dequantized(b, s_name, z_name, 0 if scale.size > 1 else None))
    yf = fresh(f"{n.output[0]}_float")
    op = onnx.helper.make_node(float_op, floats, [yf], name=n.name)
    for a, v in attrs.items():
        if a not in dropped:
            op.attribute.append(onnx.helper.make_attribute(a, v))
    out_nodes.append(op)
    out_nodes.append(onnx.helper.make_node("QuantizeLinear", [yf, ins[yq[0]], ins[yq[1]]], [n.output[0]],
                                           name=f"{n.output[0]}_QuantizeLinear"))
    grid[n.output[0]] = (ins[yq[0]], ins[yq[1]])
    return True

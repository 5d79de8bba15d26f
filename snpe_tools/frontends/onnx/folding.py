"""Convert-time constant folding of ONNX nodes, shared by the converter's main graph and by the
translators that inline subgraphs (attention's score/softmax modifiers): a node whose inputs are all
constant is evaluated with ``onnx.reference`` instead of being translated.  Every folded result is
size-checked (``check_fold_shape``) before it is computed, because the model is untrusted."""
from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import numpy_helper

from ...ir.limits import check_fold_shape
from .context import OnnxContext, attrs
from .registry import get_translator

log = logging.getLogger("snpe_tools")

# ops never folded even with constant inputs (non-deterministic or stateful)
NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
           "Bernoulli"}
# ops evaluated at convert time even without simplification (-n): shape arithmetic the converter does itself
ALWAYS_FOLDED = {"Constant", "ConstantOfShape", "Shape", "Size", "CastLike"}


def fold_node(node: onnx.NodeProto, ctx: OnnxContext, model: onnx.ModelProto) -> bool:
    """Evaluate a node whose inputs are all constant; False if it cannot be evaluated here."""
    if node.op_type == "Constant":
        a = attrs(node)
        if "value" in a:
            val = a["value"]
        elif "value_float" in a:
            val = np.array(a["value_float"], np.float32)
        elif "value_floats" in a:
            val = np.array(a["value_floats"], np.float32)
        elif "value_int" in a:
            val = np.array(a["value_int"], np.int64)
        elif "value_ints" in a:
            val = np.array(a["value_ints"], np.int64)
        else:
            return False
        ctx.consts[node.output[0]] = np.asarray(val)
        return True
    if node.op_type == "Shape":
        shape = np.array(ctx.shape(node.input[0]), dtype=np.int64)
        a = attrs(node)
        start, end = a.get("start", 0), a.get("end", None)
        ctx.consts[node.output[0]] = shape[start:end]
        return True
    if node.op_type == "CastLike" and ctx.is_const(node.input[0]) and not ctx.is_const(node.input[1]):
        # only the element type of the second input matters, and it is known at convert time
        ctx.consts[node.output[0]] = np.asarray(ctx.const(node.input[0])).astype(
            ctx.graph.tensors[ctx.tensor(node.input[1])].dtype)
        return True
    if node.op_type == "Size":
        ctx.consts[node.output[0]] = np.array(int(np.prod(ctx.shape(node.input[0]))), np.int64)
        return True
    ins = [i for i in node.input if i]
    if node.op_type in NO_FOLD or not ins or not all(ctx.is_const(i) for i in ins):
        return False
    if not ctx.simplify and node.op_type not in ALWAYS_FOLDED and get_translator(node.op_type) is None:
        return False        # -n: no simplifier evaluates ops the converter cannot translate
    from onnx.reference import ReferenceEvaluator

    what = node_label(node)
    for shape, dtype in _folded_shapes(node, ctx, model, ins):
        check_fold_shape(shape, dtype, what)
    try:
        sub = onnx.helper.make_model(
            onnx.helper.make_graph([node], "fold", [onnx.helper.make_tensor_value_info(i, 0, None) for i in ins],
                                   [onnx.helper.make_tensor_value_info(o, 0, None) for o in node.output if o]),
            opset_imports=list(model.opset_import), ir_version=model.ir_version)
        res = ReferenceEvaluator(sub).run(None, {i: ctx.consts[i] for i in ins})
    except Exception as exc:  # fall back to translating the op
        log.debug("constant folding of %s failed: %s", node.op_type, exc)
        return False
    outs = [np.asarray(v) for v in res]
    for v in outs:   # shapes inference could not tell (or got wrong) are checked after the fact
        check_fold_shape(v.shape, v.dtype, what)
    for o, v in zip([o for o in node.output if o], outs):
        ctx.consts[o] = v
    return True


def node_label(node: onnx.NodeProto) -> str:
    return f"{node.op_type} node '{node.name or (node.output[0] if node.output else '?')}'"


_SMALL_CONST = 4096   # inputs up to this many elements are given to shape inference with their values


def _folded_shapes(node: onnx.NodeProto, ctx: OnnxContext, model: onnx.ModelProto,
                   ins: list[str]) -> list[tuple[tuple[int, ...], np.dtype]]:
    """Output shapes/types of a node about to be folded, from onnx shape inference (nothing is computed).

    Inputs small enough to be shape-like are passed with their values (ConstantOfShape, Expand, Tile, Range,
    Resize ... take their output size from them).  Outputs whose shape cannot be inferred are left out.
    """
    from onnx import helper

    vis, inits = [], []
    try:
        for name in dict.fromkeys(ins):
            v = np.asarray(ctx.consts[name])
            if v.dtype == object or v.dtype.kind in "USO":
                return []
            elem = helper.np_dtype_to_tensor_dtype(v.dtype)
            if v.size <= _SMALL_CONST:
                inits.append(numpy_helper.from_array(np.ascontiguousarray(v), name))
            else:
                vis.append(helper.make_tensor_value_info(name, elem, list(v.shape)))
        outs = [o for o in node.output if o]
        graph = helper.make_graph([node], "fold", vis, [helper.make_tensor_value_info(o, 0, None) for o in outs],
                                  inits)
        sub = helper.make_model(graph, opset_imports=list(model.opset_import),
                                ir_version=max(model.ir_version, 4))
        inferred = onnx.shape_inference.infer_shapes(sub, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort; the result is checked after evaluation
        return []
    found = []
    for vi in inferred.graph.output:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
            continue
        dims = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value"):
                break
            dims.append(int(d.dim_value))
        else:
            try:
                dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else np.float32)
            except Exception:  # noqa: BLE001
                dtype = np.dtype(np.float32)
            found.append((tuple(dims), dtype))
    return found

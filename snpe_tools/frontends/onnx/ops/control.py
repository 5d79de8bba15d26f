"""ONNX If / Loop / Scan, unrolled at convert time (a DLC has no control flow).

* ``If`` with a condition known at convert time is replaced by the branch that runs.
* ``Loop`` whose trip count and condition are known at convert time (the condition may be recomputed by
  the body, as long as it stays a constant) is unrolled: the body is translated once per iteration,
  loop-carried values threaded through, scan outputs stacked on a new leading axis.
* ``Scan`` (opset 9+) is unrolled over its static sequence length: each step reads a slice of every scan
  input (Gather at a constant index, either direction) and the per-step outputs are stacked along the
  output axis.

Every name produced inside a body gets an ``@<iteration>`` suffix, so unrolled copies never collide;
names from the outer scope are used as they are.  Anything data-dependent (a run-time condition or trip
count) is refused with a one-line error.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from ....errors import ConversionError
from ..context import NodeBuilder, OnnxContext, attrs, node_error
from ..registry import onnx_op

_MAX_ITERATIONS = 10000


def _renamed(node: onnx.NodeProto, local: set[str], suffix: str) -> onnx.NodeProto:
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    ren = (lambda n: f"{n}@{suffix}" if n in local else n)
    copy.input[:] = [ren(n) if n else n for n in node.input]
    copy.output[:] = [ren(n) if n else n for n in node.output]
    if copy.name:
        copy.name = f"{copy.name}@{suffix}"
    for a in copy.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise ConversionError(f"{node.op_type} node inside a loop body: nested control flow is not supported")
    return copy


def run_body(ctx: OnnxContext, body: onnx.GraphProto, actuals: list, suffix: str) -> list[str]:
    """Translate ``body`` once with its inputs bound to ``actuals`` (tensor names or numpy constants)."""
    local = {i.name for i in body.input} | {init.name for init in body.initializer} | \
        {o for n in body.node for o in n.output if o}
    for init in body.initializer:
        ctx.consts[f"{init.name}@{suffix}"] = numpy_helper.to_array(init)
    for formal, actual in zip(body.input, actuals):
        name = f"{formal.name}@{suffix}"
        if isinstance(actual, np.ndarray):
            ctx.consts[name] = actual
        else:
            ctx.alias(name, actual)
    for node in body.node:
        ctx.translate_node(_renamed(node, local, suffix))
    return [f"{o.name}@{suffix}" if o.name in local else o.name for o in body.output]


def _stack(ctx: OnnxContext, node: onnx.NodeProto, parts: list[str], axis: int, out: str) -> None:
    b = NodeBuilder(ctx, node)
    items = []
    for k, p in enumerate(parts):
        t = ctx.tensor(p)
        shape = b.shape(t)
        ax = axis % (len(shape) + 1)
        items.append(b.reshape(t, shape[:ax] + [1] + shape[ax:], f"step{k}"))
    if len(items) == 1:
        b.reshape(items[0], b.shape(items[0]), "stacked", out=out)
    else:
        b.op("Concat", items, {"axis": axis % len(b.shape(items[0]))}, "stacked", out=out)


def _const_input(ctx: OnnxContext, node: onnx.NodeProto, idx: int):
    name = node.input[idx] if len(node.input) > idx else ""
    if not name:
        return None
    if not ctx.is_const(name):
        raise node_error(node, f"input {idx} ('{name}') is "
                               "computed at run time; only control flow known at convert time can be unrolled")
    return np.asarray(ctx.const(ctx.aliases.get(name, name)))


@onnx_op("If")
def if_(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    cond = bool(_const_input(ctx, node, 0).reshape(-1)[0])
    branch = attrs(node)["then_branch" if cond else "else_branch"]
    outs = run_body(ctx, branch, [], f"{node.name or node.output[0]}.{'then' if cond else 'else'}")
    for o, v in zip(node.output, outs):
        if o:
            ctx.alias(o, v)


@onnx_op("Loop")
def loop(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    label = node.name or node.output[0]
    trip = _const_input(ctx, node, 0)
    cond_v = _const_input(ctx, node, 1)
    trips = None if trip is None else int(trip.reshape(-1)[0])
    cond = True if cond_v is None else bool(cond_v.reshape(-1)[0])
    body = attrs(node)["body"]
    carried = list(node.input[2:])
    n_carried = len(carried)
    values: list = [ctx.aliases.get(c, c) for c in carried]
    scans: list[list[str]] = [[] for _ in range(len(body.output) - 1 - n_carried)]
    it = 0
    while cond and (trips is None or it < trips):
        if it >= _MAX_ITERATIONS:
            raise node_error(node, f"more than {_MAX_ITERATIONS} iterations; a loop this "
                                   "long cannot be unrolled")
        outs = run_body(ctx, body, [np.array(it, np.int64), np.array(cond)] + values, f"{label}.{it}")
        if not ctx.is_const(outs[0]):
            raise node_error(node, "the loop condition is computed from run-time data; "
                                   "only loops whose iteration count is known at convert time can be unrolled")
        cond = bool(np.asarray(ctx.const(ctx.aliases.get(outs[0], outs[0]))).reshape(-1)[0])
        values = outs[1:1 + n_carried]
        for k, s in enumerate(outs[1 + n_carried:]):
            scans[k].append(s)
        it += 1
    for o, v in zip(node.output[:n_carried], values):
        if o:
            ctx.alias(o, v)
    for o, parts in zip(node.output[n_carried:], scans):
        if not o:
            continue
        if not parts:
            raise node_error(node, f"zero iterations leave scan output '{o}' empty; a DLC "
                                   "cannot hold an empty tensor")
        _stack(ctx, node, parts, 0, o)


@onnx_op("Scan")
def scan(ctx: OnnxContext, node: onnx.NodeProto) -> None:
    label = node.name or node.output[0]
    if ctx.opset < 9:
        raise node_error(node, "opset 8 Scan (batched, sequence_lens) is not supported; "
                               "re-export with opset 9 or later")
    a = attrs(node)
    body = a["body"]
    m = int(a["num_scan_inputs"])
    n = len(node.input) - m
    b = NodeBuilder(ctx, node)
    states = [ctx.aliases.get(i, i) for i in node.input[:n]]
    xs = [ctx.tensor(i) for i in node.input[n:]]
    in_axes = list(a.get("scan_input_axes", [0] * m))
    in_dirs = list(a.get("scan_input_directions", [0] * m))
    k_out = len(body.output) - n
    out_axes = list(a.get("scan_output_axes", [0] * k_out))
    out_dirs = list(a.get("scan_output_directions", [0] * k_out))
    axes = [ax % len(b.shape(x)) for ax, x in zip(in_axes, xs)]
    lengths = {b.shape(x)[ax] for x, ax in zip(xs, axes)}
    if len(lengths) != 1:
        raise node_error(node, f"scan inputs have different sequence lengths {sorted(lengths)}")
    steps = lengths.pop()
    if steps == 0:
        raise node_error(node, "an empty sequence cannot be unrolled")
    per_step: list[list[str]] = [[] for _ in range(k_out)]
    for t in range(steps):
        slices = []
        for j, (x, ax, d) in enumerate(zip(xs, axes, in_dirs)):
            idx = b.const(f"t{t}_{j}", np.array(steps - 1 - t if d else t, np.int32))
            slices.append(b.op("Gather", [x, idx], {"axis": ax}, f"in{j}_t{t}"))
        outs = run_body(ctx, body, states + slices, f"{label}.{t}")
        states = outs[:n]
        for k, s in enumerate(outs[n:]):
            per_step[k].append(s)
    for o, v in zip(node.output[:n], states):
        if o:
            ctx.alias(o, v)
    for k, (o, parts) in enumerate(zip(node.output[n:], per_step)):
        if o:
            _stack(ctx, node, parts[::-1] if out_dirs[k] else parts, out_axes[k], o)

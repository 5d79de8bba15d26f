"""The TensorFlow graph as the converter sees it: nodes, the subgraph to convert, shapes and constants.

Static knowledge comes from TensorFlow itself: the GraphDef is imported with the ``-d`` shapes
written into the input placeholders, so TF's shape inference gives every tensor's static shape,
and every node that does not depend on the input *data* (weights, ``Shape`` of a static shape,
BatchNorm statistics arithmetic, anchor tables ...) is evaluated once in a TF session.  What is
left - the "dynamic" nodes - is what layers are made of.
"""
from __future__ import annotations

import logging

import numpy as np

from ...errors import ConversionError
from ...ir.limits import check_fold_shape
from .control_flow import inline_static_ifs, loop_frames, prune_static_switches
from .cut import check_probe_values, cut_graph, probe_feeds, report_dropped
from .loader import import_tf
from .nodes import TFNode, check_names
from .safety import refuse_file_io

log = logging.getLogger("snpe_tools")

# ops that pass their first input through unchanged (at inference)
ALIAS_OPS = {"Identity", "StopGradient", "Snapshot", "PreventGradient", "CheckNumerics", "EnsureShape",
             "PlaceholderWithDefault", "Print"}
# ops that never carry data: they may only appear as control dependencies
CONTROL_OPS = {"NoOp", "Assert", "PrintV2", "SaveV2", "RestoreV2"}
# ops whose value depends only on the (static) shape of their input
SHAPE_OPS = {"Shape", "Size", "Rank", "ShapeN"}


def tensor_name(name: str) -> str:
    """``node`` -> ``node:0``; ``node:1`` stays."""
    name = name.lstrip("^")
    if ":" in name and name.rsplit(":", 1)[1].isdigit():
        return name
    return f"{name}:0"


def node_of(tensor: str) -> str:
    return tensor.rsplit(":", 1)[0] if ":" in tensor and tensor.rsplit(":", 1)[1].isdigit() else tensor


class TFModel:
    """The frozen graph, cut to the nodes between ``inputs`` and ``outputs``."""

    def __init__(self, graph_def, inputs: dict[str, list[int]], outputs: list[str]) -> None:
        self.tf = import_tf()
        inline_static_ifs(graph_def)           # training-only branches of Keras/tf.cond graphs (TF2 If)
        prune_static_switches(graph_def)       # ... and of TF1 graphs (Switch/Merge)
        self.nodes: dict[str, TFNode] = {}
        self.order: list[str] = []
        for nd in graph_def.node:
            ins = [tensor_name(i) for i in nd.input if not i.startswith("^")]
            ctl = [i[1:] for i in nd.input if i.startswith("^")]
            self.nodes[nd.name] = TFNode(nd.name, nd.op, ins, ctl, nd)
            self.order.append(nd.name)
        check_names(list(inputs), self.nodes, "-d/--input_dim")
        check_names([node_of(o) for o in outputs], self.nodes, "--out_node")
        self.inputs = dict(inputs)
        self.cut_ops: dict[str, str] = {}       # -d on an interior node: its original op type
        self.cut_away: set[str] = set()         # placeholders above such a node
        self.probes: list[str] = []             # ... that the outputs still depend on (constant-only uses)
        self.probes_reported = False            # INFO_TF_GRAPH_CUT about them logged once
        self.outputs = [tensor_name(o) for o in outputs]
        interior = [n for n in self.inputs if self.nodes[n].op not in ("Placeholder", "PlaceholderWithDefault")]
        if interior:
            cut_graph(self, graph_def, interior)
        self._set_input_shapes(graph_def)
        self._cut()
        if interior:
            report_dropped(self, interior)
        # nothing below may run a node that touches the file system (constant evaluation runs TF)
        refuse_file_io([self.nodes[n].nodedef for n in self._ancestors_with_controls()], graph_def.library,
                       "the TensorFlow graph")
        for name in self.inputs:
            if name not in self.keep:
                log.warning("WARNING_TF_INPUT_NOT_USED: -d/--input_dim %s: no --out_node depends on this input; it "
                            "stays a DLC input that nothing reads", name)
        self._import()
        self._classify()
        for o in self.outputs:
            if node_of(o) not in self.dynamic:
                raise ConversionError(f"--out_node {node_of(o)}: its value does not depend on the inputs given with "
                                      "-d/--input_dim; a DLC output must be computed from the inputs")
        self._values: dict[str, np.ndarray] = {}
        self._size_checked: set[str] = set()

    # ---- inputs ---------------------------------------------------------------------------
    def _set_input_shapes(self, graph_def) -> None:
        """Check ``-d`` against each placeholder's declared shape, then write it in."""
        for name, dims in self.inputs.items():
            nd = self.nodes[name].nodedef
            if "shape" in nd.attr and not nd.attr["shape"].shape.unknown_rank:
                declared = [d.size for d in nd.attr["shape"].shape.dim]
                if len(declared) != len(dims) or any(d >= 0 and d != g for d, g in zip(declared, dims)):
                    shown = ",".join("?" if d < 0 else str(d) for d in declared)
                    what = "the placeholder's shape" if name not in self.cut_ops else \
                        f"the shape TensorFlow infers for the {self.cut_ops[name]} node's output"
                    raise ConversionError(
                        f"ERROR_TF_UNEXPECTED_INPUT_SHAPE: -d/--input_dim {name} \"{','.join(map(str, dims))}\" "
                        f"contradicts {what} [{shown}]; give dimensions that fit it")
            shape = nd.attr["shape"].shape
            shape.unknown_rank = False
            del shape.dim[:]
            for d in dims:
                shape.dim.add().size = int(d)
        self.graph_def = graph_def

    # ---- subgraph -------------------------------------------------------------------------
    def _cut(self) -> None:
        """Keep the data-ancestors of the outputs, stopping at the input placeholders."""
        keep: set[str] = set()
        stack = [node_of(o) for o in self.outputs]
        while stack:
            n = stack.pop()
            if n in keep:
                continue
            keep.add(n)
            if n in self.inputs:
                continue
            stack.extend(node_of(i) for i in self.nodes[n].inputs)
        self.keep = keep
        # topological order of the kept nodes (GraphDef order need not be topological)
        order, state = [], {}
        for root in [node_of(o) for o in self.outputs]:
            stack = [(root, False)]
            while stack:
                n, done = stack.pop()
                if done:
                    state[n] = 2
                    order.append(n)
                    continue
                if state.get(n):
                    continue
                state[n] = 1
                stack.append((n, True))
                if n not in self.inputs:
                    for i in reversed(self.nodes[n].inputs):
                        m = node_of(i)
                        if not state.get(m):
                            stack.append((m, False))
        self.topo = order
        self.index = {n: i for i, n in enumerate(order)}
        self.consumers: dict[str, list[str]] = {}
        for n in order:
            if n in self.inputs:
                continue
            for i in self.nodes[n].inputs:
                self.consumers.setdefault(i, []).append(n)

    def _ancestors_with_controls(self) -> list[str]:
        """Nodes the outputs depend on through data or control edges (stopping at the inputs), in graph order."""
        seen: set[str] = set()
        stack = [node_of(o) for o in self.outputs]
        while stack:
            n = stack.pop()
            if n in seen or n not in self.nodes:
                continue
            seen.add(n)
            if n in self.inputs:
                continue
            stack.extend(node_of(i) for i in self.nodes[n].inputs)
            stack.extend(self.nodes[n].controls)
        return [n for n in self.order if n in seen]

    def _import(self) -> None:
        tf = self.tf
        sub = tf.compat.v1.GraphDef()
        sub.versions.CopyFrom(self.graph_def.versions)
        sub.library.CopyFrom(self.graph_def.library)
        for nd in self.graph_def.node:
            if nd.name in self.keep:
                c = sub.node.add()
                c.CopyFrom(nd)
                if nd.name in self.inputs:
                    del c.input[:]
                    if c.op == "PlaceholderWithDefault":
                        c.op = "Placeholder"
                        dtype = c.attr["dtype"].type
                        c.attr.clear()
                        c.attr["dtype"].type = dtype
                        c.attr["shape"].shape.CopyFrom(nd.attr["shape"].shape)
                else:
                    keep_inputs = [i for i in c.input if not i.startswith("^") or i[1:] in self.keep]
                    del c.input[:]
                    c.input.extend(keep_inputs)
        self.graph = tf.Graph()
        try:
            with self.graph.as_default():
                tf.graph_util.import_graph_def(sub, name="")
        except Exception as exc:  # noqa: BLE001 - TF reports invalid graphs in several ways
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConversionError(f"TensorFlow cannot import the graph with the given -d shapes ({text[:300]}); "
                                  "check -d/--input_dim") from None

    def _classify(self) -> None:
        """dynamic = depends on input data; everything else is evaluated at convert time."""
        dynamic: set[str] = set()
        shape_only: set[str] = set()
        for n in self.topo:
            node = self.nodes[n]
            if n in self.inputs:
                dynamic.add(n)
            elif node.op in ("Placeholder", "PlaceholderWithDefault") and n in self.cut_away:
                self.probes.append(n)          # only its data-independent values are used (cut.py)
            elif node.op in ("Placeholder", "VariableV2", "VarHandleOp"):
                raise ConversionError(f"the outputs depend on {node.op} '{n}', which is not given with "
                                      f"-d/--input_dim; add -d {n} DIMS or choose other --out_node")
            elif node.op in SHAPE_OPS and all(self.static_shape(i) is not None for i in node.inputs):
                shape_only.add(n)
            elif any(node_of(i) in dynamic for i in node.inputs):
                dynamic.add(n)
        # a TF1 while loop fed by input data runs as a whole at inference: every node in its frame
        # but constants is dynamic (its counters and conditions included), and none can be folded
        self.frames = loop_frames(self.nodes, self.topo)
        live = {self.nodes[n].attr("frame_name") for n in dynamic if self.nodes[n].op in ("Enter", "RefEnter")}
        changed = bool(live)
        while changed:
            changed = False
            for n, f in self.frames.items():
                if n not in dynamic and f in live and self.nodes[n].op != "Const" and n in self.keep:
                    dynamic.add(n)
                    changed = True
            for n in self.topo:
                if n not in dynamic and n not in shape_only and any(node_of(i) in dynamic
                                                                     for i in self.nodes[n].inputs):
                    dynamic.add(n)
                    changed = True
                    if self.nodes[n].op in ("Enter", "RefEnter"):
                        live.add(self.nodes[n].attr("frame_name"))
        self.dynamic = dynamic

    # ---- queries --------------------------------------------------------------------------
    def tf_tensor(self, name: str):
        return self.graph.get_tensor_by_name(name)

    def static_shape(self, name: str) -> tuple[int, ...] | None:
        try:
            s = self.tf_tensor(name).shape
        except (KeyError, ValueError):
            return None
        if s.rank is None or any(d is None for d in s.as_list()):
            return None
        return tuple(int(d) for d in s.as_list())

    def dtype(self, name: str) -> np.dtype:
        if node_of(name) not in self.keep:      # an input nothing uses: its declared type
            from tensorflow.python.framework import dtypes
            dt = dtypes.as_dtype(self.nodes[node_of(name)].nodedef.attr["dtype"].type)
            return np.dtype(dt.as_numpy_dtype)
        dt = self.tf_tensor(name).dtype
        return np.dtype(dt.as_numpy_dtype) if dt.is_numpy_compatible else np.dtype(np.float32)

    def is_dynamic(self, tensor: str) -> bool:
        return node_of(tensor) in self.dynamic

    def node(self, tensor_or_node: str) -> TFNode:
        return self.nodes[node_of(tensor_or_node)]

    def const(self, tensor: str) -> np.ndarray | None:
        """Value known at convert time, else None (batched TF evaluation via :meth:`evaluate`)."""
        if self.is_dynamic(tensor):
            return None
        if tensor not in self._values:
            self.evaluate([tensor])
        return self._values[tensor]

    def evaluate(self, tensors: list[str]) -> None:
        """Evaluate static tensors; Const nodes are read directly, the rest in one session run."""
        tf = self.tf
        todo = []
        for t in tensors:
            if t in self._values or self.is_dynamic(t):
                continue
            src = t
            while self.node(src).op in ALIAS_OPS and self.node(src).inputs:
                src = self.node(src).inputs[0]      # weights/read -> weights
            node = self.node(src)
            if node.op == "Const":
                self._values[t] = tf.make_ndarray(node.nodedef.attr["value"].tensor)
            elif t not in todo:
                todo.append(t)
        if not todo:
            return
        # shape queries are answered from static shapes and fed in, so TF never runs the network
        feeds = self._zero_feeds()
        feeds.update({self.tf_tensor(t): v for t, v in self._shape_values().items()})
        todo_direct = [t for t in todo if self.tf_tensor(t) in feeds]
        for t in todo_direct:
            self._values[t] = np.asarray(feeds[self.tf_tensor(t)])
        todo = [t for t in todo if t not in todo_direct]
        if not todo:
            return
        self._check_fold_sizes(todo, feeds)
        try:
            with tf.compat.v1.Session(graph=self.graph) as sess:
                vals = sess.run([self.tf_tensor(t) for t in todo], feed_dict=feeds)
                if self.probes:
                    other = dict(feeds)
                    other.update({self.tf_tensor(f"{p}:0"): v for p, v in probe_feeds(self, 1).items()})
                    check_probe_values(self, todo, vals, sess.run([self.tf_tensor(t) for t in todo], other))
        except ConversionError:
            raise
        except Exception as exc:  # noqa: BLE001
            text = " ".join(str(exc).split())[:300] if str(exc).strip() else type(exc).__name__
            raise ConversionError(f"cannot evaluate the constant part of the graph ({text[:300]})") from None
        for t, v in zip(todo, vals):
            v = np.asarray(v)
            check_fold_shape(v.shape, v.dtype, f"{self.node(t).op} node '{node_of(t)}'")
            self._values[t] = v

    def _check_fold_sizes(self, todo: list[str], feeds: dict) -> None:
        """Every node the session would compute for ``todo`` must stay under the fold limit (static shapes)."""
        fed = {t.name for t in feeds}
        seen = self._size_checked          # ops already checked by an earlier call
        stack = [self.tf_tensor(t).op for t in todo]
        while stack:
            op = stack.pop()
            if op.name in seen:
                continue
            seen.add(op.name)
            if op.outputs and all(out.name in fed for out in op.outputs):
                continue                       # fed (inputs, shape queries): TF does not compute it
            if op.type not in ("Const",) and op.type not in ALIAS_OPS:
                for out in op.outputs:
                    if not out.dtype.is_numpy_compatible or out.shape.rank is None:
                        continue
                    dims = out.shape.as_list()
                    if any(d is None for d in dims):
                        continue
                    check_fold_shape(dims, out.dtype.as_numpy_dtype, f"{op.type} node '{op.name}'")
            stack.extend(i.op for i in op.inputs)
            stack.extend(op.control_inputs)

    def _shape_values(self) -> dict[str, np.ndarray]:
        """Values of Shape/Size/Rank/ShapeN nodes whose inputs have static shapes."""
        out = {}
        for n in self.topo:
            node = self.nodes[n]
            if node.op not in SHAPE_OPS or n in self.dynamic:
                continue
            dt = np.int64 if node.attr("out_type") == self.tf.int64.as_datatype_enum else np.int32
            for k, t in enumerate(node.inputs if node.op == "ShapeN" else node.inputs[:1]):
                s = self.static_shape(t)
                if s is None:
                    break
                if node.op in ("Shape", "ShapeN"):
                    out[f"{n}:{k}"] = np.asarray(s, dt)
                elif node.op == "Size":
                    out[f"{n}:0"] = np.asarray(int(np.prod(s)), dt)
                else:
                    out[f"{n}:0"] = np.asarray(len(s), np.int32)
        return out

    def _zero_feeds(self) -> dict:
        feeds = {self.tf_tensor(f"{n}:0"): np.zeros(d, self.dtype(f"{n}:0")) for n, d in self.inputs.items()
                 if n in self.keep}
        feeds.update({self.tf_tensor(f"{p}:0"): v for p, v in probe_feeds(self, 0).items()})
        return feeds

    def run(self, fetches: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run part of the graph in TF, feeding any tensors (resolvers probe subgraphs this way)."""
        tf = self.tf
        given = self._zero_feeds()          # shape queries of the inputs (clip windows ...) need a value
        given.update({self.tf_tensor(k): v for k, v in feeds.items()})
        with tf.compat.v1.Session(graph=self.graph) as sess:
            return sess.run([self.tf_tensor(t) for t in fetches], feed_dict=given)

    def static_frontier(self) -> list[str]:
        """Static tensors read by dynamic nodes: what translators may ask for."""
        out = []
        for n in self.topo:
            if n in self.dynamic and n not in self.inputs:
                out.extend(t for t in self.nodes[n].inputs if not self.is_dynamic(t))
        # resource/variant values (optionals of inlined branches ...) are never read by a translator;
        # values inside a while loop cannot be fetched from outside it (constants there are read directly)
        return [t for t in dict.fromkeys(out) if self.tf_tensor(t).dtype.is_numpy_compatible
                and node_of(t) not in self.frames]

    def run_shapes(self, tensors: list[str]) -> dict[str, tuple[int, ...]]:
        """Shapes TF cannot infer statically, measured by running the graph once on zeros."""
        tf = self.tf
        with tf.compat.v1.Session(graph=self.graph) as sess:
            vals = sess.run([self.tf_tensor(t) for t in tensors], feed_dict=self._zero_feeds())
        return {t: tuple(np.shape(v)) for t, v in zip(tensors, vals)}

    def n_outputs(self, node: TFNode) -> int:
        try:
            return len(self.graph.get_operation_by_name(node.name).outputs)
        except (KeyError, ValueError):
            return 1

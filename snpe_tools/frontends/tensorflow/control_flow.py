"""Training-only branches: conditionals whose predicate is a constant are replaced by the taken branch.

Keras layers built in a TF1 graph (and ``tf.cond`` under TF2 control flow) put inference and training
behind an ``If`` on the learning phase; in a frozen graph the predicate is a constant (often behind a
``PlaceholderWithDefault``), so only one branch can ever run.  That branch's function body is spliced
into the graph under ``<if node>/<then|else>_branch/`` and the ``If`` node becomes an ``IdentityN`` of
the branch results (consumers are rewired to the results themselves); the other branch disappears.
TF1 ``Switch``/``Merge`` pairs on a constant predicate are pruned the same way.  A conditional on
run-time data is left alone (and is then reported as an unsupported operation).
"""
from __future__ import annotations

IF_OPS = ("If", "StatelessIf")
_PASS_THROUGH = ("Identity", "PlaceholderWithDefault", "Snapshot", "StopGradient")


def _static_bool(nodes: dict, tensor: str):
    name = tensor.lstrip("^").split(":")[0]
    seen = 0
    while name in nodes and nodes[name].op in _PASS_THROUGH and seen < 100:
        ins = [i for i in nodes[name].input if not i.startswith("^")]
        if not ins:
            return None
        name = ins[0].split(":")[0]
        seen += 1
    node = nodes.get(name)
    if node is None or node.op != "Const":
        return None
    import tensorflow as tf

    value = tf.make_ndarray(node.attr["value"].tensor)
    return bool(value.reshape(-1)[0]) if value.size == 1 else None


def inline_static_ifs(graph_def) -> int:
    """Splice the taken branch of every constant-predicate If into ``graph_def``; returns how many."""
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

    functions = {f.signature.name: f for f in graph_def.library.function}
    done = 0
    for _ in range(20):                          # branches may hold further Ifs
        nodes = {n.name: n for n in graph_def.node}
        todo = [n for n in graph_def.node if n.op in IF_OPS and _static_bool(nodes, n.input[0]) is not None]
        if not todo:
            return done
        for node in todo:
            branch = "then_branch" if _static_bool(nodes, node.input[0]) else "else_branch"
            fdef = functions.get(node.attr[branch].func.name)
            if fdef is None:
                continue
            body, flat = function_def_to_graph_def(fdef)
            prefix = f"{node.name}/{branch}/"
            data_in = [i for i in node.input[1:] if not i.startswith("^")]
            args = {a.name: data_in[k] for k, a in enumerate(fdef.signature.input_arg)}

            def remap(t: str) -> str:
                ctl = t.startswith("^")
                base = t.lstrip("^")
                n = base.partition(":")[0]
                if n in args:                    # a branch argument: the If's own input
                    return ("^" + args[n].split(":")[0]) if ctl else args[n]
                return ("^" if ctl else "") + prefix + base
            for b in body.node:
                if b.name in args and b.op == "Placeholder":
                    continue
                c = graph_def.node.add()
                c.CopyFrom(b)
                c.name = prefix + b.name
                del c.input[:]
                c.input.extend(remap(i) for i in b.input)
            rets = [remap(flat.get(fdef.ret[o.name], fdef.ret[o.name])) for o in fdef.signature.output_arg]
            tout = list(node.attr["Tout"].list.type)
            node.op = "IdentityN"
            for key in list(node.attr):
                del node.attr[key]
            node.attr["T"].list.type.extend(tout)
            del node.input[:]
            node.input.extend(rets)
            # consumers read the branch results directly, so unused results (gradient optionals ...)
            # never enter the converted subgraph
            for other in graph_def.node:
                if other is node:
                    continue
                for k, i in enumerate(other.input):
                    n, _, idx = i.partition(":")
                    if n == node.name:
                        other.input[k] = rets[int(idx or 0)]
            done += 1
    return done


def prune_static_switches(graph_def) -> int:
    """TF1 control flow (``Switch``/``Merge``) on a constant predicate: keep the branch that runs.

    A ``Switch`` forwards its data to output 1 when the predicate is true, else to output 0; the other
    output is dead, and so is every node fed by a dead value, up to the ``Merge`` that joins the
    branches, which forwards its one live input.  Consumers are rewired past the Switch and the Merge.
    """
    nodes = {n.name: n for n in graph_def.node}
    live: dict[str, str] = {}          # "switch:k"/"merge:0" -> the tensor it forwards
    dead: set[str] = set()             # dead tensors ("node:k") and dead nodes (name)
    for n in graph_def.node:
        if n.op in ("Switch", "RefSwitch"):
            pred = _static_bool(nodes, n.input[1])
            if pred is not None:
                data = n.input[0] if ":" in n.input[0] else n.input[0] + ":0"
                live[f"{n.name}:{int(pred)}"] = data
                dead.add(f"{n.name}:{int(not pred)}")
    if not live:
        return 0

    def canon(t: str) -> str:
        return t if ":" in t else t + ":0"

    changed = True
    while changed:                     # propagate deadness and resolve merges to a fixed point
        changed = False
        for n in graph_def.node:
            if n.name in dead:
                continue
            data = [canon(i) for i in n.input if not i.startswith("^")]
            if n.op == "Merge":
                alive = [i for i in data if i not in dead and i.split(":")[0] not in dead]
                if len(alive) == 1 and f"{n.name}:0" not in live:
                    live[f"{n.name}:0"] = alive[0]
                    changed = True
                elif not alive:
                    dead.add(n.name)
                    changed = True
            elif n.op not in ("Switch", "RefSwitch") and any(i in dead or i.split(":")[0] in dead for i in data):
                dead.add(n.name)
                changed = True

    def resolve(t: str) -> str:
        for _ in range(1000):
            if t not in live:
                return t
            t = live[t]
        return t

    for n in graph_def.node:
        for k, i in enumerate(n.input):
            if not i.startswith("^"):
                r = resolve(canon(i))
                if r != canon(i):
                    n.input[k] = r
    return len(live)


def loop_frames(nodes: dict, order: list[str]) -> dict[str, str]:
    """Node -> name of the innermost TF1 ``while`` frame it runs in (nodes outside every loop are absent).

    A frame starts at its ``Enter`` nodes (``frame_name`` attribute) and ends at its ``Exit`` nodes; every
    node fed (by data or control edges) from inside a frame runs in it, so a constant with a control edge
    from the loop's pivot is per-iteration too.  Such values cannot be fetched by a session run from
    outside the loop: only the layer that claims the loop may look at them.
    """
    frame: dict[str, str] = {}
    parent: dict[str, str | None] = {}
    for _ in range(len(order) + 1):            # back edges (NextIteration -> Merge): iterate to a fixed point
        changed = False
        for n in order:
            node = nodes[n]
            srcs = [i.lstrip("^").split(":")[0] for i in node.inputs] + list(node.controls)
            outer = next((frame[s] for s in srcs if s in frame), None)
            if node.op in ("Enter", "RefEnter"):
                f = node.attr("frame_name")
                parent.setdefault(f, frame.get(srcs[0]) if srcs else None)
            elif node.op in ("Exit", "RefExit"):
                f = parent.get(outer) if outer is not None else None
            else:
                f = outer
            if f is not None and frame.get(n) != f:
                frame[n] = f
                changed = True
        if not changed:
            break
    return frame

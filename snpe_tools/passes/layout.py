"""Spatial-first layout rewrite for the legacy converters (``perform_axes_to_spatial_first_order``).

Frontends emit layout-sensitive ops wrapped as ``Transpose(to NHWC) -> op -> Transpose(to NCHW)``.
This pass makes those Transposes vanish:

1. graph inputs in a channel-first format (NCHW, NCDHW; NCF when it feeds a 1-D conv)
   become spatial-first DLC inputs; no Transpose is kept for them;
2. every Transpose is *sunk* through layout-agnostic consumers (the ``OpDef.layout_agnostic`` trait:
   elementwise, activations, Concat/Softmax/Reduce/Pad/Split/StridedSlice ... with their axis params
   remapped by ``OpDef.permute_axes``);
3. consecutive Transposes are composed, identities removed, constants pre-transposed,
   and a Transpose that only moves size-1 dims becomes a Reshape;
4. a Transpose back to channel-first that feeds a graph output is dropped: legacy SNPE
   leaves outputs spatial-first (the output tensor keeps its name, its axis format says NSC).

What remains are Transposes where a layout genuinely cannot propagate (e.g. flattening
a 7x7xC map into a FullyConnected).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import axis_format as af
from ..ir.graph import Graph, Op
from ..ops.registry import get_op_def
from .registry import register_pass


def _inv(perm) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[int(p)] = i
    return inv


def _perm(op: Op) -> list[int]:
    return [int(p) for p in op.params["perm"]]


class _Rewriter:
    def __init__(self, graph: Graph) -> None:
        self.g = graph

    # -- helpers -------------------------------------------------------------------
    def producer(self, name: str) -> Op | None:
        return self.g.producer(name)

    def consumers(self, name: str) -> list[Op]:
        return self.g.consumers(name)

    def insert_transpose_after(self, op: Op, idx: int, perm: list[int], x_fmt: str) -> None:
        """Make ``op`` write a fresh tensor and re-create its old output with a Transpose."""
        g = self.g
        old = op.outputs[idx]
        new = g.derived_name(old, "sf")
        t = g.tensors.pop(old)
        op.outputs[idx] = new
        g.tensors[new] = type(t)(new, t.shape, t.dtype, x_fmt)
        g.reinfer(op)
        pos = g.ops.index(op) + 1
        tr = g.add_op("Transpose", [new], [old], {"perm": perm}, name=g.unique_name(f"{old}.t"), index=pos)
        g.tensors[old].axis_format = t.axis_format
        g.tensors[old].encoding = t.encoding
        assert tr.outputs == [old]

    def remove_if_dead(self, op: Op) -> None:
        if op in self.g.ops and not any(self.consumers(o) for o in op.outputs) and \
                not any(o in self.g.outputs for o in op.outputs):
            self.g.remove_op(op)

    # -- sinking a Transpose through one consumer -----------------------------------
    def sink(self, tr: Op, c: Op) -> bool:
        """Move Transpose ``tr`` below its consumer ``c`` when the op's ``layout_agnostic`` trait allows:
        the op reads the untransposed data (its axis params remapped by ``OpDef.permute_axes``) and a
        Transpose after it restores each output."""
        g = self.g
        x, y, p = tr.inputs[0], tr.outputs[0], _perm(tr)
        d = get_op_def(c.type)
        if d.layout_agnostic == "all_inputs":
            return self._sink_all_inputs(tr, c, d)
        if d.layout_agnostic != "first_input" or c.inputs[0] != y or any(i == y for i in c.inputs[1:]):
            return False
        q = d.permute_axes(c, p, [g.tensors[n] if n else None for n in c.inputs])
        if q is None:
            return False
        c.inputs = [x] + c.inputs[1:]
        if q == list(range(len(q))):
            g.reinfer(c)              # the axes that remain are in order: no Transpose after the op
            return True
        x_fmt = g.tensors[x].axis_format if q == p else af.NONTRIVIAL
        for i in range(len(c.outputs)):
            self.insert_transpose_after(c, i, q, x_fmt)
        return True

    def _sink_all_inputs(self, tr: Op, c: Op, d) -> bool:
        """Elementwise ops and Concat: every data input must arrive under the same Transpose (or be static,
        then it is pre-transposed)."""
        g = self.g
        x, y, p = tr.inputs[0], tr.outputs[0], _perm(tr)
        rank = len(p)
        inv = _inv(p)
        x_fmt = g.tensors[x].axis_format
        if g.tensors[c.outputs[0]].rank != rank:
            return False
        new_inputs = []
        for name in c.inputs:
            if name == y:
                new_inputs.append(x)
                continue
            t = g.tensors[name]
            if t.is_static:
                if t.rank > rank:
                    return False
                data = t.data.reshape((1,) * (rank - t.rank) + tuple(t.shape))
                new_inputs.append(g.derived_const(name, "sf", np.ascontiguousarray(np.transpose(data, inv))))
                continue
            prod = self.producer(name)
            if prod is not None and prod.type == "Transpose" and _perm(prod) == p:
                new_inputs.append(prod.inputs[0])
                continue
            return False
        q = d.permute_axes(c, p, [g.tensors[n] if n else None for n in new_inputs])
        if q != p:
            return False
        old_inputs = list(c.inputs)
        c.inputs = new_inputs
        self.insert_transpose_after(c, 0, p, x_fmt)
        for name in set(old_inputs):
            prod = self.producer(name)
            if prod is not None and prod.type == "Transpose":
                self.remove_if_dead(prod)
        return True

    # -- one Transpose ----------------------------------------------------------------
    def visit(self, tr: Op) -> bool:
        g = self.g
        x, y, p = tr.inputs[0], tr.outputs[0], _perm(tr)
        if p == list(range(len(p))):
            if y in g.outputs:
                if x in g.inputs or x in g.outputs or g.is_static(x):
                    return False
                fmt = g.tensors[y].axis_format
                g.remove_op(tr)
                g.tensors.pop(y)
                g.rename_tensor(x, y)
                g.tensors[y].axis_format = fmt
            else:
                g.remove_op(tr)
                g.replace_uses(y, x)
            return True
        prev = self.producer(x)
        if prev is not None and prev.type == "Transpose":
            q = _perm(prev)
            tr.inputs = [prev.inputs[0]]
            tr.params["perm"] = np.asarray([q[i] for i in p], np.uint32)
            self.remove_if_dead(prev)
            return True
        if g.is_static(x) and y not in g.outputs:
            name = g.add_const(f"{x}.t", np.ascontiguousarray(np.transpose(g.tensors[x].data, p)))
            g.remove_op(tr)
            g.replace_uses(y, name)
            return True
        changed = False
        for c in list(dict.fromkeys(self.consumers(y))):
            if self.sink(tr, c):
                changed = True
        if changed:
            self.remove_if_dead(tr)
            return True
        if not self.consumers(y) and y not in g.outputs:
            g.remove_op(tr)
            return True
        shape = g.tensors[x].shape
        big = [i for i in p if shape[i] != 1]
        if y in g.outputs and p == list(af.channel_first_perm(len(p))) and g.tensors[x].axis_format in af.SPATIAL_FIRST:
            return False          # _absorb_outputs keeps the output spatial-first, as SNPE does
        if big == sorted(big):
            idx = g.ops.index(tr)
            g.remove_op(tr)
            fmt = g.tensors[y].axis_format
            g.tensors.pop(y)
            g.add_op("Reshape", [x], [y], {"shape": [shape[i] for i in p]}, name=tr.name, index=idx)
            g.tensors[y].axis_format = fmt
            return True
        return False


def _absorb_inputs(graph: Graph) -> bool:
    """Channel-first graph inputs become spatial-first DLC inputs, 3-D ones NFC and RNN inputs NTF
    (SNPE behaviour); a Transpose back to the source order follows them until later rewrites sink it."""
    changed = False
    for name in list(graph.inputs):
        fmt = graph.tensors[name].axis_format
        if fmt in af.INPUT_REWRITE:
            changed |= retarget_input(graph, name, af.INPUT_REWRITE[fmt][0], suffix="src")
    return changed


def _spatial_first_outputs(graph: Graph) -> bool:
    """The NCF output of a 1-D convolution (the 3-D view of its channel-first map, made by a
    Transpose back from NHWC and a Reshape) gets a Transpose to NFC, keeping its name, as legacy
    SNPE gives it.  Other 3-D outputs keep the source shape, as in SNPE."""
    changed = False
    for y in list(graph.outputs):
        t = graph.tensors[y]
        if t.axis_format != af.NCF or t.rank != 3 or y in graph.inputs:
            continue
        prod = graph.producer(y)
        back = graph.producer(prod.inputs[0]) if prod is not None and prod.type == "Reshape" else None
        if back is None or back.type != "Transpose" or _perm(back) != list(af.channel_first_perm(4)) \
                or graph.tensors[back.inputs[0]].axis_format != af.NSC:
            continue
        new_fmt, perm = af.TO_SPATIAL_FIRST[t.axis_format]
        if t.rank != len(perm) or graph.producer(y) is None:
            continue
        inner = graph.unique_name(f"{y}.cf")
        graph.rename_tensor(y, inner)
        graph.outputs[graph.outputs.index(inner)] = y
        graph.add_op("Transpose", [inner], [y], {"perm": list(perm)}, name=y,
                     index=graph.ops.index(graph.producer(inner)) + 1)
        graph.tensors[y].axis_format = new_fmt
        graph.tensors[y].encoding = t.encoding
        changed = True
    return changed


def _absorb_outputs(graph: Graph) -> bool:
    """Drop a channel-first Transpose in front of a graph output; the output stays spatial-first."""
    changed = False
    for y in list(graph.outputs):
        tr = graph.producer(y)
        if tr is None or tr.type != "Transpose":
            continue
        x = tr.inputs[0]
        xt = graph.tensors[x]
        if _perm(tr) != list(af.channel_first_perm(xt.rank)) or xt.axis_format not in af.SPATIAL_FIRST:
            continue
        if x in graph.inputs or x in graph.outputs or xt.is_static:
            continue
        users = graph.consumers(y)
        yt = graph.tensors.pop(y)
        if users:   # other ops still read the channel-first value: keep the Transpose for them
            inner = graph.unique_name(f"{y}.cf")
            graph.tensors[inner] = type(yt)(inner, yt.shape, yt.dtype, yt.axis_format)
            tr.outputs = [inner]
            graph.replace_uses(y, inner, users)
        else:
            graph.remove_op(tr)
        graph.rename_tensor(x, y)
        changed = True
    return changed


def _settle(graph: Graph) -> bool:
    """Sink, compose and drop Transposes until nothing moves."""
    rw = _Rewriter(graph)
    changed = progress = False
    for _ in range(10000):
        progress = False
        for op in list(graph.ops):
            if op.type == "Transpose" and op in graph.ops and rw.visit(op):
                progress = True
        changed |= progress
        if not progress:
            return changed
    raise RuntimeError("layout rewrite did not converge")


def layout_perm(current: str, wanted: str, rank: int) -> tuple[int, ...] | None:
    """Permutation that turns data in format ``current`` into format ``wanted`` (None: no known move)."""
    if current == wanted:
        return tuple(range(rank))
    for a, b in ((current, wanted), (wanted, current)):
        if a in af.INPUT_REWRITE and af.INPUT_REWRITE[a][0] == b and len(af.INPUT_REWRITE[a][1]) == rank:
            perm = af.INPUT_REWRITE[a][1]
            return tuple(perm) if a == current else tuple(_inv(perm))
    return None


def _suffix(fmt: str) -> str:
    return af.DISPLAY.get(fmt, fmt).lower()


def retarget_input(graph: Graph, name: str, wanted: str, suffix: str | None = None) -> bool:
    """Make graph input ``name`` arrive in format ``wanted``: a Transpose right behind it turns the data into
    the format the graph was built for (``<name>.<fmt>``, as Qualcomm's converter names it)."""
    t = graph.tensors[name]
    current = t.axis_format
    perm = layout_perm(current, wanted, t.rank)
    if perm is None or perm == tuple(range(t.rank)):
        return False
    # the input's own inner tensor (``suffix``) is derived from it; the ``<name>.<fmt>`` one of a
    # requested layout is named as Qualcomm's converter names it
    inner = graph.derived_name(name, suffix) if suffix else graph.unique_name(f"{name}.{_suffix(current)}")
    graph.tensors[inner] = type(t)(inner, t.shape, t.dtype, t.axis_format, encoding=t.encoding)
    graph.replace_uses(name, inner)
    t.shape = tuple(t.shape[i] for i in perm)
    t.axis_format = wanted
    op = graph.add_op("Transpose", [name], [inner], {"perm": _inv(perm)}, name=inner, index=0)
    if suffix is None:
        op.name = inner         # op and tensor share the name, as in Qualcomm's files (ops have their own namespace)
    graph.tensors[inner].axis_format = current
    graph.tensors[inner].encoding = t.encoding
    return True


def retarget_output(graph: Graph, name: str, wanted: str) -> bool:
    """Make graph output ``name`` leave in format ``wanted``: its producer writes ``<name>.<fmt>`` and a
    Transpose (``<name>.<wanted fmt>``) writes the output, as Qualcomm's converter does."""
    t = graph.tensors[name]
    perm = layout_perm(t.axis_format, wanted, t.rank)
    if perm is None or perm == tuple(range(t.rank)) or name in graph.inputs or t.is_static:
        return False
    current = t.axis_format
    inner = graph.unique_name(f"{name}.{_suffix(current)}")
    graph.rename_tensor(name, inner)
    graph.outputs[graph.outputs.index(inner)] = name
    prod = graph.producer(inner)
    graph.add_op("Transpose", [inner], [name], {"perm": list(perm)},
                 name=f"{name}.{_suffix(wanted)}",
                 index=graph.ops.index(prod) + 1 if prod is not None else 0)
    graph.tensors[name].axis_format = wanted
    graph.tensors[name].encoding = t.encoding
    return True


@register_pass("spatial_first_layout")
def spatial_first_layout(graph: Graph, options) -> bool:
    graph.source_channel_first = True   # the DLC records each tensor's source (channel-first) axis format
    changed = _absorb_inputs(graph) if options.get("spatial_first_io", True) else False
    changed |= _settle(graph)
    if options.get("spatial_first_io", True):
        changed |= _absorb_outputs(graph)
        changed |= _spatial_first_outputs(graph)
    graph.topo_sort()
    return changed


@register_pass("io_layouts")
def io_layouts(graph: Graph, options) -> bool:
    """Graph inputs/outputs in the layouts ``options["io_layouts"]`` asks for (name -> format tag): one
    Transpose each at the boundary, then the usual sinking so that a Transpose the layout rewrite left
    behind an input cancels against it.  qairt-converter asks for the source layouts (its default), as do
    ``--preserve_io layout`` and ``--custom_io``; the inside of the graph stays spatial-first."""
    wanted = options.get("io_layouts") or {}
    # kept source layouts: a tensor the rewrite did not move (no known permutation back) is left as it is
    keep = options.get("io_layouts_keep") or {}
    changed = False
    for fn, names, what in ((retarget_input, graph.inputs, "input"), (retarget_output, graph.outputs, "output")):
        for name in list(names):
            if name in wanted:
                changed |= _retarget(graph, name, wanted[name], fn, what)
            elif name in keep:
                changed |= fn(graph, name, keep[name])
    if changed:
        _settle(graph)
        graph.topo_sort()
    return changed


def _retarget(graph: Graph, name: str, fmt: str, fn, what: str) -> bool:
    t = graph.tensors[name]
    if layout_perm(t.axis_format, fmt, t.rank) is None and fmt not in (af.ANY, af.NONTRIVIAL):
        raise ConversionError(f"graph {what} {name} is {af.DISPLAY.get(t.axis_format, t.axis_format)} "
                              f"{list(t.shape)}; it cannot be given layout {af.DISPLAY.get(fmt, fmt)}: choose the "
                              "source layout or its spatial-first form")
    return fn(graph, name, fmt)

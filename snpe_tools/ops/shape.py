"""Data movement: Reshape, Transpose, Concat, Split, Pad, StridedSlice, Tile, Gather, Cast."""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as qd
from .registry import OpDef, Param, check_axis, check_enum, permuted, register


@register
class Reshape(OpDef):
    """QNN Reshape has no params: the target is the output tensor's shape (IR keeps it as ``shape``)."""

    type = "Reshape"
    data_invariant = True
    params = {"shape": Param(qd.INT_32, tensor=True, internal=True, ir_attr=True)}

    def infer(self, op, ins):
        shape = [int(d) for d in op.params["shape"]]
        if int(np.prod(shape)) != int(np.prod(ins[0].shape)):
            raise ValueError(f"Reshape {op.name}: cannot reshape {list(ins[0].shape)} to {shape}")
        return [(tuple(shape), ins[0].dtype)]

    def compute(self, op, xs):
        return [xs[0].reshape(tuple(int(d) for d in op.params["shape"]))]

    def is_identity(self, op, ins, outs):
        return ins[0] is not None and tuple(ins[0].shape) == tuple(outs[0].shape)

    def restore_params(self, op, ins, outs):
        op.params["shape"] = np.asarray(outs[0].shape, np.int32)

    def resize_params(self, op, old_in_shapes, ins):
        """A new batch (leading dimension) is carried through, as SNPE's builder resizes a reshape: the
        target keeps its other dimensions and takes the input's new leading dimension."""
        shape = [int(d) for d in op.params["shape"]]
        old, new = old_in_shapes[0], tuple(ins[0].shape)
        if (old is None or not shape or not old or not new or old == new or len(old) != len(new)
                or tuple(old[1:]) != tuple(new[1:]) or shape[0] != old[0]):
            return
        op.params["shape"] = np.asarray([new[0]] + shape[1:], np.int32)


@register
class Transpose(OpDef):
    type = "Transpose"
    data_invariant = True
    params = {"perm": Param(qd.UINT_32, tensor=True)}

    def infer(self, op, ins):
        perm = [int(p) for p in op.params["perm"]]
        rank = len(ins[0].shape)
        if sorted(perm) != list(range(rank)):
            raise ValueError(f"Transpose {op.name}: perm {perm} is not a permutation of the {rank} axes "
                             f"(supported: each of 0 .. {rank - 1} once)")
        return [(tuple(ins[0].shape[p] for p in perm), ins[0].dtype)]

    def compute(self, op, xs):
        return [np.ascontiguousarray(np.transpose(xs[0], [int(p) for p in op.params["perm"]]))]

    def is_identity(self, op, ins, outs):
        return [int(p) for p in op.params["perm"]] == list(range(len(op.params["perm"])))


@register
class Concat(OpDef):
    type = "Concat"
    params = {"axis": Param(qd.UINT_32)}
    joins_inputs = True
    layout_agnostic = "all_inputs"

    def permute_axes(self, op, perm, ins):
        op.params["axis"] = perm[op.params["axis"]]
        return list(perm)

    def infer(self, op, ins):
        shape = list(ins[0].shape)
        ax = check_axis(op, "axis", len(shape))
        for t in ins[1:]:
            if len(t.shape) != len(shape) or any(d != e for i, (d, e) in enumerate(zip(t.shape, shape)) if i != ax):
                raise ValueError(f"Concat {op.name}: input {list(t.shape)} differs from {list(ins[0].shape)} "
                                 f"off the concatenation axis {ax} (supported: equal dims except axis {ax})")
        shape[ax] = sum(t.shape[ax] for t in ins)
        return [(tuple(shape), ins[0].dtype)]

    def compute(self, op, xs):
        return [np.concatenate(xs, axis=op.params["axis"])]


@register
class Split(OpDef):
    """``split_index`` holds the start offsets of outputs 1..n-1 along ``axis``."""

    type = "Split"
    params = {"axis": Param(qd.UINT_32), "split_index": Param(qd.UINT_32, tensor=True)}
    data_invariant = True
    layout_agnostic = "first_input"

    def permute_axes(self, op, perm, ins):
        op.params["axis"] = perm[op.params["axis"]]
        return list(perm)

    def num_outputs(self, params, n_inputs):
        return len(params["split_index"]) + 1

    def infer(self, op, ins):
        ax = check_axis(op, "axis", len(ins[0].shape))
        bounds = [0] + [int(i) for i in op.params["split_index"]] + [ins[0].shape[ax]]
        if any(b > e for b, e in zip(bounds[:-1], bounds[1:])):
            raise ValueError(f"Split {op.name}: split_index {bounds[1:-1]} must not decrease and stay within "
                             f"0 .. {bounds[-1]} (the size of axis {ax})")
        outs = []
        for b, e in zip(bounds[:-1], bounds[1:]):
            s = list(ins[0].shape)
            s[ax] = e - b
            outs.append((tuple(s), ins[0].dtype))
        return outs

    def compute(self, op, xs):
        return [np.ascontiguousarray(a) for a in
                np.split(xs[0], [int(i) for i in op.params["split_index"]], axis=op.params["axis"])]


# QNN Pad ``scheme`` code -> (QNN name, numpy.pad mode)
PAD_SCHEMES = {0: ("CONSTANT", "constant"), 1: ("MIRROR_SYMMETRIC", "symmetric"), 2: ("MIRROR_REFLECT", "reflect"),
               3: ("EDGE", "edge")}


@register
class Pad(OpDef):
    type = "Pad"
    params = {"scheme": Param(qd.UINT_32, default=0), "pad_amount": Param(qd.UINT_32, tensor=True),
              "pad_constant_value": Param(qd.FLOAT_32, default=0.0)}
    layout_agnostic = "first_input"

    def permute_axes(self, op, perm, ins):
        pa = np.asarray(op.params["pad_amount"])
        op.params["pad_amount"] = np.asarray(permuted(list(pa), perm), pa.dtype)
        return list(perm)

    def infer(self, op, ins):
        check_enum(op, "scheme", {code: qnn for code, (qnn, _) in PAD_SCHEMES.items()})
        pa = op.params["pad_amount"]
        rank = len(ins[0].shape)
        if pa.shape != (rank, 2):
            raise ValueError(f"Pad {op.name}: pad_amount has shape {list(pa.shape)} (supported: [{rank}, 2], "
                             "[before, after] per axis)")
        return [(tuple(int(d + pa[i][0] + pa[i][1]) for i, d in enumerate(ins[0].shape)), ins[0].dtype)]

    def compute(self, op, xs):
        p = op.params
        widths = [(int(a), int(b)) for a, b in p["pad_amount"]]
        mode = PAD_SCHEMES[p["scheme"]][1]
        if mode == "constant":
            return [np.pad(xs[0], widths, constant_values=np.asarray(p["pad_constant_value"]).astype(xs[0].dtype))]
        return [np.pad(xs[0], widths, mode=mode)]


@register
class StridedSlice(OpDef):
    """``ranges`` is ``[rank,3]`` int32 (begin, end, stride); bit i of shrink_axes drops dim i."""

    type = "StridedSlice"
    params = {"ranges": Param(qd.INT_32, tensor=True), "begin_mask": Param(qd.UINT_32, default=0),
              "end_mask": Param(qd.UINT_32, default=0), "shrink_axes": Param(qd.UINT_32, default=0),
              "new_axes_mask": Param(qd.UINT_32, default=0)}
    data_invariant = True
    layout_agnostic = "first_input"

    def permute_axes(self, op, perm, ins):
        prm = op.params
        if prm["shrink_axes"] or prm["new_axes_mask"]:
            return None
        rng = np.asarray(prm["ranges"])
        bm = em = 0
        for i, p in enumerate(perm):
            bm |= ((prm["begin_mask"] >> i) & 1) << p
            em |= ((prm["end_mask"] >> i) & 1) << p
        prm.update(ranges=np.asarray(permuted(list(rng), perm), rng.dtype), begin_mask=bm, end_mask=em)
        return list(perm)

    def _slices(self, op, shape):
        p = op.params
        sl = []
        for i, (b, e, s) in enumerate(p["ranges"].tolist()):
            if p["begin_mask"] >> i & 1:
                b = None
            if p["end_mask"] >> i & 1:
                e = None
            if p["shrink_axes"] >> i & 1:
                sl.append(b if b is not None else 0)
            else:
                if e is not None and s < 0 and e < -shape[i]:
                    e = None   # slice to the very beginning when stepping backwards
                sl.append(slice(b, e, s))
        return tuple(sl)

    def infer(self, op, ins):
        view = np.empty(ins[0].shape, dtype=np.bool_)[self._slices(op, ins[0].shape)]
        return [(view.shape, ins[0].dtype)]

    def compute(self, op, xs):
        return [np.array(xs[0][self._slices(op, xs[0].shape)], copy=True)]   # keeps 0-d results 0-d


@register
class Tile(OpDef):
    type = "Tile"
    params = {"multiples": Param(qd.UINT_32, tensor=True)}
    data_invariant = True
    layout_agnostic = "first_input"

    def permute_axes(self, op, perm, ins):
        op.params["multiples"] = np.asarray(permuted([int(v) for v in op.params["multiples"]], perm), np.uint32)
        return list(perm)

    def infer(self, op, ins):
        mult = [int(m) for m in op.params["multiples"]]
        if len(mult) != len(ins[0].shape):
            raise ValueError(f"Tile {op.name}: {len(mult)} multiples {mult} for rank {len(ins[0].shape)} "
                             "(supported: one per axis)")
        return [(tuple(d * m for d, m in zip(ins[0].shape, mult)), ins[0].dtype)]

    def compute(self, op, xs):
        return [np.tile(xs[0], [int(m) for m in op.params["multiples"]])]


@register
class Gather(OpDef):
    type = "Gather"
    params = {"axis": Param(qd.INT_32, default=0)}
    data_invariant = True
    layout_agnostic = "first_input"

    def permute_axes(self, op, perm, ins):
        if len(ins) != 2 or ins[1] is None or ins[1].rank != 1:
            return None       # only a 1-D index keeps the data's rank, and so the permutation
        op.params["axis"] = perm[int(op.params["axis"]) % len(perm)]
        return list(perm)

    def infer(self, op, ins):
        ax = check_axis(op, "axis", len(ins[0].shape), negative=True)
        s = ins[0].shape
        return [(tuple(s[:ax]) + tuple(ins[1].shape) + tuple(s[ax + 1:]), ins[0].dtype)]

    def compute(self, op, xs):
        ax = op.params["axis"] % xs[0].ndim
        idx = xs[1].astype(np.int64)
        idx = np.where(idx < 0, idx + xs[0].shape[ax], idx)
        return [np.take(xs[0], idx, axis=ax)]


@register
class Cast(OpDef):
    """Output dtype is the target; the IR keeps it as ``to`` (a QNN dtype code)."""

    type = "Cast"
    layout_agnostic = "first_input"
    params = {"to": Param(qd.UINT_32, internal=True)}

    def infer(self, op, ins):
        return [(ins[0].shape, qd.to_numpy(op.params["to"]))]

    def compute(self, op, xs):
        return [xs[0].astype(qd.to_numpy(op.params["to"]))]

    def is_identity(self, op, ins, outs):
        return ins[0] is not None and np.dtype(ins[0].dtype) == np.dtype(outs[0].dtype)

    def restore_params(self, op, ins, outs):
        op.params["to"] = qd.to_qnn(outs[0].dtype)

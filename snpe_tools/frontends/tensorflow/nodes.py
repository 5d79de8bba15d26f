"""A GraphDef node as the TensorFlow frontend sees it, and the check that node names given on the
command line exist.  Kept apart from ``model.py`` so that the loader (which checks ``--out_node``
before freezing a checkpoint) and the graph cut (which turns cut points into placeholders) need not
import the model, which imports them."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ...errors import ConversionError


@dataclass
class TFNode:
    """One GraphDef node with its data inputs split from control inputs (``^name``)."""

    name: str
    op: str
    inputs: list[str]          # tensor names "node:idx"
    controls: list[str]
    nodedef: object

    def attr(self, key: str, default=None):
        a = self.nodedef.attr
        if key not in a:
            return default
        v = a[key]
        kind = v.WhichOneof("value")
        if kind == "list":
            lst = v.list
            for f in ("i", "f", "s", "b", "type", "shape"):
                vals = list(getattr(lst, f))
                if vals:
                    return [x.decode() if isinstance(x, bytes) else x for x in vals]
            return []
        if kind == "s":
            return v.s.decode()
        return getattr(v, kind) if kind else default

    @property
    def scope(self) -> str:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else ""


def check_names(wanted: list[str], names, flag: str) -> None:
    """``ERROR_TF_NODE_NOT_FOUND_IN_GRAPH`` naming the closest existing nodes."""
    names = list(names)
    for w in wanted:
        if w not in names:
            close = difflib.get_close_matches(w, names, n=3, cutoff=0.5)
            if not close:
                low = w.lower().rsplit("/", 1)[-1]
                close = [n for n in names if low and low in n.lower()][:3]
            hint = f"; closest nodes: {', '.join(close)}" if close else ""
            raise ConversionError(f"ERROR_TF_NODE_NOT_FOUND_IN_GRAPH: Node not found in graph. Node name: {w} "
                                  f"(given with {flag}){hint}")

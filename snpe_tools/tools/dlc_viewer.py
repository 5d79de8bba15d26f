"""snpe-dlc-viewer: one self-contained HTML page showing a DLC's graph.

As SNPE's viewer, layers are nodes and tensors (buffers) are edges, with a legend, tooltips and the
metadata; the page works offline (inline CSS, inline JavaScript, an SVG drawn here; nothing is fetched).
Every layer row lists its inputs and outputs with shape and data type, its parameters, its static tensors
and its encodings.  A search box (also ``page.html#search=TEXT``) highlights the layers whose name, type or
tensor names contain the text and hides the other rows of the layer table; clicking a node selects its row.

Layout: a layer sits one row below the deepest layer that feeds it (graph inputs on row 0); layers of a
row keep graph order.  Every string from the model is HTML-escaped (the model file is untrusted), and the
JSON the script reads is embedded with ``<`` escaped so no name can end the script element.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
from typing import Any

from ..dlc import Metadata, read_dlc
from ..dlc.writer import atomic_output, output_target
from ..errors import DLCError
from ..ir.graph import Graph
from ..ops.registry import get_op_def
from .common import ArgumentParser, check_input_file, check_not_input, run_main
from .dlc_info import dims, dtype_name, encoding_text, param_text

PROG = "snpe-dlc-viewer"
NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 190, 46, 40, 64, 20
PALETTE = ("#cfe2ff", "#d1f0d8", "#ffe5b4", "#f8d7da", "#e2d9f3", "#d6f5f5", "#fff3b0", "#e9ecef", "#fde2f3",
           "#dfe7c8")
INPUT_FILL = "#ffffff"
# the page may run its own inline script and style and fetch nothing at all
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def make_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Write an HTML page showing the graph of a DLC.")
    p.required.add_argument("-i", "--input_dlc", required=True, help="Path to the DLC file.")
    p.optional.add_argument("-s", "--save", metavar="HTML", default="./model.html",
                            help="Where to write the HTML page (default ./model.html).")
    return p


# ---- model -> plain data -------------------------------------------------------------------------
def _tensor(graph: Graph, name: str) -> dict[str, Any]:
    t = graph.tensors[name]
    return {"name": name, "shape": dims(t.shape, "x"), "dtype": dtype_name(t),
            "encoding": encoding_text(t.encoding) if t.encoding is not None else None}


def graph_data(graph: Graph, meta: Metadata) -> dict[str, Any]:
    layers = []
    for i, op in enumerate(graph.ops):
        opdef = get_op_def(op.type)
        static = [n for n in op.inputs if n and graph.tensors[n].is_static]
        layers.append({
            "id": i, "name": op.name, "type": op.type,
            "inputs": [_tensor(graph, n) for n in op.inputs if n and n not in static],
            "static": [_tensor(graph, n) for n in static],
            "outputs": [_tensor(graph, n) for n in op.outputs],
            "params": [param_text(k, v) for k, v in op.params.items()
                       if not (k in opdef.params and opdef.params[k].internal)],
        })
    return {"graph": graph.name, "inputs": [_tensor(graph, n) for n in graph.inputs],
            "outputs": list(graph.outputs), "layers": layers,
            "metadata": {k: meta.get(k) for k in ("model-version", "model-copyright", "converter-command",
                                                  "converter-version", "quantizer-command")}}


def layout(data: dict[str, Any]) -> tuple[dict[str, tuple[int, int]], int, int]:
    """(x, y) of every node (graph inputs ``in:<name>``, layers ``op:<id>``), and the canvas size."""
    depth: dict[str, int] = {}
    rows: list[list[str]] = [[]]
    producer_depth: dict[str, int] = {}
    for t in data["inputs"]:
        depth[f"in:{t['name']}"] = 0
        rows[0].append(f"in:{t['name']}")
        producer_depth[t["name"]] = 0
    for layer in data["layers"]:
        d = 1 + max([producer_depth.get(t["name"], 0) for t in layer["inputs"]], default=0)
        key = f"op:{layer['id']}"
        depth[key] = d
        while len(rows) <= d:
            rows.append([])
        rows[d].append(key)
        for t in layer["outputs"]:
            producer_depth[t["name"]] = d
    width = max(len(r) for r in rows) * (NODE_W + GAP_X) - GAP_X + 2 * MARGIN + NODE_W   # room for bowed edges
    pos = {}
    for d, row in enumerate(rows):
        offset = (width - (len(row) * (NODE_W + GAP_X) - GAP_X)) // 2
        for k, key in enumerate(row):
            pos[key] = (offset + k * (NODE_W + GAP_X), MARGIN + d * (NODE_H + GAP_Y))
    height = MARGIN * 2 + len(rows) * (NODE_H + GAP_Y) - GAP_Y
    return pos, max(width, NODE_W + 2 * MARGIN), height


# ---- rendering -------------------------------------------------------------------------------------
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, n: int = 26) -> str:
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def svg(data: dict[str, Any]) -> str:
    pos, width, height = layout(data)
    types = sorted({layer["type"] for layer in data["layers"]})
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}
    producers: dict[str, str] = {t["name"]: f"in:{t['name']}" for t in data["inputs"]}
    for layer in data["layers"]:
        for t in layer["outputs"]:
            producers[t["name"]] = f"op:{layer['id']}"
    parts = [f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for layer in data["layers"]:
        x2, y2 = pos[f"op:{layer['id']}"]
        for t in layer["inputs"]:
            src = producers.get(t["name"])
            if src is None:
                continue
            x1, y1 = pos[src]
            ax, ay, bx, by = x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2
            mid = (ay + by) / 2
            if by - ay > GAP_Y + 1:         # skips rows: bow to the right of the nodes in between
                bow = NODE_W * 0.8
                curve = f"C{ax + bow:.0f},{ay + GAP_Y:.0f} {bx + bow:.0f},{by - GAP_Y:.0f} {bx:.0f},{by:.0f}"
                lx = (ax + bx) / 2 + bow * 0.75
            else:
                curve = f"C{ax:.0f},{mid:.0f} {bx:.0f},{mid:.0f} {bx:.0f},{by:.0f}"
                lx = (ax + bx) / 2 + 4
            label = f"{t['name']} {t['shape']} {t['dtype']}"
            parts.append(f'<g class="edge" data-tensor="{_e(t["name"])}"><title>{_e(label)}'
                         f'{_e(" " + t["encoding"]) if t["encoding"] else ""}</title>'
                         f'<path d="M{ax:.0f},{ay:.0f} {curve}" '
                         'fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#arrow)"/>'
                         f'<text class="edge-label" x="{lx:.0f}" y="{mid:.0f}">'
                         f'{_e(_clip(t["shape"], 20))}</text></g>')
    for t in data["inputs"]:
        x, y = pos[f"in:{t['name']}"]
        parts.append(f'<g class="node input" data-name="{_e(t["name"])}" data-type="input" '
                     f'data-search="{_e((t["name"] + " input").lower())}">'
                     f'<title>{_e(t["name"])} (graph input) {_e(t["shape"])} {_e(t["dtype"])}</title>'
                     f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="22" fill="{INPUT_FILL}" '
                     'stroke="#333"/>'
                     f'<text x="{x + NODE_W / 2:.0f}" y="{y + 19}" class="t1">{_e(_clip(t["name"]))}</text>'
                     f'<text x="{x + NODE_W / 2:.0f}" y="{y + 36}" class="t2">{_e(t["shape"])} '
                     f'{_e(t["dtype"])}</text></g>')
    for layer in data["layers"]:
        x, y = pos[f"op:{layer['id']}"]
        words = " ".join([layer["name"], layer["type"]] + [t["name"] for t in layer["inputs"] + layer["outputs"]
                                                           + layer["static"]])
        tip = f"{layer['id']}: {layer['name']} ({layer['type']})"
        for t in layer["outputs"]:
            tip += f"\n-> {t['name']} {t['shape']} {t['dtype']}"
        parts.append(f'<g class="node layer" id="node-{layer["id"]}" data-id="{layer["id"]}" '
                     f'data-name="{_e(layer["name"])}" data-type="{_e(layer["type"])}" '
                     f'data-search="{_e(words.lower())}"><title>{_e(tip)}</title>'
                     f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="5" '
                     f'fill="{colour[layer["type"]]}" stroke="#333"/>'
                     f'<text x="{x + NODE_W / 2:.0f}" y="{y + 19}" class="t1">{_e(_clip(layer["type"]))}</text>'
                     f'<text x="{x + NODE_W / 2:.0f}" y="{y + 36}" class="t2">{_e(_clip(layer["name"], 30))}'
                     '</text></g>')
    parts.append("</svg>")
    legend = "".join(f'<span class="key"><i style="background:{colour[t]}"></i>{_e(t)}</span>' for t in types)
    return "\n".join(parts), legend


def _tensor_list(ts: list[dict[str, Any]]) -> str:
    return "<br>".join(f"{_e(t['name'])} <span class=dim>{_e(t['shape'])} {_e(t['dtype'])}</span>" for t in ts)


def layer_table(data: dict[str, Any]) -> str:
    rows = []
    for layer in data["layers"]:
        encs = [f"{_e(t['name'])}: {_e(t['encoding'])}" for t in layer["static"] + layer["outputs"] if t["encoding"]]
        words = " ".join([layer["name"], layer["type"]] + [t["name"] for t in layer["inputs"] + layer["outputs"]
                                                           + layer["static"]])
        rows.append(f'<tr id="row-{layer["id"]}" data-search="{_e(words.lower())}"><td>{layer["id"]}</td>'
                    f'<td>{_e(layer["name"])}</td><td>{_e(layer["type"])}</td>'
                    f'<td>{_tensor_list(layer["inputs"])}</td><td>{_tensor_list(layer["outputs"])}</td>'
                    f'<td>{_tensor_list(layer["static"])}</td>'
                    f'<td>{"<br>".join(_e(p) for p in layer["params"])}</td><td>{"<br>".join(encs)}</td></tr>')
    return ("<table id=layers><thead><tr><th>Id</th><th>Name</th><th>Type</th><th>Inputs</th><th>Outputs</th>"
            "<th>Static tensors</th><th>Parameters</th><th>Encodings</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


STYLE = """
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222}
header{padding:10px 16px;background:#263238;color:#fff}
header h1{font-size:17px;margin:0 0 4px}
#toolbar{position:sticky;top:0;background:#eceff1;padding:8px 16px;z-index:2;border-bottom:1px solid #cfd8dc}
#search{width:320px;padding:4px 6px;font-size:13px}
#legend{margin-top:6px}.key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:12px;height:12px;border:1px solid #333;margin-right:4px;vertical-align:-2px}
#canvas{overflow:auto;max-height:70vh;border-bottom:1px solid #cfd8dc;background:#fafafa}
svg text{font-size:11px;text-anchor:middle;dominant-baseline:middle;pointer-events:none}
svg .t1{font-weight:600}svg .t2{fill:#444}svg .edge-label{font-size:9px;fill:#777;text-anchor:start}
.node{cursor:pointer}.node.match rect{stroke:#d32f2f;stroke-width:3}.node.dim{opacity:.25}
.node.selected rect{stroke:#1565c0;stroke-width:3}
table{border-collapse:collapse;margin:12px 16px;font-size:12px}
td,th{border:1px solid #cfd8dc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#eceff1}tr.hidden{display:none}tr.selected{background:#e3f2fd}.dim{color:#777}
#meta td:first-child{font-weight:600;white-space:nowrap}#meta td{word-break:break-all}
"""

SCRIPT = """
(function(){
  var data = JSON.parse(document.getElementById('model-data').textContent);
  var box = document.getElementById('search'), count = document.getElementById('match-count');
  var nodes = Array.prototype.slice.call(document.querySelectorAll('.node'));
  var rows = Array.prototype.slice.call(document.querySelectorAll('#layers tbody tr'));
  function apply(q){
    q = (q || '').trim().toLowerCase();
    var n = 0;
    nodes.forEach(function(g){
      var hit = q && g.getAttribute('data-search').indexOf(q) >= 0;
      g.classList.toggle('match', !!hit); g.classList.toggle('dim', !!q && !hit);
      if (hit && g.classList.contains('layer')) n++;
    });
    rows.forEach(function(r){ r.classList.toggle('hidden', !!q && r.getAttribute('data-search').indexOf(q) < 0); });
    count.textContent = q ? n + ' of ' + data.layers.length + ' layers match' : data.layers.length + ' layers';
  }
  box.addEventListener('input', function(){ apply(box.value); });
  nodes.forEach(function(g){
    g.addEventListener('click', function(){
      var id = g.getAttribute('data-id'); if (id === null) return;
      nodes.forEach(function(o){ o.classList.remove('selected'); });
      rows.forEach(function(r){ r.classList.remove('selected'); });
      g.classList.add('selected');
      var row = document.getElementById('row-' + id); row.classList.add('selected');
      row.scrollIntoView({block: 'center'});
    });
  });
  var m = /[#&]search=([^&]*)/.exec(location.hash);
  if (m) { box.value = decodeURIComponent(m[1]); }
  apply(box.value);
})();
"""


def page(path: str, data: dict[str, Any]) -> str:
    graph_svg, legend = svg(data)
    meta_rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in data["metadata"].items())
    io_rows = "".join(f"<tr><td>input</td><td>{_e(t['name'])}</td><td>{_e(t['shape'])}</td><td>{_e(t['dtype'])}"
                      f"</td><td>{_e(t['encoding'] or '')}</td></tr>" for t in data["inputs"])
    io_rows += "".join(f"<tr><td>output</td><td>{_e(n)}</td><td></td><td></td><td></td></tr>" for n in data["outputs"])
    blob = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{_e(os.path.basename(path))} - snpe-dlc-viewer</title><style>{STYLE}</style></head>
<body><header><h1>{_e(os.path.basename(path))}</h1><div>graph {_e(data['graph'])} &middot;
{len(data['layers'])} layers &middot; {_e(os.path.abspath(path))}</div></header>
<div id="toolbar"><input id="search" type="search" placeholder="Search layers, types, tensors" autocomplete="off">
<span id="match-count"></span><div id="legend">{legend}</div></div>
<div id="canvas">{graph_svg}</div>
<h2 style="margin:12px 16px 0;font-size:15px">Metadata</h2><table id="meta">{meta_rows}</table>
<h2 style="margin:12px 16px 0;font-size:15px">Inputs and outputs</h2>
<table id="io"><tr><th>Kind</th><th>Name</th><th>Dimensions</th><th>Type</th><th>Encoding</th></tr>{io_rows}</table>
<h2 style="margin:12px 16px 0;font-size:15px">Layers</h2>{layer_table(data)}
<script type="application/json" id="model-data">{blob}</script>
<script>{SCRIPT}</script></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    check_input_file(args.input_dlc, "-i/--input_dlc", "DLC", error=DLCError)
    check_not_input(args.save, [args.input_dlc], "-s/--save", "the input DLC")
    target = output_target(args.save, "-s/--save", "model.html")
    dlc = read_dlc(args.input_dlc)
    text = page(args.input_dlc, graph_data(dlc.graph, dlc.metadata))
    with atomic_output(target, ".html.tmp", f"-s/--save {args.save}: cannot write the HTML page: {{reason}}") as fh:
        fh.write(text.encode("utf-8"))
    print(f"Graph of {len(dlc.graph.ops)} layers written to {os.path.abspath(args.save)}")
    return 0


def entry() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    entry()

"""snpe-dlc-viewer: the HTML page is self-contained, escapes the model's strings, and renders in a browser.

The browser checks open the page in headless Chromium (Debian package ``chromium``; CI installs it when it
can): ``--dump-dom`` shows the DOM after the page's script ran (search from ``#search=``), ``--screenshot``
gives pixels that must show the layer boxes in their legend colours and the search highlight.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest

import helpers
from snpe_tools.dlc import Metadata, read_dlc, write_dlc
from snpe_tools.ir import Graph

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                    "(apt-get install chromium); the browser rendering checks need it")
HOSTILE = '</script><script>alert("x")</script><b onmouseover=alert(1)>&'


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """models/resnet_small.onnx converted, and its page."""
    d = tmp_path_factory.mktemp("viewer")
    dlc = str(d / "resnet_small.dlc")
    helpers.convert_in_process(str(helpers.ROOT) + "/models/resnet_small.onnx", dlc)
    page = d / "resnet_small.html"
    proc = helpers.run_tool("snpe-dlc-viewer", "-i", dlc, "-s", str(page))
    assert "written to" in proc.stdout
    return {"dlc": dlc, "page": page, "graph": read_dlc(dlc).graph, "html": page.read_text(encoding="utf-8")}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A DLC whose op and tensor names try to break out of the page."""
    d = tmp_path_factory.mktemp("hostile")
    g = Graph("g")
    g.add_input("in" + HOSTILE, (1, 4))
    g.add_op("Relu", ["in" + HOSTILE], ["out" + HOSTILE], name="op" + HOSTILE)
    g.outputs = ["out" + HOSTILE]
    dlc = str(d / "h.dlc")
    write_dlc(g, dlc, Metadata({"converter-command": HOSTILE, "converter-version": "0", "model-copyright": HOSTILE}))
    page = d / "h.html"
    helpers.run_tool("snpe-dlc-viewer", "-i", dlc, "-s", str(page))
    return page


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--host-resolver-rules=MAP * ~NOTFOUND", *args], capture_output=True, text=True,
                          timeout=120)


def read_png(path) -> np.ndarray:
    """Pixels (H, W, 3) of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):
            a = cur[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch)[:, :, :3].astype(np.uint8)


def test_page_is_self_contained(corpus):
    text = corpus["html"]
    assert text.startswith("<!DOCTYPE html>")
    # the only URL is the SVG namespace, which is a name, never fetched
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(link|img|iframe|object|embed)\b", text)
    assert not re.search(r"<script[^>]*\bsrc=", text) and "@import" not in text and "url(http" not in text
    assert "default-src 'none'" in text         # the page itself forbids any fetch


def test_page_lists_every_layer_tensor_and_metadata(corpus):
    g, text = corpus["graph"], corpus["html"]
    assert text.count('<g class="node layer"') == len(g.ops)
    assert text.count('<tr id="row-') == len(g.ops)
    producers = {o for op in g.ops for o in op.outputs} | set(g.inputs)
    edges = sum(1 for op in g.ops for i in op.inputs if i in producers)
    assert text.count('<g class="edge"') == edges
    for op in g.ops:
        assert f'data-name="{op.name}"' in text and f"<td>{op.type}</td>" in text
        for o in op.outputs:
            shape = "x".join(map(str, g.tensors[o].shape))
            assert f"{o} <span class=dim>{shape} Float_32</span>" in text
    assert "snpe-onnx-to-dlc" in text and "converter-version" in text       # metadata
    assert "stride: [2, 2]" in text                                            # parameters


def test_hostile_names_are_escaped(hostile):
    text = hostile.read_text(encoding="utf-8")
    assert "<script>alert" not in text and "<b onmouseover" not in text
    assert text.count("<script") == 2           # the JSON data block and the page's own script
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in text


@needs_chromium
def test_chromium_renders_the_graph_and_search(corpus):
    g = corpus["graph"]
    n_conv = sum(op.type == "Conv2d" for op in g.ops)
    proc = chromium("--dump-dom", corpus["page"].as_uri() + "#search=conv2d")
    dom = proc.stdout
    assert dom.count('class="node layer match"') == n_conv, proc.stderr[-2000:]
    assert dom.count('class="node layer dim"') == len(g.ops) - n_conv
    assert f"{n_conv} of {len(g.ops)} layers match" in dom
    assert dom.count('class="hidden"') == len(g.ops) - n_conv             # table rows filtered too
    plain = chromium("--dump-dom", corpus["page"].as_uri()).stdout
    assert f"{len(g.ops)} layers</span>" in plain
    assert 'class="node layer match"' not in plain and 'class="node layer dim"' not in plain


@needs_chromium
def test_chromium_screenshot_shows_nodes_and_highlight(corpus, tmp_path):
    shot = tmp_path / "shot.png"
    chromium("--window-size=1000,900", f"--screenshot={shot}", corpus["page"].as_uri() + "#search=conv2d")
    px = read_png(shot)
    assert px.shape == (900, 1000, 3)

    def count(rgb, tol=6):
        return int(np.sum(np.all(np.abs(px.astype(int) - np.array(rgb)) <= tol, axis=-1)))
    assert count((0xcf, 0xe2, 0xff)) > 2000          # Conv2d boxes (first legend colour) are drawn
    assert count((0xd3, 0x2f, 0x2f), tol=30) > 300     # the red outline of the search matches
    assert count((0x26, 0x32, 0x38)) > 20000         # the header bar


@needs_chromium
def test_chromium_shows_hostile_names_as_text(hostile):
    dom = chromium("--dump-dom", hostile.as_uri()).stdout
    assert "1 layers" in dom                           # the script ran despite the names
    assert "<script>alert" not in dom and "&lt;/script&gt;&lt;script&gt;alert" in dom


def test_default_output_and_errors(corpus, tmp_path):
    proc = helpers.run_tool("snpe-dlc-viewer", "-i", corpus["dlc"], cwd=str(tmp_path))
    assert (tmp_path / "model.html").read_text(encoding="utf-8").count('<g class="node layer"') == len(
        corpus["graph"].ops)
    assert str(tmp_path / "model.html") in proc.stdout
    bad = helpers.run_tool("snpe-dlc-viewer", "-i", str(tmp_path / "none.dlc"), "-s", str(tmp_path / "x.html"),
                           check=False)
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1 and not (tmp_path / "x.html").exists()
    same = helpers.run_tool("snpe-dlc-viewer", "-i", corpus["dlc"], "-s", corpus["dlc"], check=False)
    assert same.returncode == 1 and "destroy" in same.stderr and read_dlc(corpus["dlc"]).graph.ops

"""Quantization algorithms beyond tf min/max: preset encodings (overrides), histogram statistics, the
enhanced / adjusted / symmetric quantizers and qairt's calibration methods, 4/16-bit and per-row
weights, cross-layer equalization.  Each is checked on numbers with a property that fails if the
algorithm is broken, and through the command-line tools.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import dlc_conformance
import flatdump
import helpers
from snpe_tools.dlc import read_dlc
from snpe_tools.dlc.writer import write_dlc
from snpe_tools.ir import packing
from snpe_tools.ir.graph import Encoding
from snpe_tools.quantization import QuantOptions, calibrate, quantize_graph
from snpe_tools.quantization.algorithms import adjusted_encoding, select_encoding, select_range
from snpe_tools.ir.encodings import (dequantize_array, quantize_array, symmetric_encoding,
                                     tf_encoding)
from snpe_tools.quantization.statistics import MAX_BINS, HistogramStats, histogram_of
from snpe_tools.tools.common import run_main
from snpe_tools.tools.dlc_quantize import qairt_main, quant_main
from test_quantization import _calibration_set, _cosines, _outputs, spread, spread_cnn  # noqa: F401 (fixture)


def _to_dlc(path, nodes, inits, in_shape: list[int], out_shape: list[int]) -> str:
    """Save the ONNX graph ``x -> nodes -> y`` at ``path``.onnx and convert it to ``path``.dlc."""
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path) + ".onnx")
    helpers.convert_in_process(str(path) + ".onnx", str(path) + ".dlc")
    return str(path) + ".dlc"


def _conv_model(path, seed: int = 3) -> str:
    """x -> Conv(w1,b1) -> Relu -> Conv(w2,b2) -> y, converted to a float DLC at ``path``."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3, "w1"),
             numpy_helper.from_array(rng.uniform(-0.1, 0.1, 4).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((5, 4, 1, 1)).astype(np.float32) * 0.3, "w2"),
             numpy_helper.from_array(rng.uniform(-0.1, 0.1, 5).astype(np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["y"], name="conv2")]
    return _to_dlc(path, nodes, inits, [1, 3, 8, 8], [1, 5, 8, 8])


def _feeds(graph, n: int, seed: int = 1):
    shape = graph.tensors[graph.inputs[0]].shape
    rng = np.random.default_rng(seed)
    return [{graph.inputs[0]: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(n)]


# ---- preset encodings -------------------------------------------------------------------------------
def test_preset_encodings_are_kept_exactly_and_bias_follows(tmp_path):
    dlc = _conv_model(tmp_path / "m")
    graph = read_dlc(dlc).graph
    conv1 = next(op for op in graph.ops if op.type == "Conv2d")
    x, w1, b1 = conv1.inputs[:3]
    relu_out = next(op for op in graph.ops if op.type != "Conv2d").outputs[0]
    feeds = _feeds(graph, 4)
    stats = calibrate(graph, iter(feeds), len(feeds), progress=False)
    x_enc = tf_encoding(-4.0, 4.0, 8)                       # wider than the data ([-1, 1])
    w_enc = symmetric_encoding(2.0, 8)                      # wider than the weights
    r_enc = tf_encoding(0.0, 0.5, 16)                       # a 16-bit activation among 8-bit ones
    opts = QuantOptions(bias_bitwidth=32, preset={x: x_enc, w1: w_enc, relu_out: r_enc})
    summary = quantize_graph(graph, stats, opts)
    assert graph.tensors[x].encoding is x_enc and graph.tensors[w1].encoding is w_enc
    assert graph.tensors[relu_out].encoding is r_enc and graph.tensors[relu_out].dtype == np.uint16
    assert summary.activations[x] is x_enc and summary.params[w1] == ("weight", w_enc)
    assert graph.tensors[w1].dtype == np.int8
    # the 32-bit bias follows from the preset input and weight encodings
    b_enc = graph.tensors[b1].encoding
    assert b_enc.bitwidth == 32 and b_enc.scale == pytest.approx(x_enc.scale * w_enc.scale)
    # tensors without a preset are still calibrated
    y = graph.outputs[0]
    assert graph.tensors[y].encoding.min == pytest.approx(min(0.0, stats[y].min), abs=graph.tensors[y].encoding.scale)


# ---- histogram statistics ---------------------------------------------------------------------------
def test_histogram_independent_of_batching_and_order_and_bounded():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(5), rng.standard_normal(20000) * 1e-3, rng.standard_normal(500) * 3, [50.0]])
    results = []
    for order in (x, x[::-1], rng.permutation(x)):
        for batch in (1, 7, 4096):
            h = HistogramStats()
            for i in range(0, len(order), batch):
                h.update(order[i:i + batch].reshape(-1, 1))       # a batch stacked on axis 0
            results.append((h.histogram(), h.min, h.max, h.zeros))
    (counts, edges), mn, mx, zeros = results[0]
    for (c, e), a, b, z in results[1:]:
        assert np.array_equal(c, counts) and np.array_equal(e, edges) and (a, b, z) == (mn, mx, zeros)
    assert counts.sum() == x.size and zeros == 5 and len(counts) <= MAX_BINS
    assert edges[0] <= mn and edges[-1] > mx and (mn, mx) == (x.min(), x.max())
    # the same histogram as computed directly from all values at the final bin width
    direct = np.bincount((np.floor(x / (edges[1] - edges[0])) - round(edges[0] / (edges[1] - edges[0]))).astype(int))
    assert np.array_equal(direct, counts.astype(int))


def test_histogram_skips_nonfinite_values():
    h = HistogramStats()
    h.update(np.array([1.0, np.nan, -2.0, np.inf]))
    assert h.histogram()[0].sum() == 2 and h.nonfinite == 1 and (h.min, h.max) == (-2.0, 1.0)


# ---- range selection ----------------------------------------------------------------------------------
def _mse(enc, x) -> float:
    return float(np.mean((dequantize_array(enc, quantize_array(enc, x)) - x) ** 2))


@pytest.fixture(scope="module")
def outlier_data():
    """1M Gaussian values and one outlier at 60 sigma (0.0001 %)."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(1_000_000), [60.0]])
    return x, histogram_of(x)


@pytest.mark.parametrize("method", ["enhanced", "sqnr", "mse", "entropy", "percentile"])
@pytest.mark.parametrize("schema", ["asymmetric", "symmetric"])
def test_searches_ignore_the_outlier_and_beat_min_max(outlier_data, method, schema):
    x, st = outlier_data
    tf = select_encoding(st, "min-max", schema, 8)
    enc = select_encoding(st, method, schema, 8)
    lo, hi = select_range(st, method, schema, 8)
    assert x.min() <= lo <= 0.0 <= hi <= x.max()                # inside the observed min-max
    assert tf.max >= x.max() - tf.scale
    # the squared-error searches trade clipping the outlier against a finer step (sqnr weighs clipping 3x;
    # mse shrinks both ends together); entropy and percentile drop it entirely
    assert enc.max < (0.2 if method in ("entropy", "percentile") else 0.7) * x.max()
    assert _mse(enc, x) < 0.75 * _mse(tf, x), (method, _mse(enc, x), _mse(tf, x))


def test_enhanced_on_the_bulk_is_much_finer(outlier_data):
    x, st = outlier_data
    enc, tf = select_encoding(st, "enhanced", "asymmetric", 8), select_encoding(st, "min-max", "asymmetric", 8)
    bulk = x[:-1]
    assert enc.scale < tf.scale / 2 and _mse(enc, bulk) < _mse(tf, bulk) / 4


def test_searches_keep_min_max_when_nothing_is_clippable():
    """Uniform data: any clipping costs more than it saves, so every search keeps (about) the full range."""
    x = np.random.default_rng(2).uniform(-1.0, 3.0, 200_000)
    st = histogram_of(x)
    for method in ("enhanced", "sqnr", "mse", "entropy"):
        lo, hi = select_range(st, method, "asymmetric", 8)
        assert lo < -0.95 and hi > 2.9, (method, lo, hi)


def test_sqnr_clips_less_than_enhanced():
    """sqnr weighs clipping noise 3x: on a long (Laplace) tail it keeps a wider range than enhanced/mse."""
    x = np.random.default_rng(3).laplace(0.0, 1.0, 500_000)
    st = histogram_of(x)
    r = {m: select_range(st, m, "asymmetric", 8) for m in ("enhanced", "sqnr")}
    assert r["sqnr"][1] > r["enhanced"][1] and r["sqnr"][0] < r["enhanced"][0]
    assert r["enhanced"][1] < 0.8 * x.max()


@pytest.mark.parametrize("p", [99.99, 99.0, 90.0])
def test_percentile_clips_at_the_quantile(p):
    x = np.random.default_rng(4).standard_normal(300_000) * 2.0 + 0.5
    st = histogram_of(x)
    lo, hi = select_range(st, "percentile", "asymmetric", 8, percentile=p)
    width = st.width
    assert abs(hi - np.percentile(x, p)) <= width and abs(lo - np.percentile(x, 100 - p)) <= width
    enc = select_encoding(st, "percentile", "asymmetric", 8, percentile=p)
    assert enc.max == pytest.approx(hi, abs=enc.scale) and enc.min == pytest.approx(lo, abs=enc.scale)


def test_symmetric_and_unsigned_symmetric_schemas():
    rng = np.random.default_rng(5)
    x = rng.uniform(-0.7, 2.0, 1000)
    sym = select_encoding(histogram_of(x), "min-max", "symmetric", 8)
    assert sym.offset == 0 and sym.scale == pytest.approx(x.max() / 127) and sym.min == pytest.approx(-128 * sym.scale)
    assert quantize_array(sym, x).dtype == np.int8
    r = np.maximum(x, 0)
    usym = select_encoding(histogram_of(r), "min-max", "unsignedsymmetric", 8)
    assert usym.offset == 0 and usym.min == 0 and usym.scale == pytest.approx(r.max() / 255)
    assert quantize_array(usym, r).dtype == np.uint8 and quantize_array(usym, r).max() == 255
    # negative values: unsignedsymmetric falls back to the signed symmetric grid
    assert select_encoding(histogram_of(x), "min-max", "unsignedsymmetric", 8) == sym
    s16 = select_encoding(histogram_of(x), "min-max", "symmetric", 16)
    assert s16.scale == pytest.approx(x.max() / 32767) and quantize_array(s16, x).dtype == np.int16


def test_adjusted_covers_the_true_range_with_zero_exact():
    for mn, mx in ((-1.8, 0.5), (-5.1, 5.1), (-0.37, 2.9), (-7.3, 0.2), (0.0, 3.0)):
        adj, tf = adjusted_encoding(mn, mx, 8), tf_encoding(mn, mx, 8)
        assert adj.min <= mn + 1e-12 and adj.max >= mx - 1e-12                  # nothing clipped
        assert -255 <= adj.offset <= 0 and quantize_array(adj, np.zeros(1))[0] == -adj.offset
        assert adj.scale <= tf.scale * (1 + 2 / 255) + 1e-15
        x = np.array([mn, mx])
        assert np.all(np.abs(dequantize_array(adj, quantize_array(adj, x)) - x) <= adj.scale / 2 + 1e-12)
    # tf shifts [-1.8, 0.5] to [-1.803922, 0.496078] and clips 0.5; adjusted widens instead
    assert tf_encoding(-1.8, 0.5, 8).max < 0.5 <= adjusted_encoding(-1.8, 0.5, 8).max


# ---- through the command-line tools -------------------------------------------------------------------
@pytest.fixture(scope="module")
def float_out(spread):
    """snpe-net-run outputs of the float DLC of test_quantization's ``spread`` model on its calibration set."""
    out = spread["dir"] / "float_out_alg"
    helpers.run_tool("snpe-net-run", "--container", spread["dlc"], "--input_list", spread["list"], "--output_dir",
                     str(out))
    return out


def _quant(tmp_path, spread, main, *args) -> str:
    out = str(tmp_path / f"q{len(list(tmp_path.iterdir()))}.dlc")
    io = ["-i", spread["dlc"], "-l", spread["list"], "-o", out] if main is qairt_main else \
        [f"--input_dlc={spread['dlc']}", f"--input_list={spread['list']}", f"--output_dlc={out}"]
    assert run_main(main, io + list(args)) == 0
    return out


def _net_run_cosine(tmp_path, spread, dlc: str) -> float:
    qout = tmp_path / ("out_" + os.path.basename(dlc))
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", spread["list"], "--output_dir", str(qout))
    return min(_cosines(_outputs(spread["dir"] / "float_out_alg"), _outputs(qout)))


def _act_encodings(dlc: str) -> dict:
    g = read_dlc(dlc).graph
    names = [g.inputs[0]] + [o for op in g.ops for o in op.outputs]
    return {n: g.tensors[n].encoding for n in names if g.tensors[n].encoding is not None}


@pytest.mark.parametrize("method", ["sqnr", "entropy", "mse", "percentile"])
def test_qairt_calibration_methods(spread, float_out, tmp_path, method):
    base = _act_encodings(_quant(tmp_path, spread, qairt_main))
    extra = ["--percentile_calibration_value", "99.9"] if method == "percentile" else []
    out = _quant(tmp_path, spread, qairt_main, "--act_quantizer_calibration", method,
                 "--param_quantizer_calibration", method, *extra)
    encs = _act_encodings(out)
    assert set(encs) == set(base)
    narrower = 0
    for n, e in encs.items():               # every selected range lies inside the min-max one
        assert e.min >= base[n].min - base[n].scale and e.max <= base[n].max + base[n].scale, (n, e, base[n])
        narrower += e.max - e.min < 0.98 * (base[n].max - base[n].min)
    if method in ("percentile", "entropy"):
        assert narrower >= len(encs) // 2, (method, narrower)
    meta = zipfile.ZipFile(out).read("dlc.metadata").decode()
    assert f"act_quantizer_calibration='{method}'" in meta
    if method == "percentile":
        assert "percentile_calibration_value=99.9" in meta
    # entropy (KL) clips activations hardest: it keeps the distribution's shape, not the squared error
    assert _net_run_cosine(tmp_path, spread, out) >= (0.98 if method == "entropy" else 0.99)


def test_qairt_symmetric_schemas(spread, float_out, tmp_path):
    out = _quant(tmp_path, spread, qairt_main, "--act_quantizer_schema", "symmetric",
                 "--param_quantizer_schema", "symmetric")
    g = read_dlc(out).graph
    y = g.tensors[g.outputs[0]]             # symmetric activations as SNPE keeps them: uFxp, offset -2^(bw-1)
    assert y.dtype == np.uint8 and y.encoding.offset == -128
    assert y.encoding.min == pytest.approx(-128 * y.encoding.scale) and y.encoding.max == pytest.approx(
        127 * y.encoding.scale)
    assert g.tensors["w1"].dtype == np.int8 and g.tensors["w1"].encoding.offset == 0
    assert _net_run_cosine(tmp_path, spread, out) >= 0.99
    out = _quant(tmp_path, spread, qairt_main, "--act_quantizer_schema", "unsignedsymmetric")
    g = read_dlc(out).graph
    relu = next(op for op in g.ops if op.type == "Relu").outputs[0]
    e = g.tensors[relu].encoding                # non-negative data: unsigned grid from 0, offset 0
    assert g.tensors[relu].dtype == np.uint8 and e.offset == 0 and e.min == 0
    assert g.tensors[g.outputs[0]].encoding.offset == -128       # signed data: symmetric
    assert _net_run_cosine(tmp_path, spread, out) >= 0.99


def test_snpe_enhanced_adjusted_symmetric_and_deprecated_spellings(spread, float_out, tmp_path, capsys):
    new = _quant(tmp_path, spread, quant_main, "--param_quantizer=enhanced", "--act_quantizer=enhanced")
    old = _quant(tmp_path, spread, quant_main, "--use_enhanced_quantizer")
    err = capsys.readouterr().err
    assert "--use_enhanced_quantizer option is deprecated, use --param_quantizer and --act_quantizer options" in err
    assert _act_encodings(new) == _act_encodings(old)
    assert _net_run_cosine(tmp_path, spread, new) >= 0.99
    adj = _quant(tmp_path, spread, quant_main, "--use_adjusted_weights_quantizer")
    assert "--use_adjusted_weights_quantizer option is deprecated" in capsys.readouterr().err
    w_true = numpy_helper.to_array(next(i for i in spread_cnn().graph.initializer if i.name == "w2"))
    w = read_dlc(adj).graph.tensors["w2"].encoding
    assert w.min <= w_true.min() and w.max >= w_true.max() and w.bitwidth == 8
    sym = _quant(tmp_path, spread, quant_main, "--act_quantizer=symmetric")
    y = read_dlc(sym).graph.tensors["y"]
    assert y.encoding.offset == -128 and y.dtype == np.uint8 and _net_run_cosine(tmp_path, spread, sym) >= 0.99


@pytest.mark.parametrize("tool,args,needle", [
    ("qairt-quantizer", ["--act_quantizer_calibration", "percentile", "--percentile_calibration_value", "80"],
     "--percentile_calibration_value"),
    ("qairt-quantizer", ["--percentile_calibration_value", "99"], "--percentile_calibration_value"),
    ("qairt-quantizer", ["--act_quantizer", "enhanced", "--act_quantizer_calibration", "mse"], "--act_quantizer"),
    ("snpe-dlc-quant", ["--param_quantizer=adjusted", "--weights_bitwidth=16"], "--param_quantizer"),
    ("snpe-dlc-quant", ["--use_enhanced_quantizer", "--act_quantizer=symmetric"], "--use_enhanced_quantizer"),
])
def test_algorithm_option_errors_are_one_line(spread, tmp_path, tool, args, needle):
    out = tmp_path / "never.dlc"
    proc = helpers.run_tool(tool, "--input_dlc", spread["dlc"], "--input_list", spread["list"], "--output_dlc",
                            str(out), *args, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
    assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
    assert not out.exists()


# ---- 4/16-bit and per-row weights --------------------------------------------------------------------
def _sqnr_db(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    return float(np.mean([10 * np.log10(np.sum(r.astype(np.float64) ** 2) / np.sum((r - g) ** 2.0))
                          for r, g in zip(ref, got)]))


def _net_run(tmp_path, spread, dlc: str) -> list[np.ndarray]:
    qout = tmp_path / ("out_" + os.path.basename(dlc))
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", spread["list"], "--output_dir", str(qout))
    return _outputs(qout)


@pytest.mark.parametrize("main", [qairt_main, quant_main])
def test_4bit_and_16bit_weights(spread, float_out, tmp_path, main):
    sep = " " if main is qairt_main else "="
    ref = _outputs(float_out)
    runs = {}
    for bw in (4, 8, 16):
        args = f"--weights_bitwidth{sep}{bw}".split(" ") + ["--use_per_channel_quantization"]
        args += f"--bias_bitwidth{sep}32".split(" ")
        out = _quant(tmp_path, spread, main, *args)
        g = read_dlc(out).graph
        w = g.tensors["w2"]
        assert w.encoding.bitwidth == bw and w.encoding.axis == 3
        assert w.dtype == (np.int16 if bw == 16 else np.int8)             # 4-bit: one value per int8
        q = np.asarray(w.data)
        half = 1 << (bw - 1)
        assert q.min() >= -half and q.max() <= half - 1 and q.max() == half - 1 or q.min() == -half + 1
        if bw == 4:
            assert len(np.unique(q)) <= 15
        got = _net_run(tmp_path, spread, out)
        runs[bw] = (_sqnr_db(ref, got), min(_cosines(ref, got)))
    assert runs[4][0] < runs[8][0] < runs[16][0], runs                     # more bits, less error
    assert runs[4][1] >= 0.95 and runs[8][1] >= 0.99 and runs[16][1] >= 0.99, runs


def test_4bit_per_tensor_weights_unsigned(spread, float_out, tmp_path):
    out = _quant(tmp_path, spread, qairt_main, "--weights_bitwidth", "4")
    w = read_dlc(out).graph.tensors["w1"]
    assert w.dtype == np.uint8 and w.encoding.bitwidth == 4 and -15 <= w.encoding.offset <= 0
    assert np.asarray(w.data).max() <= 15
    assert min(_cosines(_outputs(float_out), _net_run(tmp_path, spread, out))) >= 0.9


# ---- packed 4-bit weights (--pack_4_bit_weights) ------------------------------------------------------
def test_packing_matches_snpes_documented_layout():
    """SNPE's documentation: (10, 4) packs to 0100 1010 (first value in the low nibble); per-channel
    values are packed channel by channel, 27 values -> 14 bytes, for its (3, 3, 3, 32) convolution weight
    whose channels are on the HWIO axis 3."""
    per_tensor = Encoding(4, 0.1, 0, 0.0, 1.5)
    assert packing.pack(np.array([10, 4], np.uint8), per_tensor).tolist() == [0b01001010]
    assert packing.pack(np.array([10, 4, 7], np.uint8), per_tensor).tolist() == [0b01001010, 0b00000111]
    rng = np.random.default_rng(0)
    chans = Encoding(4, 0.1, 0, -0.8, 0.7, axis=0, channels=[(0.1, 0, -0.8, 0.7)] * 32)
    q = rng.integers(-8, 8, (32, 3, 3, 3)).astype(np.int8)
    raw = packing.pack(q, chans)
    assert raw.size == packing.packed_size(q.shape, chans) == 32 * 14
    assert raw[13] >> 4 == 0 and raw[14] & 0x0F == q[1, 0, 0, 0] & 0x0F     # channel 1 starts a new byte
    assert np.array_equal(packing.unpack(raw, q.shape, True, chans), q)
    flat = Encoding(4, 0.1, 0, -0.8, 0.7)
    assert np.array_equal(packing.unpack(packing.pack(q, flat), q.shape, True, flat), q)
    assert packing.pack(q, flat).size == (q.size + 1) // 2

    hwio = Encoding(4, 0.1, 0, -0.8, 0.7, axis=3, channels=[(0.1, 0, -0.8, 0.7)] * 32)
    w = np.ascontiguousarray(q.transpose(1, 2, 3, 0))                  # the same values as HWIO (3, 3, 3, 32)
    raw_hwio = packing.pack(w, hwio)
    assert raw_hwio.size == packing.packed_size(w.shape, hwio) == 32 * 14 == 448   # flat: 432
    assert np.array_equal(raw_hwio, raw)                 # channel c's 14 bytes hold w[..., c] in (h, w, i) order
    assert raw_hwio[14] & 0x0F == w[0, 0, 0, 1] & 0x0F and raw_hwio[14] >> 4 == w[0, 0, 1, 1] & 0x0F
    assert np.array_equal(packing.unpack(raw_hwio, w.shape, True, hwio), w)
    u = rng.integers(0, 16, (2, 9, 6)).astype(np.uint8)                 # per-row MatMul weights: rows on axis 2
    rows = Encoding(4, 0.1, 0, 0.0, 1.5, axis=2, channels=[(0.1, 0, 0.0, 1.5)] * 6)
    assert packing.packed_size(u.shape, rows) == 6 * 9
    assert np.array_equal(packing.unpack(packing.pack(u, rows), u.shape, False, rows), u)
    assert packing.layout_problem((3, 3, 3, 32), hwio) is None
    assert "outside its shape" in packing.layout_problem((32,), hwio)


def _file_tensors(path: str) -> dict:
    return {t["name"]: t for t in flatdump.load(path)["graphs"][0]["tensors"]}


@pytest.mark.parametrize("main", [quant_main, qairt_main])
def test_4bit_weights_packed_two_per_byte(spread, float_out, tmp_path, main):
    """Packed and unpacked 4-bit DLCs hold the same values and run identically; the packed file types
    the weights uFxp_4 (0x0404) and stores ceil(n / 2) bytes, low nibble first."""
    sep = " " if main is qairt_main else "="
    bw = f"--weights_bitwidth{sep}4".split(" ")
    plain, packed = _quant(tmp_path, spread, main, *bw), _quant(tmp_path, spread, main, *bw, "--pack_4_bit_weights")
    f_plain, f_packed = _file_tensors(plain), _file_tensors(packed)
    weights = [n for n, t in f_plain.items() if t["quant"] and (t["quant"]["per_tensor"] or {}).get("bw") == 4]
    assert sorted(weights) == ["w1", "w2", "w3"]
    for name, t in f_packed.items():
        if name not in weights:                      # everything else is written exactly as before
            assert t["dtype"] == f_plain[name]["dtype"] and np.array_equal(t["data"], f_plain[name]["data"]), name
            continue
        values = np.asarray(f_plain[name]["data"]).reshape(-1)
        assert f_plain[name]["dtype"] == 0x0408 and t["dtype"] == 0x0404 and t["quant"] == f_plain[name]["quant"]
        raw = np.asarray(t["data"], np.uint8)
        assert raw.size == (values.size + 1) // 2
        assert np.array_equal(raw & 0x0F, values[0::2]) and np.array_equal(raw[: values.size // 2] >> 4, values[1::2])
    assert dlc_conformance.violations(packed) == []
    g_plain, g_packed = read_dlc(plain).graph, read_dlc(packed).graph
    for name in weights:
        assert g_packed.tensors[name].encoding.packed and not g_plain.tensors[name].encoding.packed
        assert np.array_equal(g_packed.tensors[name].data, g_plain.tensors[name].data)
    assert _outputs_of(tmp_path, spread, packed) == _outputs_of(tmp_path, spread, plain)
    info = helpers.run_tool("snpe-dlc-info", "-i", packed).stdout
    assert "uFxp_4" in info and "uFxp_4" not in helpers.run_tool("snpe-dlc-info", "-i", plain).stdout
    rewritten = str(tmp_path / "rewritten.dlc")               # the reader keeps the packing on a rewrite
    write_dlc(g_packed, rewritten, read_dlc(packed).metadata)
    assert {n: t["dtype"] for n, t in _file_tensors(rewritten).items()} == {n: t["dtype"] for n, t in f_packed.items()}


def _outputs_of(tmp_path, spread, dlc: str) -> list[bytes]:
    out = tmp_path / ("out_" + os.path.basename(dlc))
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", spread["list"], "--output_dir", str(out))
    return [o.tobytes() for o in _outputs(out)]


def test_packed_per_channel_conv_weights(spread, tmp_path):
    """Per-channel convolution weights (channels on the HWIO axis 3) pack channel by channel: w1's 27
    values a channel take 14 bytes as in SNPE's example, w2's 72 take 36, w3's 8 take 4; the packed DLC
    holds the same values as the unpacked one and runs identically."""
    args = ["--weights_bitwidth=4", "--use_per_channel_quantization"]
    plain, packed = (_quant(tmp_path, spread, quant_main, *args, *extra) for extra in ([], ["--pack_4_bit_weights"]))
    f_plain, f_packed = _file_tensors(plain), _file_tensors(packed)
    for name, (hwi, o) in {"w1": (27, 8), "w2": (72, 8), "w3": (8, 8)}.items():
        values = np.asarray(f_plain[name]["data"]).reshape(hwi, o)          # HWIO, flattened to (h*w*i, o)
        raw = np.asarray(f_packed[name]["data"], np.uint8).reshape(o, (hwi + 1) // 2)
        assert f_plain[name]["dtype"] == 0x0308 and f_packed[name]["dtype"] == 0x0304, name
        assert f_packed[name]["quant"] == f_plain[name]["quant"] and f_packed[name]["quant"]["channels"] is not None
        assert np.array_equal(raw & 0x0F, values[0::2].T & 0x0F), name
        assert np.array_equal(raw[:, : hwi // 2] >> 4, values[1::2].T & 0x0F), name
        if hwi % 2:
            assert not np.any(raw[:, -1] >> 4), name                       # each channel ends in a pad nibble
    assert dlc_conformance.violations(packed) == []
    g_plain, g_packed = read_dlc(plain).graph, read_dlc(packed).graph
    for name in ("w1", "w2", "w3"):
        assert np.array_equal(g_packed.tensors[name].data, g_plain.tensors[name].data)
    assert _outputs_of(tmp_path, spread, packed) == _outputs_of(tmp_path, spread, plain)


def test_packed_per_row_weights(tmp_path):
    """FullyConnected rows ([out, in], axis 0) pack row by row: 9 values a row -> 5 bytes, so 7 rows take
    35 bytes (a flat packing would take 32); a batched MatMul weight [B, K, N] has its rows on the last axis:
    each of the N rows packs its B*K values on its own."""
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.standard_normal((7, 9)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(7).astype(np.float32), "b")]
    dlc = _to_dlc(tmp_path / "fc", [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], inits, [1, 9], [1, 7])
    lst = _calibration_set(tmp_path, dlc)
    common = ["-i", dlc, "-l", lst, "--weights_bitwidth", "4", "--use_per_row_quantization"]
    plain, packed = str(tmp_path / "plain.dlc"), str(tmp_path / "packed.dlc")
    assert run_main(qairt_main, common + ["-o", plain]) == 0
    assert run_main(qairt_main, common + ["-o", packed, "--pack_4_bit_weights"]) == 0
    (name,) = [n for n, t in _file_tensors(packed).items() if t["dtype"] == 0x0304]
    rows = np.asarray(_file_tensors(plain)[name]["data"]).reshape(7, 9)
    raw = np.asarray(_file_tensors(packed)[name]["data"], np.uint8).reshape(7, 5)
    assert _file_tensors(packed)[name]["quant"]["channels"] is not None
    assert np.array_equal(raw[:, :4] & 0x0F, rows[:, 0:8:2] & 0x0F) and np.array_equal(raw[:, :4] >> 4, rows[:, 1::2] & 0x0F)
    assert np.array_equal(raw[:, 4] & 0x0F, rows[:, 8] & 0x0F) and not np.any(raw[:, 4] >> 4)
    assert np.array_equal(read_dlc(packed).graph.tensors[name].data, read_dlc(plain).graph.tensors[name].data)
    assert dlc_conformance.violations(packed) == []

    matmul = _to_dlc(tmp_path / "mm", [helper.make_node("MatMul", ["x", "w"], ["y"])],       # batched: stays MatMul
                     [numpy_helper.from_array(rng.standard_normal((2, 9, 6)).astype(np.float32), "w")], [2, 4, 9],
                     [2, 4, 6])
    common = ["-i", matmul, "-l", _calibration_set(tmp_path, matmul), "--weights_bitwidth", "4",
              "--use_per_row_quantization"]
    plain, packed = str(tmp_path / "mm_plain.dlc"), str(tmp_path / "mm_packed.dlc")
    assert run_main(qairt_main, common + ["-o", plain]) == 0
    assert run_main(qairt_main, common + ["-o", packed, "--pack_4_bit_weights"]) == 0
    (name,) = [n for n, t in _file_tensors(packed).items() if t["dtype"] == 0x0304]
    cols = np.asarray(_file_tensors(plain)[name]["data"]).reshape(18, 6)    # rows on the last axis: 6 x 18 values
    raw = np.asarray(_file_tensors(packed)[name]["data"], np.uint8).reshape(6, 9)
    assert np.array_equal(raw & 0x0F, cols[0::2].T & 0x0F) and np.array_equal(raw >> 4, cols[1::2].T & 0x0F)
    assert np.array_equal(read_dlc(packed).graph.tensors[name].data, read_dlc(plain).graph.tensors[name].data)


def test_truncated_packed_weights_are_a_one_line_error(tmp_path, monkeypatch):
    """A packed tensor whose byte count does not match ceil(n / 2) is reported, not misread."""
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.standard_normal((7, 9)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(7).astype(np.float32), "b")]
    dlc = _to_dlc(tmp_path / "fc", [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], inits, [1, 9], [1, 7])
    packed = str(tmp_path / "packed.dlc")
    assert run_main(qairt_main, ["-i", dlc, "-l", _calibration_set(tmp_path, dlc), "-o", packed, "--weights_bitwidth",
                                 "4", "--pack_4_bit_weights"]) == 0
    d = read_dlc(packed)
    real_pack = packing.pack
    monkeypatch.setattr(packing, "pack", lambda q, enc: real_pack(q, enc)[:-1])
    bad = str(tmp_path / "bad.dlc")
    write_dlc(d.graph, bad, d.metadata)
    proc = helpers.run_tool("snpe-dlc-info", "-i", bad, check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "31 bytes of packed 4-bit data, expected 32" in lines[0] and "corrupt" in lines[0]


def test_pack_without_4bit_weights_warns(spread, tmp_path, capfd):
    out = _quant(tmp_path, spread, quant_main, "--pack_4_bit_weights")
    assert "WARNING - --pack_4_bit_weights: no weight is 4-bit, nothing is packed" in capfd.readouterr().err
    assert 0x0304 not in {t["dtype"] for t in _file_tensors(out).values()}


def _fc_model(path) -> str:
    """FullyConnected layers (a 3-D MatMul and a Gemm) whose output rows differ 100x in weight scale."""
    rng = np.random.default_rng(9)
    w0 = (rng.standard_normal((16, 24)) * np.geomspace(0.01, 1, 24)[None, :]).astype(np.float32)
    w1 = (rng.standard_normal((8, 96)) * np.geomspace(0.01, 1, 8)[:, None]).astype(np.float32)
    inits = [numpy_helper.from_array(w0, "w0"), numpy_helper.from_array(w1, "w1"),
             numpy_helper.from_array(rng.uniform(-0.05, 0.05, 8).astype(np.float32), "b1"),
             numpy_helper.from_array(np.array([1, 96], np.int64), "shp")]
    nodes = [helper.make_node("MatMul", ["x", "w0"], ["m"]), helper.make_node("Relu", ["m"], ["r"]),
             helper.make_node("Reshape", ["r", "shp"], ["f"]), helper.make_node("Gemm", ["f", "w1", "b1"], ["y"], transB=1)]
    return _to_dlc(path, nodes, inits, [1, 4, 16], [1, 8])


@pytest.fixture(scope="module")
def fc(tmp_path_factory):
    d = tmp_path_factory.mktemp("quant_fc")
    dlc = _fc_model(d / "fc")
    lst = _calibration_set(d, dlc)
    helpers.run_tool("snpe-net-run", "--container", dlc, "--input_list", lst, "--output_dir", str(d / "float_out_alg"))
    return {"dir": d, "dlc": dlc, "list": lst}


@pytest.mark.parametrize("main", [qairt_main, quant_main])
def test_per_row_weights(fc, tmp_path, main):
    g = read_dlc(fc["dlc"]).graph
    fcs = [op for op in g.ops if op.type == "FullyConnected"]
    assert len(fcs) == 2
    ref = _outputs(fc["dir"] / "float_out_alg")
    per_tensor = _quant(tmp_path, fc, main)
    bias32 = ["--bias_bitwidth", "32"] if main is qairt_main else ["--bias_bitwidth=32"]
    per_row = _quant(tmp_path, fc, main, "--use_per_row_quantization", *bias32)
    row_bias = _quant(tmp_path, fc, main, "--use_per_row_quantization", *bias32, "--enable_per_row_quantized_bias")
    q, qb = read_dlc(per_row).graph, read_dlc(row_bias).graph
    for op in fcs:
        w, b = q.tensors[op.inputs[1]], q.tensors[op.inputs[2]]
        x = q.tensors[op.inputs[0]]
        n_out = w.shape[0]                                   # FullyConnected weights are [n_out, k_in]
        assert w.encoding.axis == 0 and len(w.encoding.channels) == n_out and w.dtype == np.int8
        assert all(c[1] == 0 for c in w.encoding.channels)  # per-axis encodings are symmetric
        assert np.all(np.abs(np.asarray(w.data)).max(axis=1) == 127)     # every row uses its full range
        w_scales = np.array([c[0] for c in w.encoding.channels])
        # SNPE's default: one bias scale (here the coarsest row's input x weight scale) ...
        assert b.encoding.bitwidth == 32 and b.encoding.axis is None
        assert np.isclose(b.encoding.scale, x.encoding.scale * w_scales.max(), rtol=1e-6)
        # ... and per row with --enable_per_row_quantized_bias
        bb = qb.tensors[op.inputs[2]]
        assert bb.encoding.bitwidth == 32 and bb.encoding.axis == 0 and len(bb.encoding.channels) == n_out
        assert np.allclose([c[0] for c in bb.encoding.channels], x.encoding.scale * w_scales, rtol=1e-6)
        assert np.array_equal(qb.tensors[op.inputs[1]].data, w.data)
    tensor = _sqnr_db(ref, _net_run(tmp_path, fc, per_tensor))
    for path in (per_row, row_bias):
        rows = _sqnr_db(ref, _net_run(tmp_path, fc, path))
        assert rows > tensor + 3, (rows, tensor)
        # the 8-bit output (values 100x apart across rows) bounds what weights can recover
        assert min(_cosines(ref, _net_run(tmp_path, fc, path))) >= 0.99


def test_per_row_bias_without_32_bit_bias_warns(fc, tmp_path, capfd):
    _quant(tmp_path, fc, qairt_main, "--use_per_row_quantization", "--enable_per_row_quantized_bias")
    assert "--enable_per_row_quantized_bias has no effect here" in capfd.readouterr().err


def test_per_row_matmul_axis_follows_transpose():
    """MatMul's static input 1 is [K, N]: rows of the output are N, on the last axis (axis -2 transposed)."""
    from snpe_tools.ir.graph import Graph

    rng = np.random.default_rng(2)
    for transpose in (False, True):
        g = Graph()
        g.add_input("x", (2, 6))
        w = rng.standard_normal((5, 6) if transpose else (6, 5)).astype(np.float32)
        wn = g.add_const("w", w)
        g.add_op("MatMul", ["x", wn], ["y"], params={"transpose_in1": transpose})
        g.outputs.append("y")
        feeds = [{"x": rng.standard_normal((2, 6)).astype(np.float32)} for _ in range(3)]
        stats = calibrate(g, iter(feeds), 3, progress=False)
        quantize_graph(g, stats, QuantOptions(per_row=True))
        enc = g.tensors[wn].encoding
        assert enc.axis == (0 if transpose else 1) and len(enc.channels) == 5
        absmax = np.abs(w).max(axis=1 if transpose else 0)
        assert np.allclose([c[0] for c in enc.channels], absmax / 127)


# ---- cross-layer equalization ----------------------------------------------------------------------------
def _badly_scaled_model(path, relu6: bool = False) -> str:
    """conv1 -> ReLU -> conv2 -> ReLU(6) -> conv3 whose conv1 output channels are scaled 0.01x .. 10x and
    conv2's input channels inversely: the same function as a well-scaled net, but per-tensor ranges are
    dominated by the large channels."""
    rng = np.random.default_rng(21)
    k = np.geomspace(0.01, 10.0, 8).astype(np.float32)
    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3 * k[:, None, None, None]
    b1 = rng.uniform(-0.1, 0.1, 8).astype(np.float32) * k
    w2 = rng.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2 / k[None, :, None, None]
    w3 = rng.standard_normal((4, 8, 1, 1)).astype(np.float32) * 0.3
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (w3, "w3"))]
    inits += [numpy_helper.from_array(rng.uniform(-0.1, 0.1, 8).astype(np.float32), "b2"),
              numpy_helper.from_array(np.float32(0.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi")]
    act = helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"], name="relu2") if relu6 else \
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2")
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"), act,
             helper.make_node("Conv", ["r2", "w3"], ["y"], name="conv3")]
    return _to_dlc(path, nodes, inits, [1, 3, 12, 12], [1, 4, 12, 12])


def test_cle_keeps_the_float_function_and_matches_ranges(tmp_path):
    from snpe_tools.quantization.cle import equalize
    from snpe_tools.runtime import execute

    dlc = _badly_scaled_model(tmp_path / "m")
    g = read_dlc(dlc).graph
    feeds = _feeds(g, 4)
    before = [execute(g, f)[g.outputs[0]].astype(np.float64) for f in feeds]
    summary = equalize(g)
    assert len(summary.pairs) == 2 and summary.sweeps > 1 and not summary.relu6_rewritten
    after = [execute(g, f)[g.outputs[0]].astype(np.float64) for f in feeds]
    for a, b in zip(before, after):
        assert np.max(np.abs(a - b)) <= 1e-5 * np.max(np.abs(a))
    convs = [op for op in g.ops if op.type == "Conv2d"]
    for first, second in zip(convs, convs[1:]):     # both pairs: output ranges of one = input ranges of next
        r1 = np.abs(g.tensors[first.inputs[1]].data).max(axis=(0, 1, 2))
        r2 = np.abs(g.tensors[second.inputs[1]].data).max(axis=(0, 1, 3))
        np.testing.assert_allclose(r1, r2, rtol=1e-4)
    w1 = np.abs(g.tensors[convs[0].inputs[1]].data).max(axis=(0, 1, 2))
    assert w1.max() / w1.min() < 30                  # was 1000x


def test_cle_rewrites_relu6_like_snpe(tmp_path):
    from snpe_tools.quantization.cle import equalize

    g = read_dlc(_badly_scaled_model(tmp_path / "m6", relu6=True)).graph
    assert sum(op.type == "ReluMinMax" for op in g.ops) == 1
    summary = equalize(g)
    assert len(summary.pairs) == 2 and len(summary.relu6_rewritten) == 1
    assert not any(op.type == "ReluMinMax" for op in g.ops)


def test_cle_leaves_shared_frozen_and_output_tensors(tmp_path):
    from snpe_tools.quantization.cle import equalize, find_pairs

    g = read_dlc(_badly_scaled_model(tmp_path / "m")).graph
    convs = [op for op in g.ops if op.type == "Conv2d"]
    assert len(find_pairs(g)) == 2
    assert len(find_pairs(g, frozen={convs[1].inputs[1]})) == 0      # conv2's weights in both pairs
    g.outputs.append(convs[0].outputs[0])                              # conv1's output seen by the user
    w = g.tensors[convs[0].inputs[1]].data.copy()
    assert len(equalize(g).pairs) == 1 and np.array_equal(g.tensors[convs[0].inputs[1]].data, w)


@pytest.mark.parametrize("main,flag", [(quant_main, ["--optimizations=cle"]), (quant_main, ["--optimizations", "cle"]),
                                       (qairt_main, ["--algorithms", "cle"])])
def test_cle_through_the_tools_improves_per_tensor_8bit(tmp_path, main, flag):
    dlc = _badly_scaled_model(tmp_path / "m")
    lst = _calibration_set(tmp_path, dlc)
    spread_like = {"dlc": dlc, "list": lst}
    ref = _net_run(tmp_path, spread_like, dlc)
    plain = _sqnr_db(ref, _net_run(tmp_path, spread_like, _quant(tmp_path, spread_like, main)))
    out = _quant(tmp_path, spread_like, main, *flag)
    cle = _sqnr_db(ref, _net_run(tmp_path, spread_like, out))
    assert cle > plain + 10, (plain, cle)
    w = read_dlc(out).graph.tensors["w1"]
    assert w.encoding is not None and w.encoding.axis is None          # still per-tensor weights


def test_histogram_same_for_float16_float32_float64_inputs():
    x = np.random.default_rng(8).standard_normal(5000).astype(np.float16)
    hists = []
    for dt in (np.float16, np.float32, np.float64):
        h = histogram_of(x.astype(dt))
        hists.append(h.histogram())
    for c, e in hists[1:]:
        assert np.array_equal(c, hists[0][0]) and np.array_equal(e, hists[0][1])


def _mobilenet_block(path) -> str:
    """expand 1x1 -> ReLU -> depthwise 3x3 -> ReLU -> project 1x1, badly scaled at both junctions."""
    rng = np.random.default_rng(23)
    k1, k2 = np.geomspace(0.01, 10.0, 12).astype(np.float32), np.geomspace(10.0, 0.02, 12).astype(np.float32)
    we = rng.standard_normal((12, 4, 1, 1)).astype(np.float32) * 0.5 * k1[:, None, None, None]
    wd = rng.standard_normal((12, 1, 3, 3)).astype(np.float32) * 0.3 / k1[:, None, None, None] * k2[:, None, None, None]
    wp = rng.standard_normal((6, 12, 1, 1)).astype(np.float32) * 0.3 / k2[None, :, None, None]
    inits = [numpy_helper.from_array(a, n) for a, n in ((we, "we"), (wd, "wd"), (wp, "wp"))]
    inits += [numpy_helper.from_array((rng.uniform(-0.1, 0.1, 12) * k).astype(np.float32), n)
              for k, n in ((k1, "be"), (k2, "bd"))]
    nodes = [helper.make_node("Conv", ["x", "we", "be"], ["e"], name="expand"),
             helper.make_node("Relu", ["e"], ["re"]),
             helper.make_node("Conv", ["re", "wd", "bd"], ["d"], pads=[1, 1, 1, 1], group=12, name="dw"),
             helper.make_node("Relu", ["d"], ["rd"]),
             helper.make_node("Conv", ["rd", "wp"], ["y"], name="project")]
    return _to_dlc(path, nodes, inits, [1, 4, 10, 10], [1, 6, 10, 10])


def test_cle_equalizes_through_depthwise(tmp_path):
    from snpe_tools.quantization.cle import equalize
    from snpe_tools.runtime import execute

    dlc = _mobilenet_block(tmp_path / "mb")
    g = read_dlc(dlc).graph
    assert [op.type for op in g.ops if "Conv" in op.type] == ["Conv2d", "DepthWiseConv2d", "Conv2d"]
    feeds = _feeds(g, 3)
    before = [execute(g, f)[g.outputs[0]].astype(np.float64) for f in feeds]
    summary = equalize(g)
    assert len(summary.pairs) == 2
    for a, b in zip(before, [execute(g, f)[g.outputs[0]].astype(np.float64) for f in feeds]):
        assert np.max(np.abs(a - b)) <= 1e-5 * np.max(np.abs(a))
    lst = _calibration_set(tmp_path, dlc)
    model = {"dlc": dlc, "list": lst}
    ref = _net_run(tmp_path, model, dlc)
    plain = _sqnr_db(ref, _net_run(tmp_path, model, _quant(tmp_path, model, qairt_main)))
    cle = _sqnr_db(ref, _net_run(tmp_path, model, _quant(tmp_path, model, qairt_main, "--algorithms", "cle")))
    assert cle > plain + 10, (plain, cle)


def test_nonfinite_weights_do_not_set_ranges():
    from snpe_tools.ir.encodings import symmetric_per_channel

    w = np.ones((2, 2, 3, 4))
    w[0, 0, 0, 1], w[1, 1, 2, 2] = np.nan, np.inf
    enc = symmetric_per_channel(w, 3, 8)
    assert all(np.isfinite(c[0]) and c[0] == pytest.approx(1 / 127) for c in enc.channels)
    for method in ("min-max", "enhanced", "entropy", "percentile"):
        lo, hi = select_range(histogram_of(w), method, "asymmetric", 8)
        assert np.isfinite(lo) and np.isfinite(hi) and hi == pytest.approx(1.0, abs=0.02), method


def test_cle_with_float_fallback_is_a_one_line_error(spread, tmp_path):
    out = tmp_path / "never.dlc"
    proc = helpers.run_tool("qairt-quantizer", "-i", spread["dlc"], "-o", str(out), "--float_fallback",
                            "--algorithms", "cle", check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "WARNING" not in ln and "INFO" not in ln]
    assert proc.returncode != 0 and len(lines) == 1 and "cle" in lines[0] and "--float_fallback" in lines[0], \
        proc.stderr
    assert not out.exists()


def test_cle_measures_what_the_relu6_rewrite_changes(tmp_path, capsys):
    from snpe_tools.quantization.cle import equalize

    dlc = _badly_scaled_model(tmp_path / "m6", relu6=True)
    g = read_dlc(dlc).graph
    big = {g.inputs[0]: np.full(g.tensors[g.inputs[0]].shape, 40.0, np.float32)}      # drives relu2 past 6
    summary = equalize(g, sample=big)
    assert len(summary.relu6_clipped) == 1 and 0 < list(summary.relu6_clipped.values())[0] <= 1
    small = read_dlc(dlc).graph
    assert equalize(small, sample={g.inputs[0]: np.zeros(g.tensors[g.inputs[0]].shape, np.float32)}).relu6_clipped \
        == {}
    lst = _calibration_set(tmp_path, dlc)
    big[g.inputs[0]].tofile(tmp_path / "calib_0.raw")                                 # the first input clips
    _quant(tmp_path, {"dlc": dlc, "list": lst}, qairt_main, "--algorithms", "cle")
    err = capsys.readouterr().err
    assert "replaced 1 ReLU6 by ReLU" in err and "of those ReLU6 clipped values" in err


def test_histogram_calibration_independent_of_batch_size(tmp_path):
    """calibrate() hands stacked batches to update(); the histograms equal one-input-at-a-time ones
    (bit for bit on this conv net, as the batched runs are) and the range searches pick the same."""
    dlc = _conv_model(tmp_path / "m")
    graph = read_dlc(dlc).graph
    feeds = _feeds(graph, 7)
    runs = [calibrate(graph, iter(feeds), len(feeds), progress=False, make_stats=lambda n: HistogramStats(),
                      batch=b) for b in (1, 3, 7)]
    for other in runs[1:]:
        for name, st in runs[0].items():
            c0, e0 = st.histogram()
            c1, e1 = other[name].histogram()
            assert np.array_equal(e0, e1) and np.allclose(c0, c1, atol=0.0), name
            assert select_encoding(st, "enhanced", "asymmetric", 8) == select_encoding(other[name], "enhanced",
                                                                                       "asymmetric", 8)


# ---- --adjust_bias_encoding (qairt-quantizer) --------------------------------------------------------
def _big_bias_conv(tmp_path) -> str:
    """Conv whose output channel 0 has near-zero weights and a large bias: at 16-bit activations and
    weights its bias does not fit 32 bits at input scale x weight scale (~1e-12: 500 -> 5e14 steps)."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32) * 0.3
    w[0] *= 1e-3
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([500.0, 0.1, -0.2], np.float32), "b")]
    return _to_dlc(tmp_path / "bigbias", [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
                   inits, [1, 2, 6, 6], [1, 3, 6, 6])


def test_adjust_bias_encoding_widens_the_weight_channel(tmp_path, capfd):
    """With --adjust_bias_encoding the 32-bit bias keeps the accumulator's scale (input x weight, per
    channel) and fits, because the one weight channel it outgrew is widened; without it, the bias alone
    gets a wider scale (a WARNING).  Other channels are untouched; outputs stay close to float."""
    dlc = _big_bias_conv(tmp_path)
    lst = _calibration_set(tmp_path, dlc)
    common = ["-i", dlc, "-l", lst, "--act_bitwidth", "16", "--weights_bitwidth", "16", "--bias_bitwidth", "32",
              "--use_per_channel_quantization"]
    plain, adjusted = str(tmp_path / "plain.dlc"), str(tmp_path / "adjusted.dlc")
    assert run_main(qairt_main, common + ["-o", plain]) == 0
    assert "do not fit 32 bits at input scale x weight scale" in capfd.readouterr().err
    assert run_main(qairt_main, common + ["-o", adjusted, "--adjust_bias_encoding"]) == 0
    err = capfd.readouterr().err
    assert "--adjust_bias_encoding: 1 channel(s) of 1 weight(s) widened" in err and "do not fit" not in err

    def scales(path):
        g = read_dlc(path).graph
        (op,) = g.ops
        x, w, b = (g.tensors[n] for n in op.inputs[:3])
        ws = np.array([c[0] for c in w.encoding.channels])
        bs = np.array([c[0] for c in b.encoding.channels])
        return x.encoding.scale, ws, bs, np.asarray(b.data, np.int64), g

    s_in, w_plain, b_plain, _, _ = scales(plain)
    s_in2, w_adj, b_adj, b_int, g = scales(adjusted)
    assert s_in2 == s_in
    assert w_adj[0] > 10 * w_plain[0] and np.array_equal(w_adj[1:], w_plain[1:])
    assert not np.isclose(b_plain[0], s_in * w_plain[0], rtol=1e-6)              # plain: bias scale widened alone
    assert np.allclose(b_adj, s_in * w_adj, rtol=1e-6, atol=0)       # adjusted: the accumulator's (float32 in the file)
    assert np.abs(b_int).max() <= (1 << 31) - 1 and abs(b_int[0] * b_adj[0] - 500.0) < 1e-3
    assert dlc_conformance.violations(adjusted) == []
    from snpe_tools.ops.fixed_point import dequantize, quantize
    from snpe_tools.runtime import execute
    f = read_dlc(dlc).graph
    x = np.random.default_rng(2).uniform(-1, 1, f.tensors[f.inputs[0]].shape).astype(np.float32)
    ref = execute(f, {f.inputs[0]: x})[f.outputs[0]]
    xq = quantize(g.tensors[g.inputs[0]], x)
    y = dequantize(g.tensors[g.outputs[0]], execute(g, {g.inputs[0]: xq})[g.outputs[0]])
    assert np.max(np.abs(y - ref)) <= 1e-3 * np.ptp(ref), np.max(np.abs(y - ref))


def test_adjust_bias_encoding_without_32_bit_bias_warns(tmp_path, capfd):
    dlc = _big_bias_conv(tmp_path)
    out = str(tmp_path / "q.dlc")
    lst = _calibration_set(tmp_path, dlc)
    assert run_main(qairt_main, ["-i", dlc, "-l", lst, "-o", out,
                                 "--use_per_channel_quantization", "--adjust_bias_encoding"]) == 0
    assert "--adjust_bias_encoding has no effect here: it applies to 32-bit biases" in capfd.readouterr().err
    # per-row weights without --enable_per_row_quantized_bias: their bias has one scale, nothing to adjust
    assert run_main(qairt_main, ["-i", dlc, "-l", lst, "-o", out, "--use_per_row_quantization", "--bias_bitwidth",
                                 "32", "--adjust_bias_encoding"]) == 0
    assert "--adjust_bias_encoding has no effect here" in capfd.readouterr().err
    assert run_main(qairt_main, ["-i", dlc, "-l", lst, "-o", out, "--use_per_row_quantization", "--bias_bitwidth",
                                 "32", "--enable_per_row_quantized_bias", "--adjust_bias_encoding"]) == 0
    assert "has no effect" not in capfd.readouterr().err

"""Range-selection algorithms: which encoding a tensor gets from its statistics.

SNPE / qairt-quantizer offer, per activation and per parameter (``snpe_reference.md`` §1.7, 1.8, 3.1):

* **schemas** (how a range becomes an encoding): ``asymmetric`` (SNPE's ``tf`` rules: unsigned, zero
  exact, minimum range), ``symmetric`` (signed, offset 0, ``scale = max|x| / (2^(bw-1) - 1)``) and
  ``unsignedsymmetric`` (offset 0 on the unsigned grid ``[0, max]`` for non-negative data, symmetric
  otherwise);
* **calibration methods** (which range): ``min-max`` (SNPE's ``tf``), ``percentile``, and the searches
  ``enhanced`` (TF-enhanced), ``sqnr``, ``mse`` and ``entropy`` over a :class:`HistogramStats`;
* ``adjusted`` (8-bit weights only): the true range, widened rather than shifted so that zero is exact.

SNPE does not document its enhanced/SQNR/MSE/entropy algorithms (reference §9); these are the
published techniques they are named after, with the choices stated here:

* the searches minimise the expected squared error of quantize-dequantize over the histogram: rounding
  noise ``scale^2 / 12`` for every in-range value except exact zeros (always representable), plus
  ``gamma`` x the squared clipping error of values outside the range.  ``enhanced`` and ``sqnr`` search
  the minimum and maximum independently (AIMET's TF-enhanced is this SQNR search); ``mse`` shrinks both
  ends by one factor.  ``gamma`` is 1 (plain MSE) except for ``sqnr``, 3 (AIMET's SQNR default);
* ``entropy`` minimises the KL divergence between the histogram clipped to the range (clipped mass folded
  into the edge bins) and its quantized form built from the in-range mass (TensorRT-style), preferring the
  wider range on ties;
* every candidate goes through the schema's range rules before it is scored, so the score is that of
  the encoding actually written, and the selected range always lies inside the observed min-max.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir.encodings import SNPE_MIN_RANGE, symmetric_encoding, symmetric_scale, tf_encoding, tf_grid
from ..ir.graph import Encoding
from .calibration import RangeStats
from .statistics import HistogramStats, histogram_of

METHODS = ("min-max", "enhanced", "sqnr", "mse", "entropy", "percentile")
SCHEMAS = ("asymmetric", "symmetric", "unsignedsymmetric")
HISTOGRAM_METHODS = frozenset(METHODS) - {"min-max"}
GAMMA = {"enhanced": 1.0, "mse": 1.0, "sqnr": 3.0}
_PER_BIN = 16            # entropy: average values per histogram bin (see _coarse)
DEFAULT_PERCENTILE = 99.99

# shrink factors tried for each end of the range: fine steps near the full range, geometric below 1/64
# (a long tail can make the best range a few percent of the observed one)
_FACTORS = np.concatenate([np.geomspace(2.0 ** -12, 1 / 64, 13)[:-1], np.linspace(1 / 64, 1.0, 64)])


def encode(lo: float, hi: float, schema: str, bitwidth: int, min_range: float = SNPE_MIN_RANGE) -> Encoding:
    """The encoding of the range ``[lo, hi]`` under ``schema``."""
    if schema == "asymmetric" or (schema == "unsignedsymmetric" and lo >= 0):
        return tf_encoding(lo, hi, bitwidth, min_range)       # lo >= 0: offset 0 on [0, hi]
    return symmetric_encoding(max(abs(lo), abs(hi)), bitwidth, min_range)


def _grid(lo: np.ndarray, hi: np.ndarray, schema: str, bitwidth: int, min_range: float):
    """(scale, min, max) of many candidate ranges, with the same rules as :func:`encode`."""
    if schema == "asymmetric" or (schema == "unsignedsymmetric" and np.all(lo >= 0)):
        scale, _, mn, mx = tf_grid(lo, hi, bitwidth, min_range)
        return scale, mn, mx
    scale = symmetric_scale(np.maximum(np.abs(lo), np.abs(hi)), bitwidth, min_range)
    half = 1 << (bitwidth - 1)
    return scale, -half * scale, (half - 1) * scale


def _candidates(st: RangeStats, two_sided: bool) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = min(st.min, 0.0), max(st.max, 0.0)
    if two_sided:
        a, b = np.meshgrid(_FACTORS, _FACTORS, indexing="ij")
        return lo * a.ravel(), hi * b.ravel()
    return lo * _FACTORS, hi * _FACTORS


def _noise(st: HistogramStats, scale, mn, mx, gamma: float) -> np.ndarray:
    """Expected squared error of every candidate encoding over the histogram (see the module docstring)."""
    counts, edges = st.histogram()
    centers = (edges[:-1] + edges[1:]) / 2
    c0 = np.concatenate([[0.0], np.cumsum(counts)])
    c1 = np.concatenate([[0.0], np.cumsum(counts * centers)])
    c2 = np.concatenate([[0.0], np.cumsum(counts * centers ** 2)])
    below = np.searchsorted(centers, mn, side="left")           # bins whose centre lies below the minimum
    above = np.searchsorted(centers, mx, side="right")          # first bin above the maximum
    n_lo, s1_lo, s2_lo = c0[below], c1[below], c2[below]
    n_hi, s1_hi, s2_hi = c0[-1] - c0[above], c1[-1] - c1[above], c2[-1] - c2[above]
    clip = (s2_lo - 2 * mn * s1_lo + mn ** 2 * n_lo) + (s2_hi - 2 * mx * s1_hi + mx ** 2 * n_hi)
    inside = np.maximum(c0[-1] - n_lo - n_hi - st.zeros, 0.0)
    return inside * scale ** 2 / 12 + gamma * clip


def _search(st: HistogramStats, method: str, schema: str, bitwidth: int, min_range: float) -> tuple[float, float]:
    symmetric = schema == "symmetric" or (schema == "unsignedsymmetric" and st.min < 0)
    lo, hi = _candidates(st, two_sided=method != "mse" and not symmetric)
    scale, mn, mx = _grid(lo, hi, schema, bitwidth, min_range)
    cost = _noise(st, scale, mn, mx, GAMMA[method])
    best = int(np.argmin(cost))
    return float(lo[best]), float(hi[best])


def _kl(counts: np.ndarray, centers: np.ndarray, scale: float, mn: float, mx: float) -> float:
    """KL divergence between the histogram clipped to [mn, mx] (clipped mass folded into the edge bins)
    and its quantized form built from the in-range bins only, which keeps its share of the total (so
    clipping costs at the edges)."""
    a = int(np.clip(np.searchsorted(centers, mn, side="left"), 0, len(counts) - 1))
    b = int(np.clip(np.searchsorted(centers, mx, side="right") - 1, a, len(counts) - 1))
    inner = counts[a:b + 1]
    p = inner.copy()
    p[0] += counts[:a].sum()
    p[-1] += counts[b + 1:].sum()
    level = np.round(centers[a:b + 1] / scale).astype(np.int64)
    level -= level.min()
    mass = np.bincount(level, weights=inner)
    support = np.bincount(level, weights=(inner > 0).astype(np.float64))
    q = np.where(inner > 0, mass[level] / np.maximum(support[level], 1.0), 0.0)
    # q keeps the in-range share of the total (not renormalised): clipped mass is what p has and q lacks
    nz = p > 0
    total = counts.sum()
    p, q = p[nz] / total, q[nz] / total
    return float(np.sum(p * np.log(p / np.maximum(q, 1e-12))))


def _coarse(counts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge neighbouring bins until they hold :data:`_PER_BIN` values on average: a KL divergence over
    sparsely filled bins measures sampling noise (few values: coarse bins, so clipping does not pay)."""
    total = counts.sum()
    while len(counts) > max(total / _PER_BIN, 32):
        if len(counts) % 2:
            counts, edges = np.append(counts, 0.0), np.append(edges, 2 * edges[-1] - edges[-2])
        counts, edges = counts.reshape(-1, 2).sum(axis=1), edges[::2]
    return counts, edges


def _entropy(st: HistogramStats, schema: str, bitwidth: int, min_range: float) -> tuple[float, float]:
    """Minimum-KL range: the maximum first (minimum at the observed one), then the minimum; for a
    symmetric schema one threshold.  Candidates are tried from the widest: ties keep the wider range."""
    counts, edges = _coarse(*st.histogram())
    centers = (edges[:-1] + edges[1:]) / 2
    lo, hi = min(st.min, 0.0), max(st.max, 0.0)
    if len(counts) <= (1 << bitwidth) - 1:
        return lo, hi       # no finer than the grid: only clipping would change the divergence
    symmetric = schema == "symmetric" or (schema == "unsignedsymmetric" and st.min < 0)
    sides = [(lo * _FACTORS, hi * _FACTORS)] if symmetric or lo == 0.0 or hi == 0.0 else \
        [(np.full_like(_FACTORS, lo), hi * _FACTORS), (lo * _FACTORS, None)]
    for cand_lo, cand_hi in sides:
        cand_hi = np.full_like(_FACTORS, hi) if cand_hi is None else cand_hi
        scale, mn, mx = _grid(cand_lo, cand_hi, schema, bitwidth, min_range)
        best, best_kl = len(_FACTORS) - 1, np.inf
        for k in range(len(_FACTORS) - 1, -1, -1):
            kl = _kl(counts, centers, scale[k], mn[k], mx[k])
            if kl < best_kl - 1e-12:
                best, best_kl = k, kl
        lo, hi = float(cand_lo[best]), float(cand_hi[best])
    return lo, hi


def _quantile(st: HistogramStats, fraction: float) -> float:
    """The value below which ``fraction`` of the data lies (linear within a bin), clamped to [min, max]."""
    counts, edges = st.histogram()
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    target = fraction * cum[-1]
    i = int(np.clip(np.searchsorted(cum, target, side="left") - 1, 0, len(counts) - 1))
    part = (target - cum[i]) / counts[i] if counts[i] > 0 else 0.0
    return float(np.clip(edges[i] + part * (edges[i + 1] - edges[i]), st.min, st.max))


def select_range(st: RangeStats, method: str, schema: str, bitwidth: int, min_range: float = SNPE_MIN_RANGE,
                 percentile: float = DEFAULT_PERCENTILE) -> tuple[float, float]:
    """The range ``[lo, hi]`` that ``method`` picks from the statistics (before the schema's rules)."""
    if method == "min-max" or not isinstance(st, HistogramStats) or st.exp is None:
        return st.min, st.max
    if method == "percentile":
        return _quantile(st, 1.0 - percentile / 100.0), _quantile(st, percentile / 100.0)
    if method == "entropy":
        return _entropy(st, schema, bitwidth, min_range)
    return _search(st, method, schema, bitwidth, min_range)


def select_encoding(st: RangeStats, method: str, schema: str, bitwidth: int, min_range: float = SNPE_MIN_RANGE,
                    percentile: float = DEFAULT_PERCENTILE) -> Encoding:
    """Encoding of a calibrated tensor: the method's range under the schema's rules."""
    lo, hi = select_range(st, method, schema, bitwidth, min_range, percentile)
    return encode(lo, hi, schema, bitwidth, min_range)


def adjusted_encoding(mn: float, mx: float, bitwidth: int, min_range: float = SNPE_MIN_RANGE) -> Encoding:
    """SNPE's adjusted weights quantizer (8-bit weights): the smallest step whose grid holds zero exactly
    and still covers the true ``[mn, mx]`` (the minimum decreased or the maximum expanded, where ``tf``
    would shift the range and clip up to half a step at one end)."""
    mn, mx = min(float(mn), 0.0), max(float(mx), 0.0)
    mx = max(mx, mn + min_range)
    levels = (1 << bitwidth) - 1
    if mn == 0.0 or mx == 0.0:
        return tf_encoding(mn, mx, bitwidth, min_range)     # one end is zero: nothing to shift
    o = -np.arange(1, levels, dtype=np.float64)             # zero at stored level -o (1 .. levels-1)
    steps = np.maximum(mn / o, mx / (o + levels))
    k = int(np.argmin(steps))
    scale, offset = float(steps[k]), int(o[k])
    return Encoding(bitwidth, scale, offset, offset * scale, (offset + levels) * scale)


def param_statistics(data: np.ndarray, method: str) -> RangeStats:
    """Statistics of static data for a parameter quantizer (a histogram only when the method needs one)."""
    if method in HISTOGRAM_METHODS:
        return histogram_of(data)
    st = RangeStats()
    st.update(data)
    return st


def stats_factory(method: str) -> Callable[[str], RangeStats]:
    """What calibration keeps per activation tensor for ``method``."""
    kind = HistogramStats if method in HISTOGRAM_METHODS else RangeStats
    return lambda name: kind()

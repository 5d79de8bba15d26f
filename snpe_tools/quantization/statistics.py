"""Streaming histogram statistics for the range-searching quantizers (enhanced, sqnr, mse, entropy,
percentile).

Why this grid: the histogram must not depend on how calibration inputs are batched or ordered, and its
memory must not grow with their number.  Bins are aligned to multiples of a power-of-two width
``2**e`` (bin ``k`` holds ``[k * 2**e, (k + 1) * 2**e)``), so when the observed range widens the bins are
merged pairwise (``k -> floor(k / 2)``), which is exact: the histogram after any sequence of updates
equals the histogram of all values computed directly at the final width.  The final width is the
smallest power of two at which the whole observed range fits in :data:`MAX_BINS` bins, a function of
the range alone, so the result is independent of order and batching (``x / 2**e`` is exact in floating
point, so even the bin of each value is).  The exact running min/max are kept as :class:`RangeStats`
keeps them.
"""
from __future__ import annotations

import math

import numpy as np

from .calibration import RangeStats

MAX_BINS = 2048          # between MAX_BINS / 2 and MAX_BINS bins span the observed range
_MANTISSA = 50           # bin indices stay below 2**50: exact in float64 and int64
_MIN_EXP = -1000         # finest width: 2**-1000 (2**1000 is still a finite float64)


class HistogramStats(RangeStats):
    """Running min/max plus a histogram on a power-of-two aligned grid (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.exp: int | None = None              # bin width 2**exp
        self.first = 0                           # index of the first bin
        self.counts = np.zeros(0, np.int64)
        self.zeros = 0                           # exact zeros (represented without error by every encoding)

    def update(self, x: np.ndarray) -> None:
        a = np.asarray(x)
        flagged = self.nonfinite
        super().update(a)
        if not self.seen or a.size == 0:
            return
        a = a.reshape(-1)
        if a.dtype.kind != "f" or a.dtype.itemsize < 4:
            a = a.astype(np.float64 if a.dtype.kind != "f" else np.float32)
        if self.nonfinite != flagged:           # RangeStats saw NaN/inf in this update
            a = a[np.isfinite(a)]
            if a.size == 0:
                return
        self.zeros += int(np.count_nonzero(a == 0))
        exp = self._exp_for(self.min, self.max)
        if self.exp is None:
            self.exp = exp
            self.first = math.floor(self.min / 2.0 ** exp)
            self.counts = np.zeros(math.floor(self.max / 2.0 ** exp) - self.first + 1, np.int64)
        elif exp > self.exp:
            self._merge_to(exp)
        self._grow(math.floor(self.min / 2.0 ** self.exp), math.floor(self.max / 2.0 ** self.exp))
        # x * 2**-exp is exact in the input's own float type while 2**-exp is finite in it
        mult = a.dtype.type(2.0 ** -self.exp) if abs(self.exp) < 100 else 2.0 ** -self.exp
        idx = np.floor(a * mult).astype(np.int64) - self.first
        self.counts += np.bincount(idx, minlength=self.counts.size)

    @staticmethod
    def _exp_for(mn: float, mx: float) -> int:
        """Smallest power-of-two width at which [mn, mx] fits MAX_BINS aligned bins (and indices stay exact)."""
        span = mx - mn
        mag = max(abs(mn), abs(mx))
        exp = max(_MIN_EXP, math.frexp(mag)[1] - _MANTISSA)
        exp = max(exp, math.frexp(span / (MAX_BINS - 1))[1] - 1 if span > 0 else exp)
        while math.floor(mx / 2.0 ** exp) - math.floor(mn / 2.0 ** exp) + 1 > MAX_BINS:
            exp += 1
        return exp

    def _merge_to(self, exp: int) -> None:
        shift = min(exp - self.exp, 62)         # indices are below 2**51: larger shifts change nothing
        idx = (np.arange(self.counts.size, dtype=np.int64) + self.first) >> shift
        new_first = (self.first >> shift)
        merged = np.bincount(idx - new_first, weights=self.counts, minlength=int(idx[-1] - new_first + 1))
        self.counts = merged.astype(np.int64)
        self.first, self.exp = new_first, exp

    def _grow(self, lo: int, hi: int) -> None:
        if lo < self.first:
            self.counts = np.concatenate([np.zeros(self.first - lo, np.int64), self.counts])
            self.first = lo
        if hi >= self.first + self.counts.size:
            self.counts = np.concatenate([self.counts, np.zeros(hi - self.first - self.counts.size + 1, np.int64)])

    @property
    def width(self) -> float:
        return 2.0 ** self.exp if self.exp is not None else 0.0

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """(counts as float64, bin edges): ``len(edges) == len(counts) + 1``; empty when nothing was seen."""
        if self.exp is None:
            return np.zeros(0), np.zeros(1)
        edges = (np.arange(self.counts.size + 1, dtype=np.float64) + self.first) * self.width
        return self.counts.astype(np.float64), edges


def histogram_of(data: np.ndarray) -> HistogramStats:
    """The histogram statistic of one array (static weights)."""
    h = HistogramStats()
    h.update(data)
    return h

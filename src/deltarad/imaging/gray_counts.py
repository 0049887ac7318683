"""Exact order statistics (percentiles, medians) of an integer image from its per-gray-value counts.

One counting pass (np.bincount) replaces the partial sorts of np.percentile / np.median on the
whole image; the results are numpy's to the bit: the same order statistics, combined with numpy's
own arithmetic (linear interpolation as numpy's `_lerp`, the median of an even count as the mean
of the two middle values).
"""

from __future__ import annotations

import numpy as np

#: Widest gray-value range (max - min + 1) counted; wider integer images use numpy's sort.
MAX_GRAY_LEVELS = 1 << 22


class GrayCounts:
    """How many voxels hold each gray value of an integer array."""

    def __init__(self, values: np.ndarray, counts: np.ndarray):
        keep = counts > 0
        self.values = values[keep].astype(np.float64)  # exact: integers under 2**53
        self.cumulative = np.cumsum(counts[keep])
        self.size = int(self.cumulative[-1]) if self.cumulative.size else 0

    @classmethod
    def of(cls, array: np.ndarray) -> GrayCounts | None:
        """The counts of `array`, or None where it is not an integer array of at most
        MAX_GRAY_LEVELS gray values (or is empty)."""
        if array.dtype.kind not in "iu" or array.size == 0:
            return None
        flat = array.reshape(-1)
        lo, hi = int(flat.min()), int(flat.max())
        if hi - lo + 1 > MAX_GRAY_LEVELS:
            return None
        if 0 <= lo and hi < MAX_GRAY_LEVELS and flat.dtype.itemsize < 8:
            counts = np.bincount(flat, minlength=1)[lo:]  # bincount takes these without a copy
        else:
            counts = np.bincount(flat.astype(np.int64) - lo, minlength=1)
        return cls(np.arange(lo, lo + counts.size, dtype=np.int64), counts)

    def _ranked(self, rank: int, start: int = 0) -> float:
        """The value of 0-based `rank` among the values counted from cumulative position `start`."""
        return float(self.values[np.searchsorted(self.cumulative, start + rank, side="right")])

    def percentile(self, q: float) -> float:
        """np.percentile(array, q) (method 'linear')."""
        virtual = (self.size - 1) * np.true_divide(q, 100)
        if virtual >= self.size - 1:
            return self._ranked(self.size - 1)
        previous = int(np.floor(virtual))
        a, b = self._ranked(previous), self._ranked(previous + 1)
        gamma = virtual - previous
        diff = b - a
        return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma

    def above(self, threshold: float) -> tuple[int, float]:
        """(how many values exceed `threshold`, np.median of them; nan where none)."""
        first = int(np.searchsorted(self.values, threshold, side="right"))
        start = int(self.cumulative[first - 1]) if first else 0
        n = self.size - start
        if n == 0:
            return 0, float("nan")
        if n % 2:
            return n, self._ranked(n // 2, start)
        return n, (self._ranked(n // 2 - 1, start) + self._ranked(n // 2, start)) / 2

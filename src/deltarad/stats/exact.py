"""Exact tests on contingency tables, as R's `fisher.test`, and Pearson's chi-square.

`fisher_exact` computes the exact conditional p-value for any r x c table: the probability,
under independence with both margins fixed, of all tables no more likely than the observed one
(R's rule: probability <= observed * (1 + 1e-7)). Tables are enumerated column by column; the
remaining row margins are a sufficient state (kept sorted, as rows are exchangeable), so equal
states merge, and a state is settled without enumeration once every completion is known to
count or not (the bounding idea of Mehta & Patel's network algorithm, JASA 1983;78:427).

SciPy's r x c `fisher_exact` gives a Monte Carlo p-value by default; this one is exact.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from deltarad.errors import DeltaradError

_RELATIVE_TOLERANCE = 1e-7  # R fisher.test: probabilities within this factor count as equal


def _as_table(table) -> np.ndarray:
    t = np.asarray(table)
    if t.ndim != 2 or min(t.shape) < 2:
        raise DeltaradError(f"a contingency table needs at least 2 rows and 2 columns, got shape {t.shape}")
    if (t < 0).any() or not np.all(np.equal(np.mod(t, 1), 0)):
        raise DeltaradError("a contingency table holds non-negative whole counts")
    t = t.astype(np.int64)
    # Empty rows or columns carry no information (R drops them too).
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        raise DeltaradError("the table has fewer than 2 non-empty rows or columns")
    return t


def _log_factorial(x) -> np.ndarray:
    return gammaln(np.asarray(x, dtype=float) + 1)


@lru_cache(maxsize=4096)
def _compositions(total: int, caps: tuple[int, ...]) -> np.ndarray:
    """All ways to split `total` into len(caps) parts with 0 <= part_i <= caps_i (one per row)."""
    if len(caps) == 2:
        firsts = np.arange(max(0, total - caps[1]), min(total, caps[0]) + 1)
        return np.column_stack([firsts, total - firsts]).astype(np.int64)
    rest_cap = sum(caps[1:])
    blocks = []
    for first in range(max(0, total - rest_cap), min(total, caps[0]) + 1):
        tail = _compositions(total - first, caps[1:])
        blocks.append(np.column_stack([np.full(len(tail), first), tail]))
    return np.vstack(blocks)


def _column_extremes(c: int, rows: tuple[int, ...]) -> tuple[float, float]:
    """Smallest and largest sum(log x_i!) of one column of total c under row caps, ignoring the
    other columns: log-factorial is convex, so spreading evenly minimises and filling the largest
    rows first maximises it."""
    k = sum(1 for r in rows if r > 0)
    q, rem = divmod(c, k)
    low = rem * float(_log_factorial(q + 1)) + (k - rem) * float(_log_factorial(q))
    high, left = 0.0, c
    for r in sorted(rows, reverse=True):
        take = min(r, left)
        high += float(_log_factorial(take))
        left -= take
    return low, high


def _two_column_extremes(rows: tuple[int, ...], a: int) -> tuple[float, float]:
    """Exact smallest and largest sum(log x!) over r x 2 tables with row margins `rows` and first
    column total `a`. Each row adds g_i(x) = log x! + log (r_i - x)!, convex in x: the minimum is
    reached greedily (smallest increments first), the maximum at a vertex of the polytope, where
    every row but one is empty or full."""
    rows_arr = np.array(rows)
    base = float(_log_factorial(rows_arr).sum())
    increments = np.concatenate([np.log(np.arange(1, r + 1)) - np.log(np.arange(r, 0, -1)) for r in rows if r])
    low = base + float(np.sort(increments)[:a].sum())
    high = -np.inf
    for k in range(len(rows)):  # row k takes whatever the empty/full others leave
        others = [i for i in range(len(rows)) if i != k]
        for full in itertools.product((0, 1), repeat=len(others)):
            x = np.zeros(len(rows), dtype=np.int64)
            x[others] = np.array(full, dtype=np.int64) * rows_arr[others]
            x[k] = a - x.sum()
            if 0 <= x[k] <= rows[k]:
                high = max(high, float((_log_factorial(x) + _log_factorial(rows_arr - x)).sum()))
    return low, high


@cache
def _future(rows: tuple[int, ...], cols: tuple[int, ...]) -> tuple[float, float, float]:
    """For the tables with these margins: bounds (low, high) on sum(log x_ij!), and
    log(sum of prod 1/x_ij!) = log(N! / (prod r! prod c!))."""
    log_count = float(_log_factorial(sum(rows)) - _log_factorial(rows).sum() - _log_factorial(cols).sum())
    if len(cols) == 1:  # the last column is forced: it equals the remaining row margins
        forced = float(_log_factorial(rows).sum())
        return forced, forced, log_count
    if len(cols) == 2:
        return (*_two_column_extremes(rows, cols[0]), log_count)
    extremes = [_column_extremes(c, rows) for c in cols]
    low = sum(e[0] for e in extremes)
    high = min(sum(e[1] for e in extremes), float(_log_factorial(rows).sum()))
    return low, high, log_count


def fisher_exact(table) -> float:
    """Two-sided exact p-value of Fisher's test for an r x c table, as R's fisher.test."""
    t = _as_table(table)
    if t.shape[0] > t.shape[1]:
        t = t.T  # fewer rows: smaller states
    rows = tuple(int(r) for r in t.sum(axis=1))
    # Small columns first: the last column is forced, so the largest one costs nothing.
    cols = tuple(sorted(int(c) for c in t.sum(axis=0)))
    observed = float(_log_factorial(t).sum())
    # A table counts when its probability <= observed * (1 + tol), i.e. sum log x! >= cut.
    cut = observed - np.log1p(_RELATIVE_TOLERANCE)
    log_const = float(_log_factorial(rows).sum() + _log_factorial(cols).sum() - _log_factorial(sum(rows)))

    # Remaining row margins (each <= N) encoded as one integer, for fast grouping.
    radix = (sum(rows) + 1) ** np.arange(len(rows), dtype=np.int64)
    if float(sum(rows) + 1) ** len(rows) >= 2**62:
        raise DeltaradError(f"table too large for the exact test (n = {sum(rows)}, {len(rows)} rows)")
    p_value = 0.0
    # Each stage maps the sorted remaining row margins to the paths reaching them:
    # (sums of log x! so far, number of paths with that sum).
    stage = {tuple(sorted(rows)): (np.zeros(1), np.ones(1))}
    for j, c in enumerate(cols):
        later = cols[j + 1 :]
        child_ids: dict[tuple[int, ...], int] = {}
        carried_ids, carried_sums, carried_paths = [], [], []
        for remaining, (past, count) in stage.items():
            splits = _compositions(c, remaining)
            total = _log_factorial(splits).sum(axis=1)[:, None] + past[None, :]
            paths = np.broadcast_to(count, total.shape)
            if not later:
                hit = total >= cut
                p_value += float(np.sum(paths[hit] * np.exp(log_const - total[hit])))
                continue
            left = np.sort(np.subtract(remaining, splits), axis=1)
            _, first, inverse = np.unique(left @ radix, return_index=True, return_inverse=True)
            children = left[first]
            inverse = inverse.ravel()
            future = np.array([_future(tuple(child), later) for child in children])[inverse]
            low, high, log_count = (future[:, k : k + 1] for k in range(3))
            settled = total + low >= cut  # every completion counts
            p_value += float(np.sum((paths * np.exp(log_const - total + log_count))[settled]))
            split_idx, past_idx = np.nonzero(~settled & (total + high >= cut))  # undecided: carry on
            ids = np.array([child_ids.setdefault(tuple(child), len(child_ids)) for child in children])
            carried_ids.append(ids[inverse[split_idx]])
            carried_sums.append(total[split_idx, past_idx])
            carried_paths.append(paths[split_idx, past_idx])
        if not later or not child_ids:
            break
        # Equal sums reached along different paths merge (rounding absorbs float noise).
        merged = (
            pd.DataFrame(
                {
                    "child": np.concatenate(carried_ids),
                    "sum": np.round(np.concatenate(carried_sums), 9),
                    "paths": np.concatenate(carried_paths),
                }
            )
            .groupby(["child", "sum"], sort=False)["paths"]
            .sum()
            .reset_index()
        )
        states = list(child_ids)
        stage = {
            states[k]: (g["sum"].to_numpy(), g["paths"].to_numpy()) for k, g in merged.groupby("child", sort=False)
        }
    return float(min(1.0, p_value))


def chi_square(table) -> dict:
    """Pearson's chi-square test of independence WITHOUT continuity correction.

    Returns statistic, df, p_value and min_expected (the smallest expected count).
    """
    t = _as_table(table)
    res = stats.chi2_contingency(t, correction=False)
    return {
        "statistic": float(res.statistic),
        "df": int(res.dof),
        "p_value": float(res.pvalue),
        "min_expected": float(res.expected_freq.min()),
    }


@dataclass(frozen=True)
class OddsRatio2x2:
    """Fisher's exact test of a 2x2 table with R's conditional maximum-likelihood odds ratio."""

    p_value: float
    odds_ratio: float
    ci_low: float
    ci_high: float


def fisher_2x2(table, level: float = 0.95) -> OddsRatio2x2:
    """R's fisher.test on a 2x2 table: p-value, conditional MLE odds ratio and its exact CI.

    The estimate and limits are roots found with a port of R's `uniroot` (Brent's zeroin, same
    tolerance .Machine$double.eps^0.25), so they agree with R's printout digit for digit; R's
    tolerance makes them differ from the exact roots from about the fourth significant digit.
    """
    t = _as_table(table)
    if t.shape != (2, 2):
        raise DeltaradError(f"fisher_2x2 needs a 2x2 table, got shape {t.shape}")
    x = int(t[0, 0])
    m, n, k = int(t[:, 0].sum()), int(t[:, 1].sum()), int(t[0, :].sum())
    lo, hi = max(0, k - n), min(k, m)
    support = np.arange(lo, hi + 1)
    logdc = stats.hypergeom.logpmf(support, m + n, m, k)

    def density(ncp: float) -> np.ndarray:
        d = logdc + np.log(ncp) * support
        d = np.exp(d - d.max())
        return d / d.sum()

    def mean(ncp: float) -> float:
        if ncp == 0:
            return lo
        if ncp == np.inf:
            return hi
        return float(np.sum(support * density(ncp)))

    def tail(q: int, ncp: float, upper: bool) -> float:
        if ncp == 1:
            return float(stats.hypergeom.sf(x - 1, m + n, m, k) if upper else stats.hypergeom.cdf(x, m + n, m, k))
        if ncp == 0:
            return float(q <= lo if upper else q >= lo)
        if ncp == np.inf:
            return float(q <= hi if upper else q >= hi)
        return float(np.sum(density(ncp)[support >= q if upper else support <= q]))

    tiny = np.finfo(float).eps

    def solve(f, target: float, at_one: float, increasing: bool) -> float:
        # Root of f(ncp) = target: in (0, 1) when f(1) is past the target, else 1/t with t in (eps, 1).
        if at_one == target:
            return 1.0
        if (at_one > target) == increasing:
            return _r_uniroot(lambda u: f(u) - target, 0.0, 1.0)
        return 1.0 / _r_uniroot(lambda u: f(1.0 / u) - target, tiny, 1.0)

    if x == lo:
        estimate = 0.0
    elif x == hi:
        estimate = np.inf
    else:
        estimate = solve(mean, x, mean(1.0), increasing=True)

    alpha = (1 - level) / 2
    upper_limit = np.inf if x == hi else solve(lambda u: tail(x, u, False), alpha, tail(x, 1, False), False)
    lower_limit = 0.0 if x == lo else solve(lambda u: tail(x, u, True), alpha, tail(x, 1, True), True)
    p_value = float(stats.fisher_exact(t).pvalue)
    return OddsRatio2x2(p_value, float(estimate), float(lower_limit), float(upper_limit))


def _r_uniroot(f, lower: float, upper: float, tol: float = np.finfo(float).eps ** 0.25, maxiter: int = 1000) -> float:
    """R's uniroot: Brent's zeroin (R_zeroin2 in R's zeroin.c), same steps and stopping rule."""
    eps = np.finfo(float).eps
    a, b = lower, upper
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    if (fa > 0) == (fb > 0):
        raise DeltaradError("no sign change in the root-finding interval")
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # linear interpolation
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b

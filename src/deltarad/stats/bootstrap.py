"""Percentile bootstrap confidence intervals, for statistics without a closed-form variance
(net benefit, calibration slope, ...)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deltarad.stats._validate import binary_outcome


def bootstrap_ci(
    statistic: Callable[..., float],
    y,
    *arrays,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, low, high): `statistic(y, *arrays)` on the data and its percentile interval over
    `n_boot` resamples of patients, drawn within each outcome class (stratified) so that every
    resample keeps both classes. Resamples where the statistic is NaN are left out."""
    y = binary_outcome(y)
    columns = [np.asarray(a) for a in arrays]
    estimate = float(statistic(y, *columns))
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == k) for k in (0, 1)]
    values = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(members, size=members.size, replace=True) for members in by_class])
        values[b] = statistic(y[idx], *(a[idx] for a in columns))
    values = values[np.isfinite(values)]
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return estimate, float(low), float(high)

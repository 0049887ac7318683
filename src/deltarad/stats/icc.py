"""Intraclass correlation (Shrout & Fleiss 1979; McGraw & Wong 1996).

The study keeps features with inter-reader ICC >= 0.8 using the two-way random-effects,
absolute-agreement, single-rater form: ICC(2,1), which McGraw & Wong and pingouin call ICC(A,1).
"""

from __future__ import annotations

import numpy as np


def icc_2_1(ratings: np.ndarray) -> np.ndarray | float:
    """ICC(2,1) of `ratings` shaped (targets, raters) or (targets, raters, features).

    With a third axis the ICC of every feature is computed at once (one value per feature).
    Needs at least 2 targets and 2 raters and no missing values. A feature with no variance
    at all gives NaN.
    """
    x = np.asarray(ratings, dtype=float)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError("ratings must be (targets, raters) or (targets, raters, features)")
    n, k, _ = x.shape
    if n < 2 or k < 2:
        raise ValueError(f"ICC needs at least 2 targets and 2 raters, got {n} and {k}")
    grand = x.mean(axis=(0, 1))
    target_means = x.mean(axis=1)
    rater_means = x.mean(axis=0)
    ms_targets = k * ((target_means - grand) ** 2).sum(axis=0) / (n - 1)
    ms_raters = n * ((rater_means - grand) ** 2).sum(axis=0) / (k - 1)
    resid = x - target_means[:, None, :] - rater_means[None, :, :] + grand
    ms_error = (resid**2).sum(axis=(0, 1)) / ((n - 1) * (k - 1))
    denom = ms_targets + (k - 1) * ms_error + k * (ms_raters - ms_error) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        icc = np.where(denom > 0, (ms_targets - ms_error) / denom, np.nan)
    return float(icc[0]) if squeeze else icc

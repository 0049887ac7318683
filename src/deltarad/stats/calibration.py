"""Calibration of predicted probabilities: binned and smoothed curves, logistic recalibration,
Hosmer-Lemeshow goodness of fit and the Brier score."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from deltarad.stats._validate import binary_outcome, probabilities_like
from deltarad.stats.irls import irls_logit


def calibration_curve(y, p, n_bins: int = 10) -> pd.DataFrame:
    """Observed event rate against mean prediction in `n_bins` groups of equal size (risk quantiles).

    Tied predictions stay in one group, so there may be fewer than `n_bins` rows.
    Columns bin (1 = lowest risk), mean_predicted, observed, n.
    """
    y = binary_outcome(y)
    p = probabilities_like(p, y)
    groups = pd.qcut(pd.Series(p).rank(method="first"), q=min(n_bins, p.size), labels=False)
    # Equal-size groups by rank, then merge groups that would split a run of tied predictions.
    groups = pd.Series(groups).groupby(p).transform("min").to_numpy()
    frame = pd.DataFrame({"bin": groups, "p": p, "y": y})
    out = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    out = out.reset_index(drop=True)
    out.insert(0, "bin", np.arange(1, len(out) + 1))
    return out


def _lowess(y: np.ndarray, p: np.ndarray, frac: float) -> np.ndarray:
    """R's lowess(p, y, iter = 0), as rms::val.prob calls it: no robustness iterations, and R's
    default delta (points closer than 1 % of the range of `p` are interpolated, not fitted).
    Rows (p sorted, smoothed y), unclipped."""
    return sm.nonparametric.lowess(y, p, frac=frac, it=0, delta=0.01 * np.ptp(p), return_sorted=True)


def smoothed_calibration(y, p, frac: float = 2 / 3) -> pd.DataFrame:
    """LOWESS of the outcome on the prediction, as rms::val.prob draws it (R's lowess, iter = 0).

    Columns predicted (sorted) and observed (the smoothed event rate, clipped to [0, 1]).
    """
    y = binary_outcome(y)
    p = probabilities_like(p, y)
    fit = _lowess(y, p, frac)
    return pd.DataFrame({"predicted": fit[:, 0], "observed": np.clip(fit[:, 1], 0.0, 1.0)})


def calibration_errors(y, p, frac: float = 2 / 3) -> dict:
    """Absolute differences between each prediction and the smoothed event rate at it, as
    rms::val.prob's Emax, E90 and Eavg: their maximum, 90th centile (R's type 7) and mean.

    The smoothed rate is the unclipped LOWESS of `smoothed_calibration`, read at each prediction
    by linear interpolation, tied predictions taking the mean of their fitted values (approx(...,
    ties = mean)).
    """
    y = binary_outcome(y)
    p = probabilities_like(p, y)
    fit = _lowess(y, p, frac)
    knots, where = np.unique(fit[:, 0], return_inverse=True)
    smoothed = np.bincount(where, weights=fit[:, 1]) / np.bincount(where)
    error = np.abs(p - np.interp(p, knots, smoothed))
    return {"emax": float(error.max()), "e90": float(np.quantile(error, 0.9)), "eavg": float(error.mean())}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def calibration_slope_intercept(y, p) -> dict:
    """Logistic recalibration: slope from glm(y ~ logit p), intercept (calibration-in-the-large)
    from glm(y ~ offset(logit p)). A perfectly calibrated model has slope 1 and intercept 0.

    Probabilities are clipped to [1e-12, 1 - 1e-12]; when that leaves one value (say a separating
    model predicting 1 for everyone) there is no slope to fit: NaN.
    """
    y = binary_outcome(y)
    lp = _logit(probabilities_like(p, y))
    family = sm.families.Binomial()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slope = np.nan
        if np.ptp(lp) > 0:
            slope = float(sm.GLM(y, sm.add_constant(lp, has_constant="add"), family=family).fit().params[1])
        citl_fit = sm.GLM(y, np.ones((y.size, 1)), family=family, offset=lp).fit()
    return {"intercept": float(citl_fit.params[0]), "slope": slope}


def calibration_slope(y, p) -> float:
    """The slope of calibration_slope_intercept alone (refits need no intercept), by the numpy
    IRLS with statsmodels' iterations where it applies (deltarad.stats.irls), else statsmodels."""
    y = binary_outcome(y)
    lp = _logit(probabilities_like(p, y))
    if not np.ptp(lp) > 0:
        return np.nan
    design = np.column_stack([np.ones(y.size), lp])
    fast = irls_logit(design, np.asarray(y, dtype=float))
    if fast is not None:  # statsmodels' default fit, as calibration_slope_intercept calls it
        return float(fast[0][1])
    return calibration_slope_intercept(y, p)["slope"]


def hosmer_lemeshow(y, p, g: int = 10) -> dict:
    """Hosmer-Lemeshow test as ResourceSelection::hoslem.test.

    Groups are cut at the unique type-7 quantiles of `p` (right-closed intervals, the lowest
    closed); chi-square is summed over both outcome columns; df = g - 2 as in R, even when tied
    quantiles leave fewer groups.
    """
    y = binary_outcome(y)
    p = probabilities_like(p, y)
    breaks = np.unique(np.quantile(p, np.linspace(0, 1, g + 1)))
    group = np.clip(np.searchsorted(breaks, p, side="left"), 1, None)
    statistic = 0.0
    for k in np.unique(group):
        in_k = group == k
        observed = np.array([np.sum(1 - y[in_k]), np.sum(y[in_k])])
        expected = np.array([np.sum(1 - p[in_k]), np.sum(p[in_k])])
        statistic += float(np.sum((observed - expected) ** 2 / expected))
    df = g - 2
    return {"statistic": statistic, "df": df, "p_value": float(stats.chi2.sf(statistic, df))}


def brier(y, p) -> float:
    """Brier score: mean squared difference between prediction and outcome (lower is better)."""
    y = binary_outcome(y)
    return float(np.mean((probabilities_like(p, y) - y) ** 2))

"""ROC analysis: AUC, DeLong confidence interval and paired test, ROC points, Youden cut-off.

Conventions (as pROC with `direction = "<"`): `y` is 0/1 with 1 the event, a higher score means
more likely an event, and a case is called positive when ``score >= threshold``.

DeLong's variance uses the O(n log n) midrank algorithm of Sun & Xu (IEEE Signal Process Lett
2014;21:1389), vectorised over several scores at once; it equals pROC's `delongPlacements`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from deltarad.stats._validate import binary_outcome, scores_like


def _midranks(x: np.ndarray) -> np.ndarray:
    """Midranks (average ranks of ties) along the last axis."""
    return stats.rankdata(x, method="average", axis=-1)


def _placements(y, *scores) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values of each score: V10 per case and V01 per control."""
    y = binary_outcome(y)
    s = np.vstack([scores_like(sc, y, name=f"score {i + 1}") for i, sc in enumerate(scores)])
    cases, controls = s[:, y == 1], s[:, y == 0]
    m, n = cases.shape[1], controls.shape[1]
    ranks_all = _midranks(np.hstack([cases, controls]))
    ranks_cases = _midranks(cases)
    ranks_controls = _midranks(controls)
    # Placement values: V10 (per case) = share of controls scored below it, ties counting 1/2;
    # V01 (per control) = share of cases scored above it.
    v10 = (ranks_all[:, :m] - ranks_cases) / n
    v01 = 1.0 - (ranks_all[:, m:] - ranks_controls) / m
    return v10, v01


def _delong(y, *scores) -> tuple[np.ndarray, np.ndarray]:
    """AUC of each score and the DeLong covariance matrix of the AUCs (NaN with fewer than two
    cases or controls, where it is undefined)."""
    v10, v01 = _placements(y, *scores)
    m, n = v10.shape[1], v01.shape[1]
    if m < 2 or n < 2:
        return v10.mean(axis=1), np.full((len(scores), len(scores)), np.nan)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return v10.mean(axis=1), cov


def auc(y, score) -> float:
    """Area under the ROC curve (Mann-Whitney estimate; ties count 1/2)."""
    v10, _ = _placements(y, score)
    return float(v10.mean())


def delong_ci(y, score, level: float = 0.95) -> tuple[float, float, float]:
    """AUC and its DeLong confidence interval (auc, low, high), clipped to [0, 1] as pROC does."""
    aucs, cov = _delong(y, score)
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * np.sqrt(cov[0, 0])
    a = float(aucs[0])
    return a, float(max(0.0, a - half)), float(min(1.0, a + half))


def delong_test(y, score1, score2) -> tuple[float, float]:
    """Paired two-sided DeLong test of AUC(score1) = AUC(score2) on the same patients: (z, p).

    Identical curves give z = 0 and p = 1 (pROC's convention for the 0/0 case).
    """
    aucs, cov = _delong(y, score1, score2)
    diff = aucs[0] - aucs[1]
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    if diff == 0:
        return 0.0, 1.0
    z = float(diff / np.sqrt(var)) if var > 0 else float(np.sign(diff) * np.inf)
    return z, float(2 * stats.norm.sf(abs(z)))


def roc_points(y, score) -> pd.DataFrame:
    """The empirical ROC curve: one row per distinct threshold, from (0, 0) to (1, 1).

    Columns threshold, fpr, tpr; the first row has threshold +inf (nobody positive).
    """
    y = binary_outcome(y)
    score = scores_like(score, y)
    thresholds = np.concatenate([[np.inf], np.unique(score)[::-1]])
    tpr, fpr = _rates_at(y, score, thresholds)
    return pd.DataFrame({"threshold": thresholds, "fpr": fpr, "tpr": tpr})


def _rates_at(y: np.ndarray, score: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tpr, fpr) when positive means score >= threshold, for each threshold."""
    cases, controls = np.sort(score[y == 1]), np.sort(score[y == 0])
    tpr = 1.0 - np.searchsorted(cases, thresholds, side="left") / cases.size
    fpr = 1.0 - np.searchsorted(controls, thresholds, side="left") / controls.size
    return tpr, fpr


def youden_threshold(y, score) -> float:
    """The cut-off maximising Youden's J = sensitivity + specificity - 1 (positive: score >= cut-off).

    Candidate cut-offs are the midpoints between adjacent distinct scores, as pROC reports them,
    so the cut-off carried to another data set sits between the training scores rather than on
    one of them. Ties in J are broken towards the highest cut-off (the most specific rule).
    A binary 0/1 score therefore gets the cut-off 0.5. A constant score (an intercept-only
    model) has J = 0 at every cut-off; its cut-off is the constant itself, so every patient is
    called positive.
    """
    y = binary_outcome(y)
    score = scores_like(score, y)
    distinct = np.unique(score)
    if distinct.size < 2:
        return float(distinct[0])
    candidates = (distinct[:-1] + distinct[1:]) / 2
    tpr, fpr = _rates_at(y, score, candidates)
    j = tpr - fpr
    best = np.flatnonzero(j >= j.max() - 1e-12)  # equal J up to rounding
    return float(candidates[best[-1]])

"""Logistic regression for Table 2: Wald estimates, odds ratios, and a separation check.

Under complete or quasi-complete separation the maximum-likelihood estimate does not exist
(a coefficient runs off to infinity and its Wald SE with it). That is detected before fitting,
exactly, by deltarad's one separation rule (deltarad.stats.logit.is_separated, the linear
program of Konis 2007). A separated model is reported with NaN estimates and a warning instead
of an absurd odds ratio. The fit is deltarad's one logistic fitter (deltarad.stats.logit:
statsmodels' IRLS iterations, here to a deviance tolerance of 1e-12), its Wald SEs from the
covariance at convergence.

A term that is a linear combination of the terms before it (molecular subtype next to ER, PR and
HER2, say) is aliased: as R's glm does, it is left out of the fit and reported as NaN, instead
of a pseudo-inverse's arbitrary split of one effect between collinear terms.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from deltarad.encoding import Encoding, design_columns
from deltarad.errors import DeltaradError
from deltarad.stats._validate import binary_outcome, is_categorical
from deltarad.stats.logit import fit_logit, is_separated

COLUMNS = ["variable", "level", "beta", "se", "z", "p_value", "or", "or_ci_low", "or_ci_high", "warning"]
SEPARATION_WARNING = "perfect or quasi-complete separation: the maximum-likelihood estimate does not exist"
ALIASED_WARNING = "aliased: a linear combination of the terms before it, left out of the fit (R: NA)"
#: A column is aliased when less than this fraction of its norm is left after projecting it on the
#: columns before it (R's lm uses the same tolerance in its pivoting QR).
ALIAS_TOLERANCE = 1e-7


class SeparationWarning(UserWarning):
    """The outcome is perfectly (or quasi-perfectly) predicted; estimates are reported as NaN."""


def aliased_columns(X: np.ndarray) -> np.ndarray:
    """Boolean mask of the columns of `X` that are linear combinations of the kept columns before them."""
    X = np.asarray(X, dtype=float)
    aliased = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        column, kept = X[:, j], X[:, :j][:, ~aliased[:j]]
        residual = column - kept @ np.linalg.lstsq(kept, column, rcond=None)[0] if kept.shape[1] else column
        aliased[j] = np.linalg.norm(residual) <= ALIAS_TOLERANCE * np.linalg.norm(column)
    return aliased


@dataclass(frozen=True)
class Term:
    """A model term: a continuous variable, or one level of a categorical one (vs its reference)."""

    variable: str
    level: str


def design(
    df: pd.DataFrame, variables: list[str], categorical: set[str], reference_levels: dict | None = None
) -> tuple[np.ndarray, list[Term]]:
    """Design matrix (intercept first) and its terms; categorical variables get one 0/1 column per
    level other than the reference (deltarad.encoding: the first level in value order unless
    `reference_levels` names another)."""
    reference_levels = reference_levels or {}
    encodings = [
        Encoding.categorical(var, df[var], reference_levels.get(var)) if var in categorical else Encoding(var)
        for var in variables
    ]
    terms = []
    for e in encodings:
        labels = e.level_labels
        terms += (
            [Term(e.name, f"{lvl} vs {labels[0]}") for lvl in labels[1:]]
            if e.levels is not None
            else [Term(e.name, "")]
        )
    return np.column_stack([np.ones(len(df)), design_columns(df, encodings).to_numpy(dtype=float)]), terms


@dataclass(frozen=True)
class LogisticFit:
    """One fitted model: the coefficient table (no intercept row) and per-variable Wald p-values."""

    table: pd.DataFrame
    variable_p: dict[str, float]  # joint Wald test of all a variable's levels
    separated: bool


def fit_logistic(
    df: pd.DataFrame,
    outcome: str,
    variables: list[str],
    categorical=(),
    level: float = 0.95,
    reference_levels: dict | None = None,
) -> LogisticFit:
    """Maximum-likelihood logistic regression of `outcome` on `variables` (complete cases).

    Variables named in `categorical`, and non-numeric ones, are coded against their first level in
    value order, or the one `reference_levels` names.

    Returns beta, Wald SE, z, p, odds ratio and Wald CI per term. Under separation every
    estimate is NaN, the `warning` column says why and a SeparationWarning is issued.
    """
    missing = [v for v in [outcome, *variables] if v not in df.columns]
    if missing:
        raise DeltaradError(f"column(s) not found: {', '.join(missing)}")
    data = df[[outcome, *variables]].dropna()
    y = binary_outcome(data[outcome], name=f"outcome {outcome}")
    categorical = set(categorical) | {v for v in variables if is_categorical(data[v])}
    X, terms = design(data, list(variables), categorical, reference_levels)
    base = pd.DataFrame({"variable": [t.variable for t in terms], "level": [t.level for t in terms]})
    aliased = aliased_columns(X)
    if aliased.any():
        names = ", ".join(f"{t.variable} {t.level}".strip() for t, a in zip(terms, aliased[1:]) if a)
        warnings.warn(f"{outcome} ~ {' + '.join(variables)}: {names} {ALIASED_WARNING}", stacklevel=2)
    X = X[:, ~aliased]

    if is_separated(X, y):
        warnings.warn(f"{outcome} ~ {' + '.join(variables)}: {SEPARATION_WARNING}", SeparationWarning, stacklevel=2)
        table = base.assign(**{c: np.nan for c in COLUMNS[2:-1]}, warning=SEPARATION_WARNING)
        return LogisticFit(table[COLUMNS], {v: np.nan for v in variables}, True)

    columns = [f"x{j}" for j in range(1, X.shape[1])]
    fit = fit_logit(pd.DataFrame(X[:, 1:], columns=columns), y, separation=False, tol=1e-12, maxiter=200)
    params, cov = np.array([fit.intercept, *fit.coefficients.values()]), fit.cov
    assert cov is not None  # fit_logit always returns the covariance of a converged fit
    beta, se = np.full(len(terms), np.nan), np.full(len(terms), np.nan)
    beta[~aliased[1:]], se[~aliased[1:]] = params[1:], np.sqrt(np.diag(cov))[1:]
    z = beta / se
    half = stats.norm.ppf(0.5 + level / 2) * se
    table = base.assign(
        beta=beta,
        se=se,
        z=z,
        p_value=2 * stats.norm.sf(np.abs(z)),
        **{"or": np.exp(beta), "or_ci_low": np.exp(beta - half), "or_ci_high": np.exp(beta + half)},
        warning=np.where(aliased[1:], ALIASED_WARNING, ""),
    )
    fit_index = np.cumsum(~aliased) - 1  # design column -> column of the fitted model
    variable_p = {}
    for var in variables:
        idx = [fit_index[i + 1] for i, t in enumerate(terms) if t.variable == var and not aliased[i + 1]]
        if not idx:  # a categorical variable with one level left after dropping missing values, or aliased
            variable_p[var] = np.nan
            continue
        b = params[idx]
        chi2 = float(b @ np.linalg.solve(cov[np.ix_(idx, idx)], b))
        variable_p[var] = float(stats.chi2.sf(chi2, len(idx)))
    return LogisticFit(table[COLUMNS], variable_p, False)

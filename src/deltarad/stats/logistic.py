"""Logistic regression for Table 2: Wald estimates, odds ratios, and a separation check.

Under complete or quasi-complete separation the maximum-likelihood estimate does not exist
(a coefficient runs off to infinity and its Wald SE with it). That is detected before fitting,
exactly, by the linear program of Konis (2007, "Linear programming algorithms for detecting
separated data in binary logistic regression models"): the data are separated iff some
direction b != 0 has s_i x_i'b >= 0 for every patient (s_i = +1 for events, -1 otherwise).
A separated model is reported with NaN estimates and a warning instead of an absurd odds ratio.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, stats

from deltarad.errors import DeltaradError
from deltarad.stats._validate import binary_outcome, is_categorical

COLUMNS = ["variable", "level", "beta", "se", "z", "p_value", "or", "or_ci_low", "or_ci_high", "warning"]
SEPARATION_WARNING = "perfect or quasi-complete separation: the maximum-likelihood estimate does not exist"


class SeparationWarning(UserWarning):
    """The outcome is perfectly (or quasi-perfectly) predicted; estimates are reported as NaN."""


def is_separated(X: np.ndarray, y) -> bool:
    """True when the design `X` (with its intercept column) separates the 0/1 outcome `y`."""
    y = np.asarray(y)
    signed = np.where(y == 1, 1.0, -1.0)[:, None] * np.asarray(X, dtype=float)
    # maximise sum_i s_i x_i'b subject to s_i x_i'b >= 0 and -1 <= b <= 1
    res = optimize.linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(signed)),
        bounds=[(-1, 1)] * signed.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-7 * max(1.0, np.abs(signed).sum()))


@dataclass(frozen=True)
class Term:
    """A model term: a continuous variable, or one level of a categorical one (vs its reference)."""

    variable: str
    level: str


def design(df: pd.DataFrame, variables: list[str], categorical: set[str]) -> tuple[np.ndarray, list[Term]]:
    """Design matrix (intercept first) and its terms; categorical variables get one 0/1 column per
    level other than the first (sorted) level, which is the reference."""
    columns, terms = [np.ones(len(df))], []
    for var in variables:
        if var in categorical:
            levels = sorted(df[var].astype(str).unique())
            for level in levels[1:]:
                columns.append((df[var].astype(str) == level).to_numpy(dtype=float))
                terms.append(Term(var, f"{level} vs {levels[0]}"))
        else:
            columns.append(pd.to_numeric(df[var], errors="raise").to_numpy(dtype=float))
            terms.append(Term(var, ""))
    return np.column_stack(columns), terms


@dataclass(frozen=True)
class LogisticFit:
    """One fitted model: the coefficient table (no intercept row) and per-variable Wald p-values."""

    table: pd.DataFrame
    variable_p: dict[str, float]  # joint Wald test of all a variable's levels
    separated: bool


def fit_logistic(df: pd.DataFrame, outcome: str, variables: list[str], categorical=(), level: float = 0.95) -> LogisticFit:
    """Maximum-likelihood logistic regression of `outcome` on `variables` (complete cases).

    Variables named in `categorical`, and non-numeric ones, are coded against their first level.

    Returns beta, Wald SE, z, p, odds ratio and Wald CI per term. Under separation every
    estimate is NaN, the `warning` column says why and a SeparationWarning is issued.
    """
    missing = [v for v in [outcome, *variables] if v not in df.columns]
    if missing:
        raise DeltaradError(f"column(s) not found: {', '.join(missing)}")
    data = df[[outcome, *variables]].dropna()
    y = binary_outcome(data[outcome], name=f"outcome {outcome}")
    categorical = set(categorical) | {v for v in variables if is_categorical(data[v])}
    X, terms = design(data, list(variables), categorical)
    base = pd.DataFrame({"variable": [t.variable for t in terms], "level": [t.level for t in terms]})

    if is_separated(X, y):
        warnings.warn(f"{outcome} ~ {' + '.join(variables)}: {SEPARATION_WARNING}", SeparationWarning, stacklevel=2)
        table = base.assign(**{c: np.nan for c in COLUMNS[2:-1]}, warning=SEPARATION_WARNING)
        return LogisticFit(table[COLUMNS], {v: np.nan for v in variables}, True)

    result = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    beta, se = result.params[1:], result.bse[1:]
    z = beta / se
    half = stats.norm.ppf(0.5 + level / 2) * se
    table = base.assign(
        beta=beta,
        se=se,
        z=z,
        p_value=2 * stats.norm.sf(np.abs(z)),
        **{"or": np.exp(beta), "or_ci_low": np.exp(beta - half), "or_ci_high": np.exp(beta + half)},
        warning="",
    )
    variable_p = {}
    for var in variables:
        idx = [i + 1 for i, t in enumerate(terms) if t.variable == var]
        if not idx:  # a categorical variable with one level left after dropping missing values
            variable_p[var] = np.nan
            continue
        b, cov = result.params[idx], result.cov_params()[np.ix_(idx, idx)]
        chi2 = float(b @ np.linalg.solve(cov, b))
        variable_p[var] = float(stats.chi2.sf(chi2, len(idx)))
    return LogisticFit(table[COLUMNS], variable_p, False)

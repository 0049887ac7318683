"""The one logistic fitter and the one logistic scorer of deltarad.

`fit_logit` is maximum-likelihood logistic regression on a design matrix: the numpy IRLS of
deltarad.stats.irls, which replicates statsmodels' GLM(Binomial) iterations (statsmodels itself
is its reference, and the fallback where the IRLS would hit non-finite weights). It serves the
stepwise search (about 150 fits per refit, default tolerance) and Table 2 (tolerance 1e-12, Wald
standard errors from the covariance at convergence).

Separation is decided by one rule, the exact linear programme of Konis (2007, "Linear programming
algorithms for detecting separated data in binary logistic regression models"): the data are
(quasi-)completely separated iff some direction b != 0 has s_i x_i'b >= 0 for every patient
(s_i = +1 for events, -1 otherwise); the maximum-likelihood estimate then does not exist. It is an
LP per design, so a caller that fits many models (the stepwise search) asks for it on the model
it keeps, not on every trial fit.

`LogitFit.predict` is the only code that turns design columns into a probability: the model file
stores a fit as `to_dict()` and scores through `from_dict()`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize
from scipy.special import expit

from deltarad.stats.irls import TOL, irls_logit

#: True: the numpy IRLS of deltarad.stats.irls (statsmodels' iterations); False: statsmodels for
#: every fit, the reference it is tested against.
FAST_IRLS = True


@dataclass
class LogitFit:
    """Intercept, coefficients by column name, deviance and AIC = deviance + 2k (0/1 outcome).

    `separation`: the Konis rule's answer for the fitted design, None where it was not asked;
    `cov`: the coefficients' covariance (intercept first, then `coefficients` in order), where fitted.
    """

    intercept: float
    coefficients: dict[str, float]
    deviance: float = float("nan")
    n: int = 0
    separation: bool | None = None
    cov: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def k(self) -> int:
        return 1 + len(self.coefficients)

    @property
    def aic(self) -> float:
        return self.deviance + 2 * self.k

    def linear_predictor(self, X: pd.DataFrame) -> np.ndarray:
        lp = np.full(len(X), self.intercept, dtype=float)
        for name, beta in self.coefficients.items():
            lp += beta * X[name].to_numpy(float)
        return lp

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The probability of each row of the design columns X (any extra column is ignored)."""
        return expit(self.linear_predictor(X))

    def to_dict(self) -> dict:
        """What a model file stores to score with this fit."""
        return {"intercept": self.intercept, "coefficients": self.coefficients}

    @classmethod
    def from_dict(cls, stored: Mapping) -> LogitFit:
        """The scorer of a stored fit ({"intercept", "coefficients"})."""
        return cls(stored["intercept"], dict(stored["coefficients"]))


def _with_intercept(X: pd.DataFrame) -> np.ndarray:
    values = X.to_numpy(float)
    return sm.add_constant(values, has_constant="add") if X.shape[1] else np.ones((len(X), 1))


def is_separated(design: np.ndarray, y) -> bool:
    """True when the `design` (with its intercept column) separates the 0/1 outcome `y`
    completely or quasi-completely (the Konis linear programme)."""
    y = np.asarray(y)
    signed = np.where(y == 1, 1.0, -1.0)[:, None] * np.asarray(design, dtype=float)
    # maximise sum_i s_i x_i'b subject to s_i x_i'b >= 0 and -1 <= b <= 1
    res = optimize.linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(signed)),
        bounds=[(-1, 1)] * signed.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-7 * max(1.0, np.abs(signed).sum()))


def separates(X: pd.DataFrame, y) -> bool:
    """True when the columns of X, with an intercept, separate the 0/1 outcome `y`."""
    return is_separated(_with_intercept(X), y)


def fit_logit(
    X: pd.DataFrame, y: np.ndarray, *, separation: bool = True, tol: float = TOL, maxiter: int = 100
) -> LogitFit:
    """Unpenalised logistic regression of y (0/1) on the columns of X (plus an intercept), as
    statsmodels' GLM(Binomial).fit(maxiter=maxiter, tol=tol) computes it.

    Separation does not stop the fit: the estimates are those at convergence (large but finite).
    With `separation` (default) the Konis rule is applied to the design and recorded, so callers
    can warn; without it `separation` is None (the stepwise search's trial fits).
    """
    y = np.asarray(y, dtype=float)
    design = _with_intercept(X)
    fast = irls_logit(design, y, maxiter=maxiter, tol=tol) if FAST_IRLS else None
    if fast is not None:
        params, deviance, cov = fast
    else:
        with warnings.catch_warnings(), np.errstate(over="ignore"):
            warnings.simplefilter("ignore")  # statsmodels' own perfect-prediction warning: see `separation`
            result = sm.GLM(y, design, family=sm.families.Binomial()).fit(maxiter=maxiter, tol=tol)
        params, deviance = np.asarray(result.params, dtype=float), float(result.deviance)
        cov = np.asarray(result.cov_params(), dtype=float)
    return LogitFit(
        intercept=float(params[0]),
        coefficients={c: float(b) for c, b in zip(X.columns, params[1:])},
        deviance=deviance,
        n=len(y),
        separation=is_separated(design, y) if separation else None,
        cov=cov,
    )

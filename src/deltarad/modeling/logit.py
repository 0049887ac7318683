"""Maximum-likelihood logistic regression on a design matrix (statsmodels GLM, binomial)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit

from deltarad.modeling.irls import irls_logit

#: True: the numpy IRLS of deltarad.modeling.irls (statsmodels' iterations); False: statsmodels for
#: every fit, the reference it is tested against.
FAST_IRLS = True


@dataclass
class LogitFit:
    """Intercept, coefficients by column name, deviance and AIC = deviance + 2k (0/1 outcome)."""

    intercept: float
    coefficients: dict[str, float]
    deviance: float
    n: int
    separation: bool = False

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
        return expit(self.linear_predictor(X))


def fit_logit(X: pd.DataFrame, y: np.ndarray) -> LogitFit:
    """Unpenalised logistic regression of y (0/1) on the columns of X (plus an intercept).

    Complete or quasi-complete separation does not stop the fit: the estimates are those at
    convergence (large but finite) and `separation` is set so callers can warn.
    """
    y = np.asarray(y, dtype=float)
    design = sm.add_constant(X.to_numpy(float), has_constant="add") if X.shape[1] else np.ones((len(y), 1))
    fast = irls_logit(design, y) if FAST_IRLS else None
    if fast is not None:
        params, deviance, separation = fast
        return LogitFit(intercept=float(params[0]), coefficients={c: float(b) for c, b in zip(X.columns, params[1:])},
                        deviance=deviance, n=len(y), separation=separation)
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="ignore"):
        warnings.simplefilter("always")
        result = sm.GLM(y, design, family=sm.families.Binomial()).fit(maxiter=100)
    fitted = result.fittedvalues
    separation = any("separation" in str(w.message).lower() for w in caught) or bool(
        np.any((fitted < 1e-8) | (fitted > 1 - 1e-8))
    )
    params = np.asarray(result.params, dtype=float)
    return LogitFit(
        intercept=float(params[0]),
        coefficients={c: float(b) for c, b in zip(X.columns, params[1:])},
        deviance=float(result.deviance),
        n=len(y),
        separation=separation,
    )

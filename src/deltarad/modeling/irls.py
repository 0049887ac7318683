"""Logistic maximum likelihood by IRLS in numpy, step for step as statsmodels' GLM(Binomial).fit
does it (start mu = (y + 1/2) / 2, least-squares steps, stop when the deviance changes by less
than 1e-8 in absolute terms), without its per-fit overhead: a stepwise search fits ~50 models
per refit and statsmodels' bookkeeping was 5 ms of each. Used for well-behaved fits only; a fit
that ends near separation or does not converge returns None and the caller asks statsmodels.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

TOL = 1e-8  # statsmodels' IRLS default (tol_criterion "deviance", atol = tol, rtol = 0)


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    return float(-2.0 * np.sum(np.where(y == 1, np.log(mu), np.log1p(-mu))))


def irls_logit(design: np.ndarray, y: np.ndarray, maxiter: int = 100) -> tuple[np.ndarray, float] | None:
    """(coefficients, deviance) of the logistic regression of 0/1 `y` on `design` (intercept column
    included), or None where statsmodels' own checks would matter: a fitted probability within
    1e-8 of 0 or 1 (separation), a non-finite step, or no convergence in `maxiter` iterations."""
    mu = (y + 0.5) / 2
    eta = np.log(mu / (1 - mu))
    deviance = _deviance(y, mu)
    for _ in range(maxiter):
        w = mu * (1 - mu)
        sw = np.sqrt(w)
        z = eta + (y - mu) / w
        beta = np.linalg.lstsq(design * sw[:, None], z * sw, rcond=-1)[0]
        eta = design @ beta
        mu = expit(eta)
        if not np.all(np.isfinite(mu)) or np.any((mu < 1e-8) | (mu > 1 - 1e-8)):
            return None
        previous, deviance = deviance, _deviance(y, mu)
        if abs(previous - deviance) <= TOL:
            return beta, deviance
    return None

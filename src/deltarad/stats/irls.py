"""Logistic maximum likelihood by IRLS in numpy, step for step as statsmodels'
GLM(Binomial).fit(maxiter=100) does it, without its per-fit overhead (a stepwise search fits
~50 models per refit and statsmodels' bookkeeping was 5 ms of each): the start mu = (y + 1/2) / 2,
its clipping of probabilities to [eps, 1 - eps] in the link and variance, least-squares steps,
the stop when the deviance changes by at most 1e-8, and the final pseudo-inverse solve (singular
values below 1e-15 of the largest dropped) that gives statsmodels' reported coefficients, so
separated data (coefficients running off) end on the same iteration too. The covariance of the
coefficients is statsmodels' too: the inverse information pinv(W^1/2 X) pinv(W^1/2 X)' at
convergence (the binomial scale is 1), whose diagonal gives the Wald standard errors.
"""

from __future__ import annotations

import numpy as np

TOL = 1e-8  # statsmodels' IRLS default (tol_criterion "deviance", atol = tol, rtol = 0)
EPS = np.finfo(float).eps  # statsmodels' FLOAT_EPS


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, EPS, 1.0 - EPS)


def _fitted(eta: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-eta) = inf under separation gives mu = 0, as in statsmodels
        return 1.0 / (1.0 + np.exp(-eta))


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    ratio1 = np.clip(y / (mu + 1e-20), EPS, None)
    ratio0 = np.clip((1.0 - y) / (1.0 - mu + 1e-20), EPS, None)
    return float(np.sum(2 * (y * np.log(ratio1) + (1 - y) * np.log(ratio0))))


def _pinv(x: np.ndarray, rcond: float = 1e-15) -> np.ndarray:
    u, s, vt = np.linalg.svd(x, False)
    keep = s > rcond * np.max(s)
    s_inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    return vt.T @ (s_inv[:, None] * u.T)


def irls_logit(
    design: np.ndarray, y: np.ndarray, maxiter: int = 100, tol: float = TOL
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(coefficients, deviance, covariance) of the logistic regression of 0/1 `y` on `design`
    (intercept column included), as statsmodels' GLM(Binomial).fit(maxiter, tol) reports them.
    None where statsmodels would raise (non-finite weights or working response)."""
    y = np.asarray(y, dtype=float)
    mu = (y + 0.5) / 2
    p = _clip(mu)
    eta = np.log(p / (1.0 - p))
    deviance = _deviance(y, mu)
    for _ in range(maxiter):
        p = _clip(mu)
        deriv = 1.0 / (p * (1 - p))
        weights = 1.0 / (deriv**2 * (p * (1 - p)))
        z = eta + deriv * (y - mu)
        sw = np.sqrt(weights)
        if not (np.all(np.isfinite(sw)) and np.all(np.isfinite(z))):
            return None
        wexog, wz = sw[:, None] * design, sw * z
        beta = np.linalg.lstsq(wexog, wz, rcond=-1)[0]
        eta = design @ beta
        mu = _fitted(eta)
        previous, deviance = deviance, _deviance(y, mu)
        if abs(previous - deviance) <= tol:
            break
    pinv = _pinv(wexog)
    beta = pinv @ wz
    return beta, _deviance(y, _fitted(design @ beta)), np.dot(pinv, pinv.T)

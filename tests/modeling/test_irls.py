"""The numpy IRLS gives statsmodels' GLM(Binomial) fit bit for bit, separated data included."""

import numpy as np
import pandas as pd
import pytest

import deltarad.stats.logit as logit


def _pair(monkeypatch, X, y):
    fast = logit.fit_logit(X, y)
    monkeypatch.setattr(logit, "FAST_IRLS", False)
    return fast, logit.fit_logit(X, y)


@pytest.mark.parametrize("seed", range(8))
def test_fast_logit_fit_is_statsmodels_fit(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    k = seed % 5
    X = pd.DataFrame(rng.normal(size=(130, k)), columns=[f"c{i}" for i in range(k)])
    y = (X.sum(axis=1) * 0.8 + rng.normal(size=130) > 0).astype(int).to_numpy()
    fast, reference = _pair(monkeypatch, X, y)
    assert fast.aic == reference.aic and fast.intercept == reference.intercept
    assert fast.coefficients == reference.coefficients
    assert not fast.separation and not reference.separation


@pytest.mark.parametrize("seed", range(4))
def test_separated_data_end_where_statsmodels_ends(monkeypatch, seed):
    """Coefficients running off to infinity stop on statsmodels' iteration, with its values."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    y = (X["a"] + 0.3 * X["b"] > 0).astype(int).to_numpy()  # a line separates the outcomes
    fast, reference = _pair(monkeypatch, X, y)
    assert reference.separation and fast.separation
    assert fast.deviance == reference.deviance and fast.coefficients == reference.coefficients
    assert abs(fast.coefficients["a"]) > 10

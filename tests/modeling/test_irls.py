"""The numpy IRLS gives statsmodels' GLM(Binomial) fit, and gives way to it near separation."""
import numpy as np
import pandas as pd
import pytest

import deltarad.modeling.logit as logit
from deltarad.modeling.irls import irls_logit


@pytest.mark.parametrize("seed", range(6))
def test_fast_logit_fit_equals_statsmodels(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    k = seed + 1
    X = pd.DataFrame(rng.normal(size=(130, k)), columns=[f"c{i}" for i in range(k)])
    y = (X.sum(axis=1) * 0.8 + rng.normal(size=130) > 0).astype(int).to_numpy()
    fast = logit.fit_logit(X, y)
    monkeypatch.setattr(logit, "FAST_IRLS", False)
    reference = logit.fit_logit(X, y)
    assert fast.aic == pytest.approx(reference.aic, abs=1e-10)
    assert fast.intercept == pytest.approx(reference.intercept, abs=1e-9)
    for c in X.columns:
        assert fast.coefficients[c] == pytest.approx(reference.coefficients[c], abs=1e-9)
    assert not fast.separation and not reference.separation


def test_separated_data_are_left_to_statsmodels():
    x = np.arange(20.0)
    y = (x > 9.5).astype(int)
    assert irls_logit(np.column_stack([np.ones(20), x]), y.astype(float)) is None
    fit = logit.fit_logit(pd.DataFrame({"x": x}), y)
    assert fit.separation

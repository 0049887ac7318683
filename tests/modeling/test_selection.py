"""Each selection step on small hand-made tables with answers known in advance."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from deltarad.config import SelectionSettings
from deltarad.modeling.selection import (
    CorrelationFilter,
    IccFilter,
    LassoSelector,
    TTestFilter,
    ZScore,
    select_features,
)


def _frame(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame(cols, index=[f"P{i}" for i in range(n)])


def test_icc_filter_keeps_reproducible_and_drops_unreliable_feature():
    rng = np.random.default_rng(0)
    true = rng.normal(size=30)
    r1 = _frame(stable=true, unstable=true)
    r2 = _frame(stable=true + 0.01 * rng.normal(size=30), unstable=rng.normal(size=30))
    f = IccFilter(r2.iloc[:20], icc_min=0.8).fit(r1)
    assert f.features_ == ["stable"]
    assert f.n_patients_ == 20  # only patients read twice


def test_zscore_uses_training_mean_and_sd_with_n_minus_1_and_drops_constants():
    X = _frame(a=[1.0, 2.0, 3.0, 4.0], const=[5.0] * 4)
    z = ZScore().fit(X)
    assert z.features_ == ["a"]
    assert z.sd_["a"] == pytest.approx(np.sqrt(5 / 3))  # sample SD of 1..4
    assert z.transform(_frame(a=[2.5], const=[0.0]))["a"].iloc[0] == pytest.approx(0.0)


def test_welch_t_statistic_matches_the_closed_form():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # group 1: mean 3, var 2.5
    b = np.array([2.0, 2.5, 3.0])  # group 0: mean 2.5, var 0.25
    X = _frame(f=np.r_[a, b])
    y = np.r_[np.ones(5), np.zeros(3)]
    t = (3 - 2.5) / np.sqrt(2.5 / 5 + 0.25 / 3)
    dof = (2.5 / 5 + 0.25 / 3) ** 2 / ((2.5 / 5) ** 2 / 4 + (0.25 / 3) ** 2 / 2)
    expected_p = 2 * stats.t.sf(t, dof)
    assert TTestFilter(alpha=1.0, welch=True).fit(X, y).p_["f"] == pytest.approx(expected_p, rel=1e-10)
    assert TTestFilter(alpha=1.0, welch=False).fit(X, y).p_["f"] != pytest.approx(expected_p, rel=1e-3)


def test_correlation_filter_keeps_the_smaller_p_of_a_correlated_pair():
    rng = np.random.default_rng(1)
    base = rng.normal(size=50)
    X = _frame(a=base, b=base + 0.05 * rng.normal(size=50), c=rng.normal(size=50))
    y = (X["b"] > X["b"].median()).to_numpy(int)  # the outcome splits on b: b's p is the smaller
    p = CorrelationFilter().fit(X, y).p_
    assert p["b"] < p["a"]
    assert CorrelationFilter(corr_max=0.9).fit(X, y).features_ == ["b", "c"]
    assert CorrelationFilter(corr_max=0.9999).fit(X, y).features_ == ["a", "b", "c"]


def test_lasso_keeps_strong_feature_and_drops_pure_noise():
    rng = np.random.default_rng(2)
    n = 200
    y = (rng.random(n) < 0.5).astype(int)
    X = _frame(signal=rng.normal(size=n) + 1.5 * y, **{f"noise{i}": rng.normal(size=n) for i in range(8)})
    lasso = LassoSelector(folds=5, rule="1se").fit(X, y)
    assert "signal" in lasso.features_
    assert len(lasso.features_) <= 3
    assert lasso.coef_["signal"] > 0


def test_lasso_on_pure_noise_with_1se_selects_nothing():
    rng = np.random.default_rng(3)
    X = _frame(**{f"noise{i}": rng.normal(size=150) for i in range(10)})
    y = (rng.random(150) < 0.5).astype(int)
    assert LassoSelector(rule="1se").fit(X, y).features_ == []


def test_no_feature_surviving_gives_intercept_only_and_says_so():
    rng = np.random.default_rng(4)
    n = 60
    X = _frame(**{f"f{i}": rng.normal(size=n) for i in range(5)})
    y = (np.arange(n) % 2).astype(int)
    sel = select_features("intratumoral", X, y, SelectionSettings(ttest_p=1e-9))
    assert sel.features == []
    assert [s["step"] for s in sel.steps] == ["delta", "icc", "ttest", "correlation", "lasso"]
    assert any("intercept-only" in n for n in sel.notes)
    assert any("skipped" in n for n in sel.notes)  # no reader 2: ICC skipped, and said
    assert sel.intercept == pytest.approx(0.0)  # logit of the training prevalence 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_lasso_path_is_bit_identical_at_every_level_of_the_liblinear_call(monkeypatch, seed):
    """The raw C call, _fit_liblinear and LogisticRegression.fit give the same bits along a path
    (on a table where the smallest penalties keep many features and need many iterations)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 25))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=90) > 0).astype(int)
    lambdas = 0.2 * np.logspace(0, -3, 12)
    paths = {}
    for direct, raw in [(True, True), (True, False), (False, False)]:
        monkeypatch.setattr(LassoSelector, "direct", direct)
        monkeypatch.setattr(LassoSelector, "raw", raw)
        paths[direct, raw] = LassoSelector._path(X, y, lambdas)
    assert np.count_nonzero(paths[True, True][-1][0]) > 10  # the small penalties are exercised
    for other in [(True, False), (False, False)]:
        for (c1, b1), (c2, b2) in zip(paths[True, True], paths[other]):
            assert np.array_equal(c1, c2) and b1 == b2


def test_raw_lasso_fit_refuses_one_outcome_class():
    with pytest.raises(ValueError, match="2 classes"):
        LassoSelector._train_l1(np.ones((4, 2)), np.zeros(4, int), 1.0)

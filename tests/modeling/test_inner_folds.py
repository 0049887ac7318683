"""Inner cross-validation folds of the LASSO: a bootstrap patient's copies stay in one fold."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from deltarad.modeling.selection import IccFilter, LassoSelector, inner_folds
from deltarad.stats.icc import icc_2_1


def test_copies_of_a_patient_never_straddle_a_fold():
    rng = np.random.default_rng(0)
    y0 = rng.integers(0, 2, 60)
    draw = rng.integers(0, 60, 60)  # a bootstrap draw: about a third of the patients twice or more
    groups, y = np.array([f"P{i}" for i in draw]), y0[draw]
    assert len(set(groups)) < len(groups)
    splits = inner_folds(y, 5, seed=0, groups=groups)
    assert len(splits) == 5
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        assert set(y[test]) == {0, 1}
    held_out = np.concatenate([test for _, test in splits])
    assert sorted(held_out) == list(range(len(y)))


def test_distinct_patients_get_the_plain_stratified_folds():
    y = np.array([0, 1] * 20)
    got = inner_folds(y, 4, seed=3, groups=np.array([f"P{i}" for i in range(40)]))
    want = StratifiedKFold(4, shuffle=True, random_state=3).split(np.zeros(40), y)
    for (a_tr, a_te), (b_tr, b_te) in zip(got, want):
        assert list(a_tr) == list(b_tr) and list(a_te) == list(b_te)
    assert [list(t) for _, t in inner_folds(y, 4, seed=3)] == [list(t) for _, t in got]


def test_folds_are_capped_by_distinct_patients_of_the_rarer_outcome():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    groups = np.array(["A", "A", "B", "C", "D", "E", "F", "G"])  # 2 distinct pCR patients
    assert len(inner_folds(y, 10, 0, groups)) == 2
    with pytest.raises(ValueError, match="at least 2 patients of each outcome"):
        inner_folds(y, 10, 0, np.array(["A", "A", "A", "C", "D", "E", "F", "G"]))


def test_lasso_with_groups_runs_on_grouped_folds():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.standard_normal((50, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * rng.standard_normal(50) > 0).astype(int).to_numpy()
    draw = rng.integers(0, 50, 50)
    lasso = LassoSelector(folds=5).fit(X.iloc[draw].reset_index(drop=True), y[draw], groups=draw)
    assert "a" in lasso.features_


def test_icc_leaves_out_a_reader_2_value_left_undefined_for_that_feature_only():
    rng = np.random.default_rng(2)
    idx = [f"P{i}" for i in range(12)]
    r1 = pd.DataFrame(rng.standard_normal((12, 2)), index=idx, columns=["a", "b"])
    r2 = r1 + 0.1 * rng.standard_normal((12, 2))
    r2.loc["P3", "a"] = np.nan
    icc = IccFilter(r2, 0.8).fit(r1).icc_
    rows = [i for i in idx if i != "P3"]
    assert icc["a"] == pytest.approx(icc_2_1(np.stack([r1.loc[rows, "a"], r2.loc[rows, "a"]], axis=1)), rel=1e-12)
    assert icc["b"] == pytest.approx(icc_2_1(np.stack([r1["b"], r2["b"]], axis=1)), rel=1e-12)


def test_direct_liblinear_path_equals_the_estimators_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((90, 12))
    y = (X[:, 0] - X[:, 1] + rng.standard_normal(90) > 0).astype(int)
    lambdas = np.max(np.abs(X.T @ (y - y.mean()))) / 90 * np.logspace(0, -3, 15)
    assert LassoSelector.direct
    fast = LassoSelector._path(X, y, lambdas)
    monkeypatch.setattr(LassoSelector, "direct", False)
    reference = LassoSelector._path(X, y, lambdas)
    for (c1, b1), (c2, b2) in zip(fast, reference):
        assert np.array_equal(c1, c2) and b1 == b2
    assert sum(np.count_nonzero(c) for c, _ in fast) > 0


def test_repeated_question_gets_the_folds_a_fresh_split_gives():
    from deltarad.modeling.selection import _inner_folds

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 60)
    groups = np.array([f"P{i // 2}" for i in range(60)], dtype=object)
    first = inner_folds(y, 5, 1, groups)
    again = inner_folds(y, 5, 1, groups)
    fresh = _inner_folds(y, 5, 1, groups)
    for (a, b), (c, d), (e, f) in zip(first, again, fresh):
        assert np.array_equal(a, c) and np.array_equal(a, e) and np.array_equal(b, d) and np.array_equal(b, f)
    other = inner_folds(y, 5, 2, groups)  # another seed is another question
    assert any(not np.array_equal(t1, t2) for (_, t1), (_, t2) in zip(first, other))

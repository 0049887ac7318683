"""The selection steps as scikit-learn estimators: clone, Pipeline, cross_validate with groups."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import get_scorer, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_validate
from sklearn.utils.validation import check_is_fitted

from deltarad.config import SelectionSettings
from deltarad.modeling import selection
from deltarad.modeling.models import fit_radscore
from deltarad.modeling.selection import (
    ICC_SKIPPED,
    CorrelationFilter,
    IccFilter,
    LassoSelector,
    TTestFilter,
    ZScore,
    select_features,
    selection_pipeline,
)

STEPS = ["icc", "zscore", "ttest", "correlation", "lasso"]


def _table(n_patients=90, n_features=40, informative=4, effect=1.2, seed=0, bootstrap=False):
    """Planted signal: the first `informative` features shift by `effect` SD with pCR, the rest
    noise. With `bootstrap` the rows are a draw with replacement (copies of a patient share a group)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n_patients) < 0.45).astype(int)
    x = rng.normal(size=(n_patients, n_features))
    x[:, :informative] += effect * y[:, None]
    patients = np.array([f"P{i:03d}" for i in range(n_patients)])
    rows = rng.integers(0, n_patients, n_patients) if bootstrap else np.arange(n_patients)
    copy = pd.Series(patients[rows]).groupby(patients[rows]).cumcount().to_numpy()
    index = [f"{p}#{c}" for p, c in zip(patients[rows], copy)]
    X = pd.DataFrame(x[rows], index=index, columns=[f"f{j:02d}" for j in range(n_features)])
    return X, y[rows], patients[rows]


def _reader2(X, seed=1, noise=0.2):
    rng = np.random.default_rng(seed)
    return X + noise * rng.normal(size=X.shape)


def _non_default_steps(reader2):
    return [
        IccFilter(reader2, icc_min=0.7),
        ZScore(),
        TTestFilter(alpha=0.2, welch=False),
        CorrelationFilter(corr_max=0.8, welch=False),
        LassoSelector(folds=4, rule="1se", seed=3, n_lambdas=15, lambda_min_ratio=1e-2),
    ]


def _same_params(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if k == "steps":  # the steps themselves are compared under their names (deep parameters)
            if [name for name, _ in a[k]] != [name for name, _ in b[k]]:
                return False
        elif isinstance(a[k], pd.DataFrame) or isinstance(b[k], pd.DataFrame):
            if not (isinstance(a[k], pd.DataFrame) and isinstance(b[k], pd.DataFrame) and a[k].equals(b[k])):
                return False
        elif hasattr(a[k], "get_params"):
            if type(a[k]) is not type(b[k]) or not _same_params(a[k].get_params(), b[k].get_params()):
                return False
        elif a[k] != b[k]:
            return False
    return True


@pytest.mark.parametrize("cls", [IccFilter, ZScore, TTestFilter, CorrelationFilter, LassoSelector])
def test_every_step_is_constructible_with_defaults_and_unfitted_until_fit(cls):
    step = cls()
    with pytest.raises(NotFittedError):
        check_is_fitted(step)
    with pytest.raises(NotFittedError):
        step.transform(pd.DataFrame({"a": [1.0, 2.0]}))
    assert _same_params(clone(step).get_params(), step.get_params())


def test_clone_of_each_step_keeps_its_parameters_and_drops_the_fit():
    X, y, _ = _table()
    for step in _non_default_steps(_reader2(X)):
        step.fit_transform(X, y)
        check_is_fitted(step)
        copy = clone(step)
        assert _same_params(copy.get_params(), step.get_params())
        with pytest.raises(NotFittedError):
            check_is_fitted(copy)
        assert not [a for a in vars(copy) if a.endswith("_")]
        assert _same_params(type(step)().set_params(**step.get_params()).get_params(), step.get_params())


def test_clone_of_the_study_pipeline_is_an_unfitted_pipeline_with_the_same_settings():
    settings = SelectionSettings(
        icc_min=0.75, ttest_p=0.1, ttest="student", corr_max=0.85, lasso_folds=4, lasso_rule="min", lasso_seed=2
    )
    pipe = selection_pipeline(settings)
    assert list(pipe.named_steps) == STEPS
    params = pipe.get_params()
    assert (
        params["icc__icc_min"],
        params["ttest__alpha"],
        params["ttest__welch"],
        params["correlation__corr_max"],
        params["correlation__welch"],
        params["lasso__folds"],
        params["lasso__rule"],
        params["lasso__seed"],
    ) == (0.75, 0.1, False, 0.85, False, 4, "min", 2)
    X, y, _ = _table()
    pipe.fit(X, y)
    check_is_fitted(pipe)
    copy = clone(pipe)
    assert _same_params(copy.get_params(), pipe.get_params())
    for name in STEPS:
        assert copy.named_steps[name] is not pipe.named_steps[name]
        with pytest.raises(NotFittedError):
            check_is_fitted(copy.named_steps[name])
    assert clone(selection_pipeline(SelectionSettings())).get_params()["lasso__rule"] == "1se"


def test_transform_and_feature_names_out_are_the_kept_columns_with_the_patients_kept():
    X, y, _ = _table(informative=6)
    pipe = selection_pipeline(SelectionSettings(), _reader2(X)).fit(X, y)
    inputs = X
    for name in STEPS:
        step = pipe.named_steps[name]
        assert list(step.feature_names_in_) == list(inputs.columns)
        assert list(step.get_feature_names_out()) == step.features_
        inputs = step.transform(inputs)
    Z = pipe[:-1].transform(X)
    assert list(Z.columns) == list(pipe[:-1].get_feature_names_out()) == pipe.named_steps["correlation"].features_
    assert list(Z.index) == list(X.index)
    kept = pipe.named_steps["lasso"].transform(Z)
    assert list(kept.columns) == pipe.named_steps["lasso"].features_
    assert {"f00", "f01", "f02"} <= set(kept.columns)  # strong planted features survive every step


def test_icc_filter_uses_only_the_reader_2_rows_of_the_patients_it_is_fitted_on():
    X, y, _ = _table()
    r2 = _reader2(X)
    outsiders = pd.DataFrame(
        np.random.default_rng(9).normal(scale=50, size=(30, X.shape[1])),
        index=[f"Q{i}" for i in range(30)],
        columns=X.columns,
    )
    alone = IccFilter(r2).fit(X)
    with_outsiders = IccFilter(pd.concat([r2, outsiders])).fit(X)
    assert alone.n_patients_ == with_outsiders.n_patients_ == len(X)
    assert np.array_equal(alone.icc_.to_numpy(), with_outsiders.icc_.to_numpy())
    half = IccFilter(pd.concat([r2.iloc[:45], outsiders])).fit(X)
    assert half.n_patients_ == 45 and not half.skipped_


@pytest.mark.parametrize("reader2", [None, "one patient"])
def test_icc_without_two_training_patients_read_twice_passes_everything_and_says_so(reader2):
    X, y, _ = _table()
    r2 = None if reader2 is None else _reader2(X).iloc[:1]
    icc = IccFilter(r2).fit(X)
    assert icc.skipped_ and icc.features_ == list(X.columns)
    sel = select_features("intratumoral", X, y, SelectionSettings(), reader2=r2)
    assert f"icc: {ICC_SKIPPED}" in sel.notes
    assert [s["n_features"] for s in sel.steps if s["step"] == "icc"] == [X.shape[1]]


def test_correlation_p_values_are_the_t_test_filters_bit_for_bit():
    X, y, _ = _table(informative=10, effect=0.6, seed=4)
    for ttest in ["welch", "student"]:
        pipe = selection_pipeline(SelectionSettings(ttest=ttest, ttest_p=0.5), _reader2(X)).fit(X, y)
        t, c = pipe.named_steps["ttest"], pipe.named_steps["correlation"]
        assert len(t.features_) > 5
        assert np.array_equal(c.p_.to_numpy(), t.p_[t.features_].to_numpy())


def test_select_features_is_the_pipeline_fitted_by_hand():
    X, y, groups = _table(n_features=60, informative=6, effect=0.9, bootstrap=True, seed=5)
    r2 = _reader2(X).iloc[::2]
    settings = SelectionSettings(lasso_folds=5, lasso_rule="min", ttest_p=0.2)
    sel = select_features("peritumoral", X, y, settings, reader2=r2, n_before_delta=99, groups=groups)
    pipe = selection_pipeline(settings, r2).fit(X, y, lasso__groups=groups)
    lasso, zscore = pipe.named_steps["lasso"], pipe.named_steps["zscore"]
    assert sel.features == lasso.features_ and len(sel.features) >= 3
    assert np.array_equal(sel.coefficients.to_numpy(), lasso.coef_[lasso.features_].to_numpy())
    assert sel.intercept == lasso.intercept_
    assert np.array_equal(sel.mean.to_numpy(), zscore.mean_[sel.features].to_numpy())
    assert np.array_equal(sel.sd.to_numpy(), zscore.sd_[sel.features].to_numpy())
    counts = {s["step"]: s["n_features"] for s in sel.steps}
    assert counts == {
        "features": 99,
        "delta": 60,
        **{n: len(pipe.named_steps[n].features_) for n in STEPS if n != "zscore"},
    }
    assert f"icc: ICC(2,1) on {len(X.index.intersection(r2.index))} training patients read twice" in sel.notes
    ungrouped = selection_pipeline(settings, r2).fit(X, y)  # groups reach the LASSO's inner folds
    assert not np.array_equal(ungrouped.named_steps["lasso"].cv_deviance_, lasso.cv_deviance_)


def test_the_lasso_as_classifier_is_the_studys_radscore():
    X, y, _ = _table(informative=5, seed=6)
    settings = SelectionSettings(lasso_folds=5)
    pipe = selection_pipeline(settings).fit(X, y)
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(proba[:, 1], expit(pipe.decision_function(X)))
    assert list(pipe.classes_) == [0, 1]
    assert np.array_equal(pipe.predict(X), (proba[:, 1] > 0.5).astype(int))
    radscore = fit_radscore(select_features("intratumoral", X, y, settings), X, y)
    assert np.array_equal(proba[:, 1], radscore.predict(X))  # the one scorer: the same bits
    assert get_scorer("roc_auc")(pipe, X, y) == roc_auc_score(y, proba[:, 1]) > 0.8


def _cross_validated_auc(X, y, groups, settings, seed, **kwargs):
    cv = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=seed)
    return cross_validate(
        selection_pipeline(settings),
        X,
        y,
        groups=groups,
        cv=cv,
        scoring="roc_auc",
        params={"lasso__groups": groups},
        error_score="raise",
        **kwargs,
    )


def test_pipeline_under_cross_validate_with_grouped_folds_finds_planted_signal_and_not_noise(monkeypatch):
    settings = SelectionSettings(lasso_folds=4, ttest_p=0.3, lasso_rule="min")
    seen = []
    real_inner_folds = selection.inner_folds

    def spy(y, folds, seed, groups=None):
        seen.append(groups)
        return real_inner_folds(y, folds, seed, groups)

    monkeypatch.setattr(selection, "inner_folds", spy)
    X, y, groups = _table(bootstrap=True, seed=7)
    assert len(set(groups)) < len(groups)  # copies of patients: the groups matter
    result = _cross_validated_auc(X, y, groups, settings, seed=0, return_indices=True)
    assert result["test_score"].mean() > 0.75
    for train, test, inner in zip(result["indices"]["train"], result["indices"]["test"], seen):
        assert not set(groups[train]) & set(groups[test])  # no patient on both sides of an outer fold
        assert np.array_equal(inner, groups[train])  # the LASSO's inner folds got the training rows' groups

    monkeypatch.setattr(selection, "inner_folds", real_inner_folds)
    noise = [
        _cross_validated_auc(*_table(bootstrap=True, seed=s, effect=0.0), settings, seed=s)["test_score"].mean()
        for s in (10, 11, 12)
    ]
    assert abs(np.mean(noise) - 0.5) < 0.15

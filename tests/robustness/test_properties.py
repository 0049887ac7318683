"""Property-based tests (hypothesis) of the statistics and of the study/cohort/feature loaders."""

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.errors import DeltaradError
from deltarad.features.delta import compute_delta
from deltarad.stats.roc import auc, delong_ci

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def labelled_scores(draw, min_size=4, max_size=60):
    n = draw(st.integers(min_size, max_size))
    y = draw(arrays(np.int8, n, elements=st.integers(0, 1)))
    assume(0 < y.sum() < n)
    score = draw(arrays(np.float64, n, elements=finite))
    return y.astype(int), score


@given(labelled_scores())
def test_auc_is_a_probability(data):
    y, s = data
    assert 0.0 <= auc(y, s) <= 1.0


@given(labelled_scores())
def test_auc_of_negated_score_is_one_minus_auc(data):
    y, s = data
    assert np.isclose(auc(y, -s), 1.0 - auc(y, s), atol=1e-12)


@given(labelled_scores())
def test_auc_is_invariant_to_strictly_increasing_transforms(data):
    y, s = data
    assert np.isclose(auc(y, 2.0 * s), auc(y, s), atol=1e-12)  # exact in floating point
    assert np.isclose(auc(y, s**3), auc(y, s), atol=1e-12)
    ranks = pd.Series(s).rank(method="dense").to_numpy()
    assert np.isclose(auc(y, ranks), auc(y, s), atol=1e-12)


@given(labelled_scores(min_size=6))
def test_delong_ci_contains_the_auc(data):
    y, s = data
    a, low, high = delong_ci(y, s)
    assert 0.0 <= low <= a <= high <= 1.0


study_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
study_keys = st.sampled_from(["cohort", "features", "outcome", "clinical", "split", "selection", "imaging", "zzz"])


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=40, deadline=None
)
@given(st.dictionaries(study_keys, study_values, max_size=5))
def test_study_loader_accepts_or_names_the_problem(tmp_path, doc):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        study = load_study(path)
    except DeltaradError as exc:
        assert "study.yaml" in str(exc)
    else:
        assert study.cohort is not None


printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=4)
cell = st.one_of(st.none(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True), printable)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=40, deadline=None
)
@given(st.lists(st.tuples(st.text("PQ0123", min_size=1, max_size=3), cell, cell, cell), min_size=1, max_size=12))
def test_cohort_loader_splits_good_and_bad_patients_or_names_the_problem(tmp_path, rows):
    pd.DataFrame(rows, columns=["patient_id", "outcome", "ultrasound", "age"]).to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "s.yaml").write_text("cohort: c.csv\nclinical: [age]\n")
    try:
        cohort, failures = load_cohort_cases(load_study(tmp_path / "s.yaml"))
    except DeltaradError as exc:
        assert "c.csv" in str(exc)
        return
    assert set(cohort["outcome"]) <= {0, 1} and set(cohort["ultrasound"]) <= {0, 1}
    assert not set(cohort["patient_id"]) & set(failures["patient_id"])
    assert len(cohort) + len(failures) == len(rows)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=40, deadline=None
)
@given(arrays(np.float64, (4, 3), elements=st.one_of(st.floats(-10, 10), st.just(np.nan))))
def test_delta_is_the_relative_change_wherever_defined(values):
    t = pd.DataFrame(
        {
            "patient_id": ["A", "A", "B", "B"],
            "timepoint": ["baseline", "early"] * 2,
            "region": "intratumoral",
            "reader": 1,
        }
    )
    t[["f1", "f2", "f3"]] = values
    try:
        delta, info = compute_delta(t)
    except DeltaradError:
        return
    base, early = values[[0, 2]], values[[1, 3]]
    for j, f in enumerate(["f1", "f2", "f3"]):
        if f in info["regions"]["intratumoral"]["kept"]:
            assert np.all(base[:, j] != 0)
            np.testing.assert_allclose(delta[f].to_numpy(), (early[:, j] - base[:, j]) / base[:, j])
        else:
            assert delta[f].isna().all()

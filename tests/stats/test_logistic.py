"""Logistic regression: closed-form 2x2 case, categorical coding, separation, aliased terms."""

import numpy as np
import pandas as pd
import pytest

from deltarad.stats.logistic import (
    ALIASED_WARNING,
    SEPARATION_WARNING,
    SeparationWarning,
    aliased_columns,
    fit_logistic,
    is_separated,
)


def test_2x2_beta_is_log_odds_ratio_with_woolf_se(asah):
    # gender x poor: Female 50 good / 21 poor, Male 22 good / 20 poor
    fit = fit_logistic(asah, "poor", ["gender"])
    row = fit.table.iloc[0]
    assert row.level == "Male vs Female"
    log_or = np.log((20 / 22) / (21 / 50))
    assert row.beta == pytest.approx(log_or, abs=1e-8)
    assert row.se == pytest.approx(np.sqrt(1 / 50 + 1 / 21 + 1 / 22 + 1 / 20), abs=1e-8)
    assert row["or"] == pytest.approx(np.exp(log_or), rel=1e-8)
    assert row.or_ci_low == pytest.approx(np.exp(log_or - 1.959963984540054 * row.se), rel=1e-8)


def test_categorical_levels_against_first_level(asah):
    fit = fit_logistic(asah, "poor", ["wfns"], categorical=["wfns"])
    assert list(fit.table.level) == ["2 vs 1", "3 vs 1", "4 vs 1", "5 vs 1"]
    # saturated model: each level's OR is its sample odds ratio against level 1 (2/37 poor)
    counts = pd.crosstab(asah.wfns, asah.poor)
    odds = counts[1] / counts[0]
    np.testing.assert_allclose(fit.table["or"], (odds / odds.loc[1]).iloc[1:], rtol=1e-7)


def test_perfect_separation_warns_and_reports_nan():
    df = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1], "x": [1.0, 2, 3, 4, 5, 6]})
    with pytest.warns(SeparationWarning):
        fit = fit_logistic(df, "y", ["x"])
    assert fit.separated and fit.table[["beta", "se", "or"]].isna().all().all()
    assert fit.table.warning.iloc[0] == SEPARATION_WARNING


def test_quasi_separation_is_detected_and_overlap_is_not():
    X = np.column_stack([np.ones(6), [1.0, 2, 3, 3, 5, 6]])
    assert is_separated(X, [0, 0, 0, 1, 1, 1])  # tie at 3: quasi-complete
    assert not is_separated(X, [0, 1, 0, 1, 0, 1])


def test_aliased_terms_are_left_out_and_reported_nan_as_r_does():
    """Subtype coded from ER and HER2 next to them (as the generated demo cohort, and many real ones,
    have it): both subtype levels are linear combinations of the intercept, ER and HER2. R's glm
    reports NA for them and the other coefficients of the model without them; so does deltarad."""
    rng = np.random.default_rng(7)
    n = 120
    er = rng.integers(0, 2, n)
    her2 = np.where(er == 1, 0, rng.integers(0, 2, n))
    df = pd.DataFrame(
        {
            "er": er,
            "her2": her2,
            "age": rng.normal(50, 10, n),
            "subtype": np.select([er == 1, her2 == 1], ["luminal", "HER2-positive"], "triple negative"),
            "y": rng.integers(0, 2, n),
        }
    )
    with pytest.warns(
        UserWarning, match="subtype luminal vs HER2-positive, subtype triple negative vs HER2-positive aliased"
    ):
        full = fit_logistic(df, "y", ["er", "her2", "age", "subtype"])
    reduced = fit_logistic(df, "y", ["er", "her2", "age"])
    table = full.table.set_index(["variable", "level"])
    assert table.loc["subtype", ["beta", "se", "p_value"]].isna().all().all()
    assert (table.loc["subtype", "warning"] == ALIASED_WARNING).all()
    np.testing.assert_allclose(
        table.loc[["er", "her2", "age"], ["beta", "se"]].to_numpy(), reduced.table[["beta", "se"]].to_numpy(), rtol=1e-9
    )
    assert np.isnan(full.variable_p["subtype"])
    assert full.variable_p["age"] == pytest.approx(reduced.variable_p["age"], rel=1e-9)


def test_aliased_columns_finds_later_combinations_only():
    x = np.column_stack([np.ones(5), [1, 2, 3, 4, 5], [2, 1, 0, 1, 2], [3, 3, 3, 5, 7], [0, 0, 0, 0, 0]])
    assert aliased_columns(x).tolist() == [False, False, False, True, True]  # 3rd + 1st = 4th; zero column

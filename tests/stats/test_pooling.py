"""Rubin's rules against closed-form hand calculations, and Table 2 pooled over imputations."""

from fractions import Fraction as F

import numpy as np
import pytest
from scipy import stats

from deltarad.stats.pooling import POOLED_COLUMNS, rubin, table2_pooled
from deltarad.stats.tables import table2


def test_rubin_closed_form_with_infinite_complete_data_df():
    # m = 3: Q = 1, 2, 3; U = 0.5 each. By hand: Q̄ = 2, W = 1/2, B = 1, T = 1/2 + 4/3 = 11/6,
    # r = (4/3) / (1/2) = 8/3, λ = (4/3) / (11/6) = 8/11, ν = (m - 1) / λ² = 2 * 121/64 = 121/32.
    out = rubin([1, 2, 3], [0.5, 0.5, 0.5])
    lam, df = F(8, 11), F(121, 32)
    assert out["estimate"] == 2 and out["within"] == 0.5 and out["between"] == 1
    assert out["total"] == pytest.approx(float(F(11, 6)), abs=1e-15)
    assert out["se"] == pytest.approx(np.sqrt(11 / 6), abs=1e-15)
    assert out["riv"] == pytest.approx(8 / 3, abs=1e-15) and out["lambda"] == pytest.approx(float(lam), abs=1e-15)
    assert out["df"] == pytest.approx(float(df), abs=1e-13)
    r = F(8, 3)
    assert out["fmi"] == pytest.approx(float((r + 2 / (df + 3)) / (r + 1)), abs=1e-14)


def test_rubin_barnard_rubin_df_with_finite_complete_data_df():
    # same numbers, ν_com = 10: ν_obs = 11/13 * 10 * (1 - 8/11) = 30/13, ν = ν_old ν_obs / (ν_old + ν_obs)
    out = rubin([1, 2, 3], [0.5, 0.5, 0.5], dfcom=10)
    old, obs = F(121, 32), F(30, 13)
    assert out["df"] == pytest.approx(float(old * obs / (old + obs)), abs=1e-13)
    assert out["df"] < 10  # never more than the complete data hold


def test_rubin_without_between_imputation_variance_is_the_complete_data_analysis():
    out = rubin([0.7] * 5, [0.04, 0.05, 0.06, 0.05, 0.05], dfcom=80)
    assert out["between"] == 0 and out["total"] == pytest.approx(0.05, abs=1e-15)
    assert out["lambda"] == 1e-4  # floored, as mice does
    assert out["df"] == pytest.approx(81 / 83 * 80 * (1 - 1e-4), rel=1e-6)  # ν_old is huge: ν ≈ ν_obs


def test_rubin_needs_two_imputations():
    with pytest.raises(ValueError, match="at least 2"):
        rubin([1.0], [0.1])


def test_table2_pooled_over_identical_imputations_equals_table2_with_t_intervals(asah):
    frames = [asah.copy() for _ in range(4)]
    pooled = table2_pooled(frames, "poor", ["gender", "age", "s100b"])
    plain = table2(asah, "poor", variables=["gender", "age", "s100b"])
    assert pooled.columns.tolist() == ["analysis", *POOLED_COLUMNS]
    assert pooled[["analysis", "variable", "level"]].equals(plain[["analysis", "variable", "level"]])
    np.testing.assert_allclose(pooled["beta"], plain["beta"], rtol=1e-12)
    np.testing.assert_allclose(pooled["se"], plain["se"], rtol=1e-12)  # B = 0: T = W
    # the p-value is Student's t with the Barnard-Rubin df, not the normal one
    row = pooled.iloc[1]
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["z"]), row["df"]), rel=1e-12)
    assert row["p_value"] > plain.iloc[1]["p_value"]


def test_table2_pooled_between_imputation_variance_widens_the_se(asah):
    rng = np.random.default_rng(0)
    frames = [asah.assign(age=asah["age"] + rng.normal(0, 8, len(asah))) for _ in range(5)]
    pooled = table2_pooled(frames, "poor", ["age"]).iloc[0]
    fits = [table2(f, "poor", variables=["age"]).iloc[0] for f in frames]
    betas, ses = np.array([f["beta"] for f in fits]), np.array([f["se"] for f in fits])
    assert pooled["beta"] == pytest.approx(betas.mean(), rel=1e-12)
    assert pooled["se"] == pytest.approx(np.sqrt((ses**2).mean() + 1.2 * betas.var(ddof=1)), rel=1e-12)
    assert 0 < pooled["fmi"] < 1

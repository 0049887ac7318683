"""Tables 1-3 on aSAH, checked against independent implementations and closed forms."""

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats

from deltarad.errors import DeltaradError
from deltarad.formatting import format_p
from deltarad.outputs import write_table
from deltarad.stats.tables import (
    mann_whitney_z,
    table1,
    table2,
    table3,
)


def test_table1_tests_and_layout(asah):
    t1 = table1(asah, "poor", variables=["gender", "age", "wfns", "s100b"], categorical=["wfns"])
    assert list(t1.columns) == ["set", "variable", "level", "poor=0", "poor=1", "test", "statistic", "p_value"]
    assert t1.iloc[0][["variable", "poor=0", "poor=1"]].tolist() == ["n", "72", "41"]
    gender = t1[t1.variable == "gender"]
    assert gender.level.tolist() == ["Female", "Male"] and gender["poor=0"].iloc[0] == "50 (69.4%)"
    # every expected count >= 5: Pearson chi-square without continuity correction
    chi = stats.chi2_contingency([[50, 21], [22, 20]], correction=False)
    assert gender.test.iloc[0] == "Pearson chi-square" and gender.p_value.iloc[0] == pytest.approx(chi.pvalue)
    assert np.isnan(gender.p_value.iloc[1])
    # wfns has expected counts < 5: Fisher exact for the 5 x 2 table
    assert t1[t1.variable == "wfns"].test.iloc[0] == "Fisher exact"
    s100b = t1[t1.variable == "s100b"].iloc[0]  # skewed: median (IQR), Mann-Whitney
    assert s100b.test == "Mann-Whitney U (Z)" and s100b.statistic < 0
    mw = stats.mannwhitneyu(
        asah.s100b[asah.poor == 0], asah.s100b[asah.poor == 1], use_continuity=False, method="asymptotic"
    )
    assert s100b.p_value == pytest.approx(mw.pvalue, rel=1e-10)


def test_mann_whitney_z_closed_form():
    # no ties: U = 0 for fully separated groups of 3 and 4, Z = -6 / sqrt(3*4*8/12)
    z, _ = mann_whitney_z(np.array([1.0, 2, 3]), np.array([4.0, 5, 6, 7]))
    assert z == pytest.approx(-6 / np.sqrt(8), abs=1e-12)


def test_table1_by_set_and_normal_variable():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"y": np.tile([0, 1], 60), "split": np.repeat(["training", "validation"], 60),
                       "height": rng.normal(170, 8, 120)})  # fmt: skip
    t1 = table1(df, "y", by="split")
    assert t1.set.unique().tolist() == ["training", "validation"]
    row = t1[(t1.set == "training") & (t1.variable == "height")].iloc[0]
    part = df[df.split == "training"]
    assert row.test == "Student t"
    ref = stats.ttest_ind(part.height[part.y == 0], part.height[part.y == 1])
    assert row.statistic == pytest.approx(ref.statistic) and "±" in row["y=0"]


def test_table2_univariate_then_multivariate(asah):
    t2 = table2(asah, "poor", variables=["gender", "age", "s100b"], entry_p=0.05)
    assert t2.columns[:3].tolist() == ["analysis", "variable", "level"]
    assert t2[t2.analysis == "univariate"].variable.tolist() == ["gender", "age", "s100b"]
    # gender's univariate p is 0.056 > 0.05: it stays out of the multivariate model
    assert t2[t2.analysis == "multivariate"].variable.tolist() == ["age", "s100b"]


def test_table3_cutoff_carried_from_training(asah):
    df = asah.assign(split=np.where(np.arange(len(asah)) % 3 == 0, "validation", "training"))
    t3 = table3(df, "poor", ["s100b", "ndka"], by="split", fit_set="training", reference="wfns")
    assert t3.columns.tolist() == ["set", "model", "auc", "auc_ci_low", "auc_ci_high", "threshold", "accuracy",
                                   "sensitivity", "specificity", "ppv", "npv", "tp", "fp", "tn", "fn",
                                   "delong_p", "idi", "idi_p", "nri"]  # fmt: skip
    assert t3.set.tolist() == ["training"] * 3 + ["validation"] * 3
    for model in ["s100b", "ndka", "wfns"]:
        assert t3[t3.model == model].threshold.nunique() == 1
    assert t3[t3.model == "wfns"].delong_p.isna().all()
    assert (t3[["tp", "fp", "tn", "fn"]].sum(axis=1) == [75] * 3 + [38] * 3).all()


def test_table3_binary_score_auc_is_mean_of_sensitivity_and_specificity(asah):
    df = asah.assign(us=(asah.wfns >= 3).astype(int))
    row = table3(df, "poor", ["us"]).iloc[0]
    assert row.set == "all" and row.threshold == 0.5
    assert row.auc == pytest.approx((row.sensitivity + row.specificity) / 2, abs=1e-14)


def test_table3_unknown_fit_set_is_an_error(asah):
    with pytest.raises(DeltaradError, match="fit set"):
        table3(asah, "poor", ["s100b"], by="gender", fit_set="training")


def test_writer_keeps_csv_numeric_and_prints_small_p_as_text(tmp_path):
    df = pd.DataFrame({"model": ["a", "b"], "auc": [0.81234, 0.7], "tp": [3, 4], "delong_p": [0.0001234, 0.25]})
    paths = write_table(df, tmp_path / "t3.csv", title="Table 3")
    assert [p.suffix for p in paths] == [".csv", ".xlsx", ".html"]
    assert pd.read_csv(paths[0]).delong_p.iloc[0] == pytest.approx(0.0001234)
    sheet = openpyxl.load_workbook(paths[1]).active
    assert [c.value for c in sheet[2]] == ["a", "0.812", "3", "<0.001"]
    assert "&lt;0.001" in paths[2].read_text()
    assert format_p(0.001) == "0.001" and format_p(float("nan")) == ""

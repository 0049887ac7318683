"""Policy mice: chained-equation imputation fitted on the training set, pooled estimates (against
R's mice and mice::pool, tests/references/mice.R) and pooled predictions, and a model file that
imputes new patients from plain JSON."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.config import MissingSettings
from deltarad.modeling.mice import fit_imputation, impute_new
from deltarad.simulate import CLINICAL, generate_feature_study
from deltarad.stats.pooling import table2_pooled
from model_by_hand import score_by_hand

runner = CliRunner()
REFERENCES = Path(__file__).resolve().parents[1] / "references"
VARIABLES = ["age", "wfns", "s100b", "ndka"]


def _planted(n=400, seed=0):
    """x2 = 2 x1 + noise, group depends on x1, marker on the outcome; blanks at random."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x1 = rng.standard_normal(n)
    df = pd.DataFrame({
        "x1": x1, "x2": 2 * x1 + 0.3 * rng.standard_normal(n),
        "group": np.where(x1 + 0.3 * rng.standard_normal(n) > 0, "b", "a"),
        "marker": 3.0 * y + 0.5 * rng.standard_normal(n), "us": rng.integers(0, 2, n), "y": y,
    }, index=[f"P{i}" for i in range(n)])  # fmt: skip
    truth = df.copy()
    for v in ("x2", "group", "marker"):
        df.loc[rng.random(n) < 0.3, v] = np.nan
    return df, truth


@pytest.fixture(scope="module")
def imputation():
    df, truth = _planted()
    imp = fit_imputation(
        df,
        ["x1", "x2", "group", "marker"],
        ["us"],
        "y",
        ["group"],
        MissingSettings(policy="mice", imputations=5, iterations=5),
    )
    return df, truth, imp


def test_chained_equations_fill_every_blank_from_the_other_variables(imputation):
    df, truth, imp = imputation
    assert imp.counts == {v: int(df[v].isna().sum()) for v in ["x1", "x2", "group", "marker"]}
    blank = df["x2"].isna()
    for filled in imp.completed:
        assert not filled[["x2", "group", "marker"]].isna().any().any()
        pd.testing.assert_series_equal(filled.loc[~blank, "x2"], df.loc[~blank, "x2"])  # observed untouched
        # PMM: imputed x2 are observed values, and follow x1 (true r about 0.99)
        assert set(filled.loc[blank, "x2"]) <= set(df.loc[~blank, "x2"])
        assert np.corrcoef(filled.loc[blank, "x2"], truth.loc[blank, "x2"])[0, 1] > 0.9
        g = df["group"].isna()
        assert set(filled.loc[g, "group"]) <= {"a", "b"}
        assert (filled.loc[g, "group"] == truth.loc[g, "group"]).mean() > 0.75  # from x1, x2
    draws = np.array([f.loc[blank, "x2"].to_numpy(float) for f in imp.completed])
    assert draws.std(axis=0).mean() > 0  # the imputations differ: between-imputation variance


def test_the_outcome_informs_training_imputations_but_never_scoring(imputation):
    df, truth, imp = imputation
    blank = df["marker"].isna()
    # marker depends on the outcome alone: imputed without it they would be noise
    assert np.corrcoef(imp.completed[0].loc[blank, "marker"], df.loc[blank, "y"])[0, 1] > 0.8
    assert all("y" not in p and "__outcome__" not in p for p in imp.scoring["predictors"].values())
    json.dumps(imp.scoring)  # plain numbers and text only
    new = truth.drop(columns="y").iloc[:50].copy()
    new.loc[new.index[:20], "marker"] = np.nan
    scored = impute_new(imp.scoring, new, 0)  # no outcome column: it is not needed
    assert not scored["marker"].isna().any()
    pd.testing.assert_frame_equal(scored.iloc[20:], new.iloc[20:], check_dtype=False)
    # a patient's draws depend on its own id and the seed, not on who else is in the table
    alone = impute_new(imp.scoring, new.iloc[[3]], 0)
    assert alone.loc[new.index[3], "marker"] == scored.loc[new.index[3], "marker"]


@pytest.fixture(scope="module")
def mice_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mice")
    study = generate_feature_study(d, n_patients=120, n_features=30, seed=4)
    cohort = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    rng = np.random.default_rng(1)
    for v in CLINICAL:
        cohort[v] = cohort[v].astype(object)
        cohort.loc[rng.random(len(cohort)) < 0.10, v] = np.nan
    cohort.to_csv(d / "cohort.csv", index=False)
    settings = yaml.safe_load(study.read_text())
    settings["missing"] = {"policy": "mice", "imputations": 5, "iterations": 5}
    study.write_text(yaml.safe_dump(settings))
    res = runner.invoke(app, ["run", str(study), "--out", str(d / "out")])
    return d, cohort, res


def test_mice_run_finishes_scores_everybody_and_pools_table2(mice_run):
    d, cohort, res = mice_run
    assert res.exit_code == 0, res.output  # nobody left out: blanks are imputed
    assert "Traceback" not in res.output
    pred = pd.read_csv(d / "out" / "predictions.csv")
    assert len(pred) == 120 and pred["combined"].notna().all()
    t2 = pd.read_csv(d / "out" / "tables" / "table2.csv")
    assert {"df", "fmi"} <= set(t2.columns)
    age = t2[(t2.analysis == "univariate") & (t2.variable == "age")].iloc[0]
    assert 0 < age["fmi"] < 1 and np.isfinite(age["beta"])
    assert "Rubin" in (d / "out" / "tables" / "table2.html").read_text()
    missing = pd.read_csv(d / "out" / "tables" / "missing_values.csv")
    assert set(missing["policy"]) == {"mice"}
    train = pred.loc[pred["set"] == "training", "patient_id"]
    counts = missing[missing.set == "training"].set_index("variable")["n_missing"]
    assert counts.to_dict() == cohort.set_index("patient_id").loc[train, CLINICAL].isna().sum().to_dict()
    model = json.loads((d / "out" / "model.json").read_text())
    assert model["combined"]["imputation"]["training_blanks"] == counts.to_dict()
    assert len(model["combined"]["imputations"]) == 5


def test_predict_with_the_mice_model_file_gives_what_it_says(mice_run, tmp_path):
    """A patient without blanks: the mean over the stored imputations' fits, by hand
    (tests/model_by_hand.py). A patient with a blank is imputed by draws seeded by the patient's
    id: predict must draw what the run drew."""
    d, cohort, _ = mice_run
    res = runner.invoke(app, ["predict", str(d / "out" / "model.json"), str(d / "study.yaml"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    model = json.loads((d / "out" / "model.json").read_text())
    by_hand = score_by_hand(model, pd.read_csv(d / "features.csv", dtype={"patient_id": str}), cohort)
    pred = pd.read_csv(tmp_path / "predictions.csv", dtype={"patient_id": str}).set_index("patient_id")
    ran = pd.read_csv(d / "out" / "predictions.csv", dtype={"patient_id": str}).set_index("patient_id")
    complete = by_hand.index[by_hand["combined"].notna()]
    assert 0 < len(complete) < len(by_hand)
    for scores in (pred, ran):
        np.testing.assert_allclose(
            scores.loc[complete, "combined"], by_hand.loc[complete, "combined"], rtol=1e-9, atol=1e-10
        )  # the CSV holds 10 significant digits
    np.testing.assert_allclose(pred.loc[ran.index, "combined"], ran["combined"], rtol=1e-9)


@pytest.fixture(scope="module")
def asah_pooled(shared_data):
    """pROC's aSAH (113 patients) with the blanks of tests/references/mice.R (22 s100b, 25 ndka),
    imputed by deltarad (m = 100, 10 iterations) and Table 2 pooled by Rubin's rules."""
    reference = json.loads((REFERENCES / "mice_asah.json").read_text())
    data = pd.read_csv(shared_data / "stats" / "aSAH.csv")[["age", "wfns", "s100b", "ndka", "poor"]]
    for variable, rows in reference["blank_rows"].items():
        data.loc[rows, variable] = np.nan
    data.index = [f"P{i:03d}" for i in range(len(data))]
    settings = MissingSettings(policy="mice", imputations=100, iterations=reference["iterations"], seed=0)
    imputed = fit_imputation(data, ["s100b", "ndka"], ["age", "wfns"], "poor", [], settings)
    pooled = table2_pooled(imputed.completed, "poor", VARIABLES, entry_p=1.0)  # all four enter the multivariate
    return pooled, reference, settings.imputations


def test_pooled_estimates_match_r_mice_within_monte_carlo_error(asah_pooled):
    """R's mice with deltarad's method (pmm.boot in tests/references/mice.R: predictive mean
    matching, 5 donors, parameters from a bootstrap fit) at m = 1000, pooled by mice::pool; every
    univariate and the multivariate glm. Monte Carlo SE of a pooled estimate's difference:
    sqrt(B / m_deltarad + B / m_R), B R's between-imputation variance; of the total variance T,
    each side's sqrt(sd(U)^2 / m + (1 + 1/m)^2 2 B^2 / (m - 1)). Both within 4 SE; a term without
    blanks (B = 0) is the same glm, to its convergence."""
    pooled, reference, m = asah_pooled
    r_m = reference["imputations"]
    for row in pooled.itertuples():
        expected = reference["pooled"]["pmm.boot"][row.variable if row.analysis == "univariate" else "multivariate"]
        r = expected[row.variable]
        b = r["between"]
        if b == 0:
            assert row.beta == pytest.approx(r["estimate"], rel=1e-7) and row.se == pytest.approx(r["se"], rel=1e-6)
            continue
        se_estimate = np.sqrt(b / m + b / r_m)
        assert abs(row.beta - r["estimate"]) < 4 * se_estimate, (row.analysis, row.variable, row.beta, r["estimate"])
        se_total = np.hypot(
            *(np.sqrt(r["within_sd"] ** 2 / k + (1 + 1 / k) ** 2 * 2 * b**2 / (k - 1)) for k in (m, r_m))
        )
        assert abs(row.se**2 - r["total"]) < 4 * se_total, (row.analysis, row.variable, row.se**2, r["total"])
        assert abs(row.fmi - r["fmi"]) < 4 * r["fmi"] * np.sqrt(2 / (m - 1)), (row.analysis, row.variable)


def test_multinomial_draw_model_without_penalty_equals_statsmodels_mnlogit(monkeypatch):
    import statsmodels.api as sm
    from scipy.special import softmax

    import deltarad.modeling.mice as mice

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    eta = np.column_stack([np.zeros(300), 0.5 + X @ [1, -1], -0.3 + X @ [0.5, 2]])
    labels = np.array(["a", "b", "c"])[[rng.choice(3, p=p) for p in softmax(eta, axis=1)]]
    monkeypatch.setattr(mice, "RIDGE_C", 1e12)
    intercepts, coefs = mice._multinomial(X, labels, ["a", "b", "c"])
    ref = sm.MNLogit(np.searchsorted(["a", "b", "c"], labels), sm.add_constant(X)).fit(disp=0).params.T
    np.testing.assert_allclose(np.column_stack([intercepts, coefs])[1:], ref, atol=1e-7)
    assert intercepts[0] == 0 and not coefs[0].any()
    # a level absent from the sample gets (about) no probability
    intercepts, _ = mice._multinomial(X[labels != "c"], labels[labels != "c"], ["a", "b", "c"])
    assert intercepts[2] == -50.0

"""#16: one scorer, one design builder, one logistic fitter and separation rule, the delta
matrices cut once; each checked against a closed form or an independent reference."""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.design import DeltaPair, Design
from deltarad.encoding import design_columns, encodings_for
from deltarad.errors import DeltaradError
from deltarad.features.delta import DeltaMatrices, region_matrix, with_delta_column
from deltarad.harmonize import ComBat
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.modeling.models import fit_combined
from deltarad.modeling.stepwise import main_effects
from deltarad.simulate import generate_feature_study
from deltarad.stats.logistic import design
from deltarad.stats.logit import LogitFit, fit_logit, separates
from deltarad.workflow import run_study

#: the study's models (prediction column, label), written out
MODEL_LABELS = {"combined": "Combined", "radscore_dir": "DIR", "radscore_dpr": "DPR", "us": "Ultrasound"}


def test_stored_fit_scores_the_closed_form_probability():
    fit = LogitFit.from_dict(json.loads(json.dumps(LogitFit(-0.5, {"a": 2.0, "b": -1.25}).to_dict())))
    X = pd.DataFrame({"b": [0.0, 1.0, -2.0], "a": [0.0, 0.5, 3.0], "unused": [9.0, 9.0, 9.0]})
    by_hand = 1 / (1 + np.exp(-(-0.5 + 2.0 * X["a"] - 1.25 * X["b"])))
    np.testing.assert_allclose(fit.predict(X), by_hand, rtol=1e-15)
    assert LogitFit.from_dict({"intercept": 0.0, "coefficients": {}}).predict(X).tolist() == [0.5] * 3


def test_one_design_for_stepwise_table2_and_the_model_file():
    df = pd.DataFrame(
        {"age": [40.0, 51.5, 63.0, 70.0], "stage": ["II", "I", "III", "II"], "er": [1, 0, 1, 1]},
        index=["P1", "P2", "P3", "P4"],
    )
    encodings = encodings_for(df, ["age", "stage", "er"], ["stage", "er"])
    columns = design_columns(df, encodings)
    assert columns.columns.tolist() == ["age", "stage[II]", "stage[III]", "er[1]"]
    assert columns.to_numpy().tolist() == [[40.0, 1, 0, 1], [51.5, 0, 0, 0], [63.0, 0, 1, 1], [70.0, 1, 0, 1]]
    stepwise, _ = main_effects(df, encodings)
    table2, terms = design(df, ["age", "stage", "er"], {"stage", "er"})
    stored = DeltaradModel({"combined": {"variables": {e.name: e.to_dict() for e in encodings}}}).encode(df)
    pd.testing.assert_frame_equal(stepwise, columns)
    pd.testing.assert_frame_equal(stored, columns)
    assert np.array_equal(table2, np.column_stack([np.ones(4), columns.to_numpy()]))
    assert [t.level for t in terms] == ["", "II vs I", "III vs I", "1 vs 0"]


@pytest.mark.parametrize("seed", range(3))
def test_table2_fit_is_statsmodels_to_1e12_with_its_wald_covariance(seed):
    """The one fitter at Table 2's tolerance: statsmodels' estimates and Wald covariance bit for bit."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    y = (X["a"] - 0.5 * X["c"] + rng.normal(size=90) > 0).astype(int).to_numpy()
    fit = fit_logit(X, y, tol=1e-12, maxiter=200)
    reference = sm.GLM(y, sm.add_constant(X.to_numpy()), family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    assert np.array_equal([fit.intercept, *fit.coefficients.values()], reference.params)
    assert np.array_equal(fit.cov, reference.cov_params())
    assert np.array_equal(np.sqrt(np.diag(fit.cov)), reference.bse)


def test_separation_is_the_konis_rule_not_a_fitted_value_near_0_or_1():
    # overlapping outcomes (an event at -0.5, a non-event at 0.5), yet the extreme x get fitted
    # probabilities far below 1e-8: finite estimates, no separation
    x = np.r_[np.linspace(-40, -1, 20), -0.5, 0.5, np.linspace(1, 40, 20)]
    y = np.r_[np.zeros(20), 1, 0, np.ones(20)].astype(int)
    fit = fit_logit(pd.DataFrame({"x": x}), y)
    assert fit.predict(pd.DataFrame({"x": [-40.0]}))[0] < 1e-8  # the former rule would have said separated
    assert fit.separation is False and not separates(pd.DataFrame({"x": x}), y)
    assert fit_logit(pd.DataFrame({"x": x}), np.r_[np.zeros(21), np.ones(21)].astype(int)).separation is True
    assert fit_logit(pd.DataFrame({"x": x}), np.r_[np.zeros(20), 0, 1, np.ones(20)].astype(int)).separation is True
    assert fit_logit(pd.DataFrame({"x": x}), y, separation=False).separation is None  # not asked


def test_the_combined_model_is_tested_for_separation_once_chosen():
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"a": rng.normal(size=60), "noise": rng.normal(size=60)})
    y = (data["a"] > 0).astype(int).to_numpy()  # a separates the outcome
    model = fit_combined(data, y, ["a", "noise"], [])
    assert "a" in model.terms and model.step.fit.separation is True
    overlap = fit_combined(data, (data["a"] + rng.normal(size=60) > 0).astype(int).to_numpy(), ["a", "noise"], [])
    assert overlap.step.fit.separation is False


def test_delta_matrices_are_the_long_table_per_delta_region_and_reader():
    delta = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P1", "P1"],
            "delta": ["d1"] * 4 + ["d2"],
            "region": ["intratumoral"] * 3 + ["peritumoral"] * 2,
            "reader": [1, 2, 1, 1, 1],
            "f": [0.1, 0.2, 0.3, 0.4, 0.5],
            "g": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    m = DeltaMatrices.from_table(
        delta, {("d1", "intratumoral"): ["f", "g"], ("d1", "peritumoral"): ["g"], ("d2", "peritumoral"): ["f", "g"]}
    )
    assert m["d1", "intratumoral", 1].to_dict() == {"f": {"P1": 0.1, "P2": 0.3}, "g": {"P1": 1.0, "P2": 3.0}}
    assert m["d1", "intratumoral", 2].to_dict() == {"f": {"P1": 0.2}, "g": {"P1": 2.0}}
    assert m["d1", "peritumoral", 2].empty and m["d1", "peritumoral", 1].columns.tolist() == ["g"]
    assert m["d2", "peritumoral", 1].to_dict() == {"f": {"P1": 0.5}, "g": {"P1": 5.0}}
    pd.testing.assert_frame_equal(m["d1", "peritumoral", 1], region_matrix(delta, "peritumoral", 1, ["g"], "d1"))
    # pooled regions: side by side, region-prefixed; a patient lacking a region is NaN there
    pooled = m.radscore("d1", ("intratumoral", "peritumoral"), 1)
    assert pooled.columns.tolist() == ["intratumoral:f", "intratumoral:g", "peritumoral:g"]
    assert pooled.loc["P1"].tolist() == [0.1, 1.0, 4.0] and np.isnan(pooled.loc["P2", "peritumoral:g"])


def test_a_delta_table_without_its_delta_column_holds_the_designs_single_pair():
    delta = pd.DataFrame({"patient_id": ["P1"], "region": ["intratumoral"], "reader": [1], "f": [0.1]})
    named = with_delta_column(delta, Design())
    assert named.columns.tolist() == ["patient_id", "delta", "region", "reader", "f"]
    assert named["delta"].tolist() == ["early_vs_baseline"]
    three = Design(
        timepoints=("baseline", "early", "post"), deltas=(DeltaPair("baseline", "early"), DeltaPair("baseline", "post"))
    )
    with pytest.raises(DeltaradError, match="no 'delta' column, but the design declares 2 deltas"):
        with_delta_column(delta, three)


def test_combat_on_some_of_its_features_is_its_full_transform_column_for_column():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(30, 5)), columns=list("abcde"))
    centre = pd.Series(["A", "B", "C"] * 10)
    combat = ComBat().fit(X, centre)
    full = combat.transform(X, centre)
    part = combat.transform(X[["d", "b"]], centre)
    assert part.columns.tolist() == ["d", "b"] and np.array_equal(part.to_numpy(), full[["d", "b"]].to_numpy())


def test_training_radscores_are_the_model_files_scores_bit_for_bit(tmp_path):
    """The combined model is fitted on the training radscores; refitting it on the radscores the
    model file gives (ComBat applied to the model's features only) reproduces its coefficients
    exactly, so both come from one scorer on one representation of the delta features."""
    study = load_study(
        generate_feature_study(
            tmp_path, n_patients=120, n_features=30, n_planted=3, effect=1.2, seed=3, centres=2, centre_effect=0.5
        )
    )
    result, _ = run_study(study, tmp_path / "out")
    model = result.model
    assert model["harmonization"]["method"] == "combat"
    assert model["models"] == MODEL_LABELS
    assert json.loads((tmp_path / "out" / "model.json").read_text())["models"] == MODEL_LABELS
    cohort, _ = load_cohort_cases(study)
    training = result.predictions[result.predictions["set"] == "training"]
    data = cohort.set_index("patient_id").loc[training["patient_id"]]
    for name in ("radscore_dir", "radscore_dpr"):
        data[name] = training[name].to_numpy()
    frozen = DeltaradModel(model)
    rows = data[[v for v in model["combined"]["variables"]]].notna().all(axis=1).to_numpy()
    columns = list(model["combined"]["coefficients"])  # the fit's column order
    refit = fit_logit(frozen.encode(data)[columns][rows], training[study.outcome].to_numpy()[rows])
    assert refit.intercept == model["combined"]["intercept"]
    assert refit.coefficients == model["combined"]["coefficients"]

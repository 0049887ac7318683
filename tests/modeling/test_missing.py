"""Blank clinical values under the declared policy: complete case (the default) leaves a patient out
of the models that need the blank variable only; the run goes on and says who left which model."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.simulate import CLINICAL, generate_feature_study

runner = CliRunner()


def _blank(path, fraction, seed, columns=CLINICAL):
    """Blank `fraction` of the values of each clinical column, at random."""
    cohort = pd.read_csv(path, dtype={"patient_id": str})
    rng = np.random.default_rng(seed)
    for v in columns:
        cohort[v] = cohort[v].astype(object)
        cohort.loc[rng.random(len(cohort)) < fraction, v] = np.nan
    cohort.to_csv(path, index=False)
    return cohort


@pytest.fixture(scope="module")
def blank_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("blanks")
    study = generate_feature_study(d, n_patients=120, n_features=30, seed=4)
    cohort = _blank(d / "cohort.csv", 0.10, seed=1)
    res = runner.invoke(app, ["run", str(study), "--out", str(d / "out")])
    return d, cohort, res


def test_run_with_10_percent_blanks_finishes_and_lists_who_left_the_combined_model(blank_run):
    d, cohort, res = blank_run
    assert res.exit_code == 1, res.output  # finished, and says patients were left out of something
    assert "Traceback" not in res.output
    model = json.loads((d / "out" / "model.json").read_text())
    used = [v for v in model["combined"]["variables"] if v in CLINICAL]
    assert used, model["combined"]["terms"]  # the scenario needs a clinical variable in the model
    blanks = cohort.set_index("patient_id")[used].isna()
    expected = {p: [v for v in used if row[v]] for p, row in blanks.iterrows() if row.any()}

    failures = pd.read_csv(d / "out" / "failures.csv")
    assert set(failures["stage"]) == {"missing value"}
    assert failures["patient_id"].tolist() == list(expected)  # cohort order, one row per patient
    for p, error in zip(failures["patient_id"], failures["error"]):
        assert error == "left out of the combined model: no value of " + ", ".join(f"'{v}'" for v in expected[p])

    pred = pd.read_csv(d / "out" / "predictions.csv").set_index("patient_id")
    assert len(pred) == 120  # nobody left the radscore or ultrasound models
    assert pred.loc[list(expected), "combined"].isna().all()
    assert pred.drop(index=list(expected))[["radscore_dir", "radscore_dpr", "us", "combined"]].notna().all().all()

    flow = pd.read_csv(d / "out" / "cohort_flow.csv").set_index("stage")
    assert flow.loc["model: combined", "n"] == 120 - len(expected)
    assert flow.loc["model: radscore_dir", "n"] == 120
    assert "excluded" not in flow.index  # a blank excludes from a model, not from the study

    t3 = pd.read_csv(d / "out" / "tables" / "table3.csv").set_index(["set", "model"])
    train = pred[pred["set"] == "training"]
    assert t3.loc[("training", "combined"), "n"] == train["combined"].notna().sum()
    assert t3.loc[("training", "radscore_dir"), "n"] == len(train)

    missing = pd.read_csv(d / "out" / "tables" / "missing_values.csv")
    tr = missing[missing["set"] == "training"].set_index("variable")["n_missing"]
    assert tr.to_dict() == cohort.set_index("patient_id").loc[train.index, CLINICAL].isna().sum().to_dict()
    assert set(missing["policy"]) == {"complete_case"}


def test_stepwise_runs_on_the_complete_cases_of_all_candidates_then_refits_on_its_own(blank_run):
    d, cohort, _ = blank_run
    model = json.loads((d / "out" / "model.json").read_text())
    train_ids = pd.read_csv(d / "out" / "split.csv").query("set == 'training'")["patient_id"]
    train = cohort.set_index("patient_id").loc[train_ids]
    assert model["combined"]["n_stepwise"] == train[CLINICAL].notna().all(axis=1).sum()
    used = [v for v in model["combined"]["variables"] if v in CLINICAL]
    assert model["combined"]["n_fit"] == train[used].notna().all(axis=1).sum()
    assert model["combined"]["n_fit"] > model["combined"]["n_stepwise"]


def test_a_training_blank_does_not_remove_a_strong_variable_from_the_candidates(tmp_path):
    study = generate_feature_study(tmp_path, n_patients=120, n_features=30, effect=0.3, seed=6)
    cohort = pd.read_csv(tmp_path / "cohort.csv", dtype={"patient_id": str})
    rng = np.random.default_rng(3)
    cohort["marker"] = np.round(2.0 * cohort["outcome"] + rng.standard_normal(len(cohort)), 2)  # a strong predictor
    cohort.loc[[5, 17, 40, 77], "marker"] = np.nan  # with blanks in both sets
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    settings = yaml.safe_load(study.read_text())
    settings["clinical"] = [*settings["clinical"], "marker"]
    study.write_text(yaml.safe_dump(settings))
    res = runner.invoke(app, ["run", str(study), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    assert "marker" in model["combined"]["terms"]
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert failures["patient_id"].tolist() == cohort.loc[[5, 17, 40, 77], "patient_id"].tolist()


def test_predict_scores_a_new_patient_with_a_blank_and_lists_it(blank_run, tmp_path):
    d, cohort, _ = blank_run
    model = json.loads((d / "out" / "model.json").read_text())
    variable = next(v for v in model["combined"]["variables"] if v in CLINICAL)
    full = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    complete = full[full[CLINICAL].notna().all(axis=1)].copy()
    complete.loc[complete.index[0], variable] = np.nan
    complete.to_csv(tmp_path / "cohort.csv", index=False)
    settings = yaml.safe_load((d / "study.yaml").read_text())
    settings.update(cohort=str(tmp_path / "cohort.csv"), features=str(d / "features.csv"))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(settings))
    res = runner.invoke(
        app, ["predict", str(d / "out" / "model.json"), str(tmp_path / "study.yaml"), "--out", str(tmp_path / "p")]
    )
    assert res.exit_code == 1, res.output  # before: exit 2, "missing value of ..., which the combined model uses"
    pid = complete["patient_id"].iloc[0]
    failures = pd.read_csv(tmp_path / "p" / "failures.csv")
    assert failures.to_dict("records") == [
        {
            "patient_id": pid,
            "stage": "missing value",
            "error": f"left out of the combined model: no value of '{variable}'",
        }
    ]
    pred = pd.read_csv(tmp_path / "p" / "predictions.csv").set_index("patient_id")
    assert len(pred) == len(complete) and np.isnan(pred.loc[pid, "combined"])
    assert pred.drop(index=pid)["combined"].notna().all() and np.isfinite(pred.loc[pid, "radscore_dir"])


def test_training_comparison_of_a_combined_model_containing_ultrasound_is_marked_optimistic(tmp_path):
    study = generate_feature_study(tmp_path, n_patients=100, n_features=30, effect=0.5, seed=8)
    cohort = pd.read_csv(tmp_path / "cohort.csv", dtype={"patient_id": str})
    flip = np.random.default_rng(2).random(len(cohort)) < 0.15
    cohort["ultrasound"] = np.where(flip, 1 - cohort["outcome"], cohort["outcome"])  # a strong read: kept
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    res = runner.invoke(app, ["run", str(study), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "ultrasound" in json.loads((tmp_path / "out" / "model.json").read_text())["combined"]["terms"]
    t3 = pd.read_csv(tmp_path / "out" / "tables" / "table3.csv")
    assert t3.loc[t3["nested_optimistic"], ["set", "model"]].values.tolist() == [["training", "combined"]]
    assert "Demler" in (tmp_path / "out" / "tables" / "table3.html").read_text()

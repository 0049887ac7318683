"""Bad cohort, feature-table, study and model files: one clear line naming patient, file and
problem; one bad patient is left out and listed, never sinking the run."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.simulate import generate_feature_study

runner = CliRunner()


@pytest.fixture()
def study(tmp_path):
    return generate_feature_study(tmp_path, n_patients=90, n_features=25, seed=4)


def _edit(path, fn):
    df = pd.read_csv(path, dtype={"patient_id": str})
    df = fn(df)
    df.to_csv(path, index=False)


def _run(study, *extra):
    out = study.parent / "out"
    return runner.invoke(app, ["run", str(study), "--out", str(out), *extra]), out


def _one_line_error(res, *fragments):
    assert res.exit_code == 2, res.output
    err = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(err) == 1, res.output
    for f in fragments:
        assert f in err[0], err[0]
    assert "Traceback" not in res.output


def test_duplicate_patient_id(study):
    _edit(study.parent / "cohort.csv", lambda d: pd.concat([d, d.iloc[[3]]]))
    res, _ = _run(study)
    _one_line_error(res, "cohort.csv", "duplicate patient_id: SYN0004")


@pytest.mark.parametrize("value,shown", [(np.nan, "missing"), ("yes", "'yes'"), (2, "2")])
def test_bad_outcome_leaves_that_patient_out(study, value, shown):
    def bad(d):
        d["outcome"] = d["outcome"].astype(object)
        d.loc[d.patient_id == "SYN0007", "outcome"] = value
        return d

    _edit(study.parent / "cohort.csv", bad)
    res, out = _run(study)
    assert res.exit_code == 1, res.output  # finished, but says something failed
    failures = pd.read_csv(out / "failures.csv")
    assert failures.to_dict("records") == [
        {"patient_id": "SYN0007", "stage": "cohort", "error": f"column 'outcome' must be 0 or 1, got {shown}"}
    ]
    assert "SYN0007" not in set(pd.read_csv(out / "predictions.csv")["patient_id"])
    res, _ = _run(study, "--strict")
    _one_line_error(res, "patient SYN0007", "must be 0 or 1", "--strict")


def test_one_outcome_class_only(study):
    _edit(study.parent / "cohort.csv", lambda d: d.assign(outcome=1))
    res, _ = _run(study)
    _one_line_error(res, "cohort.csv", "both outcomes")


def test_non_numeric_clinical_value(study):
    def bad(d):
        d["age"] = d["age"].astype(object)
        d.loc[d.patient_id == "SYN0010", "age"] = "fifty"
        return d

    _edit(study.parent / "cohort.csv", bad)
    res, out = _run(study)
    assert res.exit_code == 1
    row = pd.read_csv(out / "failures.csv").iloc[0]
    assert row["patient_id"] == "SYN0010" and "non-numeric value 'fifty' in clinical column 'age'" in row["error"]


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_infinite_feature(study, value):
    def bad(d):
        d.loc[(d.patient_id == "SYN0012") & (d.timepoint == "early") & (d.reader == 1), "original_synthetic_F005"] = (
            value
        )
        return d

    _edit(study.parent / "features.csv", bad)
    res, out = _run(study)
    assert res.exit_code == 1, res.output
    row = pd.read_csv(out / "failures.csv").iloc[0]
    assert row["patient_id"] == "SYN0012" and row["stage"] == "features"
    assert "original_synthetic_F005" in row["error"] and "early" in row["error"]


def test_patient_without_early_exam(study):
    _edit(study.parent / "features.csv", lambda d: d[~((d.patient_id == "SYN0020") & (d.timepoint == "early"))])
    res, out = _run(study)
    assert res.exit_code == 1
    row = pd.read_csv(out / "failures.csv").iloc[0]
    assert row["patient_id"] == "SYN0020" and "no baseline and early" in row["error"]


def test_feature_columns_differ_between_timepoints(study):
    def bad(d):
        d.loc[d.timepoint == "early", "original_synthetic_F003"] = np.nan
        return d

    _edit(study.parent / "features.csv", bad)
    res, _ = _run(study)
    _one_line_error(res, "feature columns differ between timepoints", "only at baseline", "original_synthetic_F003")


def test_study_file_wrong_type_and_unknown_key(tmp_path):
    bad = tmp_path / "study.yaml"
    bad.write_text("cohort: c.csv\nsplit: {validation_fraction: 1.5}\nclinical: age\nlasso: 3\n")
    res = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "o")])
    _one_line_error(res, "study.yaml", "split.validation_fraction", "'clinical'", "unknown key 'lasso'")


def test_missing_cohort_file(tmp_path):
    (tmp_path / "study.yaml").write_text("cohort: nowhere.csv\n")
    res = runner.invoke(app, ["run", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "o")])
    _one_line_error(res, "nowhere.csv", "cohort file not found")


def test_model_whose_features_do_not_match_the_cohort(study, tmp_path):
    res, out = _run(study)
    assert res.exit_code == 0, res.output
    model = json.loads((out / "model.json").read_text())
    model["radscores"]["radscore_dir"]["features"].append("original_glcm_NotAFeature")
    (tmp_path / "m.json").write_text(json.dumps(model))
    res = runner.invoke(app, ["predict", str(tmp_path / "m.json"), str(study), "--out", str(tmp_path / "p")])
    _one_line_error(res, "radscore_dir", "original_glcm_NotAFeature", "not in the cohort's feature table")


def test_model_file_is_only_parsed_never_executed(study, tmp_path):
    import pickle

    (tmp_path / "m.json").write_bytes(pickle.dumps({"schema": "deltarad.model"}))
    res = runner.invoke(app, ["predict", str(tmp_path / "m.json"), str(study), "--out", str(tmp_path / "p")])
    _one_line_error(res, "m.json", "cannot read model file")
    (tmp_path / "m2.json").write_text(json.dumps({"schema": "deltarad.model", "schema_version": 99}))
    res = runner.invoke(app, ["predict", str(tmp_path / "m2.json"), str(study), "--out", str(tmp_path / "p")])
    _one_line_error(res, "schema version 99 is not supported")


def test_new_patient_the_model_cannot_score_is_listed_and_the_rest_scored(study, tmp_path):
    res, out = _run(study)
    assert res.exit_code == 0, res.output
    model = json.loads((out / "model.json").read_text())
    feature = model["radscores"]["radscore_dir"]["features"][0]

    def bad(d):
        rows = (d.patient_id == "SYN0030") & (d.timepoint == "baseline") & (d.region == "intratumoral")
        d.loc[rows, feature] = 0.0  # zero baseline: this patient's delta is undefined
        return d

    _edit(study.parent / "features.csv", bad)
    res = runner.invoke(app, ["predict", str(out / "model.json"), str(study), "--out", str(tmp_path / "p")])
    assert res.exit_code == 1, res.output  # finished, and says that somebody could not be scored
    failures = pd.read_csv(tmp_path / "p" / "failures.csv")
    assert failures["patient_id"].tolist() == ["SYN0030"]
    assert feature in failures["error"].iloc[0] and "not finite" in failures["error"].iloc[0]
    scored = pd.read_csv(tmp_path / "p" / "predictions.csv")
    assert len(scored) == 89 and "SYN0030" not in set(scored["patient_id"])


def test_a_failed_patient_does_not_reshuffle_the_split(study):
    res, out = _run(study)
    before = pd.read_csv(out / "split.csv")
    _edit(study.parent / "cohort.csv", lambda d: d.assign(outcome=d["outcome"].where(d.patient_id != "SYN0002", 7)))
    res, out = _run(study)
    assert res.exit_code == 1
    after = pd.read_csv(out / "split.csv")
    assert "SYN0002" not in set(after["patient_id"])
    assert before[before.patient_id != "SYN0002"].reset_index(drop=True).equals(after)


def test_an_outcome_coded_1_2_names_the_codes_and_the_coding_to_declare(study):
    _edit(study.parent / "cohort.csv", lambda d: d.assign(outcome=d["outcome"].replace({0: 2})))
    n = pd.read_csv(study.parent / "cohort.csv")["outcome"].value_counts()
    res, _ = _run(study)
    _one_line_error(
        res,
        "cohort.csv",
        "every usable patient has outcome = 1",
        f"holds the codes 1 ({n[1]} patients), 2 ({n[2]} patients)",
        f"{n[2]} patient(s) were left out",
        "coding: {outcome: {1: [<the pCR code>], 0: [<the other code>]}}",
    )
    study.write_text(study.read_text() + "coding: {outcome: {1: [1], 0: [2]}}\n")  # the advice, taken
    res, out = _run(study)
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(out / "predictions.csv")["outcome"]) == {0, 1}


def test_cohort_ids_matching_no_feature_row_are_named_from_both_files(study):
    _edit(study.parent / "cohort.csv", lambda d: d.assign(patient_id="MRN-" + d["patient_id"]))
    res, _ = _run(study)
    _one_line_error(
        res,
        "features.csv",
        "no patient id of the cohort matches a row of the feature table",
        "cohort.csv",
        "'MRN-SYN0001'",
        "'SYN0001'",
        "(90 in all)",
    )
    checked = runner.invoke(app, ["check", str(study), "--out", str(study.parent / "check")])
    assert checked.exit_code == 1 and "a run stops: no patient id of the cohort matches" in checked.output


def test_a_cohort_too_small_for_the_modelling_says_how_many_patients_it_needs(tmp_path):
    small = generate_feature_study(tmp_path, n_patients=12, n_features=10, seed=4)
    res, _ = _run(small)
    # 12 patients split 0.3/0.7 as torch does: 4 validation, 8 training; 15 give 10 training patients
    _one_line_error(
        res,
        "too few patients: 12 usable patients give 8 training patients",
        "stepwise search needs at least 10 training patients",
        "at least 15 usable patients",
    )
    checked = runner.invoke(app, ["check", str(small), "--out", str(tmp_path / "check")])
    assert "the modelling would stop: too few patients: 12 usable patients" in checked.output, checked.output

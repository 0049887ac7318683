"""run_study as stages that return values, one outputs module writing the run folder, the cohort
file read once (on a generated feature table with planted signal)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

import deltarad.tablefile
from deltarad import runfolder
from deltarad.cohort import read_cohort
from deltarad.config import load_study
from deltarad.errors import FAILURE_COLUMNS, DeltaradError
from deltarad.simulate import generate_feature_study
from deltarad.workflow import StudyRun, run_study

RUN_FILES = [
    runfolder.FAILURES,
    runfolder.DELTA_DROPPED,
    runfolder.DELTA_FEATURES,
    runfolder.SPLIT,
    runfolder.PREDICTIONS,
    runfolder.SELECTION,
    runfolder.SELECTED_FEATURES,
    runfolder.MODEL,
    runfolder.STUDY_RECORD,
    runfolder.COHORT_FLOW,
    runfolder.MISSING_VALUES,
    runfolder.VALIDATION,
    runfolder.SELECTION_FREQUENCY,
    runfolder.VALIDATION_FAILURES,
    *(
        f"{t[:-4]}{ext}"
        for t in (runfolder.TABLE1, runfolder.TABLE2, runfolder.TABLE3)
        for ext in (".csv", ".xlsx", ".html")
    ),
]


#: the study's models (prediction column, label), written out
MODEL_COLUMNS = ["radscore_dir", "radscore_dpr", "us", "combined"]


def _study_file(root, n_patients=60, **settings):
    study_file = generate_feature_study(root, n_patients=n_patients, n_features=12, n_planted=3, effect=1.5, seed=5)
    data = yaml.safe_load(study_file.read_text())
    data.update({"selection": {"lasso_folds": 3}, **settings})
    study_file.write_text(yaml.safe_dump(data))
    return study_file


def _without(root, study_file, patient):
    """The study with `patient`'s features removed from the feature table (kept in the cohort)."""
    features = pd.read_csv(root / "features.csv", dtype={"patient_id": str})
    features[features["patient_id"] != patient].to_csv(root / "features_less.csv", index=False)
    data = yaml.safe_load(study_file.read_text())
    data["features"] = "features_less.csv"
    path = root / "less.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_study(path)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    study_file = _study_file(root, validation={"bootstrap": 4, "cv_repeats": 1, "cv_folds": 3, "workers": 1})
    return root, study_file, run_study(load_study(study_file), root / "run")


def test_every_stage_is_returned_and_is_what_the_run_folder_holds(planted_run):
    root, _, run = planted_run
    out = root / "run"
    assert isinstance(run, StudyRun)
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted(RUN_FILES)  # the documented layout, nothing else, nothing half-written (.part)

    def read(name):
        return pd.read_csv(out / name, dtype={"patient_id": str})

    pd.testing.assert_frame_equal(
        read(runfolder.PREDICTIONS), run.fit.predictions.reset_index(drop=True), check_exact=False, rtol=1e-9
    )
    pd.testing.assert_frame_equal(read(runfolder.SPLIT), run.fit.split.reset_index(drop=True))
    assert json.loads((out / runfolder.MODEL).read_text()) == json.loads(json.dumps(run.fit.model))
    t3 = read(runfolder.TABLE3)
    assert t3["model"].tolist() == run.tables.table3.frame["model"].tolist()
    assert t3["auc"].to_numpy() == pytest.approx(run.tables.table3.frame["auc"].to_numpy(), abs=1e-9)
    assert {"auc_corrected", "brier_cv_mean"} <= set(t3.columns)  # the internal validation's columns
    assert read(runfolder.VALIDATION)["model"].tolist() == run.validation.table["model"].tolist()
    assert set(run.delta["patient_id"]) == set(run.cohort.cases["patient_id"])
    assert list(read(runfolder.FAILURES).columns) == FAILURE_COLUMNS and run.failures.empty


def test_run_study_still_unpacks_as_fit_and_failures(planted_run):
    _, _, run = planted_run
    fit, failures = run
    assert fit is run.fit and failures is run.failures
    assert set(MODEL_COLUMNS) <= set(fit.predictions.columns)


def test_the_cohort_file_is_read_once(tmp_path, monkeypatch):
    study = load_study(_study_file(tmp_path))
    reads = []
    real = deltarad.tablefile.read_table_file

    def counting(path, *args, **kwargs):
        reads.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr("deltarad.cohort.read_table_file", counting)
    run_study(study, tmp_path / "run")
    assert reads.count("cohort.csv") == 1


def test_the_cohort_keeps_failed_patients_in_the_file_order(tmp_path):
    study_file = _study_file(tmp_path)
    cohort = pd.read_csv(tmp_path / "cohort.csv", dtype={"patient_id": str})
    bad = cohort["patient_id"].iat[3]
    cohort.loc[3, "outcome"] = 7
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    read = read_cohort(load_study(study_file))
    assert read.file_order == cohort["patient_id"].tolist()  # the split runs over the whole file
    assert bad not in set(read.cases["patient_id"]) and len(read.cases) == len(cohort) - 1
    assert read.failures.to_dict("records") == [
        {"patient_id": bad, "stage": "cohort", "error": "column 'outcome' must be 0 or 1, got 7"}
    ]
    assert read.read_as.startswith("cohort.csv: ")


def test_a_failed_patient_does_not_reshuffle_the_split(tmp_path):
    study_file = _study_file(tmp_path)
    whole = run_study(load_study(study_file), tmp_path / "whole")
    gone = whole.fit.split["patient_id"].iat[0]
    less = run_study(_without(tmp_path, study_file, gone), tmp_path / "less")
    kept = whole.fit.split[whole.fit.split["patient_id"] != gone].reset_index(drop=True)
    pd.testing.assert_frame_equal(less.fit.split, kept)
    assert less.failures.to_dict("records") == [
        {"patient_id": gone, "stage": "delta", "error": "no baseline and early exam features (reader 1)"}
    ]


def test_failures_are_written_before_a_strict_run_stops(tmp_path):
    study_file = _study_file(tmp_path)
    cohort = pd.read_csv(tmp_path / "cohort.csv", dtype={"patient_id": str})
    gone = cohort["patient_id"].iat[0]
    with pytest.raises(DeltaradError, match=f"patient {gone}: delta: no baseline and early exam features"):
        run_study(_without(tmp_path, study_file, gone), tmp_path / "run", strict=True)
    failures = pd.read_csv(tmp_path / "run" / runfolder.FAILURES, dtype={"patient_id": str})
    assert failures["patient_id"].tolist() == [gone]
    assert not (tmp_path / "run" / runfolder.MODEL).exists()  # the run stopped before the fit


def test_demo_command_runs_the_library_demo(tmp_path):
    from typer.testing import CliRunner

    from deltarad.cli import app

    res = CliRunner().invoke(
        app, ["demo", "--features-only", "--patients", "40", "--bootstrap", "0", "--out", str(tmp_path / "demo")]
    )
    assert res.exit_code == 0, res.output
    assert "demo: modelling a generated feature table" in res.output
    assert "demo: 40 patients modelled, 0 failed" in res.output
    report = tmp_path / "demo" / "run" / "report.html"
    assert f"report: {report.resolve()}" in res.output and report.is_file()
    assert pd.read_csv(tmp_path / "demo" / "run" / runfolder.VALIDATION)["bootstrap_n"].eq(0).all()

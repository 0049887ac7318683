"""The demo's kinetic study end to end on small generated exams (contrast curves by tissue, 7
phases timed in their DICOM headers): `run` gives kinetics.csv, Table 3 with the ΔFTV and
volume-change references beside the radscores and the ultrasound read, and the report's section
"Beyond ΔFTV and shrinkage" with each radscore's DeLong test against them."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deltarad import runfolder
from deltarad.cli import app
from deltarad.synthetic import generate_cohort
from deltarad.synthetic.cohort import add_kinetics

PARAMS = {
    "imageType": {"Original": {}},
    "featureClass": {"firstorder": None, "shape": None},
    "setting": {"binWidth": 25},
}


@pytest.fixture(scope="module")
def kinetic_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinetic-demo")
    study_file = generate_cohort(
        folder / "cohort", n_patients=40, seed=2, shape=(40, 40, 10), spacing_mm=(1.5, 1.5, 3.0), tissue_kinetics=True
    )
    add_kinetics(study_file)
    (folder / "cohort" / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    study = yaml.safe_load(study_file.read_text())
    study["imaging"] = {**study.get("imaging", {}), "params": "params.yaml"}
    study.setdefault("validation", {})["bootstrap"] = 0
    study_file.write_text(yaml.safe_dump(study, sort_keys=False))
    result = CliRunner().invoke(app, ["run", str(study_file), "--out", str(folder / "run")])
    assert result.exit_code == 0, result.output
    return folder / "run"


def test_kinetics_csv_has_every_exam_of_both_timepoints(kinetic_run):
    kinetics = pd.read_csv(kinetic_run / runfolder.KINETICS, dtype={"patient_id": str})
    assert set(kinetics["timepoint"]) == {"baseline", "early"}
    ftv = kinetics.groupby("timepoint")["ftv_ml"]
    assert ftv.min()["baseline"] > 0  # every untreated tumour enhances; a responder's early FTV may be 0
    assert ftv.median()["early"] < ftv.median()["baseline"]
    assert (kinetics[["early_phase", "late_phase"]].drop_duplicates().to_numpy() == [[2, 6]]).all()


def test_table3_has_the_kinetic_references_beside_the_radscores(kinetic_run):
    table3 = pd.read_csv(kinetic_run / runfolder.TABLE3)
    validation = table3[table3["set"] == "validation"]
    models = list(validation["model"])
    for model in ("radscore_dir", "radscore_dpr", "us", "delta_ftv_early", "volume_change_early"):
        assert model in models, models
    assert validation["auc"].between(0, 1).all()


def test_the_report_compares_each_radscore_with_dftv_and_shrinkage(kinetic_run):
    result = CliRunner().invoke(app, ["report", str(kinetic_run)])
    assert result.exit_code == 0, result.output
    html = (kinetic_run / "report.html").read_text()
    assert "Beyond ΔFTV and shrinkage" in html
    assert "Radscores against ΔFTV and tumour-volume change (validation)" in html
    assert "DeLong P" in html

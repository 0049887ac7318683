"""A study that is not Zeng et al.'s, modelled through the API from a generated table with planted
signal: three timepoints (two deltas), three regions (the tumour and two bands), pooled regions,
a continuous clinical reference without an ultrasound column, and no reference at all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deltarad import api
from deltarad.config import Study
from deltarad.design import DeltaPair, Design, Radscore, Reference, Region
from deltarad.external import evaluate_external
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.modeling.pipeline import combined_candidates
from deltarad.modeling.validation import validate_procedure
from deltarad.simulate import generate_feature_study
from deltarad.study_tables import NO_COMPARATOR_NOTE, study_tables

THREE = Design(
    timepoints=("baseline", "early", "post"),
    deltas=(DeltaPair("baseline", "early"), DeltaPair("baseline", "post")),
    regions=(Region("intratumoral"), Region("ring_0_3", (0.0, 3.0)), Region("ring_3_6", (3.0, 6.0))),
)
RADSCORES_THREE = [f"radscore_{r}_{t}" for t in ("early", "post") for r in ("intratumoral", "ring_0_3", "ring_3_6")]


def _study(folder: Path, design: Design) -> Study:
    """The generated study file's settings (its `design:` section declares `design`), the cohort
    and the delta table given in memory."""
    raw = yaml.safe_load((folder / "study.yaml").read_text())
    raw["cohort"] = str(folder / "cohort.csv")
    raw.pop("features")
    study = Study.from_settings(raw)
    assert study.design == design  # the file declares what the test models
    return study


def _generate(
    folder: Path, design: Design, seed: int = 0, ultrasound: bool = True
) -> tuple[Study, pd.DataFrame, pd.DataFrame]:
    generate_feature_study(
        folder, n_patients=140, n_features=30, n_planted=3, effect=1.5, seed=seed, design=design, ultrasound=ultrasound
    )
    study = _study(folder, design)
    return study, pd.read_csv(folder / "cohort.csv"), pd.read_csv(folder / "delta_features.csv")


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    folder = tmp_path_factory.mktemp("three")
    study, clinical, delta = _generate(folder, THREE)
    return folder, study, clinical, delta, api.fit_result(delta, clinical, study)


def test_generated_table_holds_the_design(three) -> None:
    folder, _, clinical, delta, _ = three
    features = pd.read_csv(folder / "features.csv")
    assert set(features["timepoint"]) == {"baseline", "early", "post"}
    assert set(features["region"]) == {"intratumoral", "ring_0_3", "ring_3_6"}
    assert set(delta["delta"]) == {"early_vs_baseline", "post_vs_baseline"}
    # the relative change, by hand, for one patient, region and feature
    f = "original_synthetic_F000"
    at = features[
        (features["patient_id"] == "SYN0001") & (features["region"] == "ring_3_6") & (features["reader"] == 1)
    ]
    value = at.set_index("timepoint")[f]
    row = delta[
        (delta["patient_id"] == "SYN0001")
        & (delta["region"] == "ring_3_6")
        & (delta["reader"] == 1)
        & (delta["delta"] == "post_vs_baseline")
    ]
    assert row[f].iat[0] == pytest.approx((value["post"] - value["baseline"]) / value["baseline"])
    assert "volume_change" in clinical.columns


def test_one_radscore_per_region_and_delta_with_planted_signal(three) -> None:
    _, study, _, _, result = three
    model = result.model
    assert list(model["radscores"]) == RADSCORES_THREE
    assert model["schema_version"] == 3 and Design.from_dict(model["design"]) == THREE
    assert model["radscores"]["radscore_ring_0_3_post"]["regions"] == ["ring_0_3"]
    assert model["radscores"]["radscore_ring_0_3_post"]["delta"] == "post_vs_baseline"
    # the planted features (F000-F002) are what the LASSO finds
    for name in RADSCORES_THREE:
        assert set(model["radscores"][name]["features"]) & {f"original_synthetic_F00{j}" for j in range(3)}, name
    # selection.csv's region column names each radscore's selection: region@delta
    assert set(result.selection["region"]) == {f"{r}@{d}" for r in THREE.region_names for d in THREE.delta_names}
    p = result.predictions
    assert list(p.columns) == ["patient_id", "set", "outcome", *RADSCORES_THREE, "us", "combined"]
    training = p[p["set"] == "training"]
    for name in RADSCORES_THREE:
        assert api.evaluate(training["outcome"], training[name])["auc"].iat[0] > 0.7
    # the combined model's stepwise candidates: the clinical columns, the reference's column, every radscore
    assert combined_candidates(study, THREE) == [*study.clinical, "ultrasound", *RADSCORES_THREE]
    assert set(model["combined"]["terms"]) <= set(combined_candidates(study, THREE))


def test_table3_predict_and_validate(three, tmp_path: Path) -> None:
    folder, study, clinical, delta, result = three
    cohort, _ = api.cohort_table(clinical, study)
    tables = study_tables(study, cohort, result)
    t3 = tables.table3.frame
    assert set(t3["model"]) == {*RADSCORES_THREE, "us", "combined"}
    compared = t3[t3["model"] != "us"]
    assert compared["delong_p"].notna().all() and t3.loc[t3["model"] == "us", "delong_p"].isna().all()
    t1 = tables.table1.frame
    assert set(RADSCORES_THREE) <= set(t1["variable"])

    # the model file records the design; read back, it scores every patient as the fit did
    path = DeltaradModel(result.model).to_json(tmp_path / "model.json")
    frozen = DeltaradModel.from_json(path)
    assert frozen.design == THREE
    scores = frozen.predict_proba(delta, cohort[cohort["patient_id"].isin(result.predictions["patient_id"])])
    merged = result.predictions.merge(scores, on="patient_id", suffixes=("", "_again"))
    for m in THREE.model_columns:
        np.testing.assert_allclose(merged[m], merged[f"{m}_again"], equal_nan=True)

    # internal validation: every model of the design, refitted
    train_ids = list(result.split.loc[result.split["set"] == "training", "patient_id"])
    v = validate_procedure(
        study,
        cohort,
        delta,
        api.delta_info(delta, study),
        result.model,
        train_ids,
        bootstrap=2,
        cv_repeats=0,
        workers=1,
    )
    assert set(v.table["model"]) == set(THREE.model_columns)
    assert set(v.frequency["region"]) <= {f"{r}@{d}" for r in THREE.region_names for d in THREE.delta_names}

    # external validation on a new generated cohort of the same design
    new_study, new_clinical, new_delta = _generate(tmp_path / "new", THREE, seed=1)
    new_cohort, _ = api.cohort_table(new_clinical, new_study)
    predictions = frozen.predict_proba(new_delta, new_cohort).merge(new_cohort[["patient_id", "outcome"]])
    external = evaluate_external(frozen, predictions, pd.DataFrame(columns=["patient_id", "stage", "error"]), new_study)
    assert set(external.table3["model"]) == set(THREE.model_columns)
    assert external.table3.loc[external.table3["model"] == "combined", "auc"].iat[0] > 0.7


def test_clinical_reference_without_ultrasound_column(tmp_path: Path) -> None:
    design = Design(references=(Reference("volume", "Volume change", ("volume_change",)),))
    study, clinical, delta = _generate(tmp_path, design, ultrasound=False)
    assert "ultrasound" not in clinical.columns
    result = api.fit_result(delta, clinical, study)
    assert list(result.predictions.columns)[3:] == ["radscore_dir", "radscore_dpr", "volume", "combined"]
    reference = result.model["references"]["volume"]
    assert reference["columns"] == ["volume_change"]
    assert reference["coefficients"]["volume_change"] < 0  # more shrinkage, more pCR
    cohort, _ = api.cohort_table(clinical, study)
    t3 = study_tables(study, cohort, result).table3.frame
    assert t3.loc[t3["model"] == "combined", "delong_p"].notna().all()
    assert t3.loc[t3["model"] == "volume", "delong_p"].isna().all()
    # a model file without an ultrasound reference scores a cohort without the column
    frozen = DeltaradModel.from_json(DeltaradModel(result.model).to_json(tmp_path / "model.json"))
    assert "volume" in frozen.predict_proba(delta, cohort).columns


def test_pooled_regions_and_no_reference(tmp_path: Path) -> None:
    design = Design(
        regions=(Region("intratumoral"), Region("ring_0_3", (0.0, 3.0)), Region("ring_3_6", (3.0, 6.0))),
        radscores=(
            Radscore("radscore_tumour", "Tumour", ("intratumoral",), "early_vs_baseline"),
            Radscore("radscore_bands", "Bands", ("ring_0_3", "ring_3_6"), "early_vs_baseline"),
        ),
        references=(),
    )
    study, clinical, delta = _generate(tmp_path, design)
    result = api.fit_result(delta, clinical, study)
    pooled = result.model["radscores"]["radscore_bands"]
    assert pooled["regions"] == ["ring_0_3", "ring_3_6"] and pooled["region"] == "ring_0_3+ring_3_6"
    assert all(f.split(":")[0] in ("ring_0_3", "ring_3_6") for f in pooled["features"])  # region-prefixed
    assert list(result.predictions.columns)[3:] == ["radscore_tumour", "radscore_bands", "combined"]
    cohort, _ = api.cohort_table(clinical, study)
    tables = study_tables(study, cohort, result)
    t3 = tables.table3.frame
    assert set(t3["model"]) == {"radscore_tumour", "radscore_bands", "combined"}
    assert t3["delong_p"].isna().all() and NO_COMPARATOR_NOTE in tables.table3.notes
    frozen = DeltaradModel.from_json(DeltaradModel(result.model).to_json(tmp_path / "model.json"))
    again = frozen.predict_proba(delta, cohort)
    merged = result.predictions.merge(again, on="patient_id", suffixes=("", "_again"))
    np.testing.assert_allclose(merged["radscore_bands"], merged["radscore_bands_again"])
    assert json.loads((tmp_path / "model.json").read_text())["references"] == {}


def test_three_timepoint_three_band_study_runs_end_to_end_from_the_cli(tmp_path: Path) -> None:
    """`run`, `report`, `predict` and `validate` on the generated three-timepoint, three-band study file."""
    from typer.testing import CliRunner

    from deltarad.cli import app
    from deltarad.simulate import THREE_TIMEPOINTS

    runner = CliRunner()
    study = generate_feature_study(
        tmp_path / "train", n_patients=140, n_features=30, n_planted=3, effect=1.5, design=THREE_TIMEPOINTS
    )
    new = generate_feature_study(
        tmp_path / "new", n_patients=80, n_features=30, n_planted=3, effect=1.5, seed=1, design=THREE_TIMEPOINTS
    )
    for args in (
        ["run", str(study), "--out", str(tmp_path / "run")],
        ["report", str(tmp_path / "run")],
        ["predict", str(tmp_path / "run" / "model.json"), str(new), "--out", str(tmp_path / "pred")],
        ["validate", str(tmp_path / "run" / "model.json"), str(new), "--out", str(tmp_path / "ext")],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args[0], res.output)
    predictions = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    assert set(THREE_TIMEPOINTS.model_columns) <= set(predictions.columns)
    t3 = pd.read_csv(tmp_path / "run" / "tables" / "table3.csv")
    assert set(t3["model"]) == set(THREE_TIMEPOINTS.model_columns)
    assert "ring_3_6" in (tmp_path / "run" / "report.html").read_text()
    external = pd.read_csv(tmp_path / "ext" / "tables" / "table3.csv")
    assert external.loc[external["model"] == "combined", "auc"].iat[0] > 0.65


def _loaded(folder: Path, design: Design | None) -> Study:
    """The generated study file read as `deltarad run` reads it; without `design`, its `design:`
    section left out (a new cohort's study file need not declare the frozen model's)."""
    from deltarad.config import load_study

    raw = yaml.safe_load((folder / "study.yaml").read_text())
    if design is None:
        raw.pop("design")
    (folder / "plain.yaml").write_text(yaml.safe_dump(raw))
    study = load_study(folder / "plain.yaml")
    assert design is None or study.design == design
    return study


def test_clinical_reference_study_runs_reports_predicts_and_validates(tmp_path: Path) -> None:
    """Baseline and early exams, the study's regions, a tumour-volume-change reference and no
    ultrasound column: the whole run, its report, predict --sheets and external validation."""
    from deltarad.external import external_validation, predict_study
    from deltarad.report.html import build_report
    from deltarad.workflow import run_study

    design = Design(references=(Reference("volume", "Volume change", ("volume_change",)),))
    generate_feature_study(
        tmp_path / "train", n_patients=120, n_features=30, n_planted=3, effect=1.5, design=design, ultrasound=False
    )
    generate_feature_study(
        tmp_path / "new", n_patients=60, n_features=30, n_planted=3, effect=1.5, seed=1, design=design, ultrasound=False
    )
    study = _loaded(tmp_path / "train", design)
    # the new cohort's study file declares no design: the frozen model's applies (no ultrasound column needed)
    new = _loaded(tmp_path / "new", None)
    run = run_study(study, tmp_path / "run")
    assert "volume" in run.fit.predictions.columns and "us" not in run.fit.predictions.columns
    t3 = pd.read_csv(tmp_path / "run" / "tables" / "table3.csv")
    assert t3.loc[t3["model"] != "volume", "delong_p"].notna().all()

    html = build_report(tmp_path / "run").read_text()
    assert "DeLong p vs Volume change" in html
    assert "the Volume change model was a logistic regression on volume_change" in html  # the methods
    assert "ultrasound read" not in html.lower()

    predicted = predict_study(tmp_path / "run" / "model.json", new, tmp_path / "pred", sheets=True)
    assert {"volume", "combined"} <= set(predicted.predictions.columns) and predicted.sheets
    assert "Volume change (volume_change)" in predicted.sheets[0].read_text()
    external = external_validation(tmp_path / "run" / "model.json", new, tmp_path / "ext", report=True)
    assert set(external.table3["model"]) == {"radscore_dir", "radscore_dpr", "volume", "combined"}
    assert external.report is not None and external.report.is_file()

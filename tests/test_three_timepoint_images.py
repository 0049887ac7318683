"""A generated three-timepoint, three-band study (deltarad.synthetic DESIGNS["three-timepoint"]):
its study file's design section, extraction over every timepoint x region x reader, its two
deltas, `deltarad index` assigning the exams by date, and (with the modelling side of the design)
`run`, `report`, `predict` and `validate` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.config import load_study
from deltarad.design import Design, ImageSpec
from deltarad.features.delta import compute_delta
from deltarad.features.extract import extract_timepoint
from deltarad.parallel import ParallelSettings
from deltarad.synthetic import generate_cohort
from deltarad.synthetic.cohort import THREE_TIMEPOINT
from deltarad.workflow import extract_study

#: small exams with room for a 9 mm band around the lesion (67 x 67 x 40 mm)
SMALL = dict(n_patients=3, seed=3, shape=(56, 56, 20), spacing_mm=(1.2, 1.2, 2.0), n_phases=4, workers=1)
REGIONS = ("intratumoral", "ring_0_3", "ring_3_6", "ring_6_9")
TIMEPOINTS = ("baseline", "early", "post")


@pytest.fixture(scope="module")
def study_file(tmp_path_factory) -> Path:
    """The generated study, with a parameter file of first-order and shape features (fast)."""
    folder = tmp_path_factory.mktemp("three") / "cohort"
    path = generate_cohort(folder, design=THREE_TIMEPOINT, **SMALL)
    (folder / "params.yaml").write_text(
        yaml.safe_dump(
            {
                "imageType": {"Original": {}},
                "featureClass": {"firstorder": None, "shape": None},
                "setting": {"binWidth": 25},
            }
        )
    )
    study = yaml.safe_load(path.read_text())
    study["imaging"] = {"params": "params.yaml"}
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def extracted(study_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("three-run")
    features, failures = extract_study(load_study(study_file), out, parallel=ParallelSettings(workers=0))
    return features, failures, out


def test_the_generated_study_file_declares_the_design(study_file):
    raw = yaml.safe_load(study_file.read_text())
    assert raw["design"]["timepoints"] == list(TIMEPOINTS)
    design = load_study(study_file).design
    assert design.timepoints == TIMEPOINTS and design.region_names == REGIONS
    assert design.delta_names == ("early_vs_baseline", "post_vs_baseline")
    assert [b.band_mm for b in design.bands] == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]
    cohort = pd.read_csv(study_file.parent / "cohort.csv")
    for tp in TIMEPOINTS:
        assert {f"{tp}_image", f"{tp}_mask", f"{tp}_mask_reader2"} <= set(cohort.columns)


def test_every_timepoint_region_and_reader_is_extracted(extracted, study_file):
    features, failures, out = extracted
    assert failures.empty, failures.to_string()
    cohort = pd.read_csv(study_file.parent / "cohort.csv", dtype=str, keep_default_na=False)
    readers = {
        p: (1, 2) if cohort.set_index("patient_id").loc[p, "baseline_mask_reader2"] else (1,)
        for p in cohort["patient_id"]
    }
    expected = [
        (p, tp, region, reader)
        for p in cohort["patient_id"]
        for tp in TIMEPOINTS
        for reader in readers[p]
        for region in REGIONS
    ]
    got = list(features[["patient_id", "timepoint", "region", "reader"]].itertuples(index=False, name=None))
    assert sorted(got) == sorted(expected)
    # rows in cohort order, then the design's timepoints and regions, then reader
    first = features[features["patient_id"] == cohort["patient_id"].iloc[0]]
    assert list(dict.fromkeys(first["timepoint"])) == list(TIMEPOINTS)
    assert list(dict.fromkeys(first["region"])) == list(REGIONS)
    volume = features.pivot_table(
        index=["patient_id", "timepoint", "reader"], columns="region", values="original_shape_VoxelVolume"
    )
    assert (volume > 0).all().all()
    assert (volume["ring_6_9"] > volume["ring_0_3"]).mean() > 0.5  # outer bands are bigger shells
    qc = yaml.safe_load((out / "regions" / cohort["patient_id"].iloc[0] / "qc_post.json").read_text())
    assert set(qc["bands_mm"]) == {"ring_0_3", "ring_3_6", "ring_6_9"}
    assert set(qc["readers"]["1"]["bands"]) == {"ring_0_3", "ring_3_6", "ring_6_9"}


def test_the_two_deltas_are_computed(extracted, study_file):
    features, _, out = extracted
    design = load_study(study_file).design
    delta, info = compute_delta(features, design)
    assert list(info["deltas"]) == ["early_vs_baseline", "post_vs_baseline"]
    for name, tp in (("early_vs_baseline", "early"), ("post_vs_baseline", "post")):
        part = delta[(delta["delta"] == name) & (delta["reader"] == 1)]
        assert set(part["region"]) == set(REGIONS)
        one = part[part["region"] == "intratumoral"].set_index("patient_id")["original_shape_VoxelVolume"]
        by_tp = features[(features["reader"] == 1) & (features["region"] == "intratumoral")].set_index(
            ["timepoint", "patient_id"]
        )["original_shape_VoxelVolume"]
        assert np.allclose(one, (by_tp[tp] - by_tp["baseline"]) / by_tp["baseline"])
    written = pd.read_csv(out / "delta_features.csv")
    assert set(written["delta"]) == {"early_vs_baseline", "post_vs_baseline"}


def test_a_subtraction_design_extracts(study_file):
    """Phase 3 minus phase 0: N4 fitted on phase 0 corrects the subtraction; the bands as before."""
    study = load_study(study_file)
    design = Design(timepoints=TIMEPOINTS, image=ImageSpec(subtract=(3, 0)), regions=study.design.regions)
    row = pd.read_csv(study_file.parent / "cohort.csv", dtype=str, keep_default_na=False).iloc[0].to_dict()
    row = {
        k: (str((study_file.parent / v).resolve()) if k.endswith(("_image", "_mask")) and v else v)
        for k, v in row.items()
        if not k.endswith("_reader2")
    }
    settings = study.imaging.model_copy(update={"params": study.params_path})
    records = extract_timepoint(row, "baseline", settings, design=design)
    assert [r["region"] for r in records] == list(REGIONS)
    assert "image: phase 3 minus phase 0, voxel by voxel; air, body and N4 from phase 0" in records[0]["notes"]
    means = {r["region"]: r["original_firstorder_Mean"] for r in records}
    assert means["intratumoral"] > means["ring_6_9"]  # the enhancing lesion is brighter in the subtraction


def test_index_assigns_the_exams_by_date_to_the_declared_timepoints(study_file, tmp_path):
    result = CliRunner().invoke(
        app,
        ["index", str(study_file.parent / "patients"), "--out", str(tmp_path / "c.csv"), "--study", str(study_file)],
    )
    assert result.exit_code == 0, result.output
    assert "3 patient(s), 3 with a DCE exam at each of baseline, early, post" in result.output
    draft = pd.read_csv(tmp_path / "c.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(study_file.parent / "cohort.csv", dtype=str)
    for tp in TIMEPOINTS:
        assert set(draft[f"{tp}_image"]) == {str((study_file.parent / p).resolve()) for p in truth[f"{tp}_image"]}


def test_run_report_predict_and_validate_end_to_end(tmp_path):
    """The modelling side of the design on 40 generated patients: one radscore per (region,
    delta), Table 3 against the ultrasound read, the model file's design applied by predict and
    validate (here on the same cohort: the commands' paths, not a new cohort's numbers)."""
    path = generate_cohort(tmp_path / "cohort", design=THREE_TIMEPOINT, **{**SMALL, "n_patients": 40, "effect": 2.0})
    (path.parent / "params.yaml").write_text(
        yaml.safe_dump(
            {
                "imageType": {"Original": {}},
                "featureClass": {"firstorder": None, "shape": None},
                "setting": {"binWidth": 25},
            }
        )
    )
    study = yaml.safe_load(path.read_text())
    study.update(
        imaging={"params": "params.yaml"}, validation={"bootstrap": 0, "cv_repeats": 0}, selection={"lasso_folds": 3}
    )
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    # predict and validate read the run's features (the images were extracted once, by run)
    scored_study = path.parent / "scored.yaml"
    scored_study.write_text(
        yaml.safe_dump({**study, "features": str(tmp_path / "run" / "features.csv")}, sort_keys=False)
    )
    runner = CliRunner()
    for args in (
        ["run", str(path), "--out", str(tmp_path / "run")],
        ["report", str(tmp_path / "run")],
        ["predict", str(tmp_path / "run" / "model.json"), str(scored_study), "--out", str(tmp_path / "pred")],
        ["validate", str(tmp_path / "run" / "model.json"), str(scored_study), "--out", str(tmp_path / "val")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    design = load_study(path).design
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert set(design.model_columns) <= set(predictions.columns)
    assert len(design.radscores) == 8  # 4 regions x 2 deltas
    scored = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    assert set(design.model_columns) <= set(scored.columns)
    # the report's region QC gallery shows every declared exam, the third one included
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "qc_post.png" in report and "qc_baseline.png" in report

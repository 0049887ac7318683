"""The modelling stage end to end on feature tables with planted signal or pure noise."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.config import load_study
from deltarad.simulate import expected_auc, generate_feature_study
from deltarad.stats.roc import auc
from deltarad.workflow import run_study
from model_by_hand import score_by_hand

runner = CliRunner()


def _validation_auc(predictions, model):
    v = predictions[predictions["set"] == "validation"]
    return auc(v["outcome"].to_numpy(), v[model].to_numpy())


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("planted")
    study = load_study(generate_feature_study(d, effect=1.2, n_planted=4, seed=11))
    result, failures = run_study(study, d / "out")
    return d, study, result


def test_planted_features_are_selected_and_validation_auc_is_as_predicted(planted):
    _, _, result = planted
    planted_or_copy = {f"original_synthetic_F{j:03d}" for j in range(7)}  # F000-F003 planted, F004-F006 copies
    for region in ("intratumoral", "peritumoral"):
        chosen = set(result.selected.loc[result.selected.region == region, "feature"])
        assert len(chosen & planted_or_copy) >= 3, (region, chosen)
    # best possible AUC of one region is Phi(1.2 * sqrt(2)) = 0.955; estimation on 130 patients costs some
    assert expected_auc(1.2, 4) == pytest.approx(0.9552, abs=1e-4)
    for m in ("radscore_dir", "radscore_dpr", "combined"):
        assert 0.78 < _validation_auc(result.predictions, m) <= 1.0


def test_outputs_are_written_with_the_documented_columns(planted):
    d, _, _ = planted
    out = d / "out"
    assert pd.read_csv(out / "split.csv").columns.tolist() == ["patient_id", "set"]
    assert pd.read_csv(out / "predictions.csv").columns.tolist() == [
        "patient_id",
        "set",
        "outcome",
        "radscore_dir",
        "radscore_dpr",
        "us",
        "combined",
    ]
    sel = pd.read_csv(out / "selection.csv")
    assert sel.loc[sel.region == "intratumoral", "step"].tolist() == [
        "features",
        "delta",
        "icc",
        "ttest",
        "correlation",
        "lasso",
    ]
    assert sel.loc[(sel.region == "intratumoral") & (sel.step == "delta"), "n_features"].item() == 198
    assert pd.read_csv(out / "selected_features.csv").columns.tolist() == ["region", "feature", "coefficient"]
    model = json.loads((out / "model.json").read_text())
    assert model["schema"] == "deltarad.model" and model["schema_version"] == 3 and "design" in model
    assert set(model["thresholds"]) == {"radscore_dir", "radscore_dpr", "us", "combined"}
    assert not list(out.glob(".*.part"))  # nothing left half-written


def test_run_and_predict_give_what_the_model_file_says(planted):
    """Both the run's predictions and `deltarad predict`'s equal the model file's numbers applied
    by hand (tests/model_by_hand.py: delta by its formula, z-scores, logistic sums)."""
    d, _, result = planted
    res = runner.invoke(
        app, ["predict", str(d / "out" / "model.json"), str(d / "study.yaml"), "--out", str(d / "pred")]
    )
    assert res.exit_code == 0, res.output
    model = json.loads((d / "out" / "model.json").read_text())
    expected = score_by_hand(
        model,
        pd.read_csv(d / "features.csv", dtype={"patient_id": str}),
        pd.read_csv(d / "cohort.csv", dtype={"patient_id": str}),
    )
    pred = pd.read_csv(d / "pred" / "predictions.csv", dtype={"patient_id": str}).set_index("patient_id")
    ran = result.predictions.set_index("patient_id")
    assert len(ran) == len(expected) and model["radscores"]["radscore_dir"]["features"]
    for m in ("radscore_dir", "radscore_dpr", "us", "combined"):
        np.testing.assert_allclose(ran[m], expected.loc[ran.index, m], rtol=1e-9, atol=1e-12, err_msg=m)
        np.testing.assert_allclose(
            pred.loc[ran.index, m], expected.loc[ran.index, m], rtol=1e-9, atol=1e-10, err_msg=m
        )  # the CSV holds 10 significant digits


def test_pure_noise_validation_auc_stays_near_half(tmp_path):
    aucs = []
    for seed in (21, 22, 23):
        study = load_study(generate_feature_study(tmp_path / str(seed), effect=0.0, seed=seed, n_features=80))
        result, _ = run_study(study, tmp_path / str(seed) / "out")
        aucs.append(_validation_auc(result.predictions, "radscore_dir"))
    assert abs(np.mean(aucs) - 0.5) < 0.12, aucs


def test_no_leakage_validation_patients_do_not_change_the_model(tmp_path):
    d = tmp_path / "a"
    study = load_study(generate_feature_study(d, effect=1.0, seed=5, n_features=60))
    first, _ = run_study(study, d / "out1")
    validation = set(first.split.loc[first.split.set == "validation", "patient_id"])

    feats = pd.read_csv(d / "features.csv", dtype={"patient_id": str})
    cohort = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    rng = np.random.default_rng(0)
    cols = feats.columns[4:]
    vrows = feats.patient_id.isin(validation)
    feats.loc[vrows, cols] = feats.loc[vrows, cols] * rng.uniform(0.5, 2.0, (vrows.sum(), len(cols)))
    cohort.loc[cohort.patient_id.isin(validation), "outcome"] = (
        1 - cohort.loc[cohort.patient_id.isin(validation), "outcome"]
    )
    feats.to_csv(d / "features.csv", index=False)
    cohort.to_csv(d / "cohort.csv", index=False)
    second, _ = run_study(study, d / "out2")

    def fitted(m):
        return {k: m[k] for k in ("radscores", "references", "combined", "thresholds")}

    assert fitted(first.model) == fitted(second.model)

    # and the check can fail: touching one training patient changes the model
    train_id = first.split.loc[first.split.set == "training", "patient_id"].iloc[0]
    cohort.loc[cohort.patient_id == train_id, "outcome"] = 1 - cohort.loc[cohort.patient_id == train_id, "outcome"]
    cohort.to_csv(d / "cohort.csv", index=False)
    third, _ = run_study(study, d / "out3")
    assert fitted(third.model) != fitted(first.model)


def test_cli_run_and_study_file_errors(tmp_path):
    study = generate_feature_study(tmp_path, n_patients=80, n_features=30, seed=3)
    res = runner.invoke(app, ["run", str(study), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("cohort: cohort.csv\nselection: {icc_min: high}\ncolour: blue\n")
    res = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2
    assert "selection.icc_min" in res.output and "unknown key 'colour'" in res.output
    assert "Traceback" not in res.output


def test_delta_kind_is_recorded_in_the_model_file_and_used_by_predict(tmp_path):
    import yaml

    study_file = generate_feature_study(tmp_path, n_features=30, n_planted=3, effect=1.2, seed=5)
    spec = yaml.safe_load(study_file.read_text())
    study_file.write_text(yaml.safe_dump({**spec, "delta": "log_ratio"}))
    result, _ = run_study(load_study(study_file), tmp_path / "out")
    model = json.loads((tmp_path / "out" / "model.json").read_text())
    assert model["delta"] == {"kind": "log_ratio", "reader": 1, "near_zero": 1e-3, "formula": "log(early / baseline)"}
    dropped = pd.read_csv(tmp_path / "out" / "delta_dropped.csv")
    assert dropped["reason"].str.startswith("zero baseline").all() and len(dropped) == 4  # 2 per region
    res = runner.invoke(
        app, ["predict", str(tmp_path / "out" / "model.json"), str(study_file), "--out", str(tmp_path / "pred")]
    )
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "pred" / "predictions.csv").set_index("patient_id")
    ran = result.predictions.set_index("patient_id")
    for m in ("radscore_dir", "radscore_dpr", "combined"):  # a relative change here would score differently
        np.testing.assert_allclose(pred.loc[ran.index, m], ran[m], rtol=1e-9)
    study_file.write_text(yaml.safe_dump({**spec, "delta": "ratio"}))
    res = runner.invoke(app, ["run", str(study_file), "--out", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "delta" in res.output and "Traceback" not in res.output

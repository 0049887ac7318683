"""`deltarad validate`: a frozen model (with its stored ComBat transform) scores a new cohort and
evaluates it at the model's own cut-offs."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.config import load_study
from deltarad.errors import DeltaradError
from deltarad.external import external_validation
from deltarad.simulate import generate_feature_study
from deltarad.workflow import run_study
from model_by_hand import score_by_hand


@pytest.fixture(scope="module")
def two_centres(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_centres")
    study_file = generate_feature_study(
        root, n_patients=100, n_features=15, n_planted=3, effect=1.5, centres=2, centre_effect=1.0, seed=4
    )
    settings = yaml.safe_load(study_file.read_text())
    settings["selection"] = {"lasso_folds": 3}
    study_file.write_text(yaml.safe_dump(settings))
    run_dir = root / "run"
    result, _ = run_study(load_study(study_file), run_dir)
    return root, settings, run_dir, result


def _cohort_study(root, settings, name, cohort):
    cohort.to_csv(root / f"{name}.csv", index=False)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**settings, "cohort": f"{name}.csv"}))
    return load_study(path)


def test_validate_reproduces_the_run_and_uses_its_cutoffs(two_centres):
    root, settings, run_dir, result = two_centres
    model = json.loads((run_dir / "model.json").read_text())
    assert model["harmonization"]["method"] == "combat"
    assert set(model["harmonization"]["regions"]["intratumoral"]["gamma_star"]) == {"centre1", "centre2"}

    validation = result.predictions[result.predictions["set"] == "validation"]
    cohort = pd.read_csv(root / "cohort.csv", dtype={"patient_id": str})
    study = _cohort_study(root, settings, "held_out", cohort[cohort["patient_id"].isin(validation["patient_id"])])
    out = root / "validate"
    done = external_validation(run_dir / "model.json", study, out)
    t3, failures = done.table3, done.failures
    assert failures.empty

    scored = pd.read_csv(out / "predictions.csv", dtype={"patient_id": str}).set_index("patient_id")
    expected = validation.set_index("patient_id").loc[scored.index]
    # the model file's numbers applied by hand, ComBat's adjustment with its stored centre estimates included
    by_hand = score_by_hand(
        model,
        pd.read_csv(root / "features.csv", dtype={"patient_id": str}),
        cohort[cohort["patient_id"].isin(scored.index)],
    ).loc[scored.index]
    for m in ("radscore_dir", "radscore_dpr", "us", "combined"):
        np.testing.assert_allclose(scored[m], by_hand[m], rtol=1e-9, atol=1e-10, err_msg=m)  # CSV: 10 digits
    assert set(scored["set"]) == {"external"}
    for row in t3.itertuples():
        assert row.threshold == pytest.approx(model["thresholds"][row.model])
        y, s = expected["outcome"].to_numpy(), by_hand[row.model].to_numpy()
        assert row.tp == int(((s >= row.threshold) & (y == 1)).sum())
        # AUC by its definition: P(score of an event > score of a non-event), ties counting 1/2
        pairs = s[y == 1][:, None] - s[y == 0][None, :]
        assert row.auc == pytest.approx(np.mean((pairs > 0) + 0.5 * (pairs == 0)), abs=1e-12)
    calibration = pd.read_csv(out / "tables" / "calibration.csv")
    assert list(calibration.columns) == ["model", "calibration_intercept", "calibration_slope", "brier"]
    dca = pd.read_csv(out / "tables" / "decision_curve.csv")
    assert {"combined", "all", "none"} <= set(dca["variable"])
    assert (out / "tables" / "roc.csv").is_file() and (out / "model.json").is_file()


def test_unseen_centre_is_a_clear_error(two_centres):
    root, settings, run_dir, _ = two_centres
    cohort = pd.read_csv(root / "cohort.csv", dtype={"patient_id": str}).iloc[:20].assign(centre="centre9")
    study = _cohort_study(root, settings, "unseen", cohort)
    with pytest.raises(DeltaradError, match="centre 'centre9' was not among the training centres"):
        external_validation(run_dir / "model.json", study, root / "unseen_out")


def test_cli(two_centres):
    root, settings, run_dir, result = two_centres
    cohort = pd.read_csv(root / "cohort.csv", dtype={"patient_id": str}).iloc[-30:]
    _cohort_study(root, settings, "cli", cohort)
    out = root / "cli_out"
    done = CliRunner().invoke(
        app, ["validate", str(run_dir / "model.json"), str(root / "cli.yaml"), "--out", str(out), "--no-report"]
    )
    assert done.exit_code == 0, done.output
    assert "combined model on 30 patients: AUC" in done.output
    assert (out / "tables" / "table3.csv").is_file()

    features = pd.read_csv(root / "features.csv", dtype={"patient_id": str})
    dropped = cohort["patient_id"].iloc[0]
    features[~((features["patient_id"] == dropped) & (features["timepoint"] == "early"))].to_csv(
        root / "cli_features.csv", index=False
    )
    (root / "cli_partial.yaml").write_text(
        yaml.safe_dump({**settings, "cohort": "cli.csv", "features": "cli_features.csv"})
    )
    partial = CliRunner().invoke(
        app,
        [
            "validate",
            str(run_dir / "model.json"),
            str(root / "cli_partial.yaml"),
            "--out",
            str(root / "cli_partial_out"),
            "--no-report",
        ],
    )
    assert partial.exit_code == 1, partial.output
    assert "combined model on 29 patients" in partial.output
    assert "1 patient(s) could not be scored" in partial.output
    assert pd.read_csv(root / "cli_partial_out" / "failures.csv", dtype=str)["patient_id"].tolist() == [dropped]

    _cohort_study(root, settings, "cli_unseen", cohort.assign(centre="elsewhere"))
    failed = CliRunner().invoke(
        app,
        ["validate", str(run_dir / "model.json"), str(root / "cli_unseen.yaml"), "--out", str(root / "cli_unseen_out")],
    )
    assert failed.exit_code == 2
    assert "error: patient" in failed.output and "'elsewhere'" in failed.output

"""Patient sheets: one A4 page per scored patient from `deltarad predict --sheets`; the nomogram
points add up to the combined model's own probability; the model file's hash and cut-off shown;
nothing of the cohort file beyond the pseudonym."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.report.sheets import nomogram_points, write_sheets


def test_nomogram_points_give_the_combined_probability(run_folder: Path) -> None:
    model = json.loads((run_folder / "model.json").read_text())
    c = model["combined"]
    values = {"us_post_nat": 1.0, "radscore_dir": 0.7, "radscore_dpr": 0.4}
    points = nomogram_points(model, values)
    lp = c["intercept"] + sum(c["coefficients"][k] * v for k, v in values.items())
    assert points[-1]["probability"] == pytest.approx(float(expit(lp)), abs=1e-12)
    # the widest term (Radscore_DIR, beta 4.4 over 0-1) spans 0-100 points: 0.7 -> 70 points
    assert points[1]["points"] == pytest.approx(70.0)
    assert points[-1]["points"] == pytest.approx(sum(p["points"] for p in points[:-1]))


def sheet_fixture(run_folder: Path, out: Path, n: int = 3) -> list[Path]:
    model = json.loads((run_folder / "model.json").read_text())
    pred = pd.read_csv(run_folder / "predictions.csv", dtype={"patient_id": str}).head(n)
    cohort = pd.DataFrame(
        {"patient_id": pred["patient_id"], "us_post_nat": (pred["us"] > 0.5).astype(int), "surname": "Doe, Jane"}
    )
    c = model["combined"]  # the fixture's combined column is drawn apart from model.json: score it by the model
    lp = c["intercept"] + sum(c["coefficients"][k] * pd.concat([pred, cohort], axis=1)[k] for k in c["terms"])
    pred = pred.assign(combined=expit(lp))
    return write_sheets(
        run_folder / "model.json",
        model,
        cohort,
        pred.drop(columns=["aln_pcr", "set"]),
        out,
        regions_dir=run_folder / "regions",
    )


def test_sheet_shows_qc_scores_cutoff_and_provenance(run_folder: Path, tmp_path: Path) -> None:
    sheets = sheet_fixture(run_folder, tmp_path)
    assert [p.name for p in sheets] == ["DEMO000.html", "DEMO001.html", "DEMO002.html"]
    html = sheets[0].read_text()
    assert html.count('src="data:image/png;base64,') == 2
    assert "@page { size: A4" in html
    assert hashlib.sha256((run_folder / "model.json").read_bytes()).hexdigest() in html
    model = json.loads((run_folder / "model.json").read_text())
    assert f"{model['thresholds']['combined']:.3f}" in html
    assert "Doe, Jane" not in html and "surname" not in html  # (a comma is never in base64)
    assert "<script" not in html.lower()
    assert "Check:" not in html  # the nomogram's points give the model's prediction


def test_sheet_says_when_prediction_and_model_disagree(run_folder: Path, tmp_path: Path) -> None:
    model = json.loads((run_folder / "model.json").read_text())
    pred = pd.DataFrame(
        {"patient_id": ["X1"], "radscore_dir": [0.5], "radscore_dpr": [0.5], "us": [0.4], "combined": [0.99]}
    )
    sheet = write_sheets(
        run_folder / "model.json", model, pd.DataFrame({"patient_id": ["X1"], "us_post_nat": [0]}), pred, tmp_path
    )[0].read_text()
    assert "the prediction and the model file disagree" in sheet


def test_predict_writes_a_sheet_per_patient(cli_runs: dict, tmp_path: Path) -> None:
    out = tmp_path / "new"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            str(cli_runs["run"] / "model.json"),
            str(cli_runs["external_study"]),
            "--out",
            str(out),
            "--sheets",
        ],
    )
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out / "predictions.csv", dtype={"patient_id": str})
    sheets = sorted((out / "sheets").glob("*.html"))
    assert len(sheets) == len(pred) and f"wrote {len(pred)} patient sheets" in result.output
    first = (out / "sheets" / f"{pred['patient_id'].iloc[0]}.html").read_text()
    assert f"{pred['combined'].iloc[0]:.2f}" in first
    assert "no region QC image" in first  # a feature-table cohort: nothing was extracted
    assert "validation set of the model&#39;s run" in first  # tables/table3.csv beside model.json
    auc = re.search(r"Validation AUC of the combined model: (\d\.\d{3})", first)
    t3 = pd.read_csv(cli_runs["run"] / "tables" / "table3.csv")
    row = t3[(t3["set"] == "validation") & t3["model"].str.lower().str.contains("combined")].iloc[0]
    assert float(auc.group(1)) == pytest.approx(row["auc"], abs=5e-4)

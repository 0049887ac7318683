"""The report built from a finished run folder: sections, self-containment, files beside it,
formatting, and graceful gaps when inputs are missing; and the reports of folders the real CLI
wrote: a development run with internal validation, and an external validation by `deltarad
validate` (one set, "external"; no training set, no selection files; cut-offs from the model)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.formatting import format_p, format_value
from deltarad.report.html import build_report
from deltarad.report.sections import DEVELOPMENT_ONLY, SECTIONS

FIGURES = [
    "cohort_flow",
    "selection_funnel",
    "coefficients",
    "selection_frequency",
    "nomogram",
    "roc",
    "decision_curves",
    "calibration",
    "confusion_matrices",
    "radscore_boxplots",
    "input_heatmap",
    "rose_plots",
]
EXTERNAL = re.compile(
    r"""(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", re.IGNORECASE
)


#: the study's models (prediction column, label), written out
MODEL_LABELS = {"combined": "Combined", "radscore_dir": "DIR", "radscore_dpr": "DPR", "us": "Ultrasound"}


def section_html(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def test_every_section_is_present_and_drawn(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    for anchor, title, _ in SECTIONS:
        body = section_html(html, anchor)
        assert f"{title}</h2>" in body.replace("&amp;", "&")
        assert "Not available" not in body, f"section {title!r}: {body[:600]}"
        assert f'href="#{anchor}"' in html  # listed in the contents
    assert html.count('<img src="data:image/png;base64,') == len(FIGURES)
    assert [int(n) for n in re.findall(r"<strong>Figure (\d+)\.</strong>", html)] == list(range(1, len(FIGURES) + 1))
    for n in (1, 2, 3):
        assert f"<strong>Table {n}.</strong>" in html


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert not EXTERNAL.findall(html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    # every local link is a file written beside the report
    for target in re.findall(r'href="([^"#][^"]*)"', html):
        assert (report.parent / target).is_file(), target


def test_figures_and_tables_are_written_beside_the_report(report: Path, run_folder: Path) -> None:
    for name in FIGURES:
        png = (run_folder / "figures" / f"{name}.png").read_bytes()
        svg = (run_folder / "figures" / f"{name}.svg").read_text(encoding="utf-8")
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert "<svg" in svg
    for name in ("table1", "table2", "table3", "selection", "selected_features", "validation", "selection_frequency"):
        xlsx = pd.read_excel(run_folder / "tables" / f"{name}.xlsx", engine="openpyxl")
        csv_path = run_folder / "tables" / f"{name}.csv"
        csv = pd.read_csv(csv_path if csv_path.is_file() else run_folder / f"{name}.csv")
        assert list(xlsx.columns) == list(csv.columns)
        assert len(xlsx) == len(csv)
    t3x = pd.read_excel(run_folder / "tables" / "table3.xlsx", engine="openpyxl")
    t3c = pd.read_csv(run_folder / "tables" / "table3.csv")
    assert t3x["auc"].tolist() == pytest.approx(t3c["auc"].tolist(), abs=1e-12)


def test_table3_shows_the_study_layout(report: Path, run_folder: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "table3")
    t3 = pd.read_csv(run_folder / "tables" / "table3.csv")
    r = t3[(t3["set"] == "validation") & (t3["model"] == "combined")].iloc[0]
    assert f"{r.auc:.3f} ({r.auc_ci_low:.3f}–{r.auc_ci_high:.3f})" in html
    assert "&lt;0.001" in html  # the fixture's IDI p-values are 0.0004
    assert "0.0004" not in html


def test_cohort_counts_match_predictions(report: Path, run_folder: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "cohort")
    pred = pd.read_csv(run_folder / "predictions.csv")
    for s in ("training", "validation"):
        part = pred[pred["set"] == s]
        row = f"<td>{s.capitalize()}</td><td>{len(part)}</td><td>{part.aln_pcr.sum()}</td><td>{(part.aln_pcr == 0).sum()}</td>"
        assert row in html
    assert "DEMO999" in html  # the excluded patient, from failures.csv


def test_combined_model_lists_its_terms(report: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "combined")
    assert "<td>(intercept)</td><td>-2.900</td>" in html
    assert "<td>us_post_nat</td><td>1.000</td>" in html
    assert "AIC = 107.200" in html
    heatmap = section_html(report.read_text(encoding="utf-8"), "heatmap")
    assert "not shown" not in heatmap  # us_post_nat is drawn as the ultrasound model's input


def test_internal_validation_table_sits_beside_the_split(report: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "validation")
    # conftest's combined AUC: apparent 0.912, optimism 0.061, split validation 0.855, CV 0.847 ± 0.048
    assert (
        "<td>Combined</td><td>AUC</td><td>0.912</td><td>0.061</td><td>0.851</td><td>0.855</td><td>0.847 ± 0.048</td>"
    ) in html
    assert "<td></td><td>Calibration slope</td><td>1.000</td><td>0.231</td><td>0.769</td>" in html
    assert html.index("<td>Combined</td>") < html.index("<td>DIR</td>") < html.index("<td>Ultrasound</td>")
    assert "optimism bootstrap with 200 resamples" in html and "over 50 held-out folds" in html
    assert "selection included" in html


def test_selection_frequency_highlights_the_final_features(report: Path, run_folder: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "features")
    frequency = pd.read_csv(run_folder / "tables" / "selection_frequency.csv")
    shown = re.findall(r"<tr><td>(\w+)</td><td>([^<]+)</td><td>(\d+)%</td><td>\d+%</td><td>(yes|)</td></tr>", html)
    assert len(shown) == frequency.groupby("region").size().clip(upper=15).sum()  # the 15 most frequent per region
    for region, feature, percent, final in shown:
        row = frequency[(frequency["region"] == region) & (frequency["feature"] == feature)].iloc[0]
        assert int(percent) == round(100 * row.bootstrap_frequency)
        assert (final == "yes") == bool(row.in_final_model)
    svg = (run_folder / "figures" / "selection_frequency.svg").read_text(encoding="utf-8")
    labels = re.findall(r'<text style="(font-weight: 700; )?font-size: 7.5px[^>]*>([^<]+)</text>', svg)
    assert {name for bold, name in labels if bold} == set(frequency.loc[frequency["in_final_model"], "feature"])
    assert {name for bold, name in labels if not bold} <= set(frequency.loc[~frequency["in_final_model"], "feature"])


def test_nomogram_is_embedded_with_its_reading_guide(report: Path, run_folder: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "nomogram")
    assert '<img src="data:image/png;base64,' in html
    assert "Total points" in (run_folder / "figures" / "nomogram.svg").read_text(encoding="utf-8")
    assert "add the points of all predictors" in html


def test_selection_funnel_is_spelled_out(report: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "selection")
    assert "intratumoral: 851 → 816 → 715 → 616 → 136 → 9" in html
    assert "peritumoral: 851 → 845 → 618 → 75 → 35 → 4" in html


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0004, "<0.001"),
        (1e-12, "<0.001"),
        (0.001, "0.001"),
        (0.0499, "0.050"),
        (1.0, "1.000"),
        (float("nan"), ""),
        (None, ""),
    ],
)
def test_format_p(p, shown) -> None:
    assert format_p(p) == shown


def test_format_value_keeps_integers_and_text() -> None:
    assert format_value(130) == "130"
    assert format_value(0.80655) == "0.807"
    assert format_value("49.1 ± 9.8") == "49.1 ± 9.8"
    assert format_value(300239975200000.0) == "3e+14"  # a diverged estimate, not 15 digits of noise
    assert format_value(-1234567.0) == "-1.23e+06"


def _copy_run(run_folder: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("predictions.csv", "model.json"):
        shutil.copy(run_folder / name, run / name)
    (run / "tables").mkdir()
    for name in ("table3.csv", "validation.csv"):
        shutil.copy(run_folder / "tables" / name, run / "tables" / name)
    return run


def test_model_labels_come_from_the_model_file(run_folder: Path, tmp_path: Path) -> None:
    run = _copy_run(run_folder, tmp_path)
    model = json.loads((run / "model.json").read_text())
    assert "models" not in model  # a model file from before the entry: the study's labels
    labels = {
        "radscore_dpr": "Peritumoral",
        "combined": "Clinical-radiomic",
        "radscore_dir": "Intratumoral",
        "us": "US read",
    }
    (run / "model.json").write_text(json.dumps({**model, "models": labels}))
    html = build_report(run).read_text(encoding="utf-8")
    table3 = section_html(html, "table3")
    for label in labels.values():
        assert f"<td>{label}</td>" in table3
    assert "<td>DIR</td>" not in table3 and "<td>Combined</td>" not in table3
    validation = section_html(html, "validation")
    # in the model file's order: its first model first
    assert validation.index("<td>Peritumoral</td>") < validation.index("<td>Clinical-radiomic</td>")


@pytest.mark.parametrize("name", ["DIR", "Radscore_DIR", "ultrasound"])
def test_a_model_name_that_is_no_prediction_column_is_refused_not_guessed(
    run_folder: Path, tmp_path: Path, name: str
) -> None:
    run = _copy_run(run_folder, tmp_path)
    t3 = pd.read_csv(run / "tables" / "table3.csv")
    t3.loc[t3["model"] == "radscore_dir", "model"] = name  # a label or a spelling, not a model column
    t3.to_csv(run / "tables" / "table3.csv", index=False)
    html = build_report(run).read_text(encoding="utf-8")
    said = section_html(html, "table3").replace("&#39;", "'")
    assert (
        f"Not available:</strong> tables/table3.csv names a model '{name}' that is not one of the run's models" in said
    )
    assert "Not available" not in section_html(html, "validation")  # validation.csv names its models exactly


def test_missing_inputs_leave_sections_unavailable_with_the_reason(run_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("predictions.csv", "split.csv"):
        shutil.copy(run_folder / name, run / name)
    model = json.loads((run_folder / "model.json").read_text())
    del model["combined"]["variables"]["us_post_nat"]["range"]
    (run / "model.json").write_text(json.dumps(model))
    (run / "selection.csv").write_text("region,step\nintratumoral,icc\n")  # lacks n_features
    html = build_report(run).read_text(encoding="utf-8")
    assert "tables/table3.csv not found" in section_html(html, "table3")
    assert "tables/table1.csv not found" in section_html(html, "table1")
    assert "selection.csv lacks column(s) n_features" in section_html(html, "selection")
    assert "selected_features.csv not found" in section_html(html, "features")
    for drawn in ("cohort", "roc", "dca", "calibration", "radscores", "heatmap", "rose", "settings"):
        assert "Not available" not in section_html(html, drawn), drawn
    assert "tables/table3.csv not found" in section_html(html, "confusion")
    assert (
        "Not available:</strong> internal validation not run (set validation.bootstrap in the study file)"
        in section_html(html, "validation")
    )
    assert "Not available:</strong> the model file stores no training range of &#39;us_post_nat&#39;" in section_html(
        html, "nomogram"
    )
    assert "The dashed circle is the training-set Youden cut-off" in section_html(html, "rose")  # from model.json


def test_report_without_predictions_still_builds(tmp_path: Path) -> None:
    html = build_report(tmp_path).read_text(encoding="utf-8")
    assert html.count("Not available") == len(SECTIONS)
    assert "predictions.csv not found" in section_html(html, "roc")
    assert "model.json not found" in section_html(html, "settings")


def test_cli_report_writes_where_asked(run_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "supplement.html"
    result = CliRunner().invoke(app, ["report", str(run_folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert (out.parent / "figures" / "roc.svg").is_file()
    assert (out.parent / "tables" / "table3.csv").is_file()  # copied: the report's links must resolve
    assert (out.parent / "tables" / "table3.xlsx").is_file()


def test_cli_report_names_a_missing_run_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "run folder not found" in result.output and "nope" in result.output


# --- folders written by the real CLI ---------------------------------------------------------


def sections_of(html: str) -> list[str]:
    return re.findall(r'<section id="([\w-]+)">', html)


def test_external_validation_report_is_titled_and_drawn_for_the_external_set(cli_runs: dict) -> None:
    ext = cli_runs["ext"]
    html = (ext / "report.html").read_text(encoding="utf-8")  # written by `deltarad validate` itself
    title = re.search(r"<h1>(.*?)</h1>", html).group(1)
    assert title.startswith("External validation of a delta dual-region DCE-MRI radiomics model")
    assert "Not available" not in html
    shown = sections_of(html)
    assert not DEVELOPMENT_ONLY & set(shown)  # the model was fitted elsewhere: left out, not "not available"
    assert shown == [a for a, _, _ in SECTIONS if a not in DEVELOPMENT_ONLY]
    for name in ("roc", "calibration", "decision_curves", "confusion_matrices"):
        svg = (ext / "figures" / f"{name}.svg").read_text(encoding="utf-8")
        assert "External" in svg and "Training" not in svg and "Validation set" not in svg, name


def test_external_table3_uses_the_models_training_cutoffs(cli_runs: dict) -> None:
    ext = cli_runs["ext"]
    html = (ext / "report.html").read_text(encoding="utf-8")
    table = section_html(html, "table3")
    t3 = pd.read_csv(ext / "tables" / "table3.csv")
    assert set(t3["set"]) == {"external"}
    thresholds = json.loads((cli_runs["run"] / "model.json").read_text())["thresholds"]
    for r in t3.itertuples():
        row = (
            f"<td>External</td><td>{MODEL_LABELS[r.model]}</td>"
            f"<td>{r.auc:.3f} ({r.auc_ci_low:.3f}–{r.auc_ci_high:.3f})</td><td>{thresholds[r.model]:.3f}</td>"
        )
        assert row in table
    assert "not re-chosen on this cohort" in table
    combined = t3[t3["model"] == "combined"].iloc[0]
    assert f"<li>External AUC, Combined: {combined.auc:.3f}</li>" in html


def test_external_report_shows_the_frozen_model(cli_runs: dict) -> None:
    ext = cli_runs["ext"]
    html = (ext / "report.html").read_text(encoding="utf-8")
    features = section_html(html, "features")
    model = json.loads((ext / "model.json").read_text())
    for part in model["radscores"].values():
        for name, beta in part["coefficients"].items():
            assert f"<td>{part['region']}</td><td>{name}</td><td>{beta:.3f}</td>" in features
    assert (ext / "figures" / "nomogram.png").read_bytes().startswith(b"\x89PNG")
    calibration = section_html(html, "calibration")
    cal = pd.read_csv(ext / "tables" / "calibration.csv").set_index("model")
    assert (
        f"<td>DIR</td><td>{cal.loc['radscore_dir', 'calibration_intercept']:.3f}</td>"
        f"<td>{cal.loc['radscore_dir', 'calibration_slope']:.3f}</td>" in calibration
    )


def test_development_report_shows_internal_validation_and_selection_frequency(cli_runs: dict) -> None:
    run = cli_runs["run"]
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Not available" not in html
    validation = section_html(html, "validation")
    v = pd.read_csv(run / "tables" / "validation.csv")
    auc = v[(v["model"] == "combined") & (v["metric"] == "auc")].iloc[0]
    assert (
        f"<td>Combined</td><td>AUC</td><td>{auc.apparent:.3f}</td><td>{auc.optimism:.3f}</td>"
        f"<td>{auc.corrected:.3f}</td><td>{auc.split_validation:.3f}</td>"
    ) in validation
    assert f"optimism bootstrap with {int(v['bootstrap_n'].max())} resamples" in validation
    assert f"over {int(v['cv_n'].max())} held-out folds" in validation

    features = section_html(html, "features")
    assert "Selection frequency" in features
    frequency = pd.read_csv(run / "tables" / "selection_frequency.csv")
    final = frequency[frequency["in_final_model"]].iloc[0]
    assert f"<td>{final.region}</td><td>{final.feature}</td><td>{final.bootstrap_frequency:.0%}</td>" in features
    svg = (run / "figures" / "selection_frequency.svg").read_text(encoding="utf-8")
    assert "In the final model" in svg and final.feature in svg
    assert "nomogram" in sections_of(html)

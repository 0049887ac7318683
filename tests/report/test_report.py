"""The report built from a finished run folder: sections, self-containment, files beside it,
formatting, and graceful gaps when inputs are missing."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.report import build_report
from deltarad.report.html import SECTIONS
from deltarad.report.run import model_key
from deltarad.report.tables import format_p, format_value

FIGURES = ["cohort_flow", "selection_funnel", "coefficients", "roc", "decision_curves", "calibration",
           "confusion_matrices", "radscore_boxplots", "input_heatmap", "rose_plots"]
EXTERNAL = re.compile(r"""(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""",
                      re.IGNORECASE)


def section_html(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start:html.index("</section>", start)]


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
    for name in ("table1", "table2", "table3", "selection", "selected_features"):
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


def test_selection_funnel_is_spelled_out(report: Path) -> None:
    html = section_html(report.read_text(encoding="utf-8"), "selection")
    assert "intratumoral: 851 → 816 → 715 → 616 → 136 → 9" in html
    assert "peritumoral: 851 → 845 → 618 → 75 → 35 → 4" in html


@pytest.mark.parametrize(("p", "shown"), [(0.0004, "<0.001"), (1e-12, "<0.001"), (0.001, "0.001"),
                                         (0.0499, "0.050"), (1.0, "1.000"), (float("nan"), ""), (None, "")])
def test_format_p(p, shown) -> None:
    assert format_p(p) == shown


def test_format_value_keeps_integers_and_text() -> None:
    assert format_value(130) == "130"
    assert format_value(0.80655) == "0.807"
    assert format_value("49.1 ± 9.8") == "49.1 ± 9.8"


@pytest.mark.parametrize(("name", "key"), [("combined", "combined"), ("DIR", "radscore_dir"),
                                           ("Radscore_DPR", "radscore_dpr"), ("ultrasound", "us"), ("US", "us")])
def test_model_names_map_to_prediction_columns(name, key) -> None:
    assert model_key(name) == key


def test_missing_inputs_leave_sections_unavailable_with_the_reason(run_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("predictions.csv", "split.csv", "model.json"):
        shutil.copy(run_folder / name, run / name)
    (run / "selection.csv").write_text("region,step\nintratumoral,icc\n")  # lacks n_features
    html = build_report(run).read_text(encoding="utf-8")
    assert "tables/table3.csv not found" in section_html(html, "table3")
    assert "tables/table1.csv not found" in section_html(html, "table1")
    assert "selection.csv lacks column(s) n_features" in section_html(html, "selection")
    assert "selected_features.csv not found" in section_html(html, "features")
    for drawn in ("cohort", "roc", "dca", "calibration", "radscores", "heatmap", "rose", "settings"):
        assert "Not available" not in section_html(html, drawn), drawn
    assert "tables/table3.csv not found" in section_html(html, "confusion")
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

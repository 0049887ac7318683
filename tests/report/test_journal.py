"""Tables 1 and 2 in the journal layout, the study name in the header and the report settings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from deltarad.config import load_study
from deltarad.features.region_qc import exam_numbers
from deltarad.report.journal import table1_journal, table2_journal
from deltarad.stats.tables import table1, table2


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 80
    y = np.tile([0, 1], n // 2)
    return pd.DataFrame(
        {
            "set": np.where(np.arange(n) < 56, "training", "validation"),
            "y": y,
            "age": rng.normal(50, 10, n).round(),
            "us": (rng.random(n) < 0.3 + 0.3 * y).astype(int),
            "radscore_dir": np.clip(0.3 + 0.3 * y + rng.normal(0, 0.15, n), 0, 1),
        }
    )


def test_table1_sets_side_by_side_with_pcr_columns(data: pd.DataFrame) -> None:
    long = table1(data, "y", by="set", variables=["age", "us", "radscore_dir"], categorical=["us"])
    wide = table1_journal(long, ultrasound="us")
    assert list(wide.columns) == [
        "Characteristic",
        "Level",
        "Training pCR",
        "Training non-pCR",
        "Training P",
        "Validation pCR",
        "Validation non-pCR",
        "Validation P",
    ]
    assert "Radscore_DIR" in set(wide["Characteristic"]) and "Ultrasound read (us)" in set(wide["Characteristic"])
    n = wide[wide["Characteristic"] == "Patients, n"].iloc[0]
    assert (n["Training pCR"], n["Training non-pCR"], n["Validation pCR"]) == ("28", "28", "12")
    age = long[(long["set"] == "validation") & (long["variable"] == "age")].iloc[0]
    row = wide[wide["Characteristic"] == "age"].iloc[0]
    assert row["Validation pCR"] == age["y=1"] and row["Validation non-pCR"] == age["y=0"]
    assert row["Validation P"] == f"{age['p_value']:.3f}"


def test_table2_univariate_and_multivariate_side_by_side(data: pd.DataFrame) -> None:
    long = table2(data[data["set"] == "training"], "y", variables=["age", "us", "radscore_dir"], categorical=["us"])
    wide = table2_journal(long, ultrasound="us")
    assert [c for c in wide.columns if c.startswith("Univariate")] == [
        "Univariate β",
        "Univariate SE",
        "Univariate Z",
        "Univariate P",
        "Univariate OR (95% CI)",
    ]
    r = long[(long["analysis"] == "univariate") & (long["variable"] == "radscore_dir")].iloc[0]
    shown = wide[wide["Variable"] == "Radscore_DIR"].iloc[0]
    assert shown["Univariate β"] == f"{r['beta']:.3f}"
    assert re.fullmatch(r"[\d.e+]+ \([\d.e+]+–[\d.e+]+\)", shown["Univariate OR (95% CI)"])


def test_report_settings_and_study_name_in_the_study_file(tmp_path: Path) -> None:
    (tmp_path / "cohort.csv").write_text("patient_id,outcome\n")
    (tmp_path / "breast_aln.yaml").write_text("cohort: cohort.csv\nreport:\n  qc_dice_min: 0.6\n")
    study = load_study(tmp_path / "breast_aln.yaml")
    assert study.report.qc_dice_min == 0.6 and study.report.qc_ring_cut_max == 0.5
    from deltarad.record import study_name_of

    assert study_name_of(study) == "breast_aln"
    (tmp_path / "named.yaml").write_text("cohort: cohort.csv\nname: ALN pCR after NAT\n")
    assert study_name_of(load_study(tmp_path / "named.yaml")) == "ALN pCR after NAT"


def test_report_header_names_the_study(report: Path) -> None:
    assert "Supplementary report · Demo-like ALN pCR study</p>" in report.read_text(encoding="utf-8")


def test_ring_share_lost_uses_the_extractions_counts_when_given() -> None:
    from deltarad.imaging.regions import ring

    a = np.zeros((9, 9, 9), np.uint8)
    a[3:6, 3:6, 3:6] = 1
    tumour = sitk.GetImageFromArray(a)
    shell = sitk.GetArrayFromImage(ring(tumour, 1.0))
    assert shell.sum() == 54  # 1 mm around a 3 mm cube: the 6 x 9 face neighbours
    kept = shell.copy()
    kept[6] = 0  # one face (9 voxels) removed, as air would be
    regions = {("intratumoral", 1): tumour, ("peritumoral", 1): sitk.GetImageFromArray(kept)}
    assert exam_numbers(regions, 1.0)["readers"]["1"]["ring_lost_share"] == pytest.approx(9 / 54)
    given = exam_numbers(regions, 1.0, {1: {"ring_voxels_geometric": 90.0, "air_share": 0.5}})["readers"]["1"]
    assert given["ring_lost_share"] == pytest.approx(1 - 45 / 90) and given["air_share"] == 0.5


def test_report_written_elsewhere_copies_the_qc_images_beside_it(run_folder: Path, tmp_path: Path) -> None:
    from deltarad.report.html import build_report

    out = build_report(run_folder, tmp_path / "supplement" / "report.html")
    html = out.read_text(encoding="utf-8")
    links = re.findall(r'<img class="qc-image" src="([^"]+)"', html)
    assert links and all(src.startswith("qc/") and (out.parent / src).is_file() for src in links)


def test_journal_tables_as_xlsx_beside_the_report(report: Path) -> None:
    t1 = pd.read_excel(report.parent / "tables" / "table1_journal.xlsx", engine="openpyxl", dtype=str)
    assert list(t1.columns)[2:5] == ["Training pCR", "Training non-pCR", "Training P"]
    assert "Radscore_DIR" in set(t1["Characteristic"].dropna())
    t2 = pd.read_excel(report.parent / "tables" / "table2_journal.xlsx", engine="openpyxl", dtype=str)
    assert "Multivariate OR (95% CI)" in t2.columns
    html = report.read_text(encoding="utf-8")
    assert "<th>Training pCR</th><th>Training non-pCR</th>" in html and "outcome=" not in html


def test_methods_paragraph_states_the_runs_own_settings(run_folder: Path, tmp_path: Path) -> None:
    import shutil

    from deltarad.config import ImagingSettings, Study, ValidationSettings
    from deltarad.outputs import write_study_record
    from deltarad.record import study_record
    from deltarad.report.methods import methods_text
    from deltarad.report.run import RunFolder

    for name in ("model.json", "predictions.csv", "selection.csv"):
        shutil.copyfile(run_folder / name, tmp_path / name)
    study = Study(
        cohort=Path("c.csv"),
        imaging=ImagingSettings(n4=False, skin_mm=1.5, air_threshold=35),
        validation=ValidationSettings(bootstrap=50, cv_repeats=0),
    )
    write_study_record(tmp_path, study_record(study))
    paragraphs, checklist = methods_text(RunFolder(tmp_path))
    text = " ".join(paragraphs)
    assert "No bias-field correction was applied" in text
    assert "the 3 mm shell" in text and "a 1.5 mm skin layer" in text and "intensity below 35" in text
    assert "(50 resamples)" in text and "0 × 5-fold" in text
    assert "lambda.min" in text  # model.json's fitted settings (lasso_rule: min) over the study file's default
    assert "851 features for the intratumoral region" in text  # selection.csv
    assert "training: 131 patients" in text  # predictions.csv
    assert {r["Checklist"] for r in checklist} == {"CLEAR", "METRICS"}
    assert all(r["Source"] for r in checklist)

"""Workflow floor: the one writer of a run folder's result files, each written atomically
(deltarad.atomic): a run that stops leaves each file whole or absent, never half written.

The stages compute values (deltarad.workflow); this module only lays them out on disk, under the
names and layout of deltarad.runfolder (its docstring maps the whole folder)."""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pandas as pd

from deltarad import atomic
from deltarad.errors import FAILURE_COLUMNS
from deltarad.formatting import journal_format
from deltarad.runfolder import (  # the layout, re-exported: outputs writes what runfolder names
    CALIBRATION,
    COHORT_FLOW,
    DECISION_CURVE,
    DELTA_DROPPED,
    DELTA_FEATURES,
    EXTRACTION_FAILURES,
    EXTRACTION_NOTES,
    FAILURES,
    FEATURES,
    INDEX,
    KINETICS,
    KINETICS_DELTAS,
    MISSING_VALUES,
    MODEL,
    PREDICTIONS,
    REGIONS,
    ROC,
    SELECTED_FEATURES,
    SELECTION,
    SELECTION_FREQUENCY,
    SPLIT,
    STUDY_RECORD,
    TABLE1,
    TABLE2,
    TABLE3,
    TABLES,
    VALIDATION,
    VALIDATION_FAILURES,
    write_model_file,
)

if TYPE_CHECKING:
    from deltarad.features.extract import Extraction
    from deltarad.modeling.pipeline import FitResult
    from deltarad.modeling.validation import ValidationResult
    from deltarad.preflight import StudyCheck
    from deltarad.study_tables import StudyTables


def write_extraction(out_dir: Path, extraction: Extraction) -> None:
    atomic.write_csv(out_dir / FEATURES, extraction.features)
    atomic.write_csv(out_dir / EXTRACTION_FAILURES, extraction.failures.reindex(columns=FAILURE_COLUMNS))
    atomic.write_csv(out_dir / EXTRACTION_NOTES, extraction.notes)
    if extraction.kinetics is not None:
        atomic.write_csv(out_dir / KINETICS, extraction.kinetics)


def write_kinetics_deltas(out_dir: Path, deltas: pd.DataFrame) -> Path:
    atomic.write_csv(out_dir / KINETICS_DELTAS, deltas)
    return out_dir / KINETICS_DELTAS


def write_failures(out_dir: Path, failures: pd.DataFrame) -> Path:
    return atomic.write_csv(out_dir / FAILURES, failures.reindex(columns=FAILURE_COLUMNS))


def write_delta_dropped(out_dir: Path, dropped: pd.DataFrame) -> Path:
    return atomic.write_csv(out_dir / DELTA_DROPPED, dropped)


def write_delta_features(out_dir: Path, delta: pd.DataFrame) -> Path:
    return atomic.write_csv(out_dir / DELTA_FEATURES, delta)


def write_fit(out_dir: Path, fit: FitResult) -> None:
    """The split, every patient's scores, the selection steps, the selected features, the model file."""
    atomic.write_csv(out_dir / SPLIT, fit.split)
    write_predictions(out_dir, fit.predictions)
    atomic.write_csv(out_dir / SELECTION, fit.selection)
    atomic.write_csv(out_dir / SELECTED_FEATURES, fit.selected)
    write_model_file(out_dir / MODEL, fit.model)


def write_predictions(out_dir: Path, predictions: pd.DataFrame) -> Path:
    return atomic.write_csv(out_dir / PREDICTIONS, predictions)


def copy_model(out_dir: Path, model_path: Path) -> Path:
    """The model file as given, byte for byte (an external-validation folder reads like a run folder)."""
    with atomic.atomic_path(out_dir / MODEL) as tmp:
        shutil.copyfile(model_path, tmp)
    return out_dir / MODEL


def write_study_record(out_dir: Path, record: dict) -> Path:
    """study.json (deltarad.report.record.study_record builds it; the report reads it)."""
    return atomic.write_json(Path(out_dir) / STUDY_RECORD, record)


def write_cohort_flow(out_dir: Path, flow: pd.DataFrame) -> Path:
    return atomic.write_csv(out_dir / COHORT_FLOW, flow)


def write_missing_values(out_dir: Path, table: pd.DataFrame) -> Path:
    return atomic.write_csv(out_dir / MISSING_VALUES, table)


def write_internal_validation(out_dir: Path, validation: ValidationResult | None) -> None:
    """tables/validation.csv, selection_frequency.csv and validation_failures.csv (the refits
    that failed, with the reason); nothing when the internal validation was switched off."""
    if validation is None:
        return
    atomic.write_csv(out_dir / VALIDATION, validation.table)
    atomic.write_csv(out_dir / SELECTION_FREQUENCY, validation.frequency)
    atomic.write_csv(out_dir / VALIDATION_FAILURES, validation.failure_table())


def write_study_tables(out_dir: Path, tables: StudyTables) -> None:
    """tables/table1|2|3.csv with their journal-formatted .xlsx and .html copies."""
    for name, table in ((TABLE1, tables.table1), (TABLE2, tables.table2), (TABLE3, tables.table3)):
        write_table(table.frame, out_dir / name, table.title, notes=table.notes)


def write_external_tables(
    out_dir: Path, table3: pd.DataFrame, calibration: pd.DataFrame, roc: pd.DataFrame, decision_curve: pd.DataFrame
) -> None:
    """An external validation's tables: Table 3 at the model's own cut-offs, calibration, ROC
    points and the decision curve (numbers only: the report formats them)."""
    atomic.write_csv(out_dir / TABLE3, table3)
    atomic.write_csv(out_dir / CALIBRATION, calibration)
    atomic.write_csv(out_dir / ROC, roc)
    atomic.write_csv(out_dir / DECISION_CURVE, decision_curve)


def write_index(cohort_path: Path, cohort: pd.DataFrame, listing: pd.DataFrame) -> tuple[Path, Path]:
    """`deltarad index`: the draft cohort, and index.csv (one line per series) beside it."""
    index_path = cohort_path.parent / INDEX
    atomic.write_csv(cohort_path, cohort)
    atomic.write_csv(index_path, listing)
    return cohort_path, index_path


def write_link_table(path: Path, links: pd.DataFrame) -> Path:
    """`deltarad index --link-table`: pseudonym -> PatientID, readable by its owner alone (mode
    0600 set before a byte of it is written): identifying, kept apart from the outputs."""
    with atomic.atomic_path(path) as tmp:
        os.chmod(tmp, 0o600)
        links.to_csv(tmp, index=False, lineterminator="\n")
    return path


def write_table(
    df: pd.DataFrame, csv_path: str | Path, title: str | None = None, notes: Sequence[str] = ()
) -> list[Path]:
    """Write `df` as numeric CSV, and beside it a journal-formatted .xlsx and .html (same stem),
    with `notes` (footnotes) below the table in both.

    Only the formatted copies print p < 0.001 as "<0.001"; the CSV keeps every number.
    """
    csv_path = Path(csv_path)
    written = [atomic.write_csv(csv_path, df)]
    pretty = journal_format(df)
    xlsx_path = csv_path.with_suffix(".xlsx")
    sheet_name = (title or csv_path.stem)[:31]  # Excel's limit
    with atomic.atomic_path(xlsx_path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        pretty.to_excel(xl, index=False, sheet_name=sheet_name)
        for column_cells in xl.sheets[sheet_name].columns:
            width = max(len(str(c.value or "")) for c in column_cells)
            xl.sheets[sheet_name].column_dimensions[column_cells[0].column_letter].width = min(60, width + 2)
        for i, note in enumerate(notes):
            xl.sheets[sheet_name].cell(row=len(pretty) + 3 + i, column=1, value=note)
    written.append(xlsx_path)
    heading = f"<h1>{html.escape(title)}</h1>\n" if title else ""
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        f"{html.escape(title or csv_path.stem)}</title>\n<style>table{{border-collapse:collapse;font-family:sans-serif}}"
        "th,td{padding:2px 8px;border-bottom:1px solid #ccc;text-align:left}</style></head><body>\n"
        f"{heading}{pretty.to_html(index=False, escape=True, border=0)}\n"
        + "".join(f"<p>{html.escape(note)}</p>\n" for note in notes)
        + "</body></html>\n"
    )
    written.append(atomic.write_text(csv_path.with_suffix(".html"), page))
    return written


# ----------------------------------------------------------------------------- the report, patient sheets, `deltarad check`
# The report (deltarad.report) renders; these lay its files out beside it. Layout of
# `deltarad report RUN_DIR [--out PAGE]` (PAGE defaults to RUN_DIR/report.html):
#
#     report.html                  the self-contained page
#     figures/<name>.png, .svg     each figure
#     tables/<name>.xlsx           each table's values; tables/<name>.csv copied from the run when
#                                  the report lies outside the run folder
#     qc/<patient>/<image>.png     the run's region QC images, when the report lies outside it
#
# `deltarad predict --sheets` writes sheets/<patient>.html; `deltarad check --out DIR` writes
# DIR/check.csv (per exam), check_patients.csv and check_coding.csv.

REPORT = "report.html"
FIGURES = "figures"
REPORT_QC = "qc"
SHEETS = "sheets"
CHECK_EXAMS = "check.csv"
CHECK_PATIENTS = "check_patients.csv"
CHECK_CODING = "check_coding.csv"


def report_path(run_dir: Path) -> Path:
    """Where the report goes when no --out is given."""
    return Path(run_dir) / REPORT


def write_report_page(path: Path, page: str) -> Path:
    return atomic.write_text(path, page)


def write_figure(report_dir: Path, name: str, png: bytes, svg: bytes) -> list[str]:
    """figures/<name>.png and .svg beside the report; returns their links from the report."""
    links = [f"{FIGURES}/{name}.png", f"{FIGURES}/{name}.svg"]
    for link, data in zip(links, (png, svg)):
        atomic.write_bytes(Path(report_dir) / link, data)
    return links


def write_report_xlsx(report_dir: Path, name: str, xlsx: bytes) -> str:
    """tables/<name>.xlsx beside the report; returns its link from the report."""
    link = f"{TABLES}/{name}.xlsx"
    atomic.write_bytes(Path(report_dir) / link, xlsx)
    return link


def copy_run_table(run_dir: Path, report_dir: Path, name: str) -> str | None:
    """The run's tables/<name>.csv, linked from the report; copied beside a report that lies
    outside the run folder. None when the run has no such table."""
    link = f"{TABLES}/{name}.csv"
    source, target = Path(run_dir) / link, Path(report_dir) / link
    if not source.is_file():
        return None
    if source.resolve() != target.resolve():
        with atomic.atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    return link


def link_qc_image(run_dir: Path, report_dir: Path, relative: str) -> str:
    """URL from the report to a QC image at `relative` (a POSIX path) under the run's regions/
    folder: in place when the report lies in the run folder, else copied into qc/ beside it."""
    run_dir, report_dir = Path(run_dir).resolve(), Path(report_dir).resolve()
    if report_dir == run_dir:
        return quote(f"{REGIONS}/{relative}")
    link = f"{REPORT_QC}/{relative}"
    with atomic.atomic_path(report_dir / link) as tmp:
        shutil.copyfile(run_dir / REGIONS / relative, tmp)
    return quote(link)


def write_patient_sheet(out_dir: Path, file_stem: str, page: str) -> Path:
    """sheets/<file_stem>.html (deltarad.report.sheets.sheet_name makes the stem of a pseudonym)."""
    return atomic.write_text(Path(out_dir) / SHEETS / f"{file_stem}.html", page)


def write_check(out_dir: Path, result: StudyCheck) -> list[Path]:
    """`deltarad check`: check.csv (per exam), check_patients.csv and check_coding.csv."""
    out_dir = Path(out_dir)
    return [
        atomic.write_csv(out_dir / CHECK_EXAMS, result.exams),
        atomic.write_csv(out_dir / CHECK_PATIENTS, result.patients),
        atomic.write_csv(out_dir / CHECK_CODING, result.coding),
    ]

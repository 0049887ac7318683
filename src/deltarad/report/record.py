"""The run's own record of how it was made: study.json beside model.json, with every setting of
the study file (defaults filled in), the study's name and the software versions. The report's
header, QC flags and methods paragraph read it; nothing is hard-coded there. `study_record`
builds it, deltarad.outputs.write_study_record writes it."""

from __future__ import annotations

import json

from pydantic import ValidationError

from deltarad.config import ReportSettings
from deltarad.design import ULTRASOUND_COLUMN
from deltarad.report.run import RunFolder, Unavailable
from deltarad.runfolder import STUDY_RECORD


def read_study_record(run: RunFolder) -> dict:
    path = run.path / STUDY_RECORD
    if not path.is_file():
        raise Unavailable(f"{STUDY_RECORD} not found in the run folder (written by `deltarad run`)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Unavailable(f"{STUDY_RECORD} is not valid JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise Unavailable(f"{STUDY_RECORD} holds no settings")
    return record


def study_name(run: RunFolder) -> str | None:
    try:
        return str(read_study_record(run).get("name") or "") or None
    except Unavailable:
        return None


def study_ultrasound(run: RunFolder) -> str | None:
    """The ultrasound read's column: the one column of the design's ultrasound reference (`us`)."""
    try:
        reference = next((r for r in run.design.references if r.name == ULTRASOUND_COLUMN), None)
    except Unavailable:
        return None
    return reference.columns[0] if reference is not None and len(reference.columns) == 1 else None


def report_settings(run: RunFolder) -> tuple[ReportSettings, str]:
    """The QC thresholds of the run's study file and where they come from."""
    try:
        raw = read_study_record(run)["settings"].get("report") or {}
        return ReportSettings.model_validate(raw), f"the study file ({STUDY_RECORD})"
    except (Unavailable, ValidationError):
        return ReportSettings(), "deltarad's defaults (no report settings in the run folder)"

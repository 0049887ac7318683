"""Settings and software versions: the methods paragraph with the CLEAR / METRICS items the run
answers (deltarad.report.methods), the study settings and the software that produced the run."""

from __future__ import annotations

import pandas as pd

from deltarad.report.methods import methods_text
from deltarad.report.page import Builder, Section, TextItem
from deltarad.report.run import Unavailable


def settings(b: Builder, sec: Section) -> None:
    model = b.run.model
    _methods(b, sec)
    study = model.get("settings")
    if isinstance(study, dict) and study:
        shown = pd.DataFrame(_flatten(study), columns=["Setting", "Value"])
        sec.items.append(b.table(shown, "Run settings", "The study settings this run used (model.json)."))
    software = model.get("software")
    if isinstance(software, dict) and software:
        shown = pd.DataFrame([(k, str(v)) for k, v in software.items()], columns=["Package", "Version"])
        sec.items.append(b.table(shown, "Software versions", "Versions of the software that produced the run."))
    if not sec.items:
        raise Unavailable("model.json holds no settings or software versions")


def _methods(b: Builder, sec: Section) -> None:
    """Append the methods paragraph and the checklist table (or say why not)."""
    try:
        paragraphs, checklist = methods_text(b.run)
    except Unavailable as exc:
        sec.intro = f"Methods paragraph not written: {exc}."
        return
    sec.items.append(
        TextItem(
            "Methods",
            "methods-text",
            "Methods paragraph",
            "Ready to paste; every value is this run's own (study.json, model.json, selection.csv).",
            paragraphs,
        )
    )
    sec.items.append(
        b.table(
            pd.DataFrame(checklist),
            "CLEAR and METRICS items answered by the run",
            "Items of the CLEAR (Kocak et al., Insights Imaging 2023) and METRICS (Kocak et al., "
            "Insights Imaging 2024) checklists this run answers itself, with where each answer comes "
            "from; items it cannot answer (clinical context, study design) are left to the authors.",
        )
    )


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            rows.extend(_flatten(v, key + "."))
        else:
            rows.append((key, ", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    return rows

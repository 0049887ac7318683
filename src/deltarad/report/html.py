"""The report: one self-contained HTML page (figures embedded as PNG, styles inline, no scripts
from elsewhere) built from a finished run folder, with the figures as PNG + SVG and the tables as
XLSX written beside it. A section whose inputs are missing says so and why; it never stops the
report. The sections and their order: deltarad.report.sections."""

from __future__ import annotations

import logging
from pathlib import Path

import jinja2

from deltarad import __version__, outputs
from deltarad.errors import DeltaradError
from deltarad.formatting import format_value
from deltarad.report.page import Builder, Section
from deltarad.report.record import study_name
from deltarad.report.run import RunFolder, Unavailable
from deltarad.report.sections import DEVELOPMENT_ONLY, sections_of

__all__ = ["build_report"]

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


def build_report(run_dir: Path, out: Path | None = None) -> Path:
    """Read the finished run folder `run_dir` and write the report (default run_dir/report.html),
    with figures/ (PNG + SVG) and tables/ (XLSX) beside it. Returns the report's path."""
    run = RunFolder(Path(run_dir))
    if not run.path.is_dir():
        raise DeltaradError("run folder not found", file=run.path)
    out = Path(out) if out is not None else outputs.report_path(run.path)
    builder = Builder(run, out)
    sections = []
    for anchor, title, make in sections_of(run):
        section = Section(anchor, title)
        try:
            make(builder, section)
        except Unavailable as exc:
            if run.is_external and anchor in DEVELOPMENT_ONLY:
                continue
            section.unavailable = str(exc)
        except Exception as exc:  # a malformed input must not cost the reader the other sections
            log.warning("report section '%s' failed", title, exc_info=True)
            section.unavailable = f"could not be drawn ({type(exc).__name__}: {exc})"
        sections.append(section)
    page = _template().render(
        title=_title(run),
        external=run.is_external,
        run_name=run.path.resolve().name,
        study_name=study_name(run),
        version=__version__,
        sections=sections,
        summary=_summary(run),
    )
    return outputs.write_report_page(out, page)


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deltarad.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["stylesheet"] = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return env.get_template("report.html.j2")


def _title(run: RunFolder) -> str:
    head = (
        "External validation of a delta dual-region DCE-MRI radiomics model"
        if run.is_external
        else "Delta dual-region DCE-MRI radiomics"
    )
    try:
        return f"{head}: prediction of {run.outcome}"
    except Unavailable:
        return head


def _summary(run: RunFolder) -> list[str]:
    """One line per set: patients and validation AUCs, for the page header."""
    lines = []
    try:
        pred = run.predictions
        for s in run.sets():
            part = pred[pred["set"] == s]
            lines.append(f"{s.capitalize()} set: {len(part)} patients, {int(part[run.outcome].sum())} pCR")
        t3 = run.table3
        for r in t3[t3["set"].astype(str) != "training"].itertuples():
            lines.append(f"{str(r.set).capitalize()} AUC, {run.models.get(r.model, r.model)}: {format_value(r.auc)}")
    except Unavailable:
        pass
    return lines

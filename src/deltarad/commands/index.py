"""`deltarad index DICOM_ROOT --out cohort.csv`: a draft cohort and index.csv from a DICOM tree."""
from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, output_file, user_errors


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def index(
        root: Path = typer.Argument(..., help="DICOM export tree (any layout, any file names)"),
        out: Path = typer.Option(..., "--out", help="draft cohort CSV to write; index.csv is written beside it"),
        with_ids: bool = typer.Option(
            False, "--with-ids", help="write PatientID, UIDs and study dates (default: pseudonyms P + 8 hex digits)"
        ),
        series: str | None = typer.Option(
            None, "--series", help="DCE series where a study holds several candidates: SeriesNumber or SeriesDescription glob"
        ),
        image_kind: str | None = typer.Option(
            None, "--image-kind", help="where several kinds of image share each slice position: the one to read"
        ),
        study: Path | None = typer.Option(
            None, "--study", help="study file whose design.timepoints the exams are assigned to, in date order"
        ),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Scan a DICOM tree: patients, studies by date, series; each study's DCE series; the exams
        in date order go to the timepoints (baseline = first exam, early = second; a --study file's
        design.timepoints otherwise). Writes a draft cohort (image columns filled) and index.csv
        (one line per series: what it is, and why it was taken or left)."""
        from deltarad.config import load_study
        from deltarad.design import BASELINE, EARLY
        from deltarad.imaging.dicom.index import index_tree
        from deltarad.outputs import write_index

        output_file(out)
        timepoints = load_study(study).design.timepoints if study is not None else (BASELINE, EARLY)
        cohort, listing = index_tree(root, with_ids=with_ids, series=series, image_kind=image_kind,
                                     timepoints=timepoints)
        _, index_path = write_index(out, cohort, listing)
        every = int((cohort[[f"{tp}_image" for tp in timepoints]] != "").all(axis=1).sum())
        exams = "a baseline and an early DCE exam" if timepoints == (BASELINE, EARLY) else \
            f"a DCE exam at each of {', '.join(timepoints)}"
        typer.echo(f"{len(cohort)} patient(s), {every} with {exams}; "
                   f"{int((listing['role'] == 'DCE').sum()) if 'role' in listing else 0} DCE series of {len(listing)} lines")
        typer.echo(f"wrote {out} and {index_path}" + ("" if with_ids else " (patients as pseudonyms, no DICOM identifiers)"))

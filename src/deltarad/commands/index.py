"""`deltarad index DICOM_ROOT --out cohort.csv`: a draft cohort and index.csv from a DICOM tree."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, output_file, user_errors
from deltarad.errors import DeltaradError

log = logging.getLogger("deltarad.index")


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def index(
        root: Path = typer.Argument(..., help="DICOM export tree (any layout, any file names)"),
        out: Path = typer.Option(..., "--out", help="draft cohort CSV to write; index.csv is written beside it"),
        with_ids: bool = typer.Option(
            False,
            "--with-ids",
            help="write PatientID, UIDs and study dates (default: keyed pseudonyms P + 12 hex digits)",
        ),
        study_name: str | None = typer.Option(
            None,
            "--study-name",
            help="name of the study key: ~/.config/deltarad/keys/NAME.key (created on first "
            "use); default the --study file's name without its suffix, else 'default'",
        ),
        key: Path | None = typer.Option(
            None,
            "--key",
            help="the study key file (created on first use; default $DELTARAD_KEY_FILE, else the "
            "--study-name one); keep it outside the outputs: the same key gives the same pseudonyms",
        ),
        link_table: Path | None = typer.Option(
            None, "--link-table", help="also write pseudonym -> PatientID to this CSV (identifying: keep it apart)"
        ),
        series: str | None = typer.Option(
            None,
            "--series",
            help="DCE series where a study holds several candidates: SeriesNumber or SeriesDescription glob",
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
        (one line per series: what it is, and why it was taken or left). Patients are named by
        HMAC-SHA-256 pseudonyms under the study key, a file kept outside the outputs."""
        from deltarad.config import load_study
        from deltarad.design import BASELINE, EARLY
        from deltarad.imaging.dicom.index import index_tree
        from deltarad.imaging.dicom.pseudonyms import Pseudonyms, check_outside, default_key_file, study_key
        from deltarad.outputs import write_index, write_link_table
        from deltarad.runfolder import INDEX

        output_file(out)
        pseudonyms, key_file = None, None
        if with_ids:
            if link_table is not None:
                raise DeltaradError(
                    "--link-table maps pseudonyms to PatientIDs; with --with-ids there are no pseudonyms"
                )
        else:
            name = study_name or (study.stem if study is not None else "default")
            key_file = key if key is not None else default_key_file(name)
            check_outside(key_file, out.parent)
            secret, created = study_key(key_file)
            log.info(
                "%s the study key %s: pseudonyms are HMAC-SHA-256 of the PatientID under it; keep it (and a "
                "copy) outside the outputs to get the same pseudonyms in later runs",
                "created" if created else "pseudonyms keyed by",
                key_file,
            )
            pseudonyms = Pseudonyms(secret)
        if link_table is not None and link_table.resolve() in {out.resolve(), (out.parent / INDEX).resolve()}:
            raise DeltaradError("--link-table must name a file of its own", file=link_table)
        timepoints = load_study(study).design.timepoints if study is not None else (BASELINE, EARLY)
        cohort, listing = index_tree(
            root, with_ids=with_ids, pseudonyms=pseudonyms, series=series, image_kind=image_kind, timepoints=timepoints
        )
        _, index_path = write_index(out, cohort, listing)
        every = int((cohort[[f"{tp}_image" for tp in timepoints]] != "").all(axis=1).sum())
        exams = (
            "a baseline and an early DCE exam"
            if timepoints == (BASELINE, EARLY)
            else f"a DCE exam at each of {', '.join(timepoints)}"
        )
        typer.echo(
            f"{len(cohort)} patient(s), {every} with {exams}; "
            f"{int((listing['role'] == 'DCE').sum()) if 'role' in listing else 0} DCE series of {len(listing)} lines"
        )
        typer.echo(
            f"wrote {out} and {index_path}"
            + ("" if with_ids else f" (patients as pseudonyms keyed by {key_file}, no DICOM identifiers)")
        )
        if link_table is not None:
            assert pseudonyms is not None  # --link-table is refused with --with-ids: pseudonyms name the patients
            write_link_table(link_table, pseudonyms.link_table())
            typer.echo(f"wrote {link_table}: pseudonym -> PatientID (identifying; keep it apart from the outputs)")

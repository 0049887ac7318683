"""`deltarad index DICOM_ROOT --out cohort.csv`: a draft cohort and index.csv from a DICOM tree."""
from __future__ import annotations

import logging
import os
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
            False, "--with-ids", help="write PatientID, UIDs and study dates (default: keyed pseudonyms P + 12 hex digits)"
        ),
        study: str = typer.Option(
            "default", "--study", help="study name: its key is ~/.config/deltarad/keys/STUDY.key (created on first use)"
        ),
        key: Path | None = typer.Option(
            None, "--key", help="the study key file (created on first use; default $DELTARAD_KEY_FILE, else the "
            "--study one); keep it outside the outputs: the same key gives the same pseudonyms"
        ),
        link_table: Path | None = typer.Option(
            None, "--link-table", help="also write pseudonym -> PatientID to this CSV (identifying: keep it apart)"
        ),
        series: str | None = typer.Option(
            None, "--series", help="DCE series where a study holds several candidates: SeriesNumber or SeriesDescription glob"
        ),
        image_kind: str | None = typer.Option(
            None, "--image-kind", help="where several kinds of image share each slice position: the one to read"
        ),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Scan a DICOM tree: patients, studies by date, series; each study's DCE series; baseline =
        first exam, early = second. Writes a draft cohort (image columns filled) and index.csv
        (one line per series: what it is, and why it was taken or left). Patients are named by
        HMAC-SHA-256 pseudonyms under the study key, a file kept outside the outputs."""
        from deltarad import atomic
        from deltarad.imaging.dicom.index import index_tree
        from deltarad.imaging.dicom.pseudonyms import Pseudonyms, check_outside, default_key_file, study_key
        from deltarad.outputs import INDEX, write_index

        output_file(out)
        pseudonyms, key_file = None, None
        if with_ids:
            if link_table is not None:
                raise DeltaradError("--link-table maps pseudonyms to PatientIDs; with --with-ids there are no pseudonyms")
        else:
            key_file = key if key is not None else default_key_file(study)
            check_outside(key_file, out.parent)
            secret, created = study_key(key_file)
            log.info("%s the study key %s: pseudonyms are HMAC-SHA-256 of the PatientID under it; keep it (and a "
                     "copy) outside the outputs to get the same pseudonyms in later runs",
                     "created" if created else "pseudonyms keyed by", key_file)
            pseudonyms = Pseudonyms(secret)
        if link_table is not None and link_table.resolve() in {out.resolve(), (out.parent / INDEX).resolve()}:
            raise DeltaradError("--link-table must name a file of its own", file=link_table)
        cohort, listing = index_tree(root, with_ids=with_ids, pseudonyms=pseudonyms, series=series,
                                     image_kind=image_kind)
        _, index_path = write_index(out, cohort, listing)
        both = int(((cohort["baseline_image"] != "") & (cohort["early_image"] != "")).sum())
        typer.echo(f"{len(cohort)} patient(s), {both} with a baseline and an early DCE exam; "
                   f"{int((listing['role'] == 'DCE').sum()) if 'role' in listing else 0} DCE series of {len(listing)} lines")
        typer.echo(f"wrote {out} and {index_path}" + ("" if with_ids else
                   f" (patients as pseudonyms keyed by {key_file}, no DICOM identifiers)"))
        if link_table is not None:
            with atomic.atomic_path(link_table) as tmp:
                os.chmod(tmp, 0o600)  # before a byte of it is written
                pseudonyms.link_table().to_csv(tmp, index=False, lineterminator="\n")
            typer.echo(f"wrote {link_table}: pseudonym -> PatientID (identifying; keep it apart from the outputs)")

"""`deltarad extract`: images and segmentations to features.csv, delta_features.csv and regions/."""
from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, SCHEDULER_OPTION, WORKERS_OPTION, output_folder, user_errors


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def extract(
        study_file: Path = typer.Argument(..., help="study file (YAML) whose cohort has image columns"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        strict: bool = typer.Option(False, "--strict", help="any failed exam makes the command fail"),
        prune_store: bool = typer.Option(
            False, "--prune-store", help="delete feature-store entries of other inputs or settings (<out>/store)"
        ),
        workers: int | None = WORKERS_OPTION,
        scheduler: str | None = SCHEDULER_OPTION,
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Extract the 851 features per region and reader of every exam, and their delta."""
        from deltarad.atomic import write_csv
        from deltarad.cohort import has_images, load_cohort
        from deltarad.config import load_study
        from deltarad.errors import StudyFileError
        from deltarad.features.delta import compute_delta
        from deltarad.features.extract import extract_cohort
        from deltarad.parallel import ParallelSettings

        output_folder(out)
        study = load_study(study_file)
        cohort = load_cohort(study, require_outcome=False)
        if not has_images(cohort):
            raise StudyFileError(
                "cohort has no image columns (baseline_image, early_image, baseline_mask, early_mask)",
                file=study.cohort_path,
            )
        features, failures = extract_cohort(study, cohort, out, parallel=ParallelSettings(workers, scheduler),
                                           prune_store=prune_store)
        if len(features):
            delta, _ = compute_delta(features, kind=study.delta, near_zero=study.delta_near_zero)
            write_csv(out / "delta_features.csv", delta)
        typer.echo(f"wrote {out}/features.csv ({len(features)} feature sets) and {out}/delta_features.csv")
        if len(failures):
            typer.echo(f"{len(failures)} exam(s) failed: see {out}/extraction_failures.csv", err=True)
            raise typer.Exit(code=3 if strict else 1)

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
        from deltarad.config import load_study
        from deltarad.extraction import extract_study
        from deltarad.parallel import ParallelSettings

        output_folder(out)
        features, failures = extract_study(
            load_study(study_file), out, parallel=ParallelSettings(workers, scheduler), prune_store=prune_store
        )
        typer.echo(f"wrote {out}/features.csv ({len(features)} feature sets) and {out}/delta_features.csv")
        if len(failures):
            typer.echo(f"{len(failures)} exam(s) failed: see {out}/extraction_failures.csv", err=True)
            raise typer.Exit(code=3 if strict else 1)

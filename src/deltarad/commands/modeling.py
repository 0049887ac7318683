"""`deltarad run` and `deltarad predict`."""

from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import (
    DEBUG_OPTION,
    SCHEDULER_OPTION,
    WORKERS_OPTION,
    exit_if_patients_failed,
    output_folder,
    user_errors,
)
from deltarad.config import load_study


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def run(
        study_file: Path = typer.Argument(..., help="study file (YAML)"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        strict: bool = typer.Option(False, "--strict", help="any failed case makes the run fail"),
        workers: int | None = WORKERS_OPTION,
        scheduler: str | None = SCHEDULER_OPTION,
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Run the whole method: features, delta, selection, models, tables."""
        from deltarad.parallel import ParallelSettings
        from deltarad.workflow import run_study

        done = run_study(
            load_study(study_file), output_folder(out), strict=strict, parallel=ParallelSettings(workers, scheduler)
        )
        typer.echo(f"wrote {out}/model.json and predictions for {len(done.fit.predictions)} patients")
        exit_if_patients_failed(done.failures, f"{out}/failures.csv")

    @app.command()
    @user_errors
    def predict(
        model_file: Path = typer.Argument(..., help="model.json written by deltarad run"),
        study_file: Path = typer.Argument(..., help="study file (YAML) of the cohort to score"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        sheets: bool = typer.Option(False, "--sheets", help="also write one A4 HTML sheet per patient (out/sheets/)"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Score a new cohort with a frozen model."""
        from deltarad.external import predict_study

        done = predict_study(model_file, load_study(study_file), output_folder(out), sheets=sheets)
        typer.echo(f"wrote {out}/predictions.csv ({len(done.predictions)} patients)")
        if sheets:
            typer.echo(f"wrote {len(done.sheets)} patient sheets in {out}/sheets/")
        exit_if_patients_failed(done.failures, f"{out}/failures.csv", "could not be scored")

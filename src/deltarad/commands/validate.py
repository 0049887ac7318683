"""`deltarad validate MODEL.json STUDY.yaml --out DIR`: external validation of a frozen model."""

from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, exit_if_patients_failed, output_folder, user_errors
from deltarad.config import load_study


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def validate(
        model_file: Path = typer.Argument(..., help="model.json written by deltarad run"),
        study_file: Path = typer.Argument(..., help="study file (YAML) of the new cohort, with outcomes"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        report: bool = typer.Option(True, "--report/--no-report", help="also write report.html"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """External validation: score a new cohort with a frozen model and evaluate it.

        Exit status 1 when some patients could not be scored (listed in failures.csv)."""
        from deltarad.external import external_validation

        done = external_validation(model_file, load_study(study_file), output_folder(out), report=report)
        combined = done.table3[done.table3["model"] == "combined"].iloc[0]
        typer.echo(
            f"combined model on {int(combined[['tp', 'fp', 'tn', 'fn']].sum())} patients: AUC "
            f"{combined['auc']:.3f} ({combined['auc_ci_low']:.3f}-{combined['auc_ci_high']:.3f})"
        )
        if done.report is not None:
            typer.echo(f"wrote {done.report}")
        exit_if_patients_failed(done.failures, f"{out}/failures.csv", "could not be scored")

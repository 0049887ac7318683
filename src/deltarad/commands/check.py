"""`deltarad check`: the pre-flight of a study before extraction (headers, one phase, masks; no features)."""

from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, output_folder, user_errors


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def check(
        study_file: Path = typer.Argument(..., help="study file (YAML)"),
        out: Path = typer.Option(Path("."), "--out", help="folder for check.csv, check_patients.csv, check_coding.csv"),
        workers: int | None = typer.Option(
            None, "--workers", min=0, help="worker processes for the exams (default: one per core; 0: no Dask)"
        ),
        scheduler: str | None = typer.Option(
            None, "--scheduler", help="check on an existing Dask cluster, e.g. tcp://HOST:8786 (shared file paths)"
        ),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Check every exam and patient in seconds per exam; exit 1 when a run would leave anyone out."""
        from deltarad.config import load_study
        from deltarad.outputs import write_check
        from deltarad.parallel import ParallelSettings
        from deltarad.preflight import check_study, summary_lines

        output_folder(out)
        result = check_study(load_study(study_file), parallel=ParallelSettings(workers, scheduler))
        written = write_check(out, result)
        for line in summary_lines(result):
            typer.echo(line)
        typer.echo(f"wrote {', '.join(str(p) for p in written)}")
        if result.anyone_left_out:
            raise typer.Exit(code=1)

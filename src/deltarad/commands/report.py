"""`deltarad report`: (re)build the HTML report of a finished run."""

from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, output_file, user_errors


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def report(
        run_dir: Path = typer.Argument(..., help="folder written by `deltarad run`"),
        out: Path = typer.Option(None, "--out", help="report file (default RUN_DIR/report.html)"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Build the self-contained HTML report (figures as PNG + SVG and tables as XLSX beside it)."""
        from deltarad.report.html import build_report

        typer.echo(build_report(run_dir, out if out is None else output_file(out)))

"""`deltarad table1`, `deltarad logistic` and `deltarad evaluate`: the study's tables from a CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from deltarad.commands._common import DEBUG_OPTION, output_file, user_errors


def _names(text: str | None) -> list[str] | None:
    """'a,b , c' -> ['a', 'b', 'c']; None stays None."""
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def table1(
        data: Path = typer.Argument(..., help="CSV, one row per patient"),
        outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column"),
        by: str | None = typer.Option(
            None, "--by", help="column splitting the table into sets (e.g. training/validation)"
        ),
        variables: str | None = typer.Option(
            None, "--vars", help="comma-separated variables (default: all other columns)"
        ),
        categorical: str | None = typer.Option(
            None, "--categorical", help="comma-separated numeric columns to treat as categorical"
        ),
        out: Path = typer.Option(..., "--out", help="output CSV; .xlsx and .html are written beside it"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Table 1: characteristics by outcome (t-test / Mann-Whitney; chi-square / Fisher exact)."""
        from deltarad.tables_from_file import table1_file

        result = table1_file(
            data, output_file(out), outcome, by=by, variables=_names(variables), categorical=_names(categorical)
        )
        typer.echo(f"wrote {out} ({len(result)} rows)")

    @app.command()
    @user_errors
    def logistic(
        data: Path = typer.Argument(..., help="CSV, one row per patient"),
        outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column"),
        variables: str | None = typer.Option(
            None, "--vars", help="comma-separated variables (default: all other columns)"
        ),
        categorical: str | None = typer.Option(
            None, "--categorical", help="comma-separated numeric columns to treat as categorical"
        ),
        entry_p: float = typer.Option(
            0.05, "--entry-p", help="univariate p below which a variable enters the multivariate model"
        ),
        out: Path = typer.Option(..., "--out", help="output CSV; .xlsx and .html are written beside it"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Table 2: univariate and multivariate logistic regression (beta, SE, Z, P, OR with 95% CI)."""
        from deltarad.tables_from_file import logistic_file

        result, separation = logistic_file(
            data,
            output_file(out),
            outcome,
            variables=_names(variables),
            categorical=_names(categorical),
            entry_p=entry_p,
        )
        for message in separation:
            typer.echo(f"warning: {message}", err=True)
        typer.echo(f"wrote {out} ({len(result)} rows)")

    @app.command()
    @user_errors
    def evaluate(
        predictions: Path = typer.Argument(..., help="CSV with the outcome and one column per model score"),
        outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column"),
        score: list[str] = typer.Option(..., "--score", help="score column (repeat for several models)"),
        by: str | None = typer.Option(None, "--by", help="column naming each patient's set"),
        fit_set: str = typer.Option("training", "--fit-set", help="set on which the Youden cut-off is chosen"),
        reference: str | None = typer.Option(
            None, "--reference", help="model the others are compared with (DeLong, IDI, NRI)"
        ),
        out: Path = typer.Option(..., "--out", help="output CSV; .xlsx and .html are written beside it"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Table 3: AUC (DeLong CI), metrics at the Youden cut-off, DeLong p, IDI and NRI per set and model."""
        from deltarad.tables_from_file import evaluate_file

        result = evaluate_file(
            predictions, output_file(out), outcome, score, by=by, fit_set=fit_set, reference=reference
        )
        typer.echo(f"wrote {out} ({len(result)} rows)")

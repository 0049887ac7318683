"""`deltarad table1`, `deltarad logistic` and `deltarad evaluate`: the study's tables from a CSV."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from deltarad.commands._common import DEBUG_OPTION, output_file, user_errors
from deltarad.errors import DeltaradError


def _read(path: Path) -> pd.DataFrame:
    """The input table: CSV, XLSX or ODS, read as it comes (deltarad.tablefile)."""
    from deltarad.tablefile import read_table_file

    if not path.is_file():
        raise DeltaradError("file not found", file=path)
    df = read_table_file(path, "table", text_columns=("patient_id",)).frame
    if df.empty:
        raise DeltaradError("the table has no rows", file=path)
    return df


def _names(text: str | None) -> list[str] | None:
    """'a,b , c' -> ['a', 'b', 'c']; None stays None."""
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _in_file(func, path: Path, *args, **kwargs):
    """Run a table builder; its errors name the input file."""
    try:
        return func(*args, **kwargs)
    except DeltaradError as exc:
        if exc.file is None:
            raise DeltaradError(exc.problem, patient=exc.patient, file=path) from None
        raise


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def table1(
        data: Path = typer.Argument(..., help="CSV, one row per patient"),
        outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column"),
        by: str | None = typer.Option(None, "--by", help="column splitting the table into sets (e.g. training/validation)"),
        variables: str | None = typer.Option(None, "--vars", help="comma-separated variables (default: all other columns)"),
        categorical: str | None = typer.Option(None, "--categorical", help="comma-separated numeric columns to treat as categorical"),
        out: Path = typer.Option(..., "--out", help="output CSV; .xlsx and .html are written beside it"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Table 1: characteristics by outcome (t-test / Mann-Whitney; chi-square / Fisher exact)."""
        from deltarad.stats.tables import table1 as build
        from deltarad.stats.tables import write_table

        output_file(out)
        df = _read(data)
        result = _in_file(build, data, df, outcome, by=by, variables=_names(variables), categorical=_names(categorical))
        write_table(result, out, title="Table 1")
        typer.echo(f"wrote {out} ({len(result)} rows)")

    @app.command()
    @user_errors
    def logistic(
        data: Path = typer.Argument(..., help="CSV, one row per patient"),
        outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column"),
        variables: str | None = typer.Option(None, "--vars", help="comma-separated variables (default: all other columns)"),
        categorical: str | None = typer.Option(None, "--categorical", help="comma-separated numeric columns to treat as categorical"),
        entry_p: float = typer.Option(0.05, "--entry-p", help="univariate p below which a variable enters the multivariate model"),
        out: Path = typer.Option(..., "--out", help="output CSV; .xlsx and .html are written beside it"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Table 2: univariate and multivariate logistic regression (beta, SE, Z, P, OR with 95% CI)."""
        import warnings

        from deltarad.stats.logistic import SeparationWarning
        from deltarad.stats.tables import table2, write_table

        output_file(out)
        df = _read(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SeparationWarning)
            result = _in_file(table2, data, df, outcome, variables=_names(variables), categorical=_names(categorical), entry_p=entry_p)
        for w in caught:
            if issubclass(w.category, SeparationWarning):
                typer.echo(f"warning: {w.message}", err=True)
        write_table(result, out, title="Table 2")
        typer.echo(f"wrote {out} ({len(result)} rows)")

    @app.command()
    @user_errors
    def evaluate(
        predictions: Path = typer.Argument(..., help="CSV with the outcome and one column per model score"),
        outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column"),
        score: list[str] = typer.Option(..., "--score", help="score column (repeat for several models)"),
        by: str | None = typer.Option(None, "--by", help="column naming each patient's set"),
        fit_set: str = typer.Option("training", "--fit-set", help="set on which the Youden cut-off is chosen"),
        reference: str | None = typer.Option(None, "--reference", help="model the others are compared with (DeLong, IDI, NRI)"),
        out: Path = typer.Option(..., "--out", help="output CSV; .xlsx and .html are written beside it"),
        debug: bool = DEBUG_OPTION,
    ) -> None:
        """Table 3: AUC (DeLong CI), metrics at the Youden cut-off, DeLong p, IDI and NRI per set and model."""
        from deltarad.stats.tables import table3, write_table

        output_file(out)
        df = _read(predictions)
        result = _in_file(table3, predictions, df, outcome, score, by=by, fit_set=fit_set, reference=reference)
        write_table(result, out, title="Table 3")
        typer.echo(f"wrote {out} ({len(result)} rows)")

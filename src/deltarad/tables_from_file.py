"""`deltarad table1`, `logistic` and `evaluate`: the study's Tables 1-3 from any patient table
(CSV, XLSX or ODS), written as CSV with journal-formatted XLSX/HTML copies (deltarad.outputs)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from deltarad.errors import DeltaradError
from deltarad.outputs import write_table
from deltarad.stats.logistic import SeparationWarning
from deltarad.stats.tables import table1, table2, table3
from deltarad.tablefile import read_table_file


def read_patient_table(path: Path) -> pd.DataFrame:
    """The input table: CSV, XLSX or ODS, read as it comes (deltarad.tablefile)."""
    if not path.is_file():
        raise DeltaradError("file not found", file=path)
    df = read_table_file(path, "table", text_columns=("patient_id",)).frame
    if df.empty:
        raise DeltaradError("the table has no rows", file=path)
    return df


def _in_file(build: Callable[..., pd.DataFrame], path: Path, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """Run a table builder; its errors name the input file."""
    try:
        return build(*args, **kwargs)
    except DeltaradError as exc:
        if exc.file is None:
            raise DeltaradError(exc.problem, patient=exc.patient, file=path) from None
        raise


def table1_file(
    data: Path,
    out: Path,
    outcome: str,
    *,
    by: str | None = None,
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Table 1 of the table `data`, written to `out` (.xlsx and .html beside it)."""
    result = _in_file(
        table1, data, read_patient_table(data), outcome, by=by, variables=variables, categorical=categorical
    )
    write_table(result, out, title="Table 1")
    return result


def logistic_file(
    data: Path,
    out: Path,
    outcome: str,
    *,
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    entry_p: float = 0.05,
) -> tuple[pd.DataFrame, list[str]]:
    """Table 2 of the table `data`, written to `out`; also returns the separation warnings (one
    line each: the estimates they concern are NaN in the table)."""
    df = read_patient_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SeparationWarning)
        result = _in_file(table2, data, df, outcome, variables=variables, categorical=categorical, entry_p=entry_p)
    write_table(result, out, title="Table 2")
    return result, [str(w.message) for w in caught if issubclass(w.category, SeparationWarning)]


def evaluate_file(
    predictions: Path,
    out: Path,
    outcome: str,
    scores: Sequence[str],
    *,
    by: str | None = None,
    fit_set: str = "training",
    reference: str | None = None,
) -> pd.DataFrame:
    """Table 3 of the score columns `scores` in the table `predictions`, written to `out`."""
    result = _in_file(
        table3,
        predictions,
        read_patient_table(predictions),
        outcome,
        list(scores),
        by=by,
        fit_set=fit_set,
        reference=reference,
    )
    write_table(result, out, title="Table 3")
    return result

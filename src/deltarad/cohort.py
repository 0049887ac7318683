"""The cohort table: one row per patient, validated before any work starts."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.coding import Coding
from deltarad.config import Study, TableFile, study_design
from deltarad.design import Design
from deltarad.errors import FAILURE_COLUMNS, StudyFileError
from deltarad.tablefile import Table, is_given, read_table_file

IMAGE_COLUMNS = (
    "baseline_image",
    "early_image",
    "baseline_mask",
    "early_mask",
    "baseline_mask_reader2",
    "early_mask_reader2",
)
CHEST_WALL_COLUMNS = ("baseline_chest_wall", "early_chest_wall")
"""Optional chest-wall masks, excluded from the peritumoral ring where given."""
REQUIRED_IMAGE_COLUMNS = IMAGE_COLUMNS[:4]

log = logging.getLogger(__name__)


def read_study_table(study: Study, source: TableFile, what: str, id_column: str = "patient_id") -> Table:
    """A table the study file names (`cohort`, `features`), read as it comes (deltarad.tablefile)."""
    return read_table_file(study.resolve(source.path), what, sheet=source.sheet, delimiter=source.delimiter,
                           decimal=source.decimal, text_columns=(id_column,))


def read_table(path: Path, what: str, *, id_column: str = "patient_id") -> pd.DataFrame:
    """A CSV, XLSX or ODS table with its delimiter, decimal mark, encoding and sheet sniffed;
    `id_column` stays text."""
    return read_table_file(path, what, text_columns=(id_column,)).frame


@dataclass
class Cohort:
    """The cohort file, read once: the usable patients, every patient id in file order (failed
    ones included: the split runs over the whole file) and the patients left out."""

    cases: pd.DataFrame  # one row per usable patient, id column `patient_id`, file order
    file_order: list[str]
    failures: pd.DataFrame  # FAILURE_COLUMNS, stage "cohort"
    read_as: str = ""  # how the file was read (delimiter, decimal mark, sheet...), for the cohort flow


def load_cohort(study: Study, *, require_outcome: bool = True) -> pd.DataFrame:
    """Read and check the cohort; the first problem of any patient is an error."""
    cohort, failures = load_cohort_cases(study, require_outcome=require_outcome)
    if len(failures):
        first = failures.iloc[0]
        raise StudyFileError(first["error"], patient=first["patient_id"], file=study.cohort_path)
    return cohort


def load_cohort_cases(study: Study, *, require_outcome: bool = True,
                      table: Table | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The usable patients and the per-patient failures of the cohort file (see `read_cohort`)."""
    cohort = read_cohort(study, require_outcome=require_outcome, table=table)
    return cohort.cases, cohort.failures


def read_cohort(study: Study, *, require_outcome: bool = True, table: Table | None = None,
                design: Design | None = None) -> Cohort:
    """Read the cohort table (once) and split it into usable patients and per-patient failures.

    The table comes as it is (CSV with any common delimiter and decimal mark, XLSX, ODS: see
    deltarad.tablefile). Problems of the whole file (missing columns, duplicate or empty ids) are
    errors naming the lines. Problems of one patient (outcome or ultrasound read not 0/1 or
    missing, a value a declared coding does not name, text in a numeric clinical column) leave
    that patient out with a row in the failures table (patient_id, stage, error), so one bad case
    never sinks a cohort run. Coded columns hold their levels; file order is kept; the patient id
    column is renamed to `patient_id` (text); image paths are made absolute (relative to the
    cohort file's folder). `table`: the cohort already in hand (e.g. tablefile.Table.of_frame).
    `design`: whose reference models' columns the table needs (default the study's; a frozen
    model's when it scores the cohort).
    """
    pid = study.patient_id
    table = table if table is not None else read_study_table(study, study.cohort, "cohort file", pid)
    path = table.path
    df = table.frame
    if pid not in df.columns:
        raise StudyFileError(f"no patient id column '{pid}' (columns: {', '.join(df.columns)})", file=path)
    df = df.rename(columns={pid: "patient_id"})
    file_order = df["patient_id"].tolist()
    empty = df["patient_id"].isna().to_numpy()
    if empty.any():
        raise StudyFileError(f"empty patient_id on {table.where(np.flatnonzero(empty))}", file=path)
    repeated = df["patient_id"].duplicated(keep=False).to_numpy()
    if repeated.any():
        first = df["patient_id"][repeated].iloc[0]
        more = df["patient_id"][repeated].nunique() - 1
        raise StudyFileError(f"duplicate patient_id: {first} ({table.where(np.flatnonzero(df['patient_id'] == first))})"
                             + (f" and {more} more" if more else ""), file=path)
    references = (design or study_design(study)).reference_columns  # the study's: the ultrasound read, 0/1
    binary = ([study.outcome] if require_outcome else []) + [c for c in references if c == study.ultrasound]
    numeric = [c for c in references if c not in binary]  # other references' columns: numbers, never blank
    needed = list(dict.fromkeys(binary + numeric + list(study.clinical)))
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise StudyFileError(f"missing column(s) {', '.join(missing)}", file=path)

    problems: dict[str, str] = {}
    for col, levels in study.coding.items():
        if col not in df.columns:
            if col != study.outcome:  # a cohort to score may come without outcomes
                log.warning("%s: the study file codes column '%s', which the table lacks", path.name, col)
            continue
        df[col], unknown = Coding(col, levels).read(df[col])
        for i, problem in unknown.items():
            problems.setdefault(df["patient_id"].iat[i], problem)
    for col in binary:
        values = pd.to_numeric(df[col], errors="coerce")
        for i in np.flatnonzero(~values.isin([0, 1])):
            if col in study.coding and pd.isna(df[col].iat[i]):
                problems.setdefault(df["patient_id"].iat[i], f"column '{col}' is blank")
            problems.setdefault(df["patient_id"].iat[i], f"column '{col}' must be 0 or 1, got {_shown(df[col].iat[i])}")
        df[col] = values
    for col in numeric:
        values = pd.to_numeric(df[col], errors="coerce")
        for i in np.flatnonzero(values.isna().to_numpy()):
            got = df[col].iat[i]
            problems.setdefault(df["patient_id"].iat[i], f"column '{col}' is blank" if pd.isna(got) else
                                f"column '{col}' (a reference model's) must be a number, got {_shown(got)}")
        df[col] = values
    for col in study.clinical:
        if col in study.categorical or pd.api.types.is_numeric_dtype(df[col]):
            continue
        numeric = pd.to_numeric(df[col], errors="coerce")
        text = df[col].notna() & numeric.isna()
        if text.sum() == 0 or text.sum() == df[col].notna().sum():
            continue  # all numbers, or a text column (treated as categorical)
        for i in np.flatnonzero(text):
            problems.setdefault(
                df["patient_id"].iat[i],
                f"non-numeric value {df[col].iat[i]!r} in clinical column '{col}' "
                "(list the column under categorical if it is a category)",
            )
        df[col] = numeric
    for col in (*IMAGE_COLUMNS, *CHEST_WALL_COLUMNS):
        if col in df.columns:
            df[col] = [_absolute(v, path.parent) for v in df[col]]

    bad = df["patient_id"].isin(problems)
    failures = pd.DataFrame(
        [{"patient_id": p, "stage": "cohort", "error": problems[p]} for p in df.loc[bad, "patient_id"]],
        columns=FAILURE_COLUMNS,
    )
    cohort = df.loc[~bad].reset_index(drop=True)
    if cohort.empty and failures.empty:
        raise StudyFileError("the table has no patient rows", file=path)
    if cohort.empty:
        first = failures.iloc[0]
        raise StudyFileError(f"no usable patient: all {len(failures)} left out (the first, {first['patient_id']}: "
                             f"{first['error']})", file=path)
    for col in binary:
        cohort[col] = cohort[col].astype(int)
    if require_outcome and len(cohort) and cohort[study.outcome].nunique() < 2:
        raise StudyFileError(f"every usable patient has {study.outcome} = {cohort[study.outcome].iat[0]}: "
                             "a model needs both outcomes", file=path)
    return Cohort(cohort, file_order, failures, read_as=f"{path.name}: {table.read_as}")


def _shown(value: object) -> str:
    if pd.isna(value):
        return "missing"
    return repr(value) if isinstance(value, str) else f"{float(value):g}"


def _absolute(value: object, folder: Path) -> str | None:
    if not is_given(value):
        return None
    p = Path(str(value).strip())
    return str(p if p.is_absolute() else (folder / p).resolve())


def has_images(cohort: pd.DataFrame) -> bool:
    return all(c in cohort.columns for c in REQUIRED_IMAGE_COLUMNS)

"""The cohort table: one row per patient, validated before any work starts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.config import Study
from deltarad.errors import StudyFileError

IMAGE_COLUMNS = (
    "baseline_image",
    "early_image",
    "baseline_mask",
    "early_mask",
    "baseline_mask_reader2",
    "early_mask_reader2",
)
REQUIRED_IMAGE_COLUMNS = IMAGE_COLUMNS[:4]


def read_table(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise StudyFileError(f"{what} not found", file=path)
    try:
        return pd.read_csv(path, dtype={"patient_id": str}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise StudyFileError(f"cannot read {what} as CSV: {exc}", file=path) from None


def load_cohort(study: Study, *, require_outcome: bool = True) -> pd.DataFrame:
    """Read the cohort CSV, check ids, outcome and the named columns; keep file order.

    The patient id column is renamed to `patient_id`; image paths are made absolute
    (relative paths resolve against the cohort file's folder).
    """
    path = study.cohort_path
    df = read_table(path, "cohort file")
    pid = study.patient_id
    if pid not in df.columns:
        raise StudyFileError(f"no patient id column '{pid}' (columns: {', '.join(df.columns)})", file=path)
    df = df.rename(columns={pid: "patient_id"})
    df["patient_id"] = df["patient_id"].astype(str).str.strip()
    if df["patient_id"].isin(["", "nan"]).any():
        rows = [i + 2 for i in np.flatnonzero(df["patient_id"].isin(["", "nan"]))]
        raise StudyFileError(f"empty patient_id on line(s) {rows}", file=path)
    dup = df["patient_id"][df["patient_id"].duplicated()].unique()
    if len(dup):
        raise StudyFileError(f"duplicate patient_id: {', '.join(map(str, dup[:10]))}", file=path)

    needed = [study.ultrasound, *study.clinical]
    if require_outcome:
        needed.insert(0, study.outcome)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise StudyFileError(f"missing column(s) {', '.join(missing)}", file=path)
    if require_outcome:
        df[study.outcome] = _binary(df, study.outcome, path)
    df[study.ultrasound] = _binary(df, study.ultrasound, path)
    for col in study.clinical:
        if col in study.categorical:
            continue
        if not pd.api.types.is_numeric_dtype(df[col]) and df[col].dtype != object:
            continue
        if df[col].dtype == object:
            numeric = pd.to_numeric(df[col], errors="coerce")
            bad = df[col].notna() & numeric.isna()
            if bad.all() or bad.sum() == 0:
                continue  # a text column: treated as categorical
            first = df.loc[bad].iloc[0]
            raise StudyFileError(
                f"non-numeric value {first[col]!r} in clinical column '{col}' "
                f"(patient {first['patient_id']}); list it under categorical if it is a category",
                file=path,
            )

    for col in IMAGE_COLUMNS:
        if col in df.columns:
            df[col] = [_absolute(v, path.parent) for v in df[col]]
    return df


def _binary(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StudyFileError(
            f"column '{col}' must be 0 or 1, patient {df['patient_id'].iloc[i]} has {df[col].iloc[i]!r}",
            file=path,
        )
    return values.astype(int)


def _absolute(value: object, folder: Path) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return None
    p = Path(str(value).strip())
    return str(p if p.is_absolute() else (folder / p).resolve())


def has_images(cohort: pd.DataFrame) -> bool:
    return all(c in cohort.columns for c in REQUIRED_IMAGE_COLUMNS)

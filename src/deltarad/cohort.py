"""The cohort table: one row per patient, validated before any work starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.coding import Coding
from deltarad.config import Study, TableFile
from deltarad.design import BASELINE, EARLY, Design
from deltarad.encoding import label, level_of
from deltarad.errors import FAILURE_COLUMNS, StudyFileError
from deltarad.kinetics import kinetic_variables
from deltarad.tablefile import Table, is_given, read_table_file

#: Cohort columns of one exam, per timepoint ("{tp}"): the image and reader 1's mask (required),
#: reader 2's mask, a chest-wall mask (left out of the peritumoral bands) and the DICOM series (optional).
REQUIRED_EXAM_COLUMNS = ("{tp}_image", "{tp}_mask")
PATH_EXAM_COLUMNS = ("{tp}_image", "{tp}_mask", "{tp}_mask_reader2", "{tp}_chest_wall")
OPTIONAL_EXAM_COLUMNS = ("{tp}_mask_reader2", "{tp}_chest_wall", "{tp}_series")


def exam_columns(timepoints: tuple[str, ...], patterns: tuple[str, ...] = PATH_EXAM_COLUMNS) -> tuple[str, ...]:
    """The cohort columns of `patterns` for each timepoint, timepoint by timepoint."""
    return tuple(p.format(tp=tp) for tp in timepoints for p in patterns)


#: The study's image columns (baseline and early), in the order the demo cohort writes them.
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
    path = study.resolve(source.path)
    assert path is not None  # resolve gives a path for a path (None only for None)
    return read_table_file(
        path, what, sheet=source.sheet, delimiter=source.delimiter, decimal=source.decimal, text_columns=(id_column,)
    )


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


def load_cohort_cases(
    study: Study, *, require_outcome: bool = True, table: Table | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The usable patients and the per-patient failures of the cohort file (see `read_cohort`)."""
    cohort = read_cohort(study, require_outcome=require_outcome, table=table)
    return cohort.cases, cohort.failures


def read_cohort(
    study: Study, *, require_outcome: bool = True, table: Table | None = None, design: Design | None = None
) -> Cohort:
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
        raise StudyFileError(
            f"duplicate patient_id: {first} ({table.where(np.flatnonzero(df['patient_id'] == first))})"
            + (f" and {more} more" if more else ""),
            file=path,
        )
    design = design if design is not None else study.design
    references = design.reference_columns  # the study's: the ultrasound read, 0/1
    binary = ([study.outcome] if require_outcome else []) + [c for c in references if c == study.ultrasound]
    # kinetic variables (delta_ftv_<after>, volume_change_<after>) are joined after extraction
    derived = set(kinetic_variables(design.deltas)) if study.kinetics is not None else set()
    # other references' columns: numbers, never blank (a column with a declared coding is read by it)
    numeric = [c for c in references if c not in binary and c not in study.coding and c not in derived]
    needed = list(dict.fromkeys(binary + numeric + [c for c in study.clinical if c not in derived]))
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
        for at, problem in unknown.items():
            problems.setdefault(df["patient_id"].iat[at], problem)
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
            problems.setdefault(
                df["patient_id"].iat[i],
                f"column '{col}' is blank"
                if pd.isna(got)
                else f"column '{col}' (a reference model's) must be a number, got {_shown(got)}",
            )
        df[col] = values
    for col in study.clinical:
        if col in derived:
            continue
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
    for col in exam_columns(design.timepoints):
        if col in df.columns:
            df[col] = [_absolute(v, path.parent) for v in df[col]]

    for patient, problem in same_image_problems(df).items():
        problems.setdefault(patient, problem)

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
        raise StudyFileError(
            f"no usable patient: all {len(failures)} left out (the first, {first['patient_id']}: {first['error']})",
            file=path,
        )
    for col in binary:
        cohort[col] = cohort[col].astype(int)
    if require_outcome and len(cohort) and cohort[study.outcome].nunique() < 2:
        raise StudyFileError(_one_outcome(study, cohort, table.frame[study.outcome], failures), file=path)
    return Cohort(cohort, file_order, failures, read_as=f"{path.name}: {table.read_as}")


def same_image_problems(df: pd.DataFrame) -> dict[str, str]:
    """patient_id -> problem, for a patient two of whose timepoints name the same image (the same
    file or folder, and the same <timepoint>_series or none): a copy-paste slip, every delta 0.
    Timepoints are read off the <timepoint>_image columns, every pair compared; paths must be
    absolute already."""
    timepoints = [c[: -len("_image")] for c in df.columns if c.endswith("_image")]
    problems: dict[str, str] = {}
    for _, row in df.iterrows():
        seen: dict[tuple[str, str], str] = {}
        for timepoint in timepoints:
            path = row.get(f"{timepoint}_image")
            if not is_given(path):
                continue
            series = row.get(f"{timepoint}_series")
            key = (_same_file_key(str(path)), str(series).strip() if is_given(series) else "")
            if key in seen:
                which = f" (series {key[1]})" if key[1] else ""
                problems.setdefault(
                    str(row["patient_id"]),
                    (
                        f"the {seen[key]} and {timepoint} exams are the same image {path}{which}: a copy-paste slip? "
                        f"every delta would be 0; give each timepoint its own exam (a folder holding both: name each "
                        f"one's series in <timepoint>_series)"
                    ),
                )
            else:
                seen[key] = timepoint
    return problems


def _same_file_key(path: str) -> str:
    """One key for every spelling of one file (links, '..'): its resolved path."""
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def _one_outcome(study: Study, cohort: pd.DataFrame, raw: pd.Series, failures: pd.DataFrame) -> str:
    """Why no model can be fitted when every usable patient has one outcome: the codes the
    outcome column holds, and the `coding:` entry that declares them when it holds other codes."""
    only = cohort[study.outcome].iat[0]
    text = f"every usable patient has {study.outcome} = {only}: a model needs both outcomes"
    levels = [lvl for lvl in map(level_of, raw) if lvl is not None]
    counts = pd.Series(levels, dtype=object).value_counts(sort=False)
    codes = sorted(counts.index, key=lambda lvl: (isinstance(lvl, str), str(lvl) if isinstance(lvl, str) else lvl))
    found = ", ".join(f"{label(code)} ({counts[code]} patient{'' if counts[code] == 1 else 's'})" for code in codes)
    if len(counts) < 2:
        return f"{text}; the column '{study.outcome}' holds only {found or 'blanks'}"
    if {level_of(code) for code in codes} == {0, 1}:
        return f"{text}; every patient of the other outcome was left out for another reason (failures.csv)"
    left = int(failures["error"].str.contains(f"column '{study.outcome}'", regex=False).sum())
    return (
        f"{text}; the column '{study.outcome}' holds the codes {found}, and {left} patient(s) were left out "
        f"for theirs: if these codes are the two outcomes, declare them in the study file, "
        f"coding: {{{study.outcome}: {{1: [<the pCR code>], 0: [<the other code>]}}}}"
    )


def _shown(value: str | float) -> str:
    if pd.isna(value):
        return "missing"
    return repr(value) if isinstance(value, str) else f"{float(value):g}"


def _absolute(value: object, folder: Path) -> str | None:
    if not is_given(value):
        return None
    p = Path(str(value).strip())
    return str(p if p.is_absolute() else (folder / p).resolve())


def unmatched_ids(study: Study, cohort_ids: pd.Series, feature_ids: pd.Series, shown: int = 3) -> str:
    """No cohort patient has a feature row: both files' ids, by example, so the difference shows."""
    features_path = study.features_path
    assert features_path is not None  # asked only of a study that names a feature table

    def examples(ids: pd.Series) -> str:
        distinct = list(dict.fromkeys(map(str, ids)))
        more = f", ... ({len(distinct)} in all)" if len(distinct) > shown else ""
        return ", ".join(repr(i) for i in distinct[:shown]) + more

    return (
        f"no patient id of the cohort matches a row of the feature table: the cohort "
        f"({study.cohort_path.name}, column '{study.patient_id}') has {examples(cohort_ids)}; the feature table "
        f"({features_path.name}, column patient_id) has {examples(feature_ids)}; the ids must be written "
        f"alike in both (prefix, leading zeros, spaces)"
    )


def has_images(cohort: pd.DataFrame, timepoints: tuple[str, ...] = (BASELINE, EARLY)) -> bool:
    """Whether the cohort has the image and mask columns of every timepoint."""
    return all(c in cohort.columns for c in exam_columns(timepoints, REQUIRED_EXAM_COLUMNS))

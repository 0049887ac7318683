"""Workflow floor: the job behind `deltarad extract`: the cohort's exams to features.csv, the extraction notes and
failures, regions/, the feature store and delta_features.csv.

Apart from deltarad.workflow (which re-exports it for `run` and `predict`) so that the command
imports what extraction needs and nothing of the modelling stack (statsmodels, scikit-learn):
tests/test_extract_imports.py checks it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deltarad import outputs
from deltarad.cohort import REQUIRED_EXAM_COLUMNS, exam_columns, has_images, load_cohort
from deltarad.config import Study
from deltarad.design import Design
from deltarad.errors import FAILURE_COLUMNS, StudyFileError
from deltarad.features.delta import compute_delta
from deltarad.parallel import ParallelSettings


def extract_features(
    study: Study,
    cohort: pd.DataFrame,
    out_dir: Path,
    *,
    parallel: ParallelSettings | None = None,
    prune_store: bool = False,
    progress: bool = True,
):
    """Extract the cohort's exams (deltarad.features.extract.extract_cohort: resumable through
    out_dir/store/) and write features.csv, extraction_failures.csv, extraction_notes.csv and, with a
    `kinetics:` key, kinetics.csv."""
    from deltarad.features.extract import extract_cohort

    extraction = extract_cohort(study, cohort, out_dir, parallel=parallel, prune_store=prune_store, progress=progress)
    outputs.write_extraction(out_dir, extraction)
    return extraction


def extract_study(
    study: Study, out_dir: Path, *, parallel: ParallelSettings | None = None, prune_store: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`deltarad extract`: every exam's features (features.csv, extraction notes, regions/, the
    store: deltarad.features.extract) and their delta (delta_features.csv); returns the features
    and the exams that failed."""
    cohort = load_cohort(study, require_outcome=False)
    if not has_images(cohort, study.design.timepoints):
        raise StudyFileError(
            f"cohort has no image columns ({', '.join(exam_columns(study.design.timepoints, REQUIRED_EXAM_COLUMNS))})",
            file=study.cohort_path,
        )
    extraction = extract_features(study, cohort, out_dir, parallel=parallel, prune_store=prune_store)
    features, failures = extraction
    with_kinetics(study, cohort, features, extraction.kinetics, out_dir)
    if len(features):
        delta, _ = compute_delta(features, study.design, near_zero=study.delta_near_zero)
        outputs.write_delta_features(out_dir, delta)
    return features, failures


def with_kinetics(
    study: Study,
    cohort: pd.DataFrame,
    features: pd.DataFrame,
    kinetics: pd.DataFrame | None,
    out_dir: Path,
    design: Design | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort with the kinetic variables delta_ftv_<after> and volume_change_<after> of every
    delta pair joined (features.kinetic_exam), and kinetics_deltas.csv written; the cohort as it
    is where the study has no `kinetics:` key. A reference model (of `design`, default the
    study's) needs every patient's value, as of any cohort column: a patient without one (its
    kinetics failed, or FTV was 0 at the first exam) is left out, with a failure row (stage
    "kinetics") saying which."""
    if study.kinetics is None or kinetics is None:
        return cohort, pd.DataFrame(columns=FAILURE_COLUMNS)
    from deltarad.features.kinetic_exam import kinetic_deltas, with_kinetic_variables
    from deltarad.kinetics import KINETICS_STAGE, kinetic_variables

    deltas = kinetic_deltas(kinetics, features, study.design)
    outputs.write_kinetics_deltas(out_dir, deltas)
    joined = with_kinetic_variables(cohort, deltas, study.design)
    used = [c for c in (design or study.design).reference_columns if c in kinetic_variables(study.design.deltas)]
    blank = joined[used].isna().any(axis=1) if used else pd.Series(False, index=joined.index)
    failures = pd.DataFrame(
        [
            {
                "patient_id": row["patient_id"],
                "stage": KINETICS_STAGE,
                "error": "no value of "
                + ", ".join(c for c in used if pd.isna(row[c]))
                + " (a reference model's; see kinetics.csv and extraction_failures.csv)",
            }
            for _, row in joined[blank].iterrows()
        ],
        columns=FAILURE_COLUMNS,
    )
    return joined[~blank].reset_index(drop=True), failures

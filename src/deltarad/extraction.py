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
from deltarad.errors import StudyFileError
from deltarad.features.delta import compute_delta
from deltarad.parallel import ParallelSettings


def extract_features(study: Study, cohort: pd.DataFrame, out_dir: Path, *, parallel: ParallelSettings | None = None,
                     prune_store: bool = False, progress: bool = True):
    """Extract the cohort's exams (deltarad.features.extract.extract_cohort: resumable through
    out_dir/store/) and write features.csv, extraction_failures.csv and extraction_notes.csv."""
    from deltarad.features.extract import extract_cohort

    extraction = extract_cohort(study, cohort, out_dir, parallel=parallel, prune_store=prune_store, progress=progress)
    outputs.write_extraction(out_dir, extraction)
    return extraction


def extract_study(study: Study, out_dir: Path, *, parallel: ParallelSettings | None = None,
                  prune_store: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`deltarad extract`: every exam's features (features.csv, extraction notes, regions/, the
    store: deltarad.features.extract) and their delta (delta_features.csv); returns the features
    and the exams that failed."""
    cohort = load_cohort(study, require_outcome=False)
    if not has_images(cohort, study.design.timepoints):
        raise StudyFileError(
            f"cohort has no image columns ({', '.join(exam_columns(study.design.timepoints, REQUIRED_EXAM_COLUMNS))})",
            file=study.cohort_path,
        )
    features, failures = extract_features(study, cohort, out_dir, parallel=parallel, prune_store=prune_store)
    if len(features):
        delta, _ = compute_delta(features, study.design, near_zero=study.delta_near_zero)
        outputs.write_delta_features(out_dir, delta)
    return features, failures

"""The whole job behind `deltarad run`, `predict` and `extract`, as stages that return values:
the cohort (its file read once), the features (the study's table, or extracted from the images),
the delta table, the fit, the internal validation and Tables 1-3. `run_study` composes them and
hands each value to deltarad.outputs as soon as it is known, so a run that stops at a later stage
still leaves failures.csv and the files of the stages before."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad import outputs
from deltarad.cohort import (
    REQUIRED_EXAM_COLUMNS,
    Cohort,
    exam_columns,
    has_images,
    read_cohort,
    read_study_table,
    unmatched_ids,
)
from deltarad.config import Study, with_model_design
from deltarad.design import Design
from deltarad.errors import EARLY_RESPONSE_STAGE, FAILURE_COLUMNS, DeltaradError, StudyFileError
from deltarad.extraction import extract_features, extract_study, with_kinetics  # noqa: F401  (`deltarad extract`'s job, here as before)
from deltarad.features.delta import NEAR_ZERO, check_feature_table, compute_delta, dropped_features, feature_columns
from deltarad.kinetics import KINETICS_STAGE
from deltarad.modeling.missing import STAGE as MISSING_STAGE
from deltarad.modeling.missing import missing_failures, missing_value_table
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.modeling.pipeline import FitResult, fit_study
from deltarad.modeling.validation import ValidationResult, internal_validation
from deltarad.parallel import ParallelSettings
from deltarad.record import study_record
from deltarad.study_tables import StudyTables, study_tables

log = logging.getLogger(__name__)

SETS = ("training", "validation")


@dataclass
class StudyRun:
    """What `run_study` computed, stage by stage (each also written into the run folder)."""

    cohort: Cohort
    features: pd.DataFrame  # long form: one row per patient, timepoint, region and reader
    delta: pd.DataFrame
    delta_info: dict  # compute_delta's account of the features it kept and dropped
    fit: FitResult
    validation: ValidationResult | None  # None when the study switches internal validation off
    tables: StudyTables
    failures: pd.DataFrame  # FAILURE_COLUMNS: every patient left out, at whichever stage

    def __iter__(self):
        """Unpacks as `fit, failures`, as run_study's return did before it held every stage."""
        return iter((self.fit, self.failures))


def load_features(
    study: Study, cohort: pd.DataFrame, out_dir: Path, parallel: ParallelSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long-form feature table: the study's `features` file, or extracted from the cohort's
    images (on Dask as `parallel` says; resumable through out_dir/store/)."""
    features, failures, _ = _load_extraction(study, cohort, out_dir, parallel)
    return features, failures


def _load_extraction(
    study: Study, cohort: pd.DataFrame, out_dir: Path, parallel: ParallelSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """load_features, and the kinetics table where the study has a `kinetics:` key. An exam whose
    kinetics alone failed stays in (its failure is in extraction_failures.csv); a patient whose
    kinetic variable is then missing is handled as any missing value where a model uses it."""
    if study.features is not None:  # features_path is given just when features is
        if study.kinetics is not None:
            raise StudyFileError(
                "kinetics are computed from the images at extraction, but the study reads its "
                "features from a file: remove `kinetics:` or `features:`",
                file=study.features_path,
            )
        table = read_study_table(study, study.features, "feature table").frame
        if "patient_id" not in table.columns:
            raise DeltaradError("the feature table has no patient_id column", file=study.features_path)
        unknown = sorted(set(table["patient_id"]) - set(cohort["patient_id"]))
        if len(cohort) and len(table) and len(unknown) == table["patient_id"].nunique():
            raise DeltaradError(
                unmatched_ids(study, cohort["patient_id"], table["patient_id"]), file=study.features_path
            )
        if unknown:
            log.warning(
                "feature table: %d patient(s) not in the cohort are ignored (e.g. %s)", len(unknown), unknown[0]
            )
        return table[table["patient_id"].isin(cohort["patient_id"])], pd.DataFrame(columns=FAILURE_COLUMNS), None
    if not has_images(cohort, study.design.timepoints):
        raise DeltaradError(
            "the study names no feature table and the cohort has no image columns "
            f"({', '.join(exam_columns(study.design.timepoints, REQUIRED_EXAM_COLUMNS))})",
            file=study.cohort_path,
        )
    extraction = extract_features(study, cohort, out_dir, parallel=parallel)
    failures = extraction.failures[extraction.failures["stage"] != KINETICS_STAGE]
    return extraction.features, failures, extraction.kinetics


def drop_nonfinite(features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave out patients with a NaN or infinite reader-1 feature (a failure naming the feature);
    non-finite reader-2 rows only lose that reader (they serve the ICC alone)."""
    feats = feature_columns(features)
    values = features[feats].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad_rows = ~np.isfinite(values).all(axis=1)
    failures = []
    for i in np.flatnonzero(bad_rows & (features["reader"].astype(int) == 1).to_numpy()):
        row = features.iloc[i]
        feature = feats[int(np.flatnonzero(~np.isfinite(values[i]))[0])]
        failures.append(
            {
                "patient_id": str(row["patient_id"]),
                "stage": "features",
                "error": f"feature {feature} is {values[i, feats.index(feature)]} "
                f"({row['timepoint']}, {row['region']}, reader 1)",
            }
        )
    failed = {f["patient_id"] for f in failures}
    reader2_dropped = bad_rows & (features["reader"].astype(int) == 2).to_numpy()
    if reader2_dropped.any():
        log.warning("%d reader-2 row(s) with non-finite features left out of the ICC", int(reader2_dropped.sum()))
    keep = ~bad_rows & ~features["patient_id"].astype(str).isin(failed).to_numpy()
    failures_df = pd.DataFrame(failures, columns=FAILURE_COLUMNS).drop_duplicates("patient_id")
    return features[keep], failures_df


def usable_delta(
    features: pd.DataFrame,
    design: Design | None = None,
    *,
    drop_undefined: bool = True,
    kind: str | None = None,
    near_zero: float = NEAR_ZERO,
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """The delta table of the patients whose reader-1 features are all finite, its info
    (compute_delta: the pairs of `design`, or the study's baseline-to-early `kind`), and the
    patients left out for a non-finite feature (FAILURE_COLUMNS)."""
    features, nonfinite = drop_nonfinite(check_feature_table(features, design=design))
    delta, info = compute_delta(features, design, kind=kind, near_zero=near_zero, drop_undefined=drop_undefined)
    return delta, info, nonfinite


def delta_features(
    features: pd.DataFrame,
    cohort: pd.DataFrame,
    failures: pd.DataFrame,
    design: Design | None = None,
    *,
    drop_undefined: bool = True,
    kind: str | None = None,
    near_zero: float = NEAR_ZERO,
):
    """Delta table of usable patients, its info, and failures with the patients that lost a stage."""
    delta, info, nonfinite = usable_delta(
        features, design, drop_undefined=drop_undefined, kind=kind, near_zero=near_zero
    )
    failures = _concat(failures, nonfinite)
    have = set(delta.loc[delta["reader"] == 1, "patient_id"])
    failed = set(failures["patient_id"])
    pair = next(iter(info["deltas"].values()))
    extra = [
        {
            "patient_id": p,
            "stage": "delta",
            "error": f"no {pair['before']} and {pair['after']} exam features (reader 1)",
        }
        for p in cohort["patient_id"]
        if p not in have and p not in failed
    ]
    if extra:
        failures = _concat(failures, pd.DataFrame(extra))
    return delta, info, failures


def _concat(*frames: pd.DataFrame | None) -> pd.DataFrame:
    given = [f.reindex(columns=FAILURE_COLUMNS) for f in frames if f is not None and len(f)]
    return pd.concat(given, ignore_index=True) if given else pd.DataFrame(columns=FAILURE_COLUMNS)


def log_left_out(failures: pd.DataFrame) -> None:
    """One warning per patient left out (FAILURE_COLUMNS rows), naming the stage and the reason."""
    for p, stage, err in failures.itertuples(index=False):
        log.warning("left out patient %s (%s): %s", p, stage, err)


def _stop_if_strict(strict: bool, failures: pd.DataFrame) -> None:
    if strict and len(failures):
        first = failures.iloc[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise DeltaradError(
            f"{first['stage']}: {first['error']}{more}; --strict stops at any failure", patient=first["patient_id"]
        )


def run_study(
    study: Study, out_dir: Path, *, strict: bool = False, parallel: ParallelSettings | None = None
) -> StudyRun:
    """Fit and evaluate the study, writing every output into `out_dir` (deltarad.outputs).

    A patient that fails a stage is left out and listed in failures.csv; with `strict` any
    failure is an error. The return holds every stage's value, and unpacks as (fit, failures).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort = read_cohort(study)
    _stop_if_strict(strict, cohort.failures)
    features, extraction_failures, kinetics = _load_extraction(study, cohort.cases, out_dir, parallel)
    cohort.cases, kinetic_failures = with_kinetics(study, cohort.cases, features, kinetics, out_dir)
    extraction_failures = _concat(extraction_failures, kinetic_failures)
    delta, info, failures = delta_features(
        features,
        cohort.cases,
        _concat(cohort.failures, extraction_failures),
        study.design,
        near_zero=study.delta_near_zero,
    )
    outputs.write_delta_dropped(out_dir, dropped_features(info))
    outputs.write_failures(out_dir, failures)
    _stop_if_strict(strict, failures)
    log_left_out(failures)
    outputs.write_delta_features(out_dir, delta)

    fit = fit_study(study, cohort.cases, delta, info, file_order=cohort.file_order)
    fitted = cohort.cases[cohort.cases["patient_id"].isin(fit.split["patient_id"])]
    failures = _concat(failures, fit.unscored, missing_failures(fit.model, fitted))
    outputs.write_failures(out_dir, failures)
    _stop_if_strict(strict, failures)
    outputs.write_fit(out_dir, fit)
    outputs.write_study_record(out_dir, study_record(study))
    outputs.write_missing_values(
        out_dir,
        missing_value_table(cohort.cases, fit.split, study.clinical, study.missing.policy, study.missing.imputations),
    )
    outputs.write_cohort_flow(
        out_dir, cohort_flow(cohort, fit.predictions, failures, study.outcome, study.design.model_columns)
    )

    validation = internal_validation(study, cohort.cases, delta, info, fit)
    outputs.write_internal_validation(out_dir, validation)
    tables = study_tables(study, cohort.cases, fit, validation)
    outputs.write_study_tables(out_dir, tables)
    return StudyRun(cohort, features, delta, info, fit, validation, tables, failures)


def cohort_flow(
    cohort: Cohort,
    predictions: pd.DataFrame,
    failures: pd.DataFrame,
    outcome: str,
    models: Sequence[str] = Design().model_columns,
) -> pd.DataFrame:
    """Patients per stage (stage, n, detail): the cohort file, complete early responses, the
    excluded, then each of `models`' (prediction columns) and each set's patients."""
    rows = [{"stage": "cohort file", "n": len(cohort.cases), "detail": cohort.read_as}]
    responders = failures["stage"].astype(str) == EARLY_RESPONSE_STAGE
    if responders.any():
        rows.append(
            {
                "stage": "complete early response",
                "n": failures.loc[responders, "patient_id"].nunique(),
                "detail": "tumour mask empty at the early exam: no delta features, left out of the models",
            }
        )
    excluded = failures[(failures["stage"] != MISSING_STAGE) & ~responders]
    if len(excluded):
        rows.append(
            {
                "stage": "excluded",
                "n": excluded["patient_id"].nunique(),
                "detail": "; ".join(sorted(excluded["stage"].astype(str).unique())),
            }
        )
    p = predictions
    for m in models:  # n each model was fitted and evaluated on (a blank costs the combined model)
        used = p[p[m].notna()]
        rows.append(
            {
                "stage": f"model: {m}",
                "n": len(used),
                "detail": ", ".join(f"{s} {int((used['set'] == s).sum())}" for s in SETS)
                + (f"; {len(p) - len(used)} without a value it uses" if len(used) < len(p) else ""),
            }
        )
    for s in SETS:
        sub = p[p["set"] == s]
        rows.append(
            {
                "stage": s,
                "n": len(sub),
                "detail": f"{int(sub[outcome].sum())} pCR / {int((sub[outcome] == 0).sum())} non-pCR",
            }
        )
    return pd.DataFrame(rows)


def score_cohort(
    model: DeltaradModel,
    study: Study,
    out_dir: Path,
    *,
    require_outcome: bool,
    parallel: ParallelSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features, delta and the frozen model's scores for every patient it can score.

    Returns (predictions: patient_id, [outcome], one column per model of its design: radscores,
    references, combined;
    failures: the patients left out, with the stage and the reason).
    """
    study = with_model_design(study, model.design)
    read = read_cohort(study, require_outcome=require_outcome, design=model.design)  # the model's references
    cohort, failures = read.cases, read.failures
    features, extraction_failures, kinetics = _load_extraction(study, cohort, out_dir, parallel)
    cohort, kinetic_failures = with_kinetics(study, cohort, features, kinetics, out_dir, model.design)
    extraction_failures = _concat(extraction_failures, kinetic_failures)
    delta, _, failures = delta_features(
        features, cohort, _concat(failures, extraction_failures), design=model.design, drop_undefined=False
    )
    model.check_delta(delta)
    scorable = cohort[
        cohort["patient_id"].isin(set(delta["patient_id"])) & ~cohort["patient_id"].isin(failures["patient_id"])
    ]
    unscorable = model.unscorable(delta, scorable)
    failures = _concat(failures, unscorable)
    scorable = scorable[~scorable["patient_id"].isin(unscorable["patient_id"])]
    failures = _concat(failures, missing_failures(model.data, scorable))
    log_left_out(failures)
    scores = model.predict_proba(delta, scorable)
    keep = ["patient_id"] + ([study.outcome] if study.outcome in scorable.columns else [])
    return scorable[keep].merge(scores, on="patient_id"), failures

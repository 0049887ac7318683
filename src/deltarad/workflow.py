"""The whole job behind `deltarad run` and `deltarad predict`: read, extract or load features,
delta, fit or apply the model, evaluate, write every output atomically."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad import atomic
from deltarad.cohort import has_images, load_cohort_cases, patient_order, read_study_table
from deltarad.config import Study
from deltarad.errors import EARLY_RESPONSE_STAGE, DeltaradError
from deltarad.features.delta import NEAR_ZERO, check_feature_table, compute_delta, dropped_features, feature_columns
from deltarad.modeling.missing import STAGE as MISSING_STAGE
from deltarad.modeling.missing import missing_failures, missing_value_table
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.modeling.models import MODEL_COLUMNS
from deltarad.modeling.pipeline import FitResult, fit_study
from deltarad.parallel import ParallelSettings
from deltarad.modeling.validation import ValidationResult, write_internal_validation
from deltarad.report.record import write_study_record

RADSCORE_COLUMNS = ["radscore_dir", "radscore_dpr"]

log = logging.getLogger(__name__)

FAILURE_COLUMNS = ["patient_id", "stage", "error"]


def load_features(
    study: Study, cohort: pd.DataFrame, out_dir: Path, parallel: ParallelSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long-form feature table: the study's `features` file, or extracted from the cohort's
    images (on Dask as `parallel` says; resumable through out_dir/store/)."""
    if study.features_path is not None:
        table = read_study_table(study, study.features, "feature table").frame
        if "patient_id" not in table.columns:
            raise DeltaradError("the feature table has no patient_id column", file=study.features_path)
        unknown = sorted(set(table["patient_id"]) - set(cohort["patient_id"]))
        if unknown:
            log.warning("feature table: %d patient(s) not in the cohort are ignored (e.g. %s)", len(unknown), unknown[0])
        return table[table["patient_id"].isin(cohort["patient_id"])], pd.DataFrame(columns=FAILURE_COLUMNS)
    if not has_images(cohort):
        raise DeltaradError(
            "the study names no feature table and the cohort has no image columns "
            "(baseline_image, early_image, baseline_mask, early_mask)",
            file=study.cohort_path,
        )
    from deltarad.features.extract import extract_cohort

    return extract_cohort(study, cohort, out_dir, parallel=parallel)  # also writes features.csv


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
        failures.append({"patient_id": str(row["patient_id"]), "stage": "features",
                         "error": f"feature {feature} is {values[i, feats.index(feature)]} "
                                  f"({row['timepoint']}, {row['region']}, reader 1)"})
    failed = {f["patient_id"] for f in failures}
    reader2_dropped = bad_rows & (features["reader"].astype(int) == 2).to_numpy()
    if reader2_dropped.any():
        log.warning("%d reader-2 row(s) with non-finite features left out of the ICC", int(reader2_dropped.sum()))
    keep = ~bad_rows & ~features["patient_id"].astype(str).isin(failed).to_numpy()
    failures_df = pd.DataFrame(failures, columns=FAILURE_COLUMNS).drop_duplicates("patient_id")
    return features[keep], failures_df


def delta_features(features: pd.DataFrame, cohort: pd.DataFrame, failures: pd.DataFrame, *,
                   drop_undefined: bool = True, kind: str = "relative", near_zero: float = NEAR_ZERO):
    """Delta table of usable patients, its info, and failures with the patients that lost a stage."""
    features, nonfinite = drop_nonfinite(check_feature_table(features))
    failures = _concat(failures, nonfinite)
    delta, info = compute_delta(features, kind=kind, near_zero=near_zero, drop_undefined=drop_undefined)
    have = set(delta.loc[delta["reader"] == 1, "patient_id"])
    failed = set(failures["patient_id"])
    extra = [{"patient_id": p, "stage": "delta", "error": "no baseline and early exam features (reader 1)"}
             for p in cohort["patient_id"] if p not in have and p not in failed]
    if extra:
        failures = _concat(failures, pd.DataFrame(extra))
    return delta, info, failures


def write_fit(result: FitResult, out_dir: Path) -> None:
    atomic.write_csv(out_dir / "split.csv", result.split)
    atomic.write_csv(out_dir / "predictions.csv", result.predictions)
    atomic.write_csv(out_dir / "selection.csv", result.selection)
    atomic.write_csv(out_dir / "selected_features.csv", result.selected)
    atomic.write_json(out_dir / "model.json", result.model)


def _concat(*frames: pd.DataFrame) -> pd.DataFrame:
    frames = [f.reindex(columns=FAILURE_COLUMNS) for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FAILURE_COLUMNS)


def _stop_if_strict(strict: bool, failures: pd.DataFrame) -> None:
    if strict and len(failures):
        first = failures.iloc[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise DeltaradError(f"{first['stage']}: {first['error']}{more}; --strict stops at any failure",
                            patient=first["patient_id"])


def run_study(
    study: Study, out_dir: Path, *, strict: bool = False, parallel: ParallelSettings | None = None
) -> tuple[FitResult, pd.DataFrame]:
    """Fit and evaluate the study; returns the fit and the failures (also written to failures.csv).

    A patient that fails a stage is left out and listed; with `strict` any failure is an error.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort, failures = load_cohort_cases(study)
    _stop_if_strict(strict, failures)
    features, extraction_failures = load_features(study, cohort, out_dir, parallel)
    delta, info, failures = delta_features(features, cohort, _concat(failures, extraction_failures),
                                           kind=study.delta, near_zero=study.delta_near_zero)
    atomic.write_csv(out_dir / "delta_dropped.csv", dropped_features(info))
    atomic.write_csv(out_dir / "failures.csv", failures)
    _stop_if_strict(strict, failures)
    for p, stage, err in failures.itertuples(index=False):
        log.warning("left out patient %s (%s): %s", p, stage, err)
    atomic.write_csv(out_dir / "delta_features.csv", delta)
    result = fit_study(study, cohort, delta, info, file_order=patient_order(study))
    failures = _concat(failures, result.unscored,
                       missing_failures(result.model, cohort[cohort["patient_id"].isin(result.split["patient_id"])]))
    atomic.write_csv(out_dir / "failures.csv", failures)
    _stop_if_strict(strict, failures)
    write_fit(result, out_dir)
    write_study_record(study, out_dir)
    atomic.write_csv(out_dir / "tables" / "missing_values.csv",
                     missing_value_table(cohort, result.split, study.clinical, study.missing.policy,
                                         study.missing.imputations))
    write_cohort_flow(study, cohort, result, failures, out_dir)
    internal = write_internal_validation(study, cohort, delta, info, result, out_dir / "tables")
    write_tables(study, cohort, result, out_dir / "tables", internal)
    return result, failures


def write_tables(study: Study, cohort: pd.DataFrame, result: FitResult, tables_dir: Path,
                 internal: ValidationResult | None = None) -> None:
    """Tables 1-3 as the study reports them (CSV, plus journal-formatted XLSX and HTML beside).

    Table 1: clinical variables and the ultrasound read by outcome within each set. Table 2:
    univariate then multivariate logistic regression on the training set over the combined
    model's candidates. Table 3: every model in both sets, Youden cut-offs from training, DeLong,
    IDI and NRI against the ultrasound model (the study's reference). With internal validation,
    the training rows of Table 3 also carry the apparent, optimism and optimism-corrected AUC,
    calibration slope and Brier score and the cross-validated mean of each.
    """
    from deltarad.stats.pooling import POOLED_NOTE, table2_pooled
    from deltarad.stats.tables import NESTED_NOTE, table1, table2, table3, write_table

    p = result.predictions
    data = p[["patient_id", "set"]].merge(cohort, on="patient_id")
    variables = [*study.clinical, study.ultrasound]
    categorical = [*study.categorical, study.ultrasound]
    with_radscores = data.merge(p[["patient_id", *RADSCORE_COLUMNS]], on="patient_id")  # the study's Table 1 has them
    write_table(table1(with_radscores, study.outcome, by="set", variables=[*variables, *RADSCORE_COLUMNS],
                       categorical=categorical),
                tables_dir / "table1.csv", "Table 1. Patient characteristics by outcome")
    training = data[data["set"] == "training"].merge(p[["patient_id", *RADSCORE_COLUMNS]], on="patient_id")
    if result.imputed:  # mice: every imputed training set, pooled by Rubin's rules
        t2 = table2_pooled(result.imputed, study.outcome, [*variables, *RADSCORE_COLUMNS], categorical,
                           reference_levels=study.reference_levels)
    else:
        t2 = table2(training, study.outcome, variables=[*variables, *RADSCORE_COLUMNS], categorical=categorical,
                    reference_levels=study.reference_levels)
    write_table(t2, tables_dir / "table2.csv", "Table 2. Logistic regression in the training set",
                notes=[POOLED_NOTE.format(m=len(result.imputed))] if result.imputed else [])
    nested = ["combined"] if study.ultrasound in result.model["combined"]["terms"] else []
    t3 = table3(p, study.outcome, ["combined", "radscore_dir", "radscore_dpr"], by="set",
                fit_set="training", reference="us", nested=nested)
    t3.insert(2, "n", t3[["tp", "fp", "tn", "fn"]].sum(axis=1))  # patients the model scored (a blank costs the combined)
    if internal is not None:
        extra = internal.wide()
        t3 = t3.merge(extra, on="model", how="left")
        t3.loc[t3["set"] != "training", [c for c in extra.columns if c != "model"]] = float("nan")
    write_table(t3, tables_dir / "table3.csv", "Table 3. Performance of the models",
                notes=[f"nested_optimistic: {NESTED_NOTE}"] if t3["nested_optimistic"].any() else [])


def write_cohort_flow(study: Study, cohort: pd.DataFrame, result: FitResult, failures: pd.DataFrame, out_dir: Path) -> None:
    rows = [{"stage": "cohort file", "n": len(cohort), "detail": cohort.attrs.get("read_as", "")}]
    responders = failures["stage"].astype(str) == EARLY_RESPONSE_STAGE
    if responders.any():
        rows.append({"stage": "complete early response", "n": failures.loc[responders, "patient_id"].nunique(),
                     "detail": "tumour mask empty at the early exam: no delta features, left out of the models"})
    excluded = failures[(failures["stage"] != MISSING_STAGE) & ~responders]
    if len(excluded):
        rows.append({"stage": "excluded", "n": excluded["patient_id"].nunique(),
                     "detail": "; ".join(sorted(excluded["stage"].astype(str).unique()))})
    p = result.predictions
    for m in MODEL_COLUMNS:  # n each model was fitted and evaluated on (a blank costs the combined model)
        used = p[p[m].notna()]
        rows.append({"stage": f"model: {m}", "n": len(used),
                     "detail": ", ".join(f"{s} {int((used['set'] == s).sum())}" for s in ("training", "validation"))
                     + (f"; {len(p) - len(used)} without a value it uses" if len(used) < len(p) else "")})
    for s in ("training", "validation"):
        sub = p[p["set"] == s]
        rows.append({"stage": s, "n": len(sub),
                     "detail": f"{int(sub[study.outcome].sum())} pCR / {int((sub[study.outcome] == 0).sum())} non-pCR"})
    atomic.write_csv(out_dir / "cohort_flow.csv", pd.DataFrame(rows))


def score_cohort(model: DeltaradModel, study: Study, out_dir: Path, *, require_outcome: bool,
                 parallel: ParallelSettings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features, delta and the frozen model's four scores for every patient it can score.

    Returns (predictions: patient_id, [outcome], radscore_dir, radscore_dpr, us, combined;
    failures: the patients left out, with the stage and the reason).
    """
    cohort, failures = load_cohort_cases(study, require_outcome=require_outcome)
    features, extraction_failures = load_features(study, cohort, out_dir, parallel)
    delta, _, failures = delta_features(features, cohort, _concat(failures, extraction_failures),
                                        drop_undefined=False, kind=model.delta_kind)
    model.check_delta(delta)
    scorable = cohort[cohort["patient_id"].isin(set(delta["patient_id"])) & ~cohort["patient_id"].isin(failures["patient_id"])]
    unscorable = model.unscorable(delta, scorable)
    failures = _concat(failures, unscorable)
    scorable = scorable[~scorable["patient_id"].isin(unscorable["patient_id"])]
    failures = _concat(failures, missing_failures(model.data, scorable))
    for p, stage, err in failures.itertuples(index=False):
        log.warning("left out patient %s (%s): %s", p, stage, err)
    scores = model.predict_proba(delta, scorable)
    keep = ["patient_id"] + ([study.outcome] if study.outcome in scorable.columns else [])
    return scorable[keep].merge(scores, on="patient_id"), failures


def predict_study(model_path: Path, study: Study, out_dir: Path,
                  parallel: ParallelSettings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score a cohort with a frozen model (the outcome column is optional); returns the
    predictions and the patients left out (both also written to out_dir)."""
    predictions, failures = score_cohort(DeltaradModel.from_json(model_path), study, out_dir, require_outcome=False,
                                         parallel=parallel)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_csv(out_dir / "predictions.csv", predictions)
    atomic.write_csv(out_dir / "failures.csv", failures)
    return predictions, failures

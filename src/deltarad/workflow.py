"""The whole job behind `deltarad run` and `deltarad predict`: read, extract or load features,
delta, fit or apply the model, evaluate, write every output atomically."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from deltarad import atomic
from deltarad.cohort import has_images, load_cohort, read_table
from deltarad.config import Study
from deltarad.errors import DeltaradError
from deltarad.features.delta import compute_delta
from deltarad.modeling.modelfile import FrozenModel
from deltarad.modeling.pipeline import FitResult, fit_study

RADSCORE_COLUMNS = ["radscore_dir", "radscore_dpr"]

log = logging.getLogger(__name__)

FAILURE_COLUMNS = ["patient_id", "stage", "error"]


def load_features(study: Study, cohort: pd.DataFrame, out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long-form feature table: the study's `features` file, or extracted from the cohort's images."""
    if study.features_path is not None:
        table = read_table(study.features_path, "feature table")
        table["patient_id"] = table["patient_id"].astype(str)
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

    features, failures = extract_cohort(study, cohort, out_dir)
    atomic.write_csv(out_dir / "features.csv", features)
    return features, failures


def delta_features(features: pd.DataFrame, cohort: pd.DataFrame, failures: pd.DataFrame, source: str):
    delta, info = compute_delta(features.assign(patient_id=features["patient_id"].astype(str)))
    missing = [p for p in cohort["patient_id"] if p not in set(delta["patient_id"]) and p not in set(failures["patient_id"])]
    extra = [{"patient_id": p, "stage": "delta", "error": "no baseline and early features for reader 1"} for p in missing]
    if extra:
        failures = pd.concat([failures, pd.DataFrame(extra)], ignore_index=True)
    return delta, info, failures


def write_fit(result: FitResult, out_dir: Path) -> None:
    atomic.write_csv(out_dir / "split.csv", result.split)
    atomic.write_csv(out_dir / "predictions.csv", result.predictions)
    atomic.write_csv(out_dir / "selection.csv", result.selection)
    atomic.write_csv(out_dir / "selected_features.csv", result.selected)
    atomic.write_json(out_dir / "model.json", result.model)


def run_study(study: Study, out_dir: Path) -> tuple[FitResult, pd.DataFrame]:
    """Fit and evaluate the study; returns the fit and the failures (also written to failures.csv)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort = load_cohort(study)
    features, failures = load_features(study, cohort, out_dir)
    delta, info, failures = delta_features(features, cohort, failures, "features")
    atomic.write_csv(out_dir / "delta_features.csv", delta)
    result = fit_study(study, cohort, delta, info)
    write_fit(result, out_dir)
    atomic.write_csv(out_dir / "failures.csv", failures.reindex(columns=FAILURE_COLUMNS))
    write_cohort_flow(study, cohort, result, failures, out_dir)
    write_tables(study, cohort, result, out_dir / "tables")
    return result, failures


def write_tables(study: Study, cohort: pd.DataFrame, result: FitResult, tables_dir: Path) -> None:
    """Tables 1-3 as the study reports them (CSV, plus journal-formatted XLSX and HTML beside).

    Table 1: clinical variables and the ultrasound read by outcome within each set. Table 2:
    univariate then multivariate logistic regression on the training set over the combined
    model's candidates. Table 3: every model in both sets, Youden cut-offs from training, DeLong,
    IDI and NRI against the ultrasound model (the study's reference).
    """
    from deltarad.stats.tables import table1, table2, table3, write_table

    p = result.predictions
    data = p[["patient_id", "set"]].merge(cohort, on="patient_id")
    variables = [*study.clinical, study.ultrasound]
    categorical = [*study.categorical, study.ultrasound]
    write_table(table1(data, study.outcome, by="set", variables=variables, categorical=categorical),
                tables_dir / "table1.csv", "Table 1. Patient characteristics by outcome")
    training = data[data["set"] == "training"].merge(p[["patient_id", *RADSCORE_COLUMNS]], on="patient_id")
    write_table(table2(training, study.outcome, variables=[*variables, *RADSCORE_COLUMNS], categorical=categorical),
                tables_dir / "table2.csv", "Table 2. Logistic regression in the training set")
    write_table(table3(p, study.outcome, ["combined", "radscore_dir", "radscore_dpr"], by="set",
                       fit_set="training", reference="us"),
                tables_dir / "table3.csv", "Table 3. Performance of the models")


def write_cohort_flow(study: Study, cohort: pd.DataFrame, result: FitResult, failures: pd.DataFrame, out_dir: Path) -> None:
    rows = [{"stage": "cohort file", "n": len(cohort), "detail": ""}]
    if len(failures):
        rows.append({"stage": "excluded", "n": failures["patient_id"].nunique(),
                     "detail": "; ".join(sorted(failures["stage"].astype(str).unique()))})
    p = result.predictions
    for s in ("training", "validation"):
        sub = p[p["set"] == s]
        rows.append({"stage": s, "n": len(sub),
                     "detail": f"{int(sub[study.outcome].sum())} pCR / {int((sub[study.outcome] == 0).sum())} non-pCR"})
    atomic.write_csv(out_dir / "cohort_flow.csv", pd.DataFrame(rows))


def predict_study(model_path: Path, study: Study, out_dir: Path) -> pd.DataFrame:
    """Score a cohort with a frozen model; the outcome column is optional."""
    model = FrozenModel.load(model_path)
    cohort = load_cohort(study, require_outcome=False)
    features, failures = load_features(study, cohort, out_dir)
    delta, _, failures = delta_features(features, cohort, failures, "features")
    model.check_delta(delta)
    scorable = cohort[cohort["patient_id"].isin(set(delta["patient_id"]))]
    scores = model.score(scorable, delta)
    keep = ["patient_id"] + ([model.outcome] if model.outcome in cohort.columns else [])
    predictions = cohort[keep].merge(scores, on="patient_id")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_csv(out_dir / "predictions.csv", predictions)
    atomic.write_csv(out_dir / "failures.csv", failures.reindex(columns=FAILURE_COLUMNS))
    return predictions

"""Surface: a frozen model applied to a new cohort, from its images or its feature table: scores
with patient sheets (`deltarad predict`) and external validation (`deltarad validate`, another
hospital).

External validation computes, and writes into DIR (deltarad.outputs): predictions.csv (set = "external"), model.json
(a copy, so DIR reads like a run folder), tables/table3.csv (AUC with DeLong CI; accuracy,
sensitivity, specificity, PPV, NPV at the model's own training-set Youden cut-offs, never
re-chosen on the new cohort; DeLong p, IDI and NRI against the design's comparator, the study's
ultrasound model),
tables/calibration.csv (calibration-in-the-large, slope, Brier per model), tables/roc.csv,
tables/decision_curve.csv, failures.csv, and with `report` report.html.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from deltarad import outputs
from deltarad.config import Study
from deltarad.errors import DeltaradError
from deltarad.modeling.missing import finite
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.parallel import ParallelSettings
from deltarad.report.html import build_report
from deltarad.report.sheets import write_study_sheets
from deltarad.stats.calibration import brier, calibration_slope_intercept
from deltarad.stats.dca import decision_curve
from deltarad.stats.roc import roc_points
from deltarad.stats.tables import table3
from deltarad.study_tables import table3_models
from deltarad.workflow import score_cohort

log = logging.getLogger(__name__)

EXTERNAL = "external"


@dataclass
class ExternalValidation:
    """A frozen model judged on a new cohort."""

    predictions: pd.DataFrame  # patient_id, set ("external"), outcome, each model's score (the design's model_columns)
    failures: pd.DataFrame  # FAILURE_COLUMNS: the patients that could not be scored
    table3: pd.DataFrame  # stats.tables.table3 at the model's own training cut-offs
    calibration: pd.DataFrame  # per model: calibration intercept and slope, Brier score
    roc: pd.DataFrame  # model, threshold, fpr, tpr
    decision_curve: pd.DataFrame  # net benefit per threshold, every model on the same patients
    report: Path | None = None


@dataclass
class StudyPrediction:
    """What `predict_study` computed and wrote."""

    predictions: pd.DataFrame  # patient_id, [outcome], each model's score (the design's model_columns)
    failures: pd.DataFrame  # FAILURE_COLUMNS: the patients that could not be scored
    sheets: list[Path] = field(default_factory=list)  # one A4 HTML sheet per patient, when asked


def predict_study(
    model_path: Path, study: Study, out_dir: Path, parallel: ParallelSettings | None = None, *, sheets: bool = False
) -> StudyPrediction:
    """Score a cohort with a frozen model (the outcome column is optional) and write
    predictions.csv and failures.csv (the patients left out) into out_dir; with `sheets`, also
    one A4 HTML sheet per patient (out_dir/sheets/)."""
    predictions, failures = score_cohort(
        DeltaradModel.from_json(model_path), study, out_dir, require_outcome=False, parallel=parallel
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs.write_predictions(out_dir, predictions)
    outputs.write_failures(out_dir, failures)
    written = []
    if sheets:
        written = write_study_sheets(model_path, study, predictions, out_dir)
    return StudyPrediction(predictions, failures, written)


def external_validation(
    model_path: Path, study: Study, out_dir: Path, parallel: ParallelSettings | None = None, *, report: bool = False
) -> ExternalValidation:
    """Score the study's cohort with the frozen model, evaluate it and write the results into
    out_dir (with `report`, report.html too)."""
    model = DeltaradModel.from_json(model_path)
    predictions, failures = score_cohort(model, study, out_dir, require_outcome=True, parallel=parallel)
    result = evaluate_external(model, predictions, failures, study)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs.write_predictions(out_dir, result.predictions)
    outputs.write_failures(out_dir, result.failures)
    outputs.copy_model(out_dir, model_path)
    outputs.write_external_tables(out_dir, result.table3, result.calibration, result.roc, result.decision_curve)
    if report:
        result.report = build_report(out_dir)
    return result


def evaluate_external(
    model: DeltaradModel, predictions: pd.DataFrame, failures: pd.DataFrame, study: Study
) -> ExternalValidation:
    """Table 3 at the model's training cut-offs, calibration, ROC and decision curve of the
    frozen model's `predictions` on the external cohort."""
    if predictions[study.outcome].nunique() < 2:
        raise DeltaradError("external validation needs scorable patients of both outcomes", file=study.cohort_path)
    predictions = predictions.copy()
    predictions.insert(1, "set", EXTERNAL)
    if study.outcome != model.outcome:
        log.warning("the study's outcome '%s' is not the model's '%s'", study.outcome, model.outcome)

    design = model.design
    models = list(design.model_columns)
    y = predictions[study.outcome].to_numpy(int)
    t3 = table3(
        predictions,
        study.outcome,
        table3_models(design),
        by="set",
        fit_set=EXTERNAL,
        reference=design.comparator,
        thresholds=model.data.get("thresholds", {}),
    )  # the model's training cut-offs, as a frozen model is judged
    calibration = pd.DataFrame([
        {"model": m, **{f"calibration_{k}": v for k, v in calibration_slope_intercept(*finite(y, predictions[m])).items()},
         "brier": brier(*finite(y, predictions[m]))}
        for m in models
    ])  # fmt: skip
    roc = pd.concat([roc_points(*finite(y, predictions[m])).assign(model=m) for m in models], ignore_index=True)
    every = predictions[models].notna().all(axis=1).to_numpy()  # one net-benefit curve per model, same patients
    dca = decision_curve(y[every], {m: predictions.loc[every, m].to_numpy(float) for m in models})
    return ExternalValidation(predictions, failures, t3, calibration, roc[["model", "threshold", "fpr", "tpr"]], dca)

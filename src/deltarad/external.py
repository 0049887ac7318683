"""External validation of a frozen model on a new cohort (another hospital), from its images or
its feature table (`deltarad validate`).

Writes into DIR: predictions.csv (set = "external"), model.json (a copy, so DIR reads like a run
folder), tables/table3.csv (AUC with DeLong CI; accuracy, sensitivity, specificity, PPV, NPV at
the model's own training-set Youden cut-offs, never re-chosen on the new cohort; DeLong p, IDI and
NRI against the ultrasound model), tables/calibration.csv (calibration-in-the-large, slope, Brier
per model), tables/roc.csv, tables/decision_curve.csv, failures.csv and report.html.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd

from deltarad import atomic
from deltarad.config import Study
from deltarad.errors import DeltaradError
from deltarad.modeling.missing import finite
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.modeling.names import MODEL_COLUMNS, MODEL_LABELS, REFERENCE_MODEL
from deltarad.parallel import ParallelSettings
from deltarad.stats.calibration import brier, calibration_slope_intercept
from deltarad.stats.dca import decision_curve
from deltarad.stats.metrics import confusion_metrics
from deltarad.stats.roc import roc_points
from deltarad.stats.tables import table3
from deltarad.workflow import score_cohort

log = logging.getLogger(__name__)

EXTERNAL = "external"
TABLE3_MODELS = [m for m in MODEL_LABELS if m != REFERENCE_MODEL]  # combined, DIR, DPR: each against ultrasound


def external_validation(model_path: Path, study: Study, out_dir: Path,
                        parallel: ParallelSettings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the study's cohort with the frozen model and write its full evaluation; returns
    (Table 3, failures: the patients that could not be scored, also in failures.csv)."""
    model = DeltaradModel.from_json(model_path)
    predictions, failures = score_cohort(model, study, out_dir, require_outcome=True, parallel=parallel)
    if predictions[study.outcome].nunique() < 2:
        raise DeltaradError("external validation needs scorable patients of both outcomes", file=study.cohort_path)
    predictions.insert(1, "set", EXTERNAL)
    if study.outcome != model.outcome:
        log.warning("the study's outcome '%s' is not the model's '%s'", study.outcome, model.outcome)

    y = predictions[study.outcome].to_numpy(int)
    t3 = table3(predictions, study.outcome, TABLE3_MODELS, by="set", fit_set=EXTERNAL, reference=REFERENCE_MODEL)
    cutoffs = model.data.get("thresholds", {})
    for i, row in t3.iterrows():  # the model's training cut-offs, as a frozen model must be judged
        if row["model"] in cutoffs:
            at_cutoff = confusion_metrics(*finite(y, predictions[row["model"]].to_numpy(float)), cutoffs[row["model"]])
            t3.loc[i, ["threshold", *at_cutoff]] = [cutoffs[row["model"]], *at_cutoff.values()]
    calibration = pd.DataFrame([
        {"model": m, **{f"calibration_{k}": v for k, v in calibration_slope_intercept(*finite(y, predictions[m])).items()},
         "brier": brier(*finite(y, predictions[m]))}
        for m in MODEL_COLUMNS
    ])  # fmt: skip
    roc = pd.concat([roc_points(*finite(y, predictions[m])).assign(model=m) for m in MODEL_COLUMNS], ignore_index=True)
    every = predictions[MODEL_COLUMNS].notna().all(axis=1).to_numpy()  # one net-benefit curve per model, same patients
    dca = decision_curve(y[every], {m: predictions.loc[every, m].to_numpy(float) for m in MODEL_COLUMNS})

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = out_dir / "tables"
    atomic.write_csv(out_dir / "predictions.csv", predictions)
    atomic.write_csv(out_dir / "failures.csv", failures)
    with atomic.atomic_path(out_dir / "model.json") as tmp:
        shutil.copyfile(model_path, tmp)
    atomic.write_csv(tables / "table3.csv", t3)
    atomic.write_csv(tables / "calibration.csv", calibration)
    atomic.write_csv(tables / "roc.csv", roc[["model", "threshold", "fpr", "tpr"]])
    atomic.write_csv(tables / "decision_curve.csv", dca)
    return t3, failures

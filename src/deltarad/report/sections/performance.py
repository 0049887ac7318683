"""How well the models perform, drawn per set: ROC curves, decision curves, calibration curves (with
the calibration measures of `deltarad validate`) and confusion matrices at the Youden cut-off."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from deltarad import runfolder
from deltarad.formatting import format_value
from deltarad.report import figures
from deltarad.report.page import Builder, Section
from deltarad.report.run import RunFolder, Unavailable
from deltarad.stats.calibration import calibration_curve, smoothed_calibration
from deltarad.stats.dca import decision_curve
from deltarad.stats.roc import roc_points

MIN_DISTINCT_FOR_SMOOTHING = 10


def scored_by_set(run: RunFolder) -> Iterator[tuple[str, pd.DataFrame]]:
    """(set, its patients that every model scored), for each set with both outcomes."""
    pred = run.predictions.dropna(subset=list(run.models))
    for s in run.sets():
        part = pred[pred["set"] == s]
        if part[run.outcome].nunique() < 2:
            raise Unavailable(f"the {s} set has patients of one outcome only")
        yield s, part


def roc(b: Builder, sec: Section) -> None:
    run = b.run
    try:
        t3 = run.table3
    except Unavailable:
        t3 = None
    curves: dict = {}
    labels: dict[str, dict[str, str]] = {}
    for s, part in scored_by_set(run):
        y = part[run.outcome].to_numpy()
        curves[s] = {m: roc_points(y, part[m].to_numpy(dtype=float)) for m in run.models}
        labels[s] = {}
        for m, name in run.models.items():
            row = None if t3 is None else t3[(t3["set"].astype(str) == s) & (t3["model"] == m)]
            if row is not None and len(row):
                r = row.iloc[0]
                name = (
                    f"{name}: AUC {format_value(r['auc'])} "
                    f"({format_value(r.get('auc_ci_low'))}–{format_value(r.get('auc_ci_high'))})"
                )
            labels[s][m] = name
    sec.items.append(
        b.figure(
            "roc",
            figures.roc_curves(curves, labels),
            "ROC curves",
            "Receiver operating characteristic curves of the four models in each set; the "
            "legend gives the AUC with its DeLong 95% confidence interval (Table 3).",
        )
    )


def decision_curves(b: Builder, sec: Section) -> None:
    run = b.run
    curves = {
        s: decision_curve(part[run.outcome].to_numpy(), {m: part[m].to_numpy(dtype=float) for m in run.models})
        for s, part in scored_by_set(run)
    }
    sec.items.append(
        b.figure(
            "decision_curves",
            figures.decision_curves(curves, run.models),
            "Decision curves",
            "Net benefit of deciding by each model across threshold probabilities, against "
            "treating all patients as pCR or none.",
        )
    )


def calibration(b: Builder, sec: Section) -> None:
    run = b.run
    binned, smooth = {}, {}
    for s, part in scored_by_set(run):
        y = part[run.outcome].to_numpy()
        binned[s] = {m: calibration_curve(y, part[m].to_numpy(dtype=float), n_bins=10) for m in run.models}
        # A smoother through a handful of distinct predictions (the ultrasound model has two) draws
        # a line the model cannot produce; those models are shown by their points only.
        smooth[s] = {
            m: smoothed_calibration(y, part[m].to_numpy(dtype=float))
            for m in run.models
            if part[m].nunique() >= MIN_DISTINCT_FOR_SMOOTHING
        }
    sec.items.append(
        b.figure(
            "calibration",
            figures.calibration_curves(binned, smooth, run.models),
            "Calibration curves",
            "Observed proportion of pCR against predicted probability: points are deciles of "
            "predicted risk, lines the smoothed calibration curve; the dashed diagonal is "
            "perfect calibration. Models with fewer than "
            f"{MIN_DISTINCT_FOR_SMOOTHING} distinct predictions (e.g. the ultrasound model: one "
            "per read) are shown by their points only.",
        )
    )
    try:  # `deltarad validate` writes these measures; a run reports them in its internal validation
        summary = run.csv(runfolder.CALIBRATION, required=("model", "calibration_intercept", "calibration_slope"))
        summary = run.known_models(summary, runfolder.CALIBRATION)
    except Unavailable:
        return
    order = list(run.model_labels)
    summary = summary.sort_values("model", key=lambda m: m.map(order.index), kind="stable")
    shown = pd.DataFrame(
        {
            "Model": [run.model_labels[m] for m in summary["model"]],
            "Calibration-in-the-large (intercept)": [format_value(v) for v in summary["calibration_intercept"]],
            "Calibration slope": [format_value(v) for v in summary["calibration_slope"]],
            "Brier score": [format_value(v) for v in summary["brier"]] if "brier" in summary else "",
        }
    )
    sec.items.append(
        b.table(
            shown,
            "Calibration measures",
            "Logistic recalibration of each model's predictions: intercept with the slope fixed "
            "at 1 (calibration-in-the-large; 0 is ideal, above 0 the model under-predicts) and "
            "slope (1 is ideal, below 1 predictions too extreme); Brier score (mean squared error "
            "of the predicted probability).",
            source=summary,
            name="calibration",
        )
    )


def confusion(b: Builder, sec: Section) -> None:
    run = b.run
    t3 = run.table3
    missing = [c for c in ("tp", "fp", "tn", "fn") if c not in t3.columns]
    if missing:
        raise Unavailable(f"{runfolder.TABLE3} lacks column(s) {', '.join(missing)}")
    cells = t3.assign(threshold=[run.thresholds().get(m, float("nan")) for m in t3["model"]], set=t3["set"].astype(str))
    sets = [s for s in run.sets() if s in set(cells["set"])]
    sec.items.append(
        b.figure(
            "confusion_matrices",
            figures.confusion_matrices(cells, sets, run.models),
            "Confusion matrices",
            "Observed against predicted outcome for each model and set at the training-set "
            "Youden cut-off; counts with the share of each observed class.",
        )
    )

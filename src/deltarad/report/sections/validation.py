"""Internal validation: the optimism-corrected performance of the whole modelling procedure
(tables/validation.csv), and the refits that failed (tables/validation_failures.csv)."""

from __future__ import annotations

import pandas as pd

from deltarad import runfolder
from deltarad.report.page import Builder, Section
from deltarad.report.run import RunFolder, Unavailable
from deltarad.report.tables import validation_display


def internal_validation(b: Builder, sec: Section) -> None:
    if not (b.run.path / runfolder.VALIDATION).is_file():
        raise Unavailable("internal validation not run (set validation.bootstrap in the study file)")
    v = b.run.csv(runfolder.VALIDATION, required=("model", "metric", "apparent", "optimism", "corrected"))
    v = b.run.known_models(v, runfolder.VALIDATION)
    n_boot, n_cv = b.run.resamples()
    boot = (
        f"Harrell's optimism bootstrap with {n_boot} resamples of the training set"
        if n_boot
        else "The optimism bootstrap was not run"
    )
    cv = (
        f"mean ± SD over {n_cv} held-out folds of repeated stratified cross-validation"
        if n_cv
        else "cross-validation was not run"
    )
    sec.intro = (
        "A model whose features were chosen from hundreds on a hundred-odd patients looks better on those "
        "patients than it will on new ones. This section estimates by how much, refitting the whole "
        "procedure, selection included, in every resample."
    )
    sec.items.append(
        b.table(
            validation_display(v, b.run.model_labels),
            "Internal validation of the whole modelling procedure",
            f"{boot}: in every resample the whole procedure (ICC, t-test, correlation pruning, LASSO, radscores, "
            "reference and stepwise combined models) is refitted on the resample; its performance there minus its "
            "performance on the original training set, averaged over resamples, is the optimism, and optimism-corrected "
            "= apparent (the final model on its own training set) − optimism. Validation set: the final model on the "
            f"single random split's held-out patients. Cross-validation: {cv}, the procedure refitted on the rest. "
            "Ideal values: AUC 1, calibration slope 1 (below 1: predictions too extreme), Brier score 0."
            + failed_refits(b.run, v),
            source=v,
            name="validation",
        )
    )


def failed_refits(run: RunFolder, v: pd.DataFrame) -> str:
    """' k bootstrap and j cross-validation refits failed ...' from validation.csv's counts and
    validation_failures.csv's first reason; '' when none failed or the run does not say."""
    counts = {
        col: pd.to_numeric(v.get(col, pd.Series(dtype=float)), errors="coerce").max()
        for col in ("bootstrap_failed", "cv_failed")
    }
    parts = [
        f"{int(n)} {what}"
        for what, n in zip(("bootstrap", "cross-validation"), counts.values())
        if pd.notna(n) and n > 0
    ]
    if not parts:
        return ""
    try:
        first = run.csv(runfolder.VALIDATION_FAILURES, required=("resampling", "number", "error")).iloc[0]
        reason = f" (first: {first['resampling']} {first['number']}, {first['error']})"
    except (Unavailable, IndexError):
        reason = ""
    return (
        f" Failed refits, left out of the means above: {' and '.join(parts)}{reason}; every one is listed "
        "in tables/validation_failures.csv."
    )

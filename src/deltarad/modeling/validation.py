"""Internal validation of the whole modelling procedure on the training set: Harrell's optimism
bootstrap and repeated stratified k-fold cross-validation, with selection frequencies.

"Whole procedure" means everything `fit_model` fits (ComBat, ICC, z-score, t-test, correlation
pruning, LASSO, radscores, reference models, stepwise-AIC combined model) is refitted in every
resample, so the optimism of feature selection is counted too (Harrell, Lee & Mark, Stat Med
1996;15:361; Steyerberg, Clinical Prediction Models, 2nd ed., ch. 17).

Optimism bootstrap, per resample b: draw n training patients with replacement, fit the procedure
on the draw, measure it on the draw (apparent_b) and on the original training set (test_b);
optimism = mean(apparent_b - test_b); corrected = apparent - optimism, where apparent is the
final model's performance on the training set it was fitted on.

Inside a resample a patient drawn k times is k rows; the LASSO's inner cross-validation keeps
them in one fold (grouped by the original patient), or its held-out folds would hold copies of
training rows, pick a smaller penalty and overstate optimism and selection frequencies.
A refit that fails is left out and counted per resampling (bootstrap_failed, cv_failed), with
its reason in `ValidationResult.failures` (tables/validation_failures.csv, written by deltarad.outputs).

Each resample and each fold has its own fixed seed (derived from `seed` and its number), so the
results do not depend on how many processes run them.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import RepeatedStratifiedKFold

from deltarad.config import Study
from deltarad.errors import DeltaradError
from deltarad.modeling.missing import finite
from deltarad.modeling.modelfile import DeltaradModel
from deltarad.modeling.pipeline import FitResult, fit_model
from deltarad.stats.calibration import brier, calibration_slope
from deltarad.stats.roc import auc

log = logging.getLogger(__name__)

METRICS = ("auc", "calibration_slope", "brier")
TABLE_COLUMNS = [
    "model",
    "metric",
    "apparent",
    "optimism",
    "corrected",
    "bootstrap_n",
    "cv_mean",
    "cv_sd",
    "cv_n",
    "split_validation",
    "bootstrap_failed",
    "cv_failed",
]
REFIT_FAILURE_COLUMNS = ["resampling", "number", "error"]
FREQUENCY_COLUMNS = ["region", "feature", "bootstrap_frequency", "cv_frequency", "in_final_model"]


def performance(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, calibration slope and Brier score of predicted probabilities `p` for outcomes `y`.

    A constant prediction (an intercept-only radscore) has AUC 0.5 and no calibration slope (NaN).
    """
    y = np.asarray(y, int)
    p = np.asarray(p, float)
    constant = np.ptp(p) == 0
    slope = np.nan if constant else calibration_slope(y, p)
    return {"auc": 0.5 if constant else auc(y, p), "calibration_slope": slope, "brier": brier(y, p)}


def _model_performance(model: dict, cohort: pd.DataFrame, delta: pd.DataFrame, outcome: str) -> dict:
    frozen = DeltaradModel(model)
    scores = frozen.predict_proba(delta, cohort)
    y = cohort[outcome].to_numpy(int)
    return {
        m: performance(*finite(y, scores[m].to_numpy()))  # NaN: a blank (complete case)
        for m in frozen.design.model_columns
    }


def _selected(model: dict) -> dict[str, list[str]]:
    return {part["region"]: list(part["features"]) for part in model["radscores"].values()}


@contextmanager
def _quiet():
    """Silence the per-fit log lines, warnings and numerical warnings of hundreds of refits."""
    logger = logging.getLogger("deltarad")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def bootstrap_sample(cohort: pd.DataFrame, delta: pd.DataFrame, draw: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort rows `draw` (positions, with repeats) and their delta rows (every region and
    reader), each copy renamed `<patient_id>#<k>` so a patient drawn twice is two patients."""
    ids = cohort["patient_id"].to_numpy()[draw]
    new_ids = [f"{pid}#{k}" for k, pid in enumerate(ids)]
    cohort_b = cohort.iloc[draw].reset_index(drop=True).assign(patient_id=new_ids)
    rows = delta.groupby("patient_id", sort=False).indices
    parts = [rows.get(pid, np.array([], int)) for pid in ids]
    delta_b = delta.iloc[np.concatenate(parts)].reset_index(drop=True)
    delta_b["patient_id"] = np.repeat(new_ids, [len(r) for r in parts])
    return cohort_b, delta_b


def _draw(y: np.ndarray, seed: int, b: int) -> np.ndarray:
    """Resample b: n positions with replacement, redrawn (deterministically) until both outcomes occur."""
    rng = np.random.default_rng([seed, b])
    while True:
        draw = rng.integers(0, len(y), len(y))
        if len(np.unique(y[draw])) == 2:
            return draw


def _differences(apparent: list[dict], test: list[dict], metric: str) -> np.ndarray:
    """apparent_b - test_b of `metric` over the resamples where both are finite."""
    diffs = np.array([a[metric] - t[metric] for a, t in zip(apparent, test)], dtype=float)
    return diffs[np.isfinite(diffs)]


def bootstrap_optimism(
    fit: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]], y, *, bootstrap: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Harrell's optimism bootstrap of one fitting procedure, with its Monte Carlo error.

    `fit(rows)` fits the procedure on the training rows `rows` (positions into `y`, with repeats)
    and returns a function giving the predicted probabilities of any rows. The resamples, metrics
    and arithmetic are `validate_procedure`'s (there `fit` is the whole of `fit_model`): apparent
    = performance of fit(all rows) on all rows; per resample b, optimism_b = performance on the
    draw - performance on all rows. One row per metric: apparent, optimism (the mean of
    optimism_b), corrected, optimism_sd (their SD: the estimate's Monte Carlo SE is
    optimism_sd / sqrt(bootstrap_n)) and bootstrap_n.
    """
    y = np.asarray(y, int)
    everyone = np.arange(len(y))
    apparent = performance(y, fit(everyone)(everyone))
    on_draw, on_all = [], []
    for b in range(bootstrap):
        draw = _draw(y, seed, b)
        predict = fit(draw)
        on_draw.append(performance(y[draw], predict(draw)))
        on_all.append(performance(y, predict(everyone)))
    rows = []
    for metric in METRICS:
        diffs = _differences(on_draw, on_all, metric)
        optimism = float(np.mean(diffs)) if diffs.size else np.nan
        rows.append(
            {
                "metric": metric,
                "apparent": apparent[metric],
                "optimism": optimism,
                "corrected": apparent[metric] - optimism,
                "optimism_sd": float(np.std(diffs, ddof=1)) if diffs.size > 1 else np.nan,
                "bootstrap_n": diffs.size,
            }
        )
    return pd.DataFrame(rows)


def _bootstrap_one(
    b: int, seed: int, study: Study, cohort: pd.DataFrame, delta: pd.DataFrame, info: dict, grouped_folds: bool = True
) -> dict:
    with _quiet():
        draw = _draw(cohort[study.outcome].to_numpy(int), seed, b)
        cohort_b, delta_b = bootstrap_sample(cohort, delta, draw)
        ids_b = list(cohort_b["patient_id"])
        groups = dict(zip(ids_b, cohort["patient_id"].to_numpy()[draw])) if grouped_folds else None
        try:
            model, _ = fit_model(study, cohort_b, delta_b, info, ids_b, groups=groups)
            apparent = _model_performance(model, cohort_b, delta_b, study.outcome)
            test = _model_performance(model, cohort, delta, study.outcome)
        except (DeltaradError, ValueError, np.linalg.LinAlgError) as exc:
            return {"b": b, "error": str(exc)}
    return {"b": b, "apparent": apparent, "test": test, "selected": _selected(model)}


def _cv_one(
    fold: int, train: np.ndarray, test: np.ndarray, study: Study, cohort: pd.DataFrame, delta: pd.DataFrame, info: dict
) -> dict:
    with _quiet():
        ids = list(cohort["patient_id"].iloc[train])
        try:
            model, _ = fit_model(study, cohort, delta, info, ids)
            held_out = _model_performance(model, cohort.iloc[test], delta, study.outcome)
        except (DeltaradError, ValueError, np.linalg.LinAlgError) as exc:
            return {"fold": fold, "error": str(exc)}
    return {"fold": fold, "test": held_out, "selected": _selected(model)}


@dataclass
class ValidationResult:
    table: pd.DataFrame  # TABLE_COLUMNS: one row per model and metric
    frequency: pd.DataFrame  # FREQUENCY_COLUMNS: how often each feature was selected
    seconds: dict[str, float] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)  # REFIT_FAILURE_COLUMNS per failed refit

    def wide(self) -> pd.DataFrame:
        """One row per model, columns `<metric>_<apparent|optimism|corrected|cv_mean>`: the extra
        columns for Table 3."""
        t = self.table.set_index(["model", "metric"])[["apparent", "optimism", "corrected", "cv_mean"]]
        wide = t.unstack("metric")
        wide.columns = [f"{metric}_{kind}" for kind, metric in wide.columns]
        return wide.reset_index()

    def failure_table(self) -> pd.DataFrame:
        """The failed refits, one row each (REFIT_FAILURE_COLUMNS)."""
        return pd.DataFrame(self.failures, columns=REFIT_FAILURE_COLUMNS)


def _frequency(fits: list[dict]) -> pd.Series:
    """(region, feature) -> share of the fits that selected it."""
    counts: dict[tuple[str, str], int] = {}
    for fit in fits:
        for region, feats in fit["selected"].items():
            for f in feats:
                counts[(region, f)] = counts.get((region, f), 0) + 1
    n = max(len(fits), 1)
    return pd.Series({k: v / n for k, v in counts.items()}, dtype=float)


def validate_procedure(
    study: Study,
    cohort: pd.DataFrame,
    delta: pd.DataFrame,
    delta_info: dict,
    model: dict,
    train_ids: list[str],
    holdout_ids: list[str] | None = None,
    *,
    bootstrap: int = 200,
    cv_folds: int = 5,
    cv_repeats: int = 0,
    seed: int = 0,
    workers: int | None = None,
    grouped_folds: bool = True,
) -> ValidationResult:
    """Optimism bootstrap (`bootstrap` resamples, 0 = skip) and `cv_repeats` x `cv_folds`
    stratified cross-validation (0 repeats = skip) of the whole procedure on `train_ids`.

    `model` is the final model fitted on `train_ids` (its training performance is the apparent
    one); `holdout_ids` (the single split's validation set) fill the split_validation column.
    `workers` processes run the refits (None = every CPU core). `grouped_folds=False` lets the
    LASSO's inner folds split a bootstrap patient's copies (the leaky reference, for comparison).
    """
    train = cohort.set_index("patient_id").loc[train_ids].reset_index()
    train_delta = delta[delta["patient_id"].isin(set(train_ids))].reset_index(drop=True)
    outcome = study.outcome
    apparent = _model_performance(model, train, delta, outcome)
    holdout = None
    if holdout_ids:
        held = cohort.set_index("patient_id").loc[holdout_ids].reset_index()
        holdout = _model_performance(model, held, delta, outcome)
    # max_nbytes=None: no memory-mapped copies of the tables, whose clean-up makes loky's resource
    # tracker print KeyError tracebacks at exit (joblib/joblib#1243)
    pool = Parallel(n_jobs=workers or -1, max_nbytes=None)
    seconds, failures = {}, []

    started = time.perf_counter()
    boot = pool(
        delayed(_bootstrap_one)(b, seed, study, train, train_delta, delta_info, grouped_folds) for b in range(bootstrap)
    )
    seconds["bootstrap"] = time.perf_counter() - started
    failures += [{"resampling": "bootstrap", "number": r["b"], "error": r["error"]} for r in boot if "error" in r]
    boot = [r for r in boot if "error" not in r]

    started = time.perf_counter()
    folds = []
    if cv_repeats:
        y = train[outcome].to_numpy(int)
        splitter = RepeatedStratifiedKFold(n_splits=cv_folds, n_repeats=cv_repeats, random_state=seed)
        folds = pool(
            delayed(_cv_one)(k, tr, te, study, train, train_delta, delta_info)
            for k, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y))
        )
    seconds["cross_validation"] = time.perf_counter() - started
    failures += [{"resampling": "cv fold", "number": r["fold"], "error": r["error"]} for r in folds if "error" in r]
    folds = [r for r in folds if "error" not in r]
    for f in failures:
        log.warning(
            "internal validation: refit failed and is left out (%s %d: %s)", f["resampling"], f["number"], f["error"]
        )
    n_failed = {kind: sum(f["resampling"] == kind for f in failures) for kind in ("bootstrap", "cv fold")}

    rows = []
    for m in DeltaradModel(model).design.model_columns:
        for metric in METRICS:
            diffs = _differences([r["apparent"][m] for r in boot], [r["test"][m] for r in boot], metric)
            optimism = float(np.mean(diffs)) if diffs.size else np.nan
            cv = [r["test"][m][metric] for r in folds if np.isfinite(r["test"][m][metric])]
            rows.append({
                "model": m, "metric": metric, "apparent": apparent[m][metric], "optimism": optimism,
                "corrected": apparent[m][metric] - optimism, "bootstrap_n": diffs.size,
                "cv_mean": float(np.mean(cv)) if cv else np.nan,
                "cv_sd": float(np.std(cv, ddof=1)) if len(cv) > 1 else np.nan, "cv_n": len(cv),
                "split_validation": holdout[m][metric] if holdout else np.nan,
                "bootstrap_failed": n_failed["bootstrap"], "cv_failed": n_failed["cv fold"],
            })  # fmt: skip

    final = _selected(model)
    freq_boot, freq_cv = _frequency(boot), _frequency(folds)
    keys = sorted(set(freq_boot.index) | set(freq_cv.index) | {(r, f) for r, fs in final.items() for f in fs})
    frequency = pd.DataFrame(
        [{"region": r, "feature": f,
          "bootstrap_frequency": freq_boot.get((r, f), 0.0) if boot else np.nan,
          "cv_frequency": freq_cv.get((r, f), 0.0) if folds else np.nan,
          "in_final_model": f in final.get(r, [])} for r, f in keys],
        columns=FREQUENCY_COLUMNS,
    )  # fmt: skip
    frequency = frequency.sort_values(
        ["region", "bootstrap_frequency", "cv_frequency", "feature"],
        ascending=[True, False, False, True],
        kind="stable",
    ).reset_index(drop=True)
    return ValidationResult(pd.DataFrame(rows, columns=TABLE_COLUMNS), frequency, seconds, failures)


def internal_validation(
    study: Study, cohort: pd.DataFrame, delta: pd.DataFrame, delta_info: dict, result: FitResult
) -> ValidationResult | None:
    """Run the study file's `validation` settings on a finished fit (the final model and its
    training/validation split); None when switched off."""
    settings = study.validation
    if not settings.bootstrap and not settings.cv_repeats:
        return None
    sets = result.split.set_index("patient_id")["set"]
    log.info(
        "internal validation: %d bootstrap resamples, %d x %d-fold cross-validation of the whole procedure",
        settings.bootstrap,
        settings.cv_repeats,
        settings.cv_folds,
    )
    outcome = validate_procedure(
        study, cohort, delta, delta_info, result.model,
        list(sets.index[sets == "training"]), list(sets.index[sets == "validation"]),
        bootstrap=settings.bootstrap, cv_folds=settings.cv_folds, cv_repeats=settings.cv_repeats,
        seed=settings.seed, workers=settings.workers,
    )  # fmt: skip
    for step, seconds in outcome.seconds.items():
        log.info("internal validation: %s took %.1f s", step, seconds)
    return outcome

"""Seconds per refit of the internal validation, reference path vs fast path, side by side.

Three paths: reference (LogisticRegression.fit on the LASSO path, statsmodels for every fit),
before (the direct _fit_liblinear call that main had before this work, statsmodels) and fast
(liblinear's C wrapper, numpy IRLS, slope-only calibration fit). They give the same numbers.

The study's size: 187 generated patients (130 in training) x 851 features per region. Refits
(optimism-bootstrap resamples) alternate between the three paths in one run, so a shared,
loaded machine slows both alike; CPU seconds per refit are the figure to compare
(run with OMP_NUM_THREADS=1: each joblib worker runs its BLAS on one thread). The
projected 2-core wall time is (200 bootstrap + 10 CV refits) x CPU seconds / 2.

    python benchmarks/validation_speed.py [--refits 4] [--folder benchmarks/results/validation_speed]
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import deltarad.modeling.validation as validation
import deltarad.stats.logit as logit
from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.modeling.selection import LassoSelector
from deltarad.modeling.split import study_split
from deltarad.simulate import generate_feature_study
from deltarad.stats.calibration import calibration_slope_intercept
from deltarad.workflow import delta_features, load_features

HERE = Path(__file__).resolve().parent
DEFAULT_REFITS = 200 + 10  # bootstrap resamples + 5 x 2 cross-validation folds


@contextmanager
def slower_path(direct: bool):
    """The refit with statsmodels for every logistic fit and calibration slope, and on the LASSO
    path LogisticRegression.fit (direct False: the reference) or _fit_liblinear (direct True: the
    path before the raw C calls, IRLS and slope-only fit)."""
    saved = LassoSelector.direct, LassoSelector.raw, logit.FAST_IRLS, validation.calibration_slope
    LassoSelector.direct, LassoSelector.raw, logit.FAST_IRLS = direct, False, False
    validation.calibration_slope = lambda y, p: calibration_slope_intercept(y, p)["slope"]
    try:
        yield
    finally:
        LassoSelector.direct, LassoSelector.raw, logit.FAST_IRLS, validation.calibration_slope = saved


PATHS = {"reference": lambda: slower_path(False), "before": lambda: slower_path(True), "fast": lambda: _nothing()}


def prepared(folder: Path):
    if not (folder / "study.yaml").is_file():
        generate_feature_study(folder, n_patients=187, n_features=851)
    study = load_study(folder / "study.yaml")
    cohort, failures = load_cohort_cases(study)
    features, _ = load_features(study, cohort, folder)
    delta, info, _ = delta_features(features, cohort, failures)
    split = study_split(cohort["patient_id"], study.split.validation_fraction, study.split.seed)
    train = list(split.loc[split["set"] == "training", "patient_id"])
    cohort_t = cohort.set_index("patient_id").loc[train].reset_index()
    delta_t = delta[delta["patient_id"].isin(set(train))].reset_index(drop=True)
    return study, cohort_t, delta_t, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refits", type=int, default=4, help="bootstrap refits per path")
    parser.add_argument("--folder", type=Path, default=HERE / "results" / "validation_speed")
    args = parser.parse_args()
    study, cohort, delta, info = prepared(args.folder)
    n_features = {r: i["n_kept"] for r, i in info["regions"].items()}
    print(f"{len(cohort)} training patients, delta features kept per region: {n_features}")
    validation._bootstrap_one(0, 0, study, cohort, delta, info)  # imports and caches warm
    cpu, wall, results = ({path: [] for path in PATHS} for _ in range(3))
    for b in range(1, args.refits + 1):
        for path, context in PATHS.items():
            with context():
                c, w = time.process_time(), time.perf_counter()
                results[path].append(validation._bootstrap_one(b, 0, study, cohort, delta, info))
                cpu[path].append(time.process_time() - c)
                wall[path].append(time.perf_counter() - w)
    same = all(r["selected"] == f["selected"] for r, f in zip(results["reference"], results["fast"]))
    same = same and all("error" not in r for r in results["fast"])
    gap = max(
        abs(r[k][m][s] - f[k][m][s])
        for r, f in zip(results["reference"], results["fast"])
        for k in ("apparent", "test")
        for m in r[k]
        for s in r[k][m]
        if np.isfinite(r[k][m][s]) or np.isfinite(f[k][m][s])
    )
    print(f"{'path':<10} {'cpu s/refit':>12} {'wall s/refit':>13} {'projected 2-core wall s':>24}")
    for path in PATHS:
        per = float(np.mean(cpu[path]))
        print(f"{path:<10} {per:>12.3f} {np.mean(wall[path]):>13.3f} {DEFAULT_REFITS * per / 2:>24.1f}")
    print(
        f"speed-up (cpu): {np.mean(cpu['reference']) / np.mean(cpu['fast']):.2f}x over the reference, "
        f"{np.mean(cpu['before']) / np.mean(cpu['fast']):.2f}x over the path before; "
        f"same selections: {same}; largest metric difference: {gap:.1e}"
    )


@contextmanager
def _nothing():
    yield


if __name__ == "__main__":
    main()

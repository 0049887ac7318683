"""Figures for internal and external validation on generated feature tables (run on demand):
optimism-corrected AUC on a noise and a strong-signal cohort, and external validation on the
second centre of a two-centre cohort with a centre effect, with and without ComBat; seconds per step.

    .venv/bin/python benchmarks/validation_figures.py OUT_DIR [BOOTSTRAP] [CV_REPEATS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from deltarad.cohort import load_cohort_cases
from deltarad.config import load_study
from deltarad.external import external_validation
from deltarad.modeling.pipeline import fit_model
from deltarad.modeling.split import study_split
from deltarad.modeling.validation import validate_procedure
from deltarad.simulate import generate_feature_study
from deltarad.workflow import delta_features, load_features, run_study


def prepared(study_file: Path):
    study = load_study(study_file)
    cohort, failures = load_cohort_cases(study)
    features, _ = load_features(study, cohort, study_file.parent)
    delta, info, _ = delta_features(features, cohort, failures)
    return study, cohort, delta, info


def internal(out: Path, name: str, bootstrap: int, cv_repeats: int, **kw) -> None:
    study, cohort, delta, info = prepared(generate_feature_study(out / name, n_features=100, **kw))
    split = study_split(cohort["patient_id"], study.split.validation_fraction, study.split.seed)
    train = list(split.loc[split["set"] == "training", "patient_id"])
    held = list(split.loc[split["set"] == "validation", "patient_id"])
    started = time.perf_counter()
    model, _ = fit_model(study, cohort, delta, info, train)
    fit_s = time.perf_counter() - started
    v = validate_procedure(
        study, cohort, delta, info, model, train, held, bootstrap=bootstrap, cv_repeats=cv_repeats, cv_folds=5
    )
    t = v.table[v.table["metric"] == "auc"]
    print(
        f"\n## {name}: one fit {fit_s:.1f} s; bootstrap {v.seconds['bootstrap']:.1f} s; "
        f"cross-validation {v.seconds['cross_validation']:.1f} s; failed refits {len(v.failures)}"
    )
    print(t.drop(columns="metric").round(3).to_string(index=False))
    print(v.table[v.table["model"] == "combined"].round(3).to_string(index=False))
    print(v.frequency.head(6).round(2).to_string(index=False))


def external(out: Path, centre_effect: float) -> None:
    root = out / "two_centres"
    study_file = generate_feature_study(
        root, n_patients=400, n_features=100, effect=0.6, centres=2, centre_effect=centre_effect
    )
    cohort = pd.read_csv(root / "cohort.csv")
    base = pd.read_csv(root / "features.csv").query("timepoint == 'baseline'")
    zero = set(base.loc[(base.iloc[:, 4:] == 0).any(axis=1), "patient_id"])  # undefined delta
    dev = cohort.iloc[:280]
    ext = cohort.iloc[280:].query("centre == 'centre2'")
    ext = ext[~ext["patient_id"].isin(zero)]
    settings = yaml.safe_load(study_file.read_text())
    dev.to_csv(root / "development.csv", index=False)
    ext.to_csv(root / "external.csv", index=False)
    (root / "external.yaml").write_text(yaml.safe_dump({**settings, "cohort": "external.csv"}))
    print(
        f"\n## two centres (centre effect {centre_effect} SD): development {len(dev)} patients "
        f"({dev['centre'].value_counts().to_dict()}), external {len(ext)} of centre2"
    )
    for label, harmonize in (("ComBat", {"method": "combat"}), ("no harmonisation", {"method": "none"})):
        (root / "development.yaml").write_text(
            yaml.safe_dump({**settings, "cohort": "development.csv", "harmonize": harmonize})
        )
        run_dir = root / f"run_{harmonize['method']}"
        started = time.perf_counter()
        result, _ = run_study(load_study(root / "development.yaml"), run_dir)
        run_s = time.perf_counter() - started
        started = time.perf_counter()
        t3 = external_validation(
            run_dir / "model.json", load_study(root / "external.yaml"), root / f"val_{harmonize['method']}"
        ).table3
        val_s = time.perf_counter() - started
        internal_auc = (
            pd.read_csv(run_dir / "tables" / "table3.csv").query("set == 'validation'").set_index("model")["auc"]
        )
        print(f"{label}: run {run_s:.1f} s, validate {val_s:.1f} s")
        shown = t3[["model", "auc", "auc_ci_low", "auc_ci_high", "sensitivity", "specificity"]].copy()
        shown.insert(1, "split_validation_auc", shown["model"].map(internal_auc))
        calibration = pd.read_csv(root / f"val_{harmonize['method']}" / "tables" / "calibration.csv")
        print(shown.merge(calibration, on="model").round(3).to_string(index=False))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    bootstrap = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    cv_repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    external(out, centre_effect=1.0)
    internal(out, "noise", bootstrap, cv_repeats, n_planted=0, seed=5)
    internal(out, "strong_signal", bootstrap, cv_repeats, n_planted=4, effect=1.0, seed=6)

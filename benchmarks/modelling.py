"""The modelling stage (delta, selection, models, statistics and tables; no report) on
simulated feature tables of ~850 features per region (1,700 delta features)."""

from __future__ import annotations

import time
from pathlib import Path

from deltarad import outputs
from deltarad.cohort import load_cohort_cases, read_table
from deltarad.config import load_study
from deltarad.modeling.pipeline import fit_study
from deltarad.simulate import generate_feature_study
from deltarad.study_tables import study_tables
from deltarad.workflow import delta_features

N_FEATURES = 850


def feature_study(folder: Path, n_patients: int) -> Path:
    """The simulated study (cohort.csv, features.csv, study.yaml), written once and reused."""
    study = folder / "study.yaml"
    if not study.is_file():
        generate_feature_study(folder, n_patients=n_patients, n_features=N_FEATURES)
    return study


def time_modelling(study_path: Path, out_dir: Path) -> dict:
    """Seconds for each step of `deltarad run` on a feature table, reading the CSV apart."""
    study = load_study(study_path)
    t = [time.perf_counter()]
    cohort, failures = load_cohort_cases(study)
    features = read_table(study.features_path, "feature table")
    features["patient_id"] = features["patient_id"].astype(str)
    t.append(time.perf_counter())
    delta, info, failures = delta_features(features, cohort, failures)
    t.append(time.perf_counter())
    result = fit_study(study, cohort, delta, info)
    t.append(time.perf_counter())
    outputs.write_study_tables(out_dir, study_tables(study, cohort, result))
    t.append(time.perf_counter())
    read_s, delta_s, fit_s, tables_s = (b - a for a, b in zip(t, t[1:]))
    return {
        "patients": len(cohort),
        "delta_features": sum(r["n_kept"] for r in info["regions"].values()),
        "read_csv_s": read_s,
        "delta_s": delta_s,
        "fit_s": fit_s,
        "tables_s": tables_s,
        "modelling_s": delta_s + fit_s + tables_s,
    }

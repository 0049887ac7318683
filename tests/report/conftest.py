"""A plausible finished run folder, as `deltarad run` writes it, for building reports from.

Predictions carry real signal (the radscores separate the outcomes about as well as the study's),
and Table 3 is computed from them with the statistics library, so the figures and the table agree.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deltarad.atomic import write_csv, write_json
from deltarad.stats.roc import delong_ci, delong_test, youden_threshold

OUTCOME = "aln_pcr"
STUDY_FUNNEL = {
    "intratumoral": [851, 816, 715, 616, 136, 9],
    "peritumoral": [851, 845, 618, 75, 35, 4],
}
STEPS = ["features", "delta", "icc", "ttest", "correlation", "lasso"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _predictions(rng: np.random.Generator, n: int) -> pd.DataFrame:
    y = (rng.random(n) < 0.54).astype(int)
    sets = np.array(["training"] * n, dtype=object)
    sets[rng.permutation(n)[: round(0.3 * n)]] = "validation"
    # Ultrasound read with about the study's sensitivity (0.48) and specificity (0.77).
    us_read = np.where(y == 1, rng.random(n) < 0.48, rng.random(n) < 0.23).astype(int)
    lin_dir = 1.6 * (y - 0.5) * 2 + rng.normal(0, 1.4, n)
    lin_dpr = 0.9 * (y - 0.5) * 2 + rng.normal(0, 1.4, n)
    train = sets == "training"
    us_prob = np.where(us_read == 1, y[train & (us_read == 1)].mean(), y[train & (us_read == 0)].mean())
    return pd.DataFrame({
        "patient_id": [f"DEMO{i:03d}" for i in range(n)],
        "set": sets,
        OUTCOME: y,
        "radscore_dir": _sigmoid(lin_dir),
        "radscore_dpr": _sigmoid(lin_dpr),
        "us": us_prob,
        "combined": _sigmoid(0.8 * lin_dir + 0.6 * lin_dpr + 1.0 * (us_read - 0.5)),
    })


def _table3(pred: pd.DataFrame) -> pd.DataFrame:
    models = ["combined", "radscore_dir", "radscore_dpr", "us"]
    train = pred[pred["set"] == "training"]
    cut = {m: youden_threshold(train[OUTCOME], train[m]) for m in models}
    rows = []
    for s in ("training", "validation"):
        part = pred[pred["set"] == s]
        y = part[OUTCOME].to_numpy()
        for m in models:
            score = part[m].to_numpy()
            auc, low, high = delong_ci(y, score)
            pos = score >= cut[m]
            tp, fp = int((pos & (y == 1)).sum()), int((pos & (y == 0)).sum())
            tn, fn = int((~pos & (y == 0)).sum()), int((~pos & (y == 1)).sum())
            p = np.nan if m == "us" else delong_test(y, score, part["us"].to_numpy())[1]
            rows.append({
                "set": s, "model": m, "auc": auc, "auc_ci_low": low, "auc_ci_high": high, "threshold": cut[m],
                "accuracy": (tp + tn) / len(y), "sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
                "ppv": tp / max(tp + fp, 1), "npv": tn / max(tn + fn, 1), "tp": tp, "fp": fp, "tn": tn, "fn": fn,
                "delong_p": p, "idi": np.nan if m == "us" else 0.1, "idi_p": np.nan if m == "us" else 0.0004,
                "nri": np.nan if m == "us" else 0.35,
            })
    return pd.DataFrame(rows)


def make_run_folder(path: Path, n: int = 187, seed: int = 0) -> Path:
    """Write every file of a finished run into `path`; return it."""
    rng = np.random.default_rng(seed)
    pred = _predictions(rng, n)
    write_csv(path / "predictions.csv", pred)
    write_csv(path / "split.csv", pred[["patient_id", "set"]])
    write_csv(path / "selection.csv", pd.DataFrame(
        [{"region": r, "step": s, "n_features": k, "note": ""} for r, ks in STUDY_FUNNEL.items()
         for s, k in zip(STEPS, ks)]))
    features = [("intratumoral", f"wavelet-{b}_glcm_Idmn") for b in ("LLH", "LHL", "HLL", "HHH", "LLL")] + \
        [("intratumoral", f"original_{f}") for f in ("firstorder_Skewness", "glszm_ZoneEntropy", "shape_Sphericity",
                                                    "gldm_DependenceVariance")] + \
        [("peritumoral", f"wavelet-HLH_{f}") for f in ("firstorder_Mean", "glrlm_RunEntropy", "ngtdm_Busyness",
                                                      "glcm_ClusterShade")]
    write_csv(path / "selected_features.csv", pd.DataFrame(
        [{"region": r, "feature": f, "coefficient": rng.normal(0, 0.6)} for r, f in features]))
    write_csv(path / "failures.csv", pd.DataFrame(
        [{"patient_id": "DEMO999", "stage": "imaging", "error": "early exam: phase 3 missing"}]))
    flow = [{"stage": "cohort file", "n": n + 1, "detail": ""}, {"stage": "excluded", "n": 1, "detail": "imaging"}]
    for s in ("training", "validation"):
        part = pred[pred["set"] == s]
        flow.append({"stage": s, "n": len(part), "detail": f"{part[OUTCOME].sum()} pCR / {(part[OUTCOME] == 0).sum()} non-pCR"})
    write_csv(path / "cohort_flow.csv", pd.DataFrame(flow))
    write_csv(path / "tables" / "table1.csv", pd.DataFrame([
        {"characteristic": "Age (years)", "level": "", "training_pcr": "49.1 ± 9.8", "training_non_pcr": "50.3 ± 10.2",
         "training_p": 0.512, "validation_pcr": "48.7 ± 9.1", "validation_non_pcr": "51.0 ± 8.9", "validation_p": 0.33},
        {"characteristic": "Molecular subtype", "level": "HER2-positive", "training_pcr": "30 (42.9)",
         "training_non_pcr": "8 (13.3)", "training_p": 0.00021, "validation_pcr": "12 (38.7)",
         "validation_non_pcr": "4 (15.4)", "validation_p": 0.041},
    ]))
    write_csv(path / "tables" / "table2.csv", pd.DataFrame([
        {"variable": "ultrasound", "level": "US-pCR vs US-non-pCR", "uni_beta": 1.14, "uni_se": 0.39, "uni_z": 2.9,
         "uni_p": 0.0037, "uni_or_ci": "3.13 (1.45-6.74)", "multi_beta": 1.02, "multi_se": 0.45, "multi_z": 2.27,
         "multi_p": 0.023, "multi_or_ci": "2.77 (1.15-6.70)"},
        {"variable": "radscore_dir", "level": "", "uni_beta": 5.2, "uni_se": 0.9, "uni_z": 5.8, "uni_p": 7e-9,
         "uni_or_ci": "181 (31-1056)", "multi_beta": 4.4, "multi_se": 1.0, "multi_z": 4.4, "multi_p": 1e-5,
         "multi_or_ci": "81 (11-590)"},
    ]))
    table3 = _table3(pred)
    write_csv(path / "tables" / "table3.csv", table3)
    write_json(path / "model.json", {
        "outcome": OUTCOME,
        "ultrasound": "us_post_nat",
        "settings": {"split": {"validation_fraction": 0.3, "seed": 0},
                     "selection": {"icc_min": 0.8, "ttest_p": 0.05, "ttest": "welch", "corr_max": 0.9,
                                   "lasso_folds": 10, "lasso_rule": "min", "lasso_seed": 0},
                     "imaging": {"phase": 3, "ring_mm": 3.0, "resample_mm": [1.0, 1.0, 1.0]}},
        "combined": {"terms": ["us_post_nat", "radscore_dir", "radscore_dpr"], "intercept": -2.9,
                     "coefficients": {"us_post_nat": 1.0, "radscore_dir": 4.4, "radscore_dpr": 2.1},
                     "aic": 107.2, "path": [{"step": "start", "aic": 112.0}]},
        "thresholds": {m: float(t) for m, t in zip(table3["model"], table3["threshold"])},
        "software": {"deltarad": "0.1.0", "numpy": np.__version__, "pandas": pd.__version__},
    })
    return path


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_folder(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="session")
def report(run_folder: Path) -> Path:
    """The report built once from the fixture run, shared by the tests that only read it."""
    from deltarad.report import build_report

    return build_report(run_folder)

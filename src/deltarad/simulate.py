"""A feature table with planted signal: cohort.csv, features.csv and study.yaml for the modelling
stage alone (for tests, benchmarks and the demo before any image exists).

Each region has `n_features` features. `n_planted` of them per region carry signal: their delta
(relative change) differs between pCR and non-pCR by `effect` standard deviations (Cohen's d), all
others are noise. With k independent planted features the best linear score has a Mahalanobis
distance of effect * sqrt(k), so its AUC is Phi(effect * sqrt(k / 2)) (`expected_auc`).
A few noise features are near-copies of planted ones (|r| > 0.9, for the correlation step), a few
have a zero baseline for some patients (dropped by the delta step), and a few are unreliable
between readers (low ICC).

With `centres` > 1 each patient gets a `centre` (centre1, centre2, ...) and, with
`centre_effect` > 0, every centre shifts each feature's delta by N(0, centre_effect) SDs and
scales its spread by exp(N(0, centre_effect / 2)): a scanner/protocol effect for ComBat to
remove. These draws use their own random stream, so the rest of the table is unchanged.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import norm

from deltarad import atomic
from deltarad.design import BASELINE, EARLY, INTRATUMORAL, PERITUMORAL

CLINICAL = ["age", "ca153", "subtype", "ki67"]
SUBTYPES = ["luminal A", "luminal B", "HER2-positive", "triple negative"]


def expected_auc(effect: float, n_planted: int) -> float:
    return float(norm.cdf(effect * np.sqrt(n_planted / 2)))


def _region_features(rng, y, n_features, n_planted, effect, reader2_rows, centre_rng, centre, centre_effect):
    n = len(y)
    delta_z = rng.standard_normal((n, n_features))
    delta_z[:, :n_planted] += effect * (y[:, None] - 0.5)
    n_copies = min(3, n_planted, n_features - n_planted)
    for j in range(n_copies):  # near-copies of planted features: r about 0.97
        delta_z[:, n_planted + j] = delta_z[:, j] + 0.25 * rng.standard_normal(n)
    if centre_effect > 0:
        n_centres = int(centre.max()) + 1
        shift = centre_rng.normal(0.0, centre_effect, (n_centres, n_features))
        scale = np.exp(centre_rng.normal(0.0, centre_effect / 2, (n_centres, n_features)))
        delta_z = delta_z * scale[centre] + shift[centre]
    baseline = np.exp(rng.normal(3.0, 0.5, (n, n_features)))
    n_zero = min(2, n_features - n_planted - n_copies)
    for j in range(n_zero):  # zero baseline for some patients: these features are dropped
        baseline[rng.choice(n, 2, replace=False), n_features - 1 - j] = 0.0
    early = baseline * (1.0 + 0.1 * delta_z)
    names = [f"original_synthetic_F{j:03d}" for j in range(n_features)]

    reader_sd = np.full(n_features, 0.002)
    reader_sd[n_features - 1 - n_zero - np.arange(min(5, n_features - n_planted - n_copies - n_zero))] = 0.2
    rows = []
    for reader, who in ((1, np.arange(n)), (2, reader2_rows)):
        jitter = 1.0 if reader == 1 else None
        for tp, values in ((BASELINE, baseline), (EARLY, early)):
            v = values[who]
            if reader == 2:
                jitter = 1.0 + reader_sd * rng.standard_normal((len(who), n_features))
                v = v * jitter
            rows.append(pd.DataFrame(v, columns=names).assign(_i=who, timepoint=tp, reader=reader))
    return pd.concat(rows, ignore_index=True)


def generate_feature_study(
    out_dir: str | Path,
    n_patients: int = 187,
    n_features: int = 200,
    n_planted: int = 4,
    effect: float = 1.0,
    seed: int = 0,
    reader2_fraction: float = 0.5,
    internal_validation: bool = False,
    centres: int = 1,
    centre_effect: float = 0.0,
) -> Path:
    """Write cohort.csv, features.csv and study.yaml into out_dir; return the study file."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    n = n_patients
    y = (rng.random(n) < 0.54).astype(int)
    ids = [f"SYN{i + 1:04d}" for i in range(n)]
    subtype_p = np.where(y[:, None] == 1, [0.15, 0.25, 0.35, 0.25], [0.35, 0.35, 0.15, 0.15])
    cohort = pd.DataFrame(
        {
            "patient_id": ids,
            "outcome": y,
            "ultrasound": np.where(y == 1, rng.random(n) < 0.48, rng.random(n) > 0.77).astype(int),
            "age": np.round(rng.normal(49, 9, n)).astype(int),
            "ca153": np.round(rng.lognormal(2.6, 0.5, n), 1),
            "subtype": [SUBTYPES[rng.choice(4, p=p)] for p in subtype_p],
            "ki67": np.where(rng.random(n) < 0.75, "high", "low"),
        }
    )
    reader2_rows = np.sort(rng.choice(n, int(round(reader2_fraction * n)), replace=False))
    centre_rng = np.random.default_rng([seed, 1])
    centre = centre_rng.integers(0, centres, n)
    if centres > 1:
        cohort["centre"] = [f"centre{c + 1}" for c in centre]
    parts = []
    for region in (INTRATUMORAL, PERITUMORAL):
        part = _region_features(rng, y, n_features, n_planted, effect, reader2_rows, centre_rng, centre, centre_effect)
        parts.append(part.assign(region=region))
    feats = pd.concat(parts, ignore_index=True)
    feats.insert(0, "patient_id", [ids[i] for i in feats.pop("_i")])
    keys = ["patient_id", "timepoint", "region", "reader"]
    feats = feats[keys + [c for c in feats.columns if c not in keys]]
    feats = feats.sort_values(keys, kind="stable").reset_index(drop=True)

    atomic.write_csv(out / "cohort.csv", cohort)
    atomic.write_csv(out / "features.csv", feats)
    study: dict[str, object] = {
        "cohort": "cohort.csv",
        "features": "features.csv",
        "outcome": "outcome",
        "ultrasound": "ultrasound",
        "clinical": CLINICAL,
        "categorical": ["subtype", "ki67"],
    }
    if not internal_validation:  # fast runs for tests and benchmarks; the study default is 200 resamples
        study["validation"] = {"bootstrap": 0, "cv_repeats": 0}
    return atomic.write_text(out / "study.yaml", yaml.safe_dump(study, sort_keys=False))

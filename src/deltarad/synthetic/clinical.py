"""Clinical data of one patient: the study's variables (METHOD.md) with plausible distributions.

Molecular subtype drives receptor status, Ki67 and the chance of axillary pCR (higher in
HER2-positive and triple-negative disease, as clinically), about 54 % pCR overall. The
post-therapy ultrasound read calls US-pCR with the study's sensitivity (0.48) and
specificity (0.77). Age, tumour markers, stage, side and baseline diameter are independent of
the outcome, so only subtype, receptors and ultrasound carry clinical signal.
"""

from __future__ import annotations

import numpy as np

# subtype: (share of patients, P(ALN-pCR)); sum of share * P = 0.54
SUBTYPES = {
    "luminal A": (0.17, 0.30),
    "luminal B": (0.38, 0.45),
    "HER2-positive": (0.25, 0.75),
    "triple negative": (0.20, 0.65),
}
# subtype: P(ER+), P(PR+), P(HER2+), P(Ki67 high)
RECEPTORS = {
    "luminal A": (1.0, 0.9, 0.0, 0.0),
    "luminal B": (1.0, 0.7, 0.3, 0.85),
    "HER2-positive": (0.0, 0.0, 1.0, 0.85),
    "triple negative": (0.0, 0.0, 0.0, 0.9),
}
STAGES = {"I": 0.03, "II": 0.42, "III": 0.50, "IV": 0.05}
US_SENSITIVITY = 0.48
US_SPECIFICITY = 0.77

CLINICAL_COLUMNS = [
    "age",
    "cea",
    "ca153",
    "ca125",
    "stage",
    "side",
    "diameter_cm",
    "subtype",
    "er",
    "pr",
    "her2",
    "ki67",
]
CATEGORICAL_COLUMNS = ["stage", "side", "subtype", "er", "pr", "her2", "ki67"]


def draw_clinical(rng: np.random.Generator) -> dict:
    """One patient's row: outcome (ALN-pCR = 1), ultrasound (US-pCR = 1) and CLINICAL_COLUMNS."""
    names = list(SUBTYPES)
    subtype = names[rng.choice(len(names), p=[SUBTYPES[n][0] for n in names])]
    outcome = int(rng.random() < SUBTYPES[subtype][1])
    p_us = US_SENSITIVITY if outcome else 1 - US_SPECIFICITY
    er, pr, her2, ki67 = (rng.random(4) < RECEPTORS[subtype]).tolist()
    return {
        "outcome": outcome,
        "ultrasound": int(rng.random() < p_us),
        "age": int(np.clip(np.rint(rng.normal(50, 10)), 26, 75)),
        "cea": round(float(rng.lognormal(np.log(1.8), 0.6)), 2),  # ng/mL
        "ca153": round(float(rng.lognormal(np.log(12.0), 0.5)), 2),  # U/mL
        "ca125": round(float(rng.lognormal(np.log(11.0), 0.6)), 2),  # U/mL
        "stage": list(STAGES)[rng.choice(len(STAGES), p=list(STAGES.values()))],
        "side": "left" if rng.random() < 0.5 else "right",
        "diameter_cm": round(float(np.clip(rng.lognormal(np.log(3.2), 0.3), 1.0, 5.0)), 1),
        "subtype": subtype,
        "er": _status(er),
        "pr": _status(pr),
        "her2": _status(her2),
        "ki67": "high" if ki67 else "low",
    }


def _status(positive: bool) -> str:
    return "positive" if positive else "negative"

"""Decision curve analysis (Vickers & Elkin, Med Decis Making 2006), laid out as R dcurves::dca.

Net benefit at threshold probability t: tp_rate - t / (1 - t) * fp_rate - harm, where the rates
are shares of all patients. As in dcurves, a prediction of exactly 0 or 1 is nudged by machine
epsilon outward (so 0 is never, and 1 always, called positive), "Treat All" is a prediction of
1 + eps and "Treat None" of 0 - eps, and a patient is called positive when p >= t.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from deltarad.errors import DeltaradError
from deltarad.stats._validate import binary_outcome, probabilities_like

COLUMNS = ["variable", "label", "n", "threshold", "pos_rate", "tp_rate", "fp_rate", "harm", "net_benefit"]
EPS = np.finfo(float).eps


def default_thresholds() -> np.ndarray:
    """0.00, 0.01, ..., 0.99 (dcurves' default, computed as R's seq does)."""
    return np.arange(100) * 0.01


def decision_curve(
    y,
    scores: Mapping[str, np.ndarray],
    thresholds=None,
    labels: Mapping[str, str] | None = None,
    harm: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Net benefit of each predicted probability in `scores`, of treating all and of treating none.

    `scores` maps a variable name to predicted probabilities in [0, 1]; `labels` gives display
    names (default: the variable name) and `harm` a per-variable harm (default 0). Returns one row
    per (variable, threshold) with the columns of dcurves' `as_tibble(dca(...))`.
    """
    y = binary_outcome(y)
    thresholds = default_thresholds() if thresholds is None else np.asarray(thresholds, dtype=float)
    if ((thresholds < 0) | (thresholds >= 1)).any():
        raise DeltaradError("decision-curve thresholds must lie in [0, 1)")
    reserved = {"all", "none"} & set(scores)
    if reserved:
        raise DeltaradError(f"score names {sorted(reserved)} are reserved for Treat All / Treat None")
    labels = {"all": "Treat All", "none": "Treat None", **(labels or {})}
    harm = dict(harm or {})

    risks = {"all": np.full(y.size, 1 + EPS), "none": np.full(y.size, 0 - EPS)}
    for name, p in scores.items():
        p = probabilities_like(p, y, name=f"score {name}").copy()
        p[p == 0] = 0 - EPS
        p[p == 1] = 1 + EPS
        risks[name] = p

    n = y.size
    pos_rate = np.sum(y == 1) / n
    frames = []
    for name, risk in risks.items():
        cases, controls = risk[y == 1], risk[y == 0]
        tp_rate = (cases[None, :] >= thresholds[:, None]).mean(axis=1) * pos_rate
        fp_rate = (controls[None, :] >= thresholds[:, None]).mean(axis=1) * (1 - pos_rate)
        h = float(harm.get(name, 0.0))
        frames.append(
            pd.DataFrame(
                {
                    "variable": name,
                    "label": labels.get(name, name),
                    "n": n,
                    "threshold": thresholds,
                    "pos_rate": pos_rate,
                    "tp_rate": tp_rate,
                    "fp_rate": fp_rate,
                    "harm": h,
                    "net_benefit": tp_rate - thresholds / (1 - thresholds) * fp_rate - h,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[COLUMNS]

"""Classification metrics at a fixed cut-off (positive when score >= threshold)."""

from __future__ import annotations

import numpy as np

from deltarad.errors import DeltaradError
from deltarad.stats._validate import scores_like


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def confusion_metrics(y, score, threshold: float) -> dict:
    """Confusion counts and the rates derived from them.

    Returns accuracy, sensitivity, specificity, ppv, npv (NaN where a denominator is 0, e.g. the
    PPV when nobody is called positive) and the counts tp, fp, tn, fn. `y` may hold one class only
    (a small validation subgroup), so it is checked for 0/1 coding but not for both classes.
    """
    y_arr = np.asarray(y, dtype=float)
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise DeltaradError("outcome must be coded 0/1 without missing values")
    y_arr = y_arr.astype(int)
    positive = scores_like(score, y_arr) >= threshold
    event = y_arr == 1
    tp = int(np.sum(positive & event))
    fp = int(np.sum(positive & ~event))
    tn = int(np.sum(~positive & ~event))
    fn = int(np.sum(~positive & event))
    return {
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }

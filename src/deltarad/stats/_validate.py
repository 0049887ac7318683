"""Input checks shared by the statistics functions: plain arrays in, clear errors out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deltarad.errors import DeltaradError


def binary_outcome(y, *, name: str = "outcome") -> np.ndarray:
    """`y` as an int array of 0/1; both classes must be present."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DeltaradError(f"{name} must be one-dimensional, got shape {arr.shape}")
    try:
        values = arr.astype(float)
    except (TypeError, ValueError):
        raise DeltaradError(f"{name} must be coded 0/1, found values {sorted(set(map(str, arr)))[:5]}") from None
    if np.isnan(values).any():
        raise DeltaradError(f"{name} has {int(np.isnan(values).sum())} missing values")
    bad = set(np.unique(values)) - {0.0, 1.0}
    if bad:
        raise DeltaradError(f"{name} must be coded 0/1, found {sorted(bad)[:5]}")
    if values.min() == values.max():
        raise DeltaradError(f"{name} has only one class ({int(values[0])}); both 0 and 1 are needed")
    return values.astype(int)


def scores_like(score, y: np.ndarray, *, name: str = "score") -> np.ndarray:
    """`score` as a float array of the same length as `y`, without missing values."""
    arr = np.asarray(score, dtype=float)
    if arr.shape != y.shape:
        raise DeltaradError(f"{name} has {arr.size} values but the outcome has {y.size}")
    if not np.isfinite(arr).all():
        raise DeltaradError(f"{name} has {int((~np.isfinite(arr)).sum())} missing or infinite values")
    return arr


def probabilities_like(p, y: np.ndarray, *, name: str = "predicted probability") -> np.ndarray:
    """Like `scores_like`, and every value within [0, 1]."""
    arr = scores_like(p, y, name=name)
    if (arr < 0).any() or (arr > 1).any():
        raise DeltaradError(f"{name} must lie in [0, 1], found range {arr.min():g} to {arr.max():g}")
    return arr


def is_categorical(series: pd.Series) -> bool:
    """Strings, categories and booleans are categorical; numbers are continuous unless named."""
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)

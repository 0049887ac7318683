"""BI-RADS kinetic curve types per voxel and the per-lesion kinetic summary.

Curve type (BI-RADS MRI lexicon, delayed phase): the delayed change
``100 (S2 - S1) / S1`` (%) of the late phase S2 against the early phase S1 is

- persistent where it is > +threshold (default 10 %),
- washout where it is < -threshold,
- plateau where it lies within [-threshold, +threshold], both ends included,

so +10.1 % is persistent, +10 % and +9.9 % plateau, -10.1 % washout. A voxel whose S1 is 0 has no
type (UNDEFINED).

The per-lesion summary: the lesion's curve is the mean signal over the tumour mask at each
phase; `pe_peak` = its largest percent enhancement over the pre-contrast mean, 100 (mean_k -
mean_pre) / mean_pre (%), over the post-contrast phases, and `ttp_s` the time after injection
of the phase where it peaks (see deltarad.kinetics.timing). The curve-type shares are over the
enhancing tumour voxels: mask voxels of PE >= the FTV's PE threshold (default 70 %), since a
curve type describes an enhancing lesion; NaN where none enhances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deltarad.kinetics.maps import safe_ratio
from deltarad.kinetics.settings import CURVE_THRESHOLD_PERCENT

UNDEFINED, PERSISTENT, PLATEAU, WASHOUT = 0, 1, 2, 3
CURVE_TYPES: dict[int, str] = {PERSISTENT: "persistent", PLATEAU: "plateau", WASHOUT: "washout"}


def delayed_change_percent(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """100 (S2 - S1) / S1 (%); NaN where S1 = 0."""
    s1 = np.asarray(s1, np.float64)
    return safe_ratio(100.0 * (np.asarray(s2, np.float64) - s1), s1)


def curve_types(s1: np.ndarray, s2: np.ndarray, threshold_percent: float = CURVE_THRESHOLD_PERCENT) -> np.ndarray:
    """Per voxel: PERSISTENT, PLATEAU, WASHOUT or UNDEFINED (uint8) by the rule of the module docstring."""
    change = delayed_change_percent(s1, s2)
    types = np.full(change.shape, UNDEFINED, np.uint8)
    with np.errstate(invalid="ignore"):
        types[change > threshold_percent] = PERSISTENT
        types[change < -threshold_percent] = WASHOUT
        types[np.abs(change) <= threshold_percent] = PLATEAU
    return types


def curve_shares(types: np.ndarray, where: np.ndarray) -> dict[str, float]:
    """share_persistent, share_plateau, share_washout of the voxels `where` (NaN where none)."""
    chosen = np.asarray(types)[np.asarray(where, bool)]
    n = chosen.size
    return {
        f"share_{name}": (float((chosen == code).sum()) / n if n else float("nan"))
        for code, name in CURVE_TYPES.items()
    }


@dataclass(frozen=True)
class LesionCurve:
    mean_signal: tuple[float, ...]
    """Mean signal over the tumour mask, per phase."""
    pe_peak: float
    peak_phase: int | None


def lesion_curve(phases: Sequence[np.ndarray], mask: np.ndarray, pre: int) -> LesionCurve:
    """The lesion's mean curve and its peak enhancement over the post-contrast phases (module docstring)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return LesionCurve(tuple(float("nan") for _ in phases), float("nan"), None)
    means = np.array([float(np.asarray(p)[mask].mean(dtype=np.float64)) for p in phases])
    if means[pre] == 0:
        return LesionCurve(tuple(means), float("nan"), None)
    pe = 100.0 * (means[pre + 1 :] - means[pre]) / means[pre]
    k = int(np.argmax(pe))
    return LesionCurve(tuple(float(m) for m in means), float(pe[k]), pre + 1 + k)

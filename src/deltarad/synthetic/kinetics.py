"""Contrast uptake curves by tissue for synthetic DCE exams whose kinetics are to be measured
(FTV, kinetic maps, BI-RADS curve types): fat, fibroglandular tissue, and a tumour with a
washout core and a persistent rim.

Every tissue follows the model of deltarad.synthetic.dce: the relative enhancement t seconds
after injection is ``E(t) = peak (1 - exp(-t / washin_s)) exp(-washout_per_s t)`` (0 for t <= 0)
and the signal ``S0 (1 + E(t))``. The parameters are set so that, at I-SPY's early (~150 s) and
late (~450 s) times, fat barely enhances, fibroglandular tissue enhances slowly and
persistently below FTV's 70 %, the tumour's core enhances fast and washes out (delayed change
< -10 %) and its rim enhances more slowly and keeps rising (> +10 %).

Phase timing: phase k is acquired from ``starts_s[k] = k x interval_s``; contrast is injected at
the start of phase 1 and a phase's signal is the curve at the middle of its acquisition,
``t_k = starts_s[k] - starts_s[1] + interval_s / 2`` (the convention of deltarad.kinetics.timing),
so the early and late phases that deltarad.kinetics chooses are the ones the curves were made for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINETIC_INTERVAL_S = 80.0
"""Temporal resolution of the kinetic exams: one phase every 80 s. No two phases tie for I-SPY's
150 and 450 s whatever their number (the midpoints between phases, 80 j s after injection, miss both)."""
KINETIC_PHASES = 7
"""Pre-contrast + 6 post-contrast phases starting at 0, 80, ... 480 s: early = phase 2 (120 s after
injection), late = phase 6 (440 s)."""
CORE_RADIUS = 0.6
"""The washout core: normalised tumour radius below this (0 = centre, 1 = boundary); the rest is the rim."""


@dataclass(frozen=True)
class TissueCurve:
    """One tissue's uptake curve (module docstring)."""

    s0: float
    """Pre-contrast signal."""
    peak: float
    washin_s: float
    washout_per_s: float

    def enhancement(self, times_after_injection_s: Sequence[float], peak: float | None = None) -> np.ndarray:
        """E(t) at each time (s after injection); 0 before injection."""
        t = np.asarray(times_after_injection_s, np.float64)
        a = self.peak if peak is None else peak
        e = a * (1 - np.exp(-np.maximum(t, 0) / self.washin_s)) * np.exp(-self.washout_per_s * np.maximum(t, 0))
        return np.where(t > 0, e, 0.0)

    def signal(
        self, times_after_injection_s: Sequence[float], s0: float | None = None, peak: float | None = None
    ) -> np.ndarray:
        """S0 (1 + E(t)) at each time."""
        base = self.s0 if s0 is None else s0
        return base * (1 + self.enhancement(times_after_injection_s, peak))


FAT = TissueCurve(s0=140.0, peak=0.05, washin_s=200.0, washout_per_s=0.0)
"""Barely enhancing: PE 2.3 % at 120 s (deltarad.synthetic.dce's fat)."""
FIBROGLANDULAR = TissueCurve(s0=330.0, peak=0.35, washin_s=240.0, washout_per_s=0.0)
"""Slow, persistent background parenchymal enhancement: PE 14 % at 120 s (dce's fibroglandular
tissue, whose peak is drawn per patient, 0.1-0.45)."""
TUMOUR_CORE = TissueCurve(s0=310.0, peak=2.0, washin_s=40.0, washout_per_s=0.0012)
"""Fast wash-in, washout: PE 165 % at 120 s, delayed change -18 % from 120 to 440 s."""
TUMOUR_RIM = TissueCurve(s0=310.0, peak=1.5, washin_s=120.0, washout_per_s=0.0)
"""Slower wash-in, persistent: PE 95 % at 120 s, delayed change +26 % from 120 to 440 s."""
TISSUE_CURVES: dict[str, TissueCurve] = {
    "fat": FAT,
    "fibroglandular": FIBROGLANDULAR,
    "tumour_core": TUMOUR_CORE,
    "tumour_rim": TUMOUR_RIM,
}


def kinetic_phase_times(
    n_phases: int = KINETIC_PHASES, interval_s: float = KINETIC_INTERVAL_S
) -> tuple[np.ndarray, np.ndarray]:
    """(starts_s, after_injection_s): each phase's acquisition start (what its headers state) and
    the time after injection its signal is drawn at (module docstring; <= 0 for phase 0)."""
    if n_phases < 2:
        raise ValueError(f"a kinetic exam needs a pre- and a post-contrast phase, got {n_phases} phases")
    starts = np.arange(n_phases, dtype=np.float64) * interval_s
    return starts, starts - starts[1] + interval_s / 2


def tissue_intensities(times_after_injection_s: Sequence[float]) -> dict[str, np.ndarray]:
    """Per tissue (TISSUE_CURVES), its signal at each time (s after injection)."""
    return {name: curve.signal(times_after_injection_s) for name, curve in TISSUE_CURVES.items()}

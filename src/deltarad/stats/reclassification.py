"""Reclassification of a new model against an old one: IDI and continuous NRI.

Formulas of Hmisc::improveProb (Pencina et al., Stat Med 2008;27:157): with d = p_new - p_old,
IDI = mean(d | event) - mean(d | non-event), SE from the sample variances of d in each group;
the continuous (category-free) NRI counts any rise or fall, with the non-null SE
v = (n_up + n_down)/n^2 - (n_up - n_down)^2/n^3 per outcome group.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from deltarad.stats._validate import binary_outcome, scores_like


def _z_test(estimate: float, se: float) -> tuple[float, float]:
    if se == 0:
        return (0.0, 1.0) if estimate == 0 else (float(np.sign(estimate) * np.inf), 0.0)
    z = estimate / se
    return float(z), float(2 * stats.norm.sf(abs(z)))


def _differences(y, p_new, p_old) -> tuple[np.ndarray, np.ndarray]:
    y = binary_outcome(y)
    d = scores_like(p_new, y, name="new model's prediction") - scores_like(p_old, y, name="old model's prediction")
    return d[y == 1], d[y == 0]


def idi(y, p_new, p_old) -> dict:
    """Integrated discrimination improvement of `p_new` over `p_old`: dict(idi, se, z, p)."""
    d_event, d_nonevent = _differences(y, p_new, p_old)
    estimate = float(d_event.mean() - d_nonevent.mean())
    se = float(np.sqrt(d_event.var(ddof=1) / d_event.size + d_nonevent.var(ddof=1) / d_nonevent.size))
    z, p = _z_test(estimate, se)
    return {"idi": estimate, "se": se, "z": z, "p": p}


def nri(y, p_new, p_old) -> dict:
    """Continuous net reclassification improvement of `p_new` over `p_old`: dict(nri, se, z, p)."""
    d_event, d_nonevent = _differences(y, p_new, p_old)
    estimate, variance = 0.0, 0.0
    # Events should move up, non-events down.
    for d, sign in ((d_event, 1), (d_nonevent, -1)):
        n, up, down = d.size, int(np.sum(d > 0)), int(np.sum(d < 0))
        estimate += sign * (up - down) / n
        variance += (up + down) / n**2 - (up - down) ** 2 / n**3
    se = float(np.sqrt(variance))
    z, p = _z_test(estimate, se)
    return {"nri": float(estimate), "se": se, "z": z, "p": p}

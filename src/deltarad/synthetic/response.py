"""How two courses of neoadjuvant therapy change the tumour, by axillary outcome.

Each patient gets a latent response ``z = effect * (outcome - 0.5) + N(0, 0.6)`` (intratumoral)
and ``z_p = 0.6 * effect * (outcome - 0.5) + N(0, 0.6)`` (peritumoral, weaker and with its own
noise, so the two regions carry partly independent information). At ``effect = 1`` the
latents of ALN-pCR (1) and non-pCR (0) patients differ by 1 (intratumoral) and 0.6
(peritumoral) within-group SDs of 0.6, an AUC of about 0.88 and 0.76 for a perfect reading of
each latent; features measured on noisy images see less. At ``effect = 0`` the images carry no
information about the outcome.

Ratios early / baseline (means at effect = 1; clipped to plausible ranges):

==========================  ==================  =================  ============================
ratio                       non-pCR (z = -0.5)  pCR (z = +0.5)     what it changes
==========================  ==================  =================  ============================
diameter_ratio              0.88                0.72               concentric shrinkage
enhancement_ratio           0.96                0.74               loss of peak enhancement
heterogeneity_ratio         1.02                0.68               more homogeneous enhancement
peritumoral_ratio           0.96 (z_p = -0.3)   0.74 (z_p = +0.3)  less oedema and halo
==========================  ==================  =================  ============================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LATENT_SD = 0.6
PERITUMORAL_SHARE = 0.6


@dataclass(frozen=True)
class Response:
    """Early / baseline ratios of one patient's tumour (1 = unchanged)."""

    diameter_ratio: float
    enhancement_ratio: float
    heterogeneity_ratio: float
    peritumoral_ratio: float


def draw_response(rng: np.random.Generator, outcome: int, effect: float) -> Response:
    signal = effect * (outcome - 0.5)
    z = signal + rng.normal(0, LATENT_SD)
    z_p = PERITUMORAL_SHARE * signal + rng.normal(0, LATENT_SD)
    jitter = rng.normal(0, 1, 4)
    return Response(
        diameter_ratio=float(np.clip(0.80 - 0.16 * z + 0.03 * jitter[0], 0.4, 1.05)),
        enhancement_ratio=float(np.clip(0.85 - 0.22 * z + 0.04 * jitter[1], 0.3, 1.1)),
        heterogeneity_ratio=float(np.clip(0.85 - 0.34 * z + 0.05 * jitter[2], 0.2, 1.3)),
        peritumoral_ratio=float(np.clip(0.85 - 0.36 * z_p + 0.05 * jitter[3], 0.2, 1.3)),
    )

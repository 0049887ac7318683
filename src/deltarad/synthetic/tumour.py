"""The primary tumour: an irregular, lobulated mass with heterogeneous, rim-predominant
enhancement and a peritumoral halo (oedema, enhancing stroma).

The shape is star-shaped around the centre: the boundary radius in direction u is
``radius_mm * (1 + sum_k a_k cos(f_k * pi * (u . d_k) + phi_k))`` (lobulation at low f_k,
spiculation at high f_k), so scaling `radius_mm` shrinks the same lesion concentrically.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from deltarad.synthetic.grid import Grid
from deltarad.synthetic.response import Response

RING_MARGIN_MM = 4.0
"""Breast tissue kept around the largest radius, so the 3 mm peritumoral ring stays in the breast."""
MIN_RADIUS_VOXELS = 1.5


@dataclass(frozen=True)
class Tumour:
    centre_mm: tuple[float, float, float]
    """(z, y, x) from voxel [0, 0, 0], mm."""
    radius_mm: float
    lobe_directions: np.ndarray
    """(K, 3) unit vectors (z, y, x)."""
    lobe_frequencies: np.ndarray
    lobe_amplitudes: np.ndarray
    lobe_phases: np.ndarray
    peak_enhancement: float
    """Peak relative enhancement of viable tumour, e.g. 1.8 = +180 % over pre-contrast."""
    washin_s: float
    """Wash-in time constant (s)."""
    washout_per_s: float
    """Exponential washout rate after the peak (1/s)."""
    heterogeneity: float
    """SD of the relative enhancement texture inside the tumour."""
    rim: float
    """Fraction of enhancement that rises towards the rim (0 = uniform, 1 = rim only)."""
    necrosis: float
    """Fractional enhancement loss at the core (0 = none)."""
    peritumoral_enhancement: float
    """Relative enhancement of the peritumoral stroma at the boundary, decaying outwards."""
    oedema: float
    """Relative pre-contrast signal rise at the boundary (peritumoral oedema), decaying outwards."""

    @property
    def max_radius_mm(self) -> float:
        return self.radius_mm * (1 + float(np.abs(self.lobe_amplitudes).sum()))

    def after(self, response: Response) -> Tumour:
        """The same lesion after two courses of therapy."""
        return replace(
            self,
            radius_mm=self.radius_mm * response.diameter_ratio,
            peak_enhancement=self.peak_enhancement * response.enhancement_ratio,
            heterogeneity=self.heterogeneity * response.heterogeneity_ratio,
            peritumoral_enhancement=self.peritumoral_enhancement * response.peritumoral_ratio,
            oedema=self.oedema * response.peritumoral_ratio,
        )

    def geometry(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """(distance_mm, rho): approximate signed distance to the boundary (mm, > 0 outside) and the
        normalised radius (0 at the centre, 1 on the boundary), float32 arrays in array order."""
        z, y, x = grid.axes_mm
        cz, cy, cx = self.centre_mm
        dz, dy, dx = (z - cz).astype(np.float32), (y - cy).astype(np.float32), (x - cx).astype(np.float32)
        r = np.sqrt(dz * dz + dy * dy + dx * dx)
        safe = np.maximum(r, 1e-6)
        boundary = np.ones(r.shape, dtype=np.float32)
        for d, f, a, p in zip(self.lobe_directions, self.lobe_frequencies, self.lobe_amplitudes, self.lobe_phases):
            cos_angle = (dz * d[0] + dy * d[1] + dx * d[2]) / safe
            boundary += np.float32(a) * np.cos(np.float32(f * np.pi) * cos_angle + np.float32(p))
        boundary *= np.float32(self.radius_mm)
        return r - boundary, r / boundary


def draw_tumour(grid: Grid, interior: np.ndarray, diameter_mm: float, rng: np.random.Generator) -> Tumour:
    """A lesion of about `diameter_mm` largest diameter, placed wholly inside `interior` with room
    for its peritumoral ring (shrunk when the field of view is too small for it)."""
    k = 7
    directions = rng.standard_normal((k, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    frequencies = np.concatenate([rng.uniform(1.5, 4.0, 4), rng.uniform(8.0, 14.0, 3)])
    irregularity = rng.uniform(0.3, 1.0)
    amplitudes = irregularity * np.concatenate([rng.uniform(0.04, 0.10, 4), rng.uniform(0.01, 0.03, 3)])
    phases = rng.uniform(0, 2 * np.pi, k)
    max_over_mean = 1 + amplitudes.sum()

    # Distance to the nearest non-breast voxel, with the edges of the field of view as borders.
    room = ndimage.distance_transform_edt(np.pad(interior, 1), sampling=grid.spacing_zyx)[1:-1, 1:-1, 1:-1]
    wanted_max = diameter_mm / 2
    candidates = np.flatnonzero(room.ravel() >= wanted_max + RING_MARGIN_MM)
    if candidates.size:
        flat = int(rng.choice(candidates))
        max_radius = wanted_max
    else:
        flat = int(np.argmax(room))
        max_radius = max(float(room.ravel()[flat]) - RING_MARGIN_MM, float(room.ravel()[flat]) / 2)
    radius = max(max_radius / max_over_mean, MIN_RADIUS_VOXELS * min(grid.spacing_mm))
    kji = np.unravel_index(flat, grid.shape)
    centre = tuple(float(i * s) for i, s in zip(kji, grid.spacing_zyx))
    return Tumour(
        centre_mm=centre,  # type: ignore[arg-type]
        radius_mm=float(radius),
        lobe_directions=directions,
        lobe_frequencies=frequencies,
        lobe_amplitudes=amplitudes,
        lobe_phases=phases,
        peak_enhancement=float(rng.uniform(1.3, 2.4)),
        washin_s=float(rng.uniform(35, 70)),
        washout_per_s=float(rng.uniform(0.0, 0.0015)),
        heterogeneity=float(rng.uniform(0.15, 0.35)),
        rim=float(rng.uniform(0.2, 0.6)),
        necrosis=float(rng.uniform(0.3, 0.7)) if diameter_mm > 25 and rng.random() < 0.5 else 0.0,
        peritumoral_enhancement=float(rng.uniform(0.3, 0.7)),
        oedema=float(rng.uniform(0.05, 0.15)),
    )

"""Signal of a fat-suppressed T1-weighted dynamic contrast-enhanced exam, phase by phase.

Each voxel has a pre-contrast signal S0, a peak relative enhancement E, a wash-in time
constant tau (s) and a washout rate w (1/s); phase k acquired t_k seconds after injection has
``S0 * (1 + E * (1 - exp(-t_k / tau)) * exp(-w * t_k))``, with S0 and E blurred by the
point-spread function. The magnitude image then gets a smooth coil-sensitivity (bias) field,
the centre's scanner gain and offset, and Rician noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from deltarad.synthetic.anatomy import Anatomy, Tissue
from deltarad.synthetic.grid import Grid
from deltarad.synthetic.kinetics import CORE_RADIUS, TUMOUR_CORE, TUMOUR_RIM
from deltarad.synthetic.tumour import Tumour

MAX_SIGNAL = 4095
"""12-bit stored values."""
NOISE_SD = 10.0
"""SD of each quadrature channel of the complex noise, before the scanner factor."""
PSF_SIGMA_VOXELS = 0.6
"""Point-spread function of the acquisition (Gaussian SD, voxels): partial volume at tissue edges."""
HALO_DECAY_MM = 2.5
"""e-folding distance of the peritumoral halo outside the tumour boundary (mm)."""

# Tissue: (S0, peak enhancement, wash-in tau s, washout 1/s); fibroglandular enhancement is per patient.
_TISSUE = {
    Tissue.AIR: (0.0, 0.0, 100.0, 0.0),
    Tissue.FAT: (140.0, 0.05, 200.0, 0.0),
    Tissue.FIBROGLANDULAR: (330.0, None, 240.0, 0.0),
    Tissue.SKIN: (380.0, 0.5, 150.0, 0.0),
    Tissue.MUSCLE: (260.0, 0.45, 120.0, 0.0),
    Tissue.CHEST_WALL: (220.0, 0.35, 150.0, 0.0),
    Tissue.LUNG: (30.0, 0.2, 60.0, 0.0),
}
TUMOUR_S0 = 310.0


@dataclass(frozen=True)
class Scanner:
    """A centre's scanner: multiplicative gain, additive offset and noise factor (1, 0, 1 = reference)."""

    gain: float = 1.0
    offset: float = 0.0
    noise: float = 1.0
    manufacturer: str = "deltarad synthetic"


def phase_times_s(n_phases: int, interval_s: float = 60.0) -> np.ndarray:
    """Acquisition time of each phase after injection (s); phase 0 is pre-contrast."""
    return np.arange(n_phases, dtype=float) * interval_s


def render_exam(
    grid: Grid,
    anatomy: Anatomy,
    tumour: Tumour,
    tumour_geometry: tuple[np.ndarray, np.ndarray],
    tumour_texture: np.ndarray,
    times_s: np.ndarray,
    rng: np.random.Generator,
    scanner: Scanner,
    *,
    tumour_bed: np.ndarray | None = None,
    bed_enhancement: float = 0.0,
    tissue_kinetics: bool = False,
) -> np.ndarray:
    """All phases of one exam, uint16 array (phase, z, y, x).

    `tumour_geometry` is `tumour.geometry(grid)`; `tumour_texture` (mean 0, SD 1) the lesion's
    own enhancement pattern; `tumour_bed` (bool), for a follow-up exam, where the lesion has
    retreated, now fibrosis enhancing by `bed_enhancement`. With `tissue_kinetics` the tumour's
    core washes out and its rim keeps rising (deltarad.synthetic.kinetics; fat and fibroglandular
    tissue follow its curves already); `times_s` are then that module's times after injection.
    """
    s0 = np.zeros(grid.shape, np.float32)
    enh = np.zeros(grid.shape, np.float32)
    tau = np.full(grid.shape, 100.0, np.float32)
    washout = np.zeros(grid.shape, np.float32)
    for tissue, (signal, peak, wash_in, out) in _TISSUE.items():
        where = anatomy.tissue == tissue
        s0[where] = signal
        enh[where] = anatomy.parenchymal_enhancement if peak is None else peak
        tau[where] = wash_in
        washout[where] = out
    glandular = (anatomy.tissue == Tissue.FIBROGLANDULAR) | (anatomy.tissue == Tissue.FAT)
    s0[glandular] *= 1 + 0.08 * anatomy.texture[glandular]

    distance, rho = tumour_geometry
    inside = distance < 0
    if tumour_bed is not None:
        s0[tumour_bed] = 0.5 * (TUMOUR_S0 + _TISSUE[Tissue.FIBROGLANDULAR][0])
        enh[tumour_bed] = bed_enhancement

    halo = anatomy.breast_interior & ~inside & (distance < 6 * HALO_DECAY_MM)
    decay = np.exp(-distance[halo] / HALO_DECAY_MM)
    s0[halo] *= 1 + tumour.oedema * decay
    enh[halo] += tumour.peritumoral_enhancement * decay * (1 + 0.5 * tumour.heterogeneity * tumour_texture[halo])

    core = np.clip(rho[inside], 0, 1)
    profile = (1 - tumour.rim) + tumour.rim * core**2
    profile *= 1 - tumour.necrosis * np.exp(-((core / 0.35) ** 2))
    s0[inside] = TUMOUR_S0 * (1 + 0.05 * tumour_texture[inside])
    enh[inside] = np.maximum(
        tumour.peak_enhancement * profile * (1 + tumour.heterogeneity * tumour_texture[inside]), 0.05
    )
    tau[inside] = tumour.washin_s
    washout[inside] = tumour.washout_per_s
    if tissue_kinetics:
        in_core = core < CORE_RADIUS
        tau[inside] = np.where(in_core, TUMOUR_CORE.washin_s, TUMOUR_RIM.washin_s)
        washout[inside] = np.where(in_core, TUMOUR_CORE.washout_per_s, TUMOUR_RIM.washout_per_s)

    s0, enh = (ndimage.gaussian_filter(a, PSF_SIGMA_VOXELS) for a in (s0, enh))  # partial volume
    bias = _bias_field(grid, rng) * scanner.gain
    sd = NOISE_SD * scanner.noise
    phases = np.empty((len(times_s), *grid.shape), np.uint16)
    for k, t in enumerate(times_s):
        uptake = (1 - np.exp(np.float32(-t) / tau)) * np.exp(np.float32(-t) * washout) if t > 0 else 0.0
        clean = s0 * (1 + enh * uptake) * bias + scanner.offset
        real = clean + sd * rng.standard_normal(grid.shape, dtype=np.float32)
        imag = sd * rng.standard_normal(grid.shape, dtype=np.float32)
        phases[k] = np.clip(np.rint(np.hypot(real, imag)), 0, MAX_SIGNAL)
    return phases


def _bias_field(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative coil sensitivity, about +-10 % across the field of view."""
    z, y, x = grid.axes_mm
    width, height, depth = grid.extent_mm
    u, v, w = x / width - 0.5, y / height - 0.5, z / depth - 0.5
    a = rng.uniform(-0.12, 0.12, 5)
    return (1 + a[0] * u + a[1] * v + a[2] * w + a[3] * v * v + a[4] * u * v).astype(np.float32)

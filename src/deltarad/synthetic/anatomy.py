"""Breast anatomy of one patient in an axial, cropped, unilateral field of view.

From anterior (row 0) to posterior: air, skin, the breast (fat with fibroglandular tissue in
a smooth random pattern), pectoral muscle, chest wall (ribs, intercostals) and lung. Lateral to
the breast the body surface continues as skin over subcutaneous fat. All sizes are fractions of
the field of view or millimetres, so the same code makes a 96 x 96 x 40 demo exam and a
256 x 256 x 120 benchmark exam.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import ndimage

from deltarad.synthetic.grid import Grid
from deltarad.synthetic.noise import sigma_in_voxels, smooth_field

SKIN_MM = 1.8
"""Skin thickness (mm)."""
FGT_MIN_DEPTH_MM = 4.0
"""Fibroglandular tissue starts this far below the skin (subcutaneous fat layer, mm)."""


class Tissue(IntEnum):
    AIR = 0
    FAT = 1
    FIBROGLANDULAR = 2
    SKIN = 3
    MUSCLE = 4
    CHEST_WALL = 5
    LUNG = 6


@dataclass(frozen=True)
class Anatomy:
    tissue: np.ndarray
    """Tissue label per voxel (uint8, values of `Tissue`), array order (z, y, x)."""
    breast_interior: np.ndarray
    """Breast parenchyma and fat below the skin (bool): where a tumour may grow."""
    texture: np.ndarray
    """Fine tissue texture, mean 0 SD 1 (float32): modulates fat and fibroglandular signal."""
    parenchymal_enhancement: float
    """Background parenchymal enhancement of the fibroglandular tissue (peak, relative)."""


def make_anatomy(grid: Grid, rng: np.random.Generator, side: str) -> Anatomy:
    """Draw one breast; `side` ('left' / 'right') puts the midline on the proper edge of the image."""
    z, y, x = grid.axes_mm
    width, height, depth = grid.extent_mm
    lateral = x / width  # 0 at the lateral edge, 1 at the midline (right breast; mirrored below)

    muscle_front = height * rng.uniform(0.58, 0.66) + 0.12 * height * (1 - lateral) ** 2
    muscle_mm = height * rng.uniform(0.08, 0.11)
    wall_mm = height * rng.uniform(0.07, 0.09)
    subcutaneous_mm = height * rng.uniform(0.05, 0.09)

    # Breast: a half ellipsoid on the chest wall, slightly irregular.
    cx, cz = width * rng.uniform(0.4, 0.55), depth * rng.uniform(0.4, 0.6)
    ax, az = width * rng.uniform(0.45, 0.6), depth * rng.uniform(0.8, 1.2)
    ay = muscle_front.min() * rng.uniform(0.72, 0.9)
    shape_noise = smooth_field(rng, grid.shape, sigma_in_voxels(12.0, grid.spacing_zyx))
    q = ((x - cx) / ax) ** 2 + ((muscle_front - y) / ay) ** 2 + ((z - cz) / az) ** 2 + 0.04 * shape_noise
    breast = (q <= 1) & (y < muscle_front)
    body = breast | (y >= muscle_front - subcutaneous_mm)

    depth_mm = ndimage.distance_transform_edt(body, sampling=grid.spacing_zyx)
    skin = body & (depth_mm <= SKIN_MM)
    interior = breast & ~skin

    tissue = np.full(grid.shape, Tissue.AIR, dtype=np.uint8)
    tissue[body] = Tissue.FAT
    behind = y - muscle_front
    tissue[body & (behind >= 0)] = Tissue.MUSCLE
    tissue[body & (behind >= muscle_mm)] = Tissue.CHEST_WALL
    tissue[body & (behind >= muscle_mm + wall_mm)] = Tissue.LUNG

    # Fibroglandular tissue: a thresholded smooth field, denser centrally behind the nipple.
    glands = smooth_field(rng, grid.shape, sigma_in_voxels(3.5, grid.spacing_zyx)) + 1.5 * (
        1 - np.sqrt(np.clip(q, 0, 1))
    )
    eligible = interior & (depth_mm > FGT_MIN_DEPTH_MM)
    if eligible.any():
        density = rng.uniform(0.2, 0.55)
        threshold = np.quantile(glands[eligible], 1 - density)
        tissue[eligible & (glands > threshold)] = Tissue.FIBROGLANDULAR
    tissue[skin] = Tissue.SKIN

    texture = smooth_field(rng, grid.shape, sigma_in_voxels(1.2, grid.spacing_zyx))
    if side == "left":  # the midline is at the image's low-x edge for a left breast
        tissue, interior, texture = (np.ascontiguousarray(a[:, :, ::-1]) for a in (tissue, interior, texture))
    return Anatomy(tissue, interior, texture, parenchymal_enhancement=float(rng.uniform(0.1, 0.45)))

"""Smooth random fields: the raw material of tissue texture, lesion shape and reader jitter."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, ...], sigma_voxels: float | tuple[float, ...]
) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to mean 0 and SD 1 (float32).

    `sigma_voxels` is the correlation length in voxels (per axis when a tuple; 0 = no smoothing
    along that axis).
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma_voxels, mode="reflect")
    field -= field.mean()
    sd = float(field.std())
    return field / sd if sd > 0 else field


def sigma_in_voxels(sigma_mm: float, spacing_zyx: tuple[float, float, float]) -> tuple[float, float, float]:
    """A physical correlation length (mm) as per-axis sigmas in voxels, array order."""
    return tuple(sigma_mm / s for s in spacing_zyx)  # type: ignore[return-value]

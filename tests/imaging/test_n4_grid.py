"""deltarad's N4 against ITK's (SimpleITK's N4BiasFieldCorrectionImageFilter) on a grid of exams:
sizes from 32 to 256 voxels per axis, shrink 1, 2 and 4, body masks of four shapes and bias
fields of three strengths, each with 3D Slicer's 50/40/30 iterations. The yardstick is ITK
itself on 1 and on 2 threads (its float32 sums split differently)."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import deltarad.imaging.preprocess as preprocess
from deltarad.imaging.preprocess import fit_bias_field

#: Bias fields: log-field amplitude (the corrected intensity spans about exp(2 x strength)).
STRENGTHS = {"weak": 0.1, "medium": 0.3, "strong": 0.6}


def body(shape: str, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A body mask on coordinates in [-1, 1] (numpy order z, y, x)."""
    if shape == "ellipsoid":
        return x**2 / 0.8 + (y - 0.1) ** 2 / 0.7 + z**2 / 1.3 < 1
    if shape == "half-ellipse":  # a prone breast exam's chest: the posterior half of an ellipse
        return (x / 0.9) ** 2 + ((y - 1) / 1.6) ** 2 <= 1
    if shape == "two-breasts":  # two lobes joined by the chest wall
        lobes = ((np.abs(x) - 0.45) / 0.42) ** 2 + ((y + 0.1) / 0.7) ** 2 + (z / 1.1) ** 2 < 1
        return lobes | (y > 0.45)
    if shape == "off-centre-box":  # the body reaches the field of view's edge on two sides
        return (x > -0.6) & (y > -0.3) & (np.abs(z) < 0.8)
    raise ValueError(shape)


def exam(size: tuple[int, int, int], shape: str, strength: float, seed: int = 0) -> tuple[sitk.Image, sitk.Image]:
    """(image, body mask): two tissues (fat 400, fibroglandular 900), Gaussian noise (sd 30),
    air outside; a smooth multiplicative bias field exp(strength x a polynomial of degree 2)."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = size
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in (nz, ny, nx)), indexing="ij")
    inside = body(shape, z, y, x)
    glandular = np.sin(5 * x + 1) * np.cos(4 * y) + 0.6 * np.sin(3 * z + 2 * x) > 0.3
    tissue = np.where(glandular, 900.0, 400.0) + rng.normal(0, 30, inside.shape)
    bias = np.exp(strength * (0.7 * x - 0.5 * y + 0.3 * x * z + 0.4 * y**2 - 0.2 * z))
    values = np.where(inside, tissue * bias, np.abs(rng.normal(0, 8, inside.shape)))
    image = sitk.GetImageFromArray(values.astype(np.float32))
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    for im in (image, mask):
        im.SetSpacing((0.9, 0.9, 1.5))
        im.SetOrigin((-120.0, 80.0, -40.0))
    return image, mask


def log_field(image, mask, shrink, implementation, threads=1) -> np.ndarray:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(preprocess, "N4_THREADS", threads)
        field = fit_bias_field(image, mask, shrink=shrink, iterations=[50, 40, 30], implementation=implementation)
    return sitk.GetArrayFromImage(field.log_field)


#: (size x, y, z; shrink; body; bias field). Fitted grids of 5-17 thousand voxels keep ITK's
#: two runs per case to seconds; the last case is the larger one.
GRID = [
    ((32, 40, 32), 1, "ellipsoid", "medium"),
    ((64, 48, 32), 2, "two-breasts", "strong"),
    ((96, 64, 48), 2, "off-centre-box", "weak"),
    ((128, 96, 40), 4, "half-ellipse", "strong"),
    ((256, 192, 64), 4, "two-breasts", "medium"),
]

"""A synthetic breast DCE exam (one phase) for tests and benchmarks: air, a body with textured
fibroglandular tissue, a bias field, and a textured spherical tumour. Deterministic per seed."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage


def breast_phantom(
    size: tuple[int, int, int] = (96, 96, 24),
    spacing_mm: tuple[float, float, float] = (0.8, 0.8, 2.0),
    *,
    tumour_radius_mm: float = 8.0,
    tumour_offset_mm: tuple[float, float, float] = (0.0, 10.0, 0.0),
    origin_mm: tuple[float, float, float] = (-40.0, -30.0, 12.0),
    seed: int = 0,
) -> tuple[sitk.Image, sitk.Image]:
    """(image int16, tumour mask uint8) on one grid; sizes and spacings in SimpleITK order (x, y, z).

    The body is the half-ellipse y >= 0.25 * FOV_y (posterior part of the field), extruded along z;
    the tumour is centred `tumour_offset_mm` from the body's in-plane centre.
    """
    rng = np.random.default_rng(seed)
    nx, ny, nz = size
    sx, sy, sz = spacing_mm
    z, y, x = np.meshgrid(np.arange(nz) * sz, np.arange(ny) * sy, np.arange(nx) * sx, indexing="ij")
    fx, fy = nx * sx, ny * sy
    cx, cy = fx / 2, fy
    body = ((x - cx) / (0.45 * fx)) ** 2 + ((y - cy) / (0.75 * fy)) ** 2 <= 1
    texture = ndimage.gaussian_filter(rng.normal(size=(nz, ny, nx)), sigma=(1.0, 2.0, 2.0))
    texture /= texture.std()
    tissue = 400 + 80 * texture
    centre = np.array([cx, cy - 0.4 * fy, (nz * sz) / 2]) + np.array(tumour_offset_mm)
    r = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
    tumour = (r <= tumour_radius_mm) & body
    lesion = 900 + 120 * texture - 3 * r
    bias = 1 + 0.25 * (x / fx) - 0.15 * (y / fy)
    values = np.where(body, np.where(tumour, lesion, tissue) * bias, np.abs(rng.normal(0, 8, size=body.shape)))
    image = sitk.GetImageFromArray(np.round(values).astype(np.int16))
    mask = sitk.GetImageFromArray(tumour.astype(np.uint8))
    for im in (image, mask):
        im.SetSpacing(spacing_mm)
        im.SetOrigin(origin_mm)
    return image, mask

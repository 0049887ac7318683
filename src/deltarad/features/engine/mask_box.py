"""PyRadiomics' checkMask for a mask deltarad built on the image's grid, without its
LabelStatisticsImageFilter (which also computes intensity statistics of the whole image, ~20 ms a
mask at 1 mm): the label's bounding box from numpy, the same array checkMask returns.

Only the case that needs no judgement is done here: a scalar image and an integer mask of exactly
the same size, origin, spacing and direction, holding the label, passing the dimension and size
checks. Anything else (a mask off the grid, to be corrected or refused; an absent label; a single
voxel; too few voxels) goes to checkMask itself, so its corrections and its error messages are
PyRadiomics' own.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from deltarad.features.pyradiomics import imageoperations


def check_mask(image: sitk.Image, mask: sitk.Image, **settings) -> tuple[np.ndarray, sitk.Image | None]:
    """imageoperations.checkMask(image, mask, **settings): (bounding box as (L_x, U_x, L_y, U_y,
    L_z, U_z) in voxel indices, the corrected mask or None)."""
    box = _box_on_grid(image, mask, **settings)
    return (box, None) if box is not None else imageoperations.checkMask(image, mask, **settings)


def _box_on_grid(image: sitk.Image, mask: sitk.Image, **settings) -> np.ndarray | None:
    if image.GetNumberOfComponentsPerPixel() != 1 or not _same_grid(image, mask):
        return None
    array = sitk.GetArrayViewFromImage(mask)
    if array.dtype.kind not in "iu":
        return None
    inside = array == int(settings.get("label", 1))
    bounds: list[int] = []
    for axis in reversed(range(inside.ndim)):  # SimpleITK index order: x is numpy's last axis
        hit = np.flatnonzero(inside.any(axis=tuple(a for a in range(inside.ndim) if a != axis)))
        if not hit.size:
            return None
        bounds += [int(hit[0]), int(hit[-1])]
    box = np.array(bounds, dtype=np.int64)
    dims = int(np.sum((box[1::2] - box[0::2] + 1) > 1))
    if dims == 0 or dims < settings.get("minimumROIDimensions", 2):
        return None
    minimum = settings.get("minimumROISize")
    if minimum is not None and np.count_nonzero(inside) <= minimum:
        return None
    return box


def _same_grid(image: sitk.Image, mask: sitk.Image) -> bool:
    return (
        image.GetSize() == mask.GetSize()
        and image.GetOrigin() == mask.GetOrigin()
        and image.GetSpacing() == mask.GetSpacing()
        and image.GetDirection() == mask.GetDirection()
    )

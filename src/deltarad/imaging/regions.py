"""The two regions of the method: intratumoral (the lesion mask) and peritumoral (a shell around it).

Peritumoral ring = voxels whose physical distance to the tumour is in (0, ring_mm], from a
Maurer signed distance map in millimetres (so anisotropic voxels give a ring of the same
thickness in every direction, unlike voxel dilation), then

- minus air: voxels whose intensity is below the air threshold,
- minus skin: body voxels within skin_mm of the body surface (distance to the nearest non-body
  voxel, so the layer is measured inward from the skin),
- minus chest wall: voxels of a chest-wall mask when the cohort gives one
  (columns `baseline_chest_wall` / `early_chest_wall`); no automatic estimate is attempted.

Distances are between voxel centres, to the nearest voxel of the other set: a voxel next to the
tumour along an axis is one spacing away, and so is the outermost body voxel from the air.
"""
from __future__ import annotations

import SimpleITK as sitk


def distance_mm(mask: sitk.Image) -> sitk.Image:
    """Signed distance (mm) to `mask`: > 0 outside, <= 0 inside."""
    return sitk.SignedMaurerDistanceMap(
        sitk.Cast(mask, sitk.sitkUInt8), insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )


def ring(tumour: sitk.Image, ring_mm: float) -> sitk.Image:
    """Voxels outside the tumour within `ring_mm` of it (physical distance)."""
    d = distance_mm(tumour)
    return sitk.Cast((d > 0) & (d <= ring_mm), sitk.sitkUInt8)


def skin_layer(body: sitk.Image, skin_mm: float) -> sitk.Image:
    """Body voxels within `skin_mm` of the body surface (0 mm: none)."""
    if skin_mm <= 0:
        return sitk.Cast(body * 0, sitk.sitkUInt8)
    depth = distance_mm(body == 0)  # inside the body: distance to the nearest outside voxel
    return sitk.Cast((body > 0) & (depth <= skin_mm), sitk.sitkUInt8)


def peritumoral(
    tumour: sitk.Image,
    *,
    ring_mm: float,
    air: sitk.Image,
    body: sitk.Image,
    skin_mm: float,
    chest_wall: sitk.Image | None = None,
) -> sitk.Image:
    """The peritumoral region: the ring minus air, skin and chest wall (all masks on one grid)."""
    region = ring(tumour, ring_mm) & (air == 0) & (skin_layer(body, skin_mm) == 0)
    if chest_wall is not None:
        region = region & (chest_wall == 0)
    return sitk.Cast(region, sitk.sitkUInt8)

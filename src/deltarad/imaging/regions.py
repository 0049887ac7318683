"""The two regions of the method: intratumoral (the lesion mask) and peritumoral (a shell around it).

Peritumoral ring = voxels whose physical distance to the tumour is in (0, ring_mm], from a
Maurer signed distance map in millimetres (so anisotropic voxels give a ring of the same
thickness in every direction, unlike voxel dilation), then

- minus air: the background outside the body, reached from the edge of the field of view
  (`deltarad.imaging.air`: dark tissue inside the body is never air),
- minus skin: body voxels within skin_mm of the body surface (distance to the nearest non-body
  voxel, so the layer is measured inward from the skin),
- minus chest wall: voxels of a chest-wall mask when the cohort gives one
  (columns `baseline_chest_wall` / `early_chest_wall`); no automatic estimate is attempted.

Distances are between voxel centres, to the nearest voxel of the other set: a voxel next to the
tumour along an axis is one spacing away, and so is the outermost body voxel from the air.

What each exclusion removed is counted as a share of the geometric shell, in the order air, then
skin (of what air left), then chest wall. A ring left with under MIN_RING_SHARE of its shell or
under MIN_RING_VOXELS voxels is nearly empty: a CaseError, not a region for PyRadiomics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from deltarad.errors import CaseError

#: Least share of the geometric shell a peritumoral region keeps.
MIN_RING_SHARE = 0.10
#: Least voxels a peritumoral region keeps: a 3 x 3 x 3 block, the least a texture matrix describes.
MIN_RING_VOXELS = 27


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


@dataclass(frozen=True)
class Ring:
    """A peritumoral region and what built it: `stats` holds ring_voxels_geometric (the shell),
    ring_voxels_kept, the shares of the shell removed as air, skin and chest wall (air_share, skin_share,
    chest_wall_share) and kept (kept_share), and ring_ml (the kept region, mL)."""

    region: sitk.Image
    stats: dict[str, float]

    def describe(self, ring_mm: float) -> str:
        s = self.stats
        return (f"{ring_mm:g} mm ring: {s['ring_ml']:.3g} mL kept ({s['kept_share']:.0%} of "
                f"{int(s['ring_voxels_geometric'])} shell voxels); removed air {s['air_share']:.1%}, "
                f"skin {s['skin_share']:.1%}, chest wall {s['chest_wall_share']:.1%}")

    def check(self, ring_mm: float, *, patient: str | None = None, reader: int | None = None) -> None:
        """CaseError when the region is nearly empty (module docstring)."""
        s = self.stats
        if s["kept_share"] < MIN_RING_SHARE or s["ring_voxels_kept"] < MIN_RING_VOXELS:
            who = "" if reader is None else f"reader {reader}: "
            what = "nearly empty" if s["ring_voxels_kept"] else "empty once air, skin and chest wall are removed"
            raise CaseError(
                f"{who}the peritumoral ring is {what}: {self.describe(ring_mm)} (needs at least "
                f"{MIN_RING_SHARE:.0%} of the shell and {MIN_RING_VOXELS} voxels); is the tumour at the body "
                "surface, or the air threshold wrong (imaging.air_threshold)?", patient=patient)


def peritumoral_ring(
    tumour: sitk.Image,
    *,
    ring_mm: float,
    air: sitk.Image,
    body: sitk.Image,
    skin_mm: float,
    chest_wall: sitk.Image | None = None,
) -> Ring:
    """The peritumoral region: the ring_mm shell minus air, skin (skin_mm deep) and chest wall (all
    masks on one grid), with the share of the shell each exclusion removed (Ring.stats)."""
    shell = sitk.GetArrayFromImage(ring(tumour, ring_mm)).astype(bool)
    in_air = shell & (sitk.GetArrayViewFromImage(air) != 0)
    in_skin = shell & ~in_air & (sitk.GetArrayFromImage(skin_layer(body, skin_mm)) != 0)  # a copy: the layer is a temporary
    wall = np.zeros_like(shell) if chest_wall is None else sitk.GetArrayViewFromImage(chest_wall) != 0
    in_wall = shell & ~in_air & ~in_skin & wall
    kept = shell & ~in_air & ~in_skin & ~in_wall
    n = int(shell.sum())
    share = (lambda part: float(part.sum()) / n) if n else (lambda part: 0.0)
    region = sitk.GetImageFromArray(kept.astype(np.uint8))
    region.CopyInformation(tumour)
    stats = {
        "ring_voxels_geometric": float(n), "ring_voxels_kept": float(kept.sum()), "air_share": share(in_air), "skin_share": share(in_skin),
        "chest_wall_share": share(in_wall), "kept_share": share(kept),
        "ring_ml": float(kept.sum()) * float(np.prod(tumour.GetSpacing())) / 1000.0,
    }
    return Ring(region, stats)

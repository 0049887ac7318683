"""The regions of the method: the tumour (the lesion mask) and peritumoral bands (shells around it).

A peritumoral band [inner, outer] mm = voxels whose physical distance to the tumour is in
(inner, outer], from a Maurer signed distance map in millimetres (so anisotropic voxels give a
band of the same thickness in every direction, unlike voxel dilation); the study's ring is the
band [0, ring_mm]. Bands of a design never overlap (design.check_design), so, the intervals being
half-open, two adjacent bands share no voxel and together make the shell of their outer band;
no band holds a tumour voxel (distance > 0). Each band is then

- minus air: the background outside the body, reached from the edge of the field of view
  (`deltarad.imaging.air`: dark tissue inside the body is never air),
- minus skin: body voxels within skin_mm of the body surface (distance to the nearest non-body
  voxel, so the layer is measured inward from the skin),
- minus chest wall: voxels of a chest-wall mask when the cohort gives one
  (columns `<timepoint>_chest_wall`); no automatic estimate is attempted.

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
    return band(tumour, 0.0, ring_mm)


def band(tumour: sitk.Image, inner_mm: float, outer_mm: float, *, distance: sitk.Image | None = None) -> sitk.Image:
    """Voxels whose physical distance to the tumour is in (inner_mm, outer_mm]; `distance`: the
    tumour's distance_mm, when already computed."""
    d = distance_mm(tumour) if distance is None else distance
    return sitk.Cast((d > inner_mm) & (d <= outer_mm), sitk.sitkUInt8)


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
    band_mm: tuple[float, float] | None = None  # None: the study's ring [0, ring_mm]

    def describe(self, ring_mm: float | None = None) -> str:
        s = self.stats
        inner, outer = self.band_mm if self.band_mm is not None else (0.0, ring_mm)
        what = f"{outer:g} mm ring" if inner == 0 else f"{inner:g}-{outer:g} mm band"
        return (
            f"{what}: {s['ring_ml']:.3g} mL kept ({s['kept_share']:.0%} of "
            f"{int(s['ring_voxels_geometric'])} shell voxels); removed air {s['air_share']:.1%}, "
            f"skin {s['skin_share']:.1%}, chest wall {s['chest_wall_share']:.1%}"
        )

    def check(
        self,
        ring_mm: float | None = None,
        *,
        patient: str | None = None,
        reader: int | None = None,
        name: str | None = None,
    ) -> None:
        """CaseError when the region is nearly empty (module docstring); `name`: the band's, when
        the design names it otherwise than the study's peritumoral ring."""
        s = self.stats
        if s["kept_share"] < MIN_RING_SHARE or s["ring_voxels_kept"] < MIN_RING_VOXELS:
            who = "" if reader is None else f"reader {reader}: "
            what = "nearly empty" if s["ring_voxels_kept"] else "empty once air, skin and chest wall are removed"
            region = "the peritumoral ring" if name is None else f"the peritumoral band {name}"
            raise CaseError(
                f"{who}{region} is {what}: {self.describe(ring_mm)} (needs at least "
                f"{MIN_RING_SHARE:.0%} of the shell and {MIN_RING_VOXELS} voxels); is the tumour at the body "
                "surface, or the air threshold wrong (imaging.air_threshold)?",
                patient=patient,
            )


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
    (only,) = peritumoral_bands(tumour, [(0.0, ring_mm)], air=air, body=body, skin_mm=skin_mm, chest_wall=chest_wall)
    return Ring(only.region, only.stats)


def peritumoral_bands(
    tumour: sitk.Image,
    bands_mm: list[tuple[float, float]],
    *,
    air: sitk.Image,
    body: sitk.Image,
    skin_mm: float,
    chest_wall: sitk.Image | None = None,
) -> list[Ring]:
    """Each band [inner, outer] mm of `bands_mm` around the tumour minus air, skin (skin_mm deep)
    and chest wall (all masks on one grid), with the share of its shell each exclusion removed
    (Ring.stats); one distance map and one skin layer serve every band."""
    distance = distance_mm(tumour)
    in_air_anywhere = sitk.GetArrayViewFromImage(air) != 0
    skin = sitk.GetArrayFromImage(skin_layer(body, skin_mm)) != 0  # a copy: the layer is a temporary
    wall = None if chest_wall is None else sitk.GetArrayViewFromImage(chest_wall) != 0
    out = []
    for inner, outer in bands_mm:
        shell = sitk.GetArrayFromImage(band(tumour, inner, outer, distance=distance)).astype(bool)
        in_air = shell & in_air_anywhere
        in_skin = shell & ~in_air & skin
        in_wall = shell & ~in_air & ~in_skin & wall if wall is not None else np.zeros_like(shell)
        kept = shell & ~in_air & ~in_skin & ~in_wall
        n = int(shell.sum())
        region = sitk.GetImageFromArray(kept.astype(np.uint8))
        region.CopyInformation(tumour)
        stats = {
            "ring_voxels_geometric": float(n),
            "ring_voxels_kept": float(kept.sum()),
            "air_share": _share(in_air, n),
            "skin_share": _share(in_skin, n),
            "chest_wall_share": _share(in_wall, n),
            "kept_share": _share(kept, n),
            "ring_ml": float(kept.sum()) * float(np.prod(tumour.GetSpacing())) / 1000.0,
        }
        out.append(Ring(region, stats, (float(inner), float(outer))))
    return out


def _share(part: np.ndarray, n: int) -> float:
    """Share of a shell of `n` voxels that `part` holds (0 for an empty shell)."""
    return float(part.sum()) / n if n else 0.0

"""Non-finite voxels (NaN, +-inf) of an exam, as registration and resampling tools write outside
their field: never computed on silently.

- Inside a tumour mask or within the peritumoral ring's reach of it (ring_mm, physical
  distance from the mask): the exam is refused, naming the counts and the region: its features
  would be computed on undefined values.
- Elsewhere: set to the lowest finite value of the image, with a note giving their number and
  that value: they are taken as background. They lie beyond every region, so they change no
  region's voxels; as the image's darkest value they fall outside N4's Otsu mask (they are not
  fitted as tissue), and where they reach the field-of-view edge they are among the samples of
  the air threshold (deltarad.imaging.air), as the scanner's background there would be. They
  never reach PyRadiomics as NaN through B-spline resampling or a filter.

Extraction and `deltarad check` apply the same rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from deltarad.errors import CaseError


def non_finite_checked(
    image: sitk.Image,
    masks: dict[int, sitk.Image],
    reach_mm: float,
    *,
    patient: str | None = None,
    file: str | Path | None = None,
) -> tuple[sitk.Image, list[str]]:
    """`image` with its non-finite voxels beyond every region's reach set to its lowest finite
    value, and the note saying so; a CaseError where any lies inside a tumour mask or within
    `reach_mm` of one. `masks`: reader -> binary mask on the image's grid."""
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype.kind != "f":
        return image, []
    bad = ~np.isfinite(array)
    total = int(np.count_nonzero(bad))
    if not total:
        return image, []
    if total == bad.size:
        raise CaseError("every voxel of the image is non-finite (NaN/inf)", patient=patient, file=file)
    inside = []
    for reader, mask in sorted(masks.items()):
        lesion = sitk.GetArrayViewFromImage(mask) != 0
        distance = sitk.GetArrayFromImage(  # a copy: a view would outlive the temporary image
            sitk.SignedMaurerDistanceMap(
                sitk.Cast(mask != 0, sitk.sitkUInt8),
                insideIsPositive=False,
                squaredDistance=False,
                useImageSpacing=True,
            )
        )
        in_mask = int(np.count_nonzero(bad & lesion))
        in_ring = int(np.count_nonzero(bad & ~lesion & (distance <= reach_mm)))
        if in_mask or in_ring:
            inside.append(
                f"{in_mask} inside reader {reader}'s tumour mask and {in_ring} within {reach_mm:g} mm of it "
                "(the peritumoral ring's reach)"
            )
    if inside:
        raise CaseError(
            f"the image holds {total} non-finite voxels (NaN/inf, as registration tools write outside "
            f"their field): {'; '.join(inside)}; features would be computed on undefined values",
            patient=patient,
            file=file,
        )
    fill = float(np.min(array[~bad]))
    filled = np.where(bad, fill, array).astype(array.dtype)
    out = sitk.GetImageFromArray(filled)
    out.CopyInformation(image)
    for key in image.GetMetaDataKeys():
        out.SetMetaData(key, image.GetMetaData(key))
    note = (
        f"{total} non-finite voxels (NaN/inf) beyond every region's reach set to the image's lowest finite "
        f"value {fill:.6g}, as background"
    )
    return out, [note]

"""Geometry checks of a mask against its image, before any work is spent on the case.

- Same grid as ITK compares grids (`same_grid`: size equal, origin and spacing within
  ITK_COORDINATE_TOLERANCE x the image's first spacing, direction cosines within
  ITK_DIRECTION_TOLERANCE): the mask is taken on the image's grid (the image's geometry copied
  onto it), with a note where the two differed at all. Two readers of one DICOM series differ
  at that level (an oblique series' direction cosines and slice spacing, recomputed from
  rounded header values: SimpleITK's ImageSeriesReader and deltarad's reader differ by ~1e-7),
  and PyRadiomics refuses a mask not on its image's grid within ITK's tolerance.
- Masks and images that both carry a DICOM FrameOfReferenceUID must carry the same one.
- The same lattice shifted (same spacing and direction, origin a whole number of voxels away: a
  mask saved cropped to its extent, as 3D Slicer does): placed voxel for voxel, with a note.
- Another grid that overlaps the image (a mask drawn on another series of the study: the
  subtraction, the pre-contrast at other spacing): resampled onto the image, a voxel kept where
  the linearly interpolated 0/1 mask is >= 0.5 (keeps the volume; nearest neighbour gains or loses
  slabs), with a note giving both grids and both volumes. No overlap: CaseError.
- Empty mask: CaseError. Several connected lesions: the largest is kept (as the study did) and
  recorded. A lesion touching the image border: warned and recorded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from deltarad.errors import CaseError
from deltarad.imaging.preprocess import Grid, mask_box, resample_mask
from deltarad.imaging.rtstruct import check_same_frame, frame_of_reference

log = logging.getLogger(__name__)

#: ITK's defaults for "inputs occupy the same physical space" (itk::ImageToImageFilter's
#: GlobalDefaultCoordinateTolerance and GlobalDefaultDirectionTolerance, both 1e-6, as
#: sitk.ProcessObject.GetGlobalDefault*Tolerance report them): origin and spacing may differ by
#: this x the first image's first spacing (mm), each direction cosine by ITK_DIRECTION_TOLERANCE.
#: PyRadiomics' checkMask compares image and mask this way (LabelStatisticsImageFilter).
ITK_COORDINATE_TOLERANCE = 1e-6
ITK_DIRECTION_TOLERANCE = 1e-6
#: mm for spacing/origin (voxels for a lattice offset), unitless for direction cosines: how far a
#: mask's grid may be from the image's and still be placed on it voxel for voxel (beyond ITK's
#: tolerance, within this: nearest-neighbour placement, with a note).
GRID_TOLERANCE = 1e-3


def same_grid(image: sitk.Image, other: sitk.Image) -> bool:
    """Do the two images occupy the same voxels as ITK judges it: same size, origin and spacing
    within ITK_COORDINATE_TOLERANCE x image's first spacing (mm), direction cosines within
    ITK_DIRECTION_TOLERANCE (itk::ImageBase::IsSameImageGeometryAs)."""
    return image.GetDimension() == other.GetDimension() and image.IsSameImageGeometryAs(
        other, ITK_COORDINATE_TOLERANCE, ITK_DIRECTION_TOLERANCE
    )


def grid_difference(a: sitk.Image, b: sitk.Image) -> tuple[float, float, float]:
    """Largest differences between two grids: (origin mm, spacing mm, direction cosine)."""

    def largest(x, y) -> float:
        return float(np.max(np.abs(np.subtract(x, y))))

    return (
        largest(a.GetOrigin(), b.GetOrigin()),
        largest(a.GetSpacing(), b.GetSpacing()),
        largest(a.GetDirection(), b.GetDirection()),
    )


def on_image_grid(mask: sitk.Image, image: sitk.Image) -> tuple[sitk.Image, str | None]:
    """A mask on the same grid as `image` by `same_grid` with the image's geometry copied onto it,
    and a note when the two grids were not identical (None when they were)."""
    difference = grid_difference(mask, image)
    if not any(difference):
        return mask, None
    placed = sitk.Image(mask)
    placed.CopyInformation(image)
    origin, spacing, direction = difference
    return placed, (
        f"mask grid within ITK's tolerance of the image grid (origin {origin:.2g} mm, spacing {spacing:.2g} mm, "
        f"direction cosines {direction:.2g} apart; tolerance {ITK_COORDINATE_TOLERANCE:g} x spacing, "
        f"{ITK_DIRECTION_TOLERANCE:g}): taken on the image grid"
    )


def checked_mask(
    mask: sitk.Image, image: sitk.Image, *, patient: str | None = None, file: str | Path | None = None
) -> tuple[sitk.Image, list[str]]:
    """The mask on the image's grid, one connected lesion; returns (mask, notes for the record)."""
    notes: list[str] = []
    if not np.any(sitk.GetArrayViewFromImage(mask)):
        raise CaseError("mask is empty", patient=patient, file=file)
    check_same_frame(frame_of_reference(mask), frame_of_reference(image), patient=patient, file=file)
    if same_grid(image, mask):
        mask, note = on_image_grid(mask, image)
        if note:
            notes.append(note)
    else:
        if not _overlaps(mask, image):
            raise CaseError(
                f"mask and image do not overlap in physical space (different exam?): mask grid "
                f"{describe_grid(mask)}, image grid {describe_grid(image)}",
                patient=patient,
                file=file,
            )
        mask, note = _onto(mask, image)
        log.warning("patient %s: %s (%s)", patient, note, file)
        notes.append(note)
        if not np.any(sitk.GetArrayViewFromImage(mask)):
            raise CaseError("mask is empty after resampling onto the image grid", patient=patient, file=file)
    mask, n_lesions = largest_component(mask)
    if n_lesions > 1:
        notes.append(f"mask has {n_lesions} connected components; kept the largest")
        log.warning("patient %s: %s (%s)", patient, notes[-1], file)
    if touches_border(mask):
        notes.append("lesion touches the image border")
        log.warning("patient %s: %s (%s)", patient, notes[-1], file)
    return mask, notes


def _onto(mask: sitk.Image, image: sitk.Image) -> tuple[sitk.Image, str]:
    """The mask on the image's grid and a note saying how it got there (module docstring)."""
    offset = np.array(image.TransformPhysicalPointToContinuousIndex(mask.GetOrigin()))
    lattice = (
        np.allclose(mask.GetSpacing(), image.GetSpacing(), atol=GRID_TOLERANCE)
        and np.allclose(mask.GetDirection(), image.GetDirection(), atol=GRID_TOLERANCE)
        and np.allclose(offset, np.round(offset), atol=GRID_TOLERANCE)
    )
    if lattice:
        placed = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        lost = _voxels(mask) - _voxels(placed)
        if mask.GetSize() == image.GetSize() and not np.round(offset).any():
            origin, spacing, direction = grid_difference(mask, image)
            return placed, (
                f"mask grid beyond ITK's tolerance of the image grid but on its lattice (origin {origin:.2g} mm, "
                f"spacing {spacing:.2g} mm, direction cosines {direction:.2g} apart): placed on the image "
                "grid voxel for voxel"
            )
        return placed, (
            f"mask resampled onto the image voxel for voxel: it covers {'x'.join(map(str, mask.GetSize()))} "
            f"voxels of the exam grid from voxel {tuple(int(v) for v in np.round(offset))} (saved cropped)"
            + (f"; {lost} lesion voxels outside the exam dropped" if lost else "")
        )
    resampled = resample_mask(mask, Grid.of(image))
    return resampled, (
        f"mask resampled onto the image grid: drawn on another grid ({_describe(mask)}) than the exam "
        f"({_describe(image)}), kept where the interpolated mask >= 0.5; {_ml(mask):.3g} mL on its grid, "
        f"{_ml(resampled):.3g} mL on the exam's"
    )


def _describe(image: sitk.Image) -> str:
    spacing = " x ".join(f"{s:.3g}" for s in image.GetSpacing())
    return f"{'x'.join(map(str, image.GetSize()))} voxels of {spacing} mm"


def describe_grid(image: sitk.Image) -> str:
    """Size, spacing (mm), origin (mm, LPS) and direction cosines of a grid, for a message."""

    def numbers(values) -> str:
        return ", ".join(f"{v:.6g}" for v in values)

    return f"{_describe(image)}, origin ({numbers(image.GetOrigin())}) mm, direction ({numbers(image.GetDirection())})"


def _voxels(mask: sitk.Image) -> int:
    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))


def _ml(mask: sitk.Image) -> float:
    return _voxels(mask) * float(np.prod(mask.GetSpacing())) / 1000.0


def largest_component(mask: sitk.Image) -> tuple[sitk.Image, int]:
    """Keep the largest face-connected component; return it and the number of components.
    Components are labelled inside the lesion's bounding box (they cannot reach beyond it): a
    lesion is a small part of an exam."""
    array = sitk.GetArrayViewFromImage(mask)
    box = mask_box(array)
    if box is None:
        return sitk.Cast(mask != 0, sitk.sitkUInt8), 0
    labels = sitk.ConnectedComponent(sitk.GetImageFromArray(np.ascontiguousarray(array[box])), False)
    n = sitk.LabelShapeStatisticsImageFilter()
    n.Execute(labels)
    if n.GetNumberOfLabels() <= 1:
        return sitk.Cast(mask != 0, sitk.sitkUInt8), n.GetNumberOfLabels()
    biggest = max(n.GetLabels(), key=n.GetNumberOfPixels)
    kept = np.zeros(array.shape, np.uint8)
    kept[box] = sitk.GetArrayViewFromImage(labels) == biggest
    out = sitk.GetImageFromArray(kept)
    out.CopyInformation(mask)
    return out, n.GetNumberOfLabels()


def touches_border(mask: sitk.Image) -> bool:
    a = sitk.GetArrayViewFromImage(mask)
    return any(np.any(np.take(a, i, axis=ax)) for ax in range(a.ndim) for i in (0, -1))


def _overlaps(mask: sitk.Image, image: sitk.Image) -> bool:
    """Does the mask's lesion bounding box intersect the image's extent (voxel edges, physical space)?"""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.Cast(mask != 0, sitk.sitkUInt8))
    box = stats.GetBoundingBox(1)
    nd = mask.GetDimension()
    lo, size = np.array(box[:nd], float), np.array(box[nd:], float)
    corners = [
        image.TransformPhysicalPointToContinuousIndex(
            mask.TransformContinuousIndexToPhysicalPoint((lo + np.array(c) * size - 0.5).tolist())
        )
        for c in np.ndindex(*(2,) * nd)
    ]
    cmin, cmax = np.min(corners, axis=0), np.max(corners, axis=0)
    extent = np.array(image.GetSize()) - 0.5
    return bool(np.all(cmax > -0.5) and np.all(cmin < extent))

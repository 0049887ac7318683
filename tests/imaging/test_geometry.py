"""Mask checks against the image grid."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.errors import CaseError
from deltarad.imaging.geometry import (
    ITK_COORDINATE_TOLERANCE,
    ITK_DIRECTION_TOLERANCE,
    checked_mask,
    largest_component,
    same_grid,
)


def grid_image(array, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(array))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


IMAGE = grid_image(np.zeros((10, 20, 20), np.int16))


def lesion(*boxes) -> np.ndarray:
    a = np.zeros((10, 20, 20), np.uint8)
    for z, y, x in boxes:
        a[z, y, x] = 1
    return a


def test_same_grid_single_lesion_passes_unchanged():
    m = lesion((slice(3, 6), slice(5, 9), slice(5, 9)))
    mask, notes = checked_mask(grid_image(m), IMAGE, patient="P1")
    assert notes == [] and np.array_equal(sitk.GetArrayFromImage(mask), m)


def test_other_grid_is_resampled_with_a_note():
    m = np.zeros((20, 20, 20), np.uint8)
    m[6:12, 5:9, 5:9] = 1  # 1 mm slices covering z = 6..11 mm
    mask, notes = checked_mask(grid_image(m, spacing=(1.0, 1.0, 1.0)), IMAGE, patient="P1")
    assert any("resampled" in n for n in notes)
    assert mask.GetSize() == IMAGE.GetSize()
    assert np.array_equal(np.flatnonzero(sitk.GetArrayFromImage(mask).any(axis=(1, 2))), [3, 4, 5])


def test_no_overlap_and_empty_mask_are_errors():
    far = grid_image(lesion((slice(3, 6), slice(5, 9), slice(5, 9))), origin=(500.0, 0.0, 0.0))
    with pytest.raises(CaseError, match="do not overlap") as err:
        checked_mask(far, IMAGE, patient="P9", file="mask.nrrd")
    assert "patient P9" in str(err.value) and "mask.nrrd" in str(err.value)
    assert "mask grid 20x20x10 voxels of 1 x 1 x 2 mm, origin (500, 0, 0) mm" in str(err.value)
    assert "image grid 20x20x10 voxels of 1 x 1 x 2 mm, origin (0, 0, 0) mm" in str(err.value)
    with pytest.raises(CaseError, match="mask is empty"):
        checked_mask(grid_image(lesion()), IMAGE, patient="P9")


def test_largest_component_kept_and_border_recorded():
    big, small = (slice(3, 6), slice(0, 6), slice(2, 8)), (slice(3, 4), slice(14, 15), slice(14, 15))
    mask, notes = checked_mask(grid_image(lesion(big, small)), IMAGE, patient="P1")
    assert np.array_equal(sitk.GetArrayFromImage(mask), lesion(big))
    assert "mask has 2 connected components; kept the largest" in notes
    assert "lesion touches the image border" in notes


@pytest.mark.parametrize("seed", range(5))
def test_largest_component_in_the_lesion_box_equals_itk_on_the_whole_mask(seed):
    rng = np.random.default_rng(seed)
    array = np.zeros((12, 30, 40), np.uint8)
    array[2:10, 5:25, 8:35] = rng.random((8, 20, 27)) < 0.35  # many components, some on faces only
    mask = grid_image(array, origin=(-3.0, 4.0, 7.5))
    labels = sitk.ConnectedComponent(mask, False)
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(labels)
    biggest = max(stats.GetLabels(), key=stats.GetNumberOfPixels)
    kept, n = largest_component(mask)
    assert n == stats.GetNumberOfLabels() > 1
    assert np.array_equal(sitk.GetArrayViewFromImage(kept), sitk.GetArrayViewFromImage(labels) == biggest)
    assert same_grid(kept, mask) and kept.GetPixelID() == sitk.sitkUInt8
    assert largest_component(grid_image(np.zeros((3, 4, 5), np.uint8)))[1] == 0


def _itk_accepts(image: sitk.Image, mask: sitk.Image) -> bool:
    """ITK's own judgement, as PyRadiomics' checkMask meets it: LabelStatisticsImageFilter runs or
    refuses "Inputs do not occupy the same physical space"."""
    try:
        sitk.LabelStatisticsImageFilter().Execute(image, mask)
        return True
    except RuntimeError as exc:
        assert "same physical space" in str(exc)
        return False


def _tilted(angle: float) -> tuple[float, ...]:
    c, s = np.cos(angle), np.sin(angle)
    return (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("factor", [0.5, 0.99, 1.01, 2.0, 100.0])
def test_same_grid_is_itks_judgement(factor):
    """ITK's defaults (origin and spacing 1e-6 x the first spacing, direction 1e-6) decide, as
    ITK's filters decide: just inside and just outside each tolerance."""
    assert sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance() == ITK_COORDINATE_TOLERANCE
    assert sitk.ProcessObject.GetGlobalDefaultDirectionTolerance() == ITK_DIRECTION_TOLERANCE
    m = lesion((slice(3, 6), slice(5, 9), slice(5, 9)))
    image = grid_image(np.zeros((10, 20, 20), np.int16), spacing=(0.7, 0.7, 2.0), origin=(-3.0, 4.0, 8.0))
    image.SetDirection(_tilted(0.1))
    shift = factor * ITK_COORDINATE_TOLERANCE * 0.7
    for change in ("origin", "spacing", "direction"):
        mask = grid_image(m, spacing=(0.7, 0.7, 2.0), origin=(-3.0, 4.0, 8.0))
        mask.SetDirection(_tilted(0.1))
        if change == "origin":
            mask.SetOrigin((-3.0, 4.0 + shift, 8.0))
        elif change == "spacing":
            mask.SetSpacing((0.7, 0.7, 2.0 + shift))
        else:
            direction = np.array(_tilted(0.1))
            direction[1] += factor * ITK_DIRECTION_TOLERANCE
            mask.SetDirection(direction.tolist())
        assert same_grid(image, mask) == _itk_accepts(image, mask) == (factor < 1), change


def test_mask_within_itks_tolerance_is_taken_on_the_image_grid_with_a_note():
    m = lesion((slice(3, 6), slice(5, 9), slice(5, 9)))
    image = grid_image(np.zeros((10, 20, 20), np.int16))
    image.SetDirection(_tilted(0.1))
    mask = grid_image(m, spacing=(1.0, 1.0, 2.0 + 3e-7), origin=(0.0, 2e-7, 0.0))
    mask.SetDirection(_tilted(0.1 + 4e-7))
    taken, notes = checked_mask(mask, image, patient="P1")
    assert (taken.GetOrigin(), taken.GetSpacing(), taken.GetDirection()) == (
        image.GetOrigin(),
        image.GetSpacing(),
        image.GetDirection(),
    )
    assert np.array_equal(sitk.GetArrayFromImage(taken), m)
    assert len(notes) == 1 and notes[0].startswith("mask grid within ITK's tolerance of the image grid")
    assert "spacing 3e-07 mm" in notes[0] and notes[0].endswith("taken on the image grid")
    assert _itk_accepts(image, taken)


def test_mask_beyond_itks_tolerance_on_the_lattice_is_placed_voxel_for_voxel():
    m = lesion((slice(3, 6), slice(5, 9), slice(5, 9)))
    mask = grid_image(m, origin=(0.0, 1e-4, 0.0))  # 100x ITK's tolerance, a ten-thousandth of a voxel
    placed, notes = checked_mask(mask, IMAGE, patient="P1")
    assert np.array_equal(sitk.GetArrayFromImage(placed), m)
    assert placed.GetOrigin() == IMAGE.GetOrigin()
    assert notes == [
        (
            "mask grid beyond ITK's tolerance of the image grid but on its lattice (origin 0.0001 mm, "
            "spacing 0 mm, direction cosines 0 apart): placed on the image grid voxel for voxel"
        )
    ]

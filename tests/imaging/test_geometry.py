"""Mask checks against the image grid."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.errors import CaseError
from deltarad.imaging.geometry import checked_mask


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
    with pytest.raises(CaseError, match="mask is empty"):
        checked_mask(grid_image(lesion()), IMAGE, patient="P9")


def test_largest_component_kept_and_border_recorded():
    big, small = (slice(3, 6), slice(0, 6), slice(2, 8)), (slice(3, 4), slice(14, 15), slice(14, 15))
    mask, notes = checked_mask(grid_image(lesion(big, small)), IMAGE, patient="P1")
    assert np.array_equal(sitk.GetArrayFromImage(mask), lesion(big))
    assert "mask has 2 connected components; kept the largest" in notes
    assert "lesion touches the image border" in notes

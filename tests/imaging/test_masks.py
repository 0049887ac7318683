"""Masks as they come: label maps of any value, segments sharing a label value across layers,
masks saved cropped or drawn on another grid of the same study, frames of reference."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.errors import CaseError
from deltarad.imaging.geometry import checked_mask
from deltarad.imaging.io import load_mask, read_mask
from deltarad.imaging.rtstruct import FRAME_OF_REFERENCE_KEY

SPACING = (0.8, 0.8, 2.0)


def image_like(array: np.ndarray, spacing=SPACING, origin=(-10.0, 5.0, -20.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


EXAM = image_like(np.zeros((10, 30, 30), np.int16))


@pytest.mark.parametrize("value", [255, 7])
def test_labelmap_with_one_value_of_any_number_is_taken_with_a_note(tmp_path, value):
    labels = np.zeros((10, 30, 30), np.uint8)
    labels[3:6, 10:15, 10:15] = value
    sitk.WriteImage(image_like(labels), str(tmp_path / "mask.nii.gz"))
    mask, notes = load_mask(tmp_path / "mask.nii.gz")
    assert np.array_equal(sitk.GetArrayFromImage(mask), (labels > 0).astype(np.uint8))
    assert notes == [f"labelmap's only non-zero value is {value}: taken as the lesion"]


def test_plain_label_one_gives_no_note(tmp_path):
    labels = np.zeros((10, 30, 30), np.uint8)
    labels[3:6, 10:15, 10:15] = 1
    sitk.WriteImage(image_like(labels), str(tmp_path / "mask.nrrd"))
    assert load_mask(tmp_path / "mask.nrrd")[1] == []


def test_segments_sharing_a_label_value_in_two_layers(tmp_path):
    """3D Slicer numbers segments per layer: two segments may both be label 1. By name each is
    found; by value the choice is refused with both named."""
    tumour = np.zeros((10, 30, 30), np.uint8)
    tumour[3:6, 10:15, 10:15] = 1
    oedema = np.zeros_like(tumour)
    oedema[2:7, 8:17, 8:17] = 1  # overlaps the tumour, so it lives in another layer
    seg = sitk.GetImageFromArray(np.stack([tumour, oedema], axis=-1), isVector=True)
    seg.SetSpacing(SPACING)
    for i, name in enumerate(("Tumour", "Oedema")):
        seg.SetMetaData(f"Segment{i}_ID", f"Segment_{i + 1}")
        seg.SetMetaData(f"Segment{i}_Name", name)
        seg.SetMetaData(f"Segment{i}_LabelValue", "1")
        seg.SetMetaData(f"Segment{i}_Layer", str(i))
    sitk.WriteImage(seg, str(tmp_path / "case.seg.nrrd"))
    assert np.array_equal(sitk.GetArrayFromImage(read_mask(tmp_path / "case.seg.nrrd", label="Oedema")), oedema)
    assert np.array_equal(sitk.GetArrayFromImage(read_mask(tmp_path / "case.seg.nrrd", label="tumour")), tumour)
    with pytest.raises(CaseError, match=r"2 segments match 1: 'Tumour' \(layer 0\), 'Oedema' \(layer 1\)"):
        read_mask(tmp_path / "case.seg.nrrd", label=1)


def test_mask_saved_cropped_is_placed_voxel_for_voxel():
    """A mask on the exam's lattice, cut to its extent (as 3D Slicer saves .seg.nrrd files)."""
    lesion = np.zeros((4, 6, 7), np.uint8)
    lesion[1:3, 1:5, 1:6] = 1
    crop = image_like(lesion, origin=EXAM.TransformIndexToPhysicalPoint((10, 12, 3)))
    mask, notes = checked_mask(crop, EXAM)
    expected = np.zeros((10, 30, 30), np.uint8)
    expected[3:7, 12:18, 10:17] = lesion
    assert np.array_equal(sitk.GetArrayFromImage(mask), expected)
    assert notes == [
        "mask resampled onto the image voxel for voxel: it covers 7x6x4 voxels of the exam grid from voxel "
        "(10, 12, 3) (saved cropped)"
    ]
    beyond = image_like(lesion, origin=EXAM.TransformIndexToPhysicalPoint((26, 12, 3)))  # x 26-32 of 0-29
    mask, notes = checked_mask(beyond, EXAM)
    assert sitk.GetArrayFromImage(mask).sum() == lesion[:, :, :4].sum()
    assert notes[0].endswith(f"; {lesion[:, :, 4:].sum()} lesion voxels outside the exam dropped")


def test_mask_drawn_on_another_series_is_resampled_keeping_its_volume():
    """Drawn on a 0.4 x 0.4 x 1 mm series (the subtraction, say) of the same frame of reference:
    a box of 4 x 4 x 6 mm (96 mm^3) on both grids, so the exam keeps exactly 96 mm^3."""
    fine = np.zeros((20, 60, 60), np.uint8)
    fine[6:12, 20:30, 20:30] = 1  # exam voxels x, y 10-14 and slices 3-5
    drawn = image_like(fine, spacing=(0.4, 0.4, 1.0), origin=(-10.2, 4.8, -20.5))  # voxel edges on the exam's
    mask, notes = checked_mask(drawn, EXAM, patient="P1")
    expected = np.zeros((10, 30, 30), np.uint8)
    expected[3:6, 10:15, 10:15] = 1
    assert np.array_equal(sitk.GetArrayFromImage(mask), expected)
    volume = expected.sum() * np.prod(SPACING)
    assert volume == pytest.approx(fine.sum() * 0.4 * 0.4 * 1.0)
    assert notes[0].startswith(
        "mask resampled onto the image grid: drawn on another grid (60x60x20 voxels of "
        "0.4 x 0.4 x 1 mm) than the exam (30x30x10 voxels of 0.8 x 0.8 x 2 mm)"
    )
    assert notes[0].endswith(f"{volume / 1000:.3g} mL on its grid, {volume / 1000:.3g} mL on the exam's")


def test_mask_of_another_frame_of_reference_is_refused():
    lesion = np.zeros((10, 30, 30), np.uint8)
    lesion[3:6, 10:15, 10:15] = 1
    mask, exam = image_like(lesion), image_like(np.zeros((10, 30, 30), np.int16))
    mask.SetMetaData(FRAME_OF_REFERENCE_KEY, "1.2.3")
    exam.SetMetaData(FRAME_OF_REFERENCE_KEY, "1.2.4")
    with pytest.raises(CaseError, match="mask and exam are in different frames of reference"):
        checked_mask(mask, exam, patient="P1", file="m.dcm")
    exam.SetMetaData(FRAME_OF_REFERENCE_KEY, "1.2.3")
    assert checked_mask(mask, exam)[1] == []

"""The subtraction image of a design ({subtract: [a, b]}): phase a minus phase b, voxel by voxel on
the exam's grid, against arrays written here and against dcm2niix's reading of real DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from deltarad.config import ImagingSettings
from deltarad.design import ImageSpec
from deltarad.errors import CaseError
from deltarad.imaging.io import read_design_image

SETTINGS = ImagingSettings()


def write_4d(path: Path, phases: list[np.ndarray], spacing=(0.7, 0.7, 2.0)) -> Path:
    volumes = []
    for array in phases:
        v = sitk.GetImageFromArray(array)
        v.SetSpacing(spacing)
        v.SetOrigin((-12.0, 30.5, 7.0))
        volumes.append(v)
    sitk.WriteImage(sitk.JoinSeries(volumes), str(path))
    return path


def test_subtraction_equals_phase_a_minus_phase_b_voxel_by_voxel(tmp_path):
    rng = np.random.default_rng(0)
    phases = [rng.integers(0, 4000, (6, 9, 11)).astype(np.uint16) for _ in range(4)]
    path = write_4d(tmp_path / "dce.nii.gz", phases)
    image, native, notes = read_design_image(path, SETTINGS, ImageSpec(subtract=(3, 1)))
    expected = phases[3].astype(np.float32) - phases[1].astype(np.float32)  # negative where phase 1 is brighter
    assert image.GetPixelID() == sitk.sitkFloat32
    assert np.array_equal(sitk.GetArrayFromImage(image), expected)
    assert (expected < 0).any()
    assert np.array_equal(sitk.GetArrayFromImage(native), phases[1].astype(np.float32))  # air, body and N4 read phase b
    assert image.GetSpacing() == pytest.approx((0.7, 0.7, 2.0)) and image.GetOrigin() == pytest.approx(
        (-12.0, 30.5, 7.0)
    )
    assert any("phase 3 minus phase 1, voxel by voxel" in n for n in notes)


def test_a_phase_is_read_as_before_and_needs_no_native_image(tmp_path):
    phases = [np.full((4, 5, 6), k, np.uint16) for k in range(3)]
    image, native, _ = read_design_image(write_4d(tmp_path / "dce.nii.gz", phases), SETTINGS, ImageSpec(phase=2))
    assert native is None and (sitk.GetArrayFromImage(image) == 2).all()


def test_a_single_volume_cannot_be_subtracted(tmp_path):
    one = sitk.GetImageFromArray(np.arange(60, dtype=np.uint16).reshape(3, 4, 5))
    sitk.WriteImage(one, str(tmp_path / "one.nii.gz"))
    with pytest.raises(CaseError, match=r"phases 1 and 0 are the same volume.*several phases"):
        read_design_image(tmp_path / "one.nii.gz", SETTINGS, ImageSpec(subtract=(1, 0)), patient="P7")
    with pytest.raises(CaseError, match=r"phase 5 requested but the exam has 2 phases"):
        read_design_image(
            write_4d(tmp_path / "two.nii.gz", [one_array := np.zeros((3, 4, 5), np.uint16), one_array + 1]),
            SETTINGS,
            ImageSpec(subtract=(5, 0)),
        )


def test_real_dicom_subtraction_equals_dcm2niix_phases_subtracted(shared_data):
    """Siemens enhanced MR (4 dynamics) read by deltarad; dcm2niix's 4D NIfTI of the same files
    (ref/) gives the phases independently: phase 2 minus phase 0 agrees voxel for voxel."""
    folder = shared_data / "dicom-vendors" / "siemens-xa10-enhanced"
    ref = sitk.ReadImage(str(folder / "ref" / "Siemens_REST1_w_SMS_PF7-8_6.nii"))
    size = list(ref.GetSize())
    size[3] = 0
    phase = [sitk.Extract(ref, size, [0, 0, 0, k]) for k in (2, 0)]
    theirs = sitk.GetArrayFromImage(phase[0]).astype(np.float64) - sitk.GetArrayFromImage(phase[1]).astype(np.float64)
    ours, _, _ = read_design_image(folder, SETTINGS, ImageSpec(subtract=(2, 0)), patient="V1")
    on_ref = sitk.GetArrayFromImage(
        sitk.Resample(sitk.Cast(ours, sitk.sitkFloat64), phase[0], sitk.Transform(), sitk.sitkNearestNeighbor, np.nan)
    )
    assert not np.isnan(on_ref).any()
    assert np.array_equal(on_ref, theirs)
    assert (theirs != 0).any()


def test_real_dicom_of_identical_phases_is_refused(shared_data):
    """The GE multiphase files hold the same pixels in all 10 phases: a subtraction would be 0."""
    with pytest.raises(CaseError, match="phases 1 and 0 are the same volume"):
        read_design_image(
            shared_data / "dicom-vendors" / "ge-multiphase", SETTINGS, ImageSpec(subtract=(1, 0)), patient="V1"
        )

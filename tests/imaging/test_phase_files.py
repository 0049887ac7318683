"""An exam as one NIfTI/NRRD file per phase in a folder: the phases in the order of the number
ending each name, other files left out with a note, and every other reading refused in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from tests.imaging.test_io import phase_volume, write_exam

from deltarad.errors import CaseError
from deltarad.imaging.io import ExamPhaseReader, read_exam


def volume(phase: int, *, origin=(-20.0, 15.0, -30.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(phase_volume(phase))
    image.SetSpacing((0.7, 0.9, 2.5))
    image.SetOrigin(origin)
    return image


def phase_folder(folder: Path, names: list[str]) -> Path:
    """`names[k]` holds phase k's voxels (phase_volume(k))."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        sitk.WriteImage(volume(k), str(folder / name))
    return folder


def test_phases_in_the_order_of_their_numbers_and_a_mask_beside_them_left_out(tmp_path):
    # ph1..ph11: name order would put ph10 and ph11 before ph2
    folder = phase_folder(tmp_path / "exam", [f"ph{n}.nii.gz" for n in range(1, 12)])
    sitk.WriteImage(sitk.Cast(volume(0) > 1500, sitk.sitkUInt8), str(folder / "tumour_mask.nrrd"))
    image, notes = read_exam(folder, phase=9, series="DCE")
    assert np.array_equal(sitk.GetArrayFromImage(image), phase_volume(9))
    assert image.GetSpacing() == pytest.approx((0.7, 0.9, 2.5))
    assert notes == [
        "one file per phase: 11 phases ph1.nii.gz..ph11.nii.gz, phase 0 = ph1.nii.gz (number 1)",
        "left out of the phases (not of the numbered series): tumour_mask.nrrd",
        "phase 9 = ph10.nii.gz",
        "series 'DCE' not used: the folder holds phase files, not DICOM series",
    ]
    with pytest.raises(CaseError, match=r"phase 11 requested but the exam has 11 phases \(0..10\)"):
        read_exam(folder, phase=11)


def test_the_phase_reader_reads_each_file_as_a_phase_without_times(tmp_path):
    names = [f"case_{k:04d}.nrrd" for k in range(4)]
    folder = phase_folder(tmp_path / "exam", names)
    phases = ExamPhaseReader(folder, patient="P7")
    assert len(phases) == 4 and phases.header_times_s is None  # times come from kinetics.times_s
    assert phases.notes == [
        "one file per phase: 4 phases case_0000.nrrd..case_0003.nrrd, phase 0 = case_0000.nrrd (number 0)"
    ]
    assert np.array_equal(sitk.GetArrayFromImage(phases[2]), phase_volume(2))
    slab = phases.slab(3, 1, 3)
    assert np.array_equal(sitk.GetArrayFromImage(slab), phase_volume(3)[1:3])
    assert slab.GetOrigin() == pytest.approx((-20.0, 15.0, -30.0 + 2.5))  # the slab's first slice


def test_a_folder_holding_dicom_stays_a_dicom_exam(tmp_path):
    write_exam(tmp_path / "exam", phases=3)
    sitk.WriteImage(sitk.Cast(volume(0) > 1500, sitk.sitkUInt8), str(tmp_path / "exam" / "mask_1.nrrd"))
    sitk.WriteImage(volume(0), str(tmp_path / "exam" / "mask_2.nrrd"))
    image, notes = read_exam(tmp_path / "exam", phase=2)
    assert np.array_equal(sitk.GetArrayFromImage(image), phase_volume(2))
    assert not any("one file per phase" in n for n in notes)


def test_a_single_volume_file_in_a_folder_is_that_file(tmp_path):
    folder = phase_folder(tmp_path / "exam", ["t1_dce.nii.gz"])
    image, notes = read_exam(folder, phase=3)
    assert np.array_equal(sitk.GetArrayFromImage(image), phase_volume(0))
    assert notes == ["the folder's only volume file t1_dce.nii.gz read"]
    with pytest.raises(CaseError, match="kinetics need every phase of the exam, but the file holds one 3-D volume"):
        ExamPhaseReader(folder)


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (
            ["pre_1.nii.gz", "pre_2.nii.gz", "post_1.nii.gz", "post_2.nii.gz"],
            r"2 numbered series of volume files \(post_<n>.nii.gz \(2 files\); pre_<n>.nii.gz \(2 files\)\)",
        ),
        (["dyn0.nii.gz", "dyn1.nii.gz", "dyn3.nii.gz"], r"numbered 0..3 without 2: is a phase missing\?"),
        (["dyn0.nrrd", "dyn1.nrrd", "dyn01.nrrd"], r"phase number\(s\) 1 given by two files of dyn<n>.nrrd"),
        (["baseline.nii.gz", "early.nii.gz"], r"2 volume files \(baseline.nii.gz, early.nii.gz\) but no numbered"),
    ],
    ids=["two-series", "gap", "number-twice", "no-numbers"],
)
def test_two_readings_of_a_folder_are_refused_naming_the_files(tmp_path, names, problem):
    folder = phase_folder(tmp_path / "exam", names)
    with pytest.raises(CaseError, match=problem) as refused:
        read_exam(folder, phase=1, patient="P3")
    assert refused.value.patient == "P3" and Path(refused.value.file) == folder


def test_phases_on_two_grids_or_a_4d_file_among_them_are_refused(tmp_path):
    folder = phase_folder(tmp_path / "shifted", ["p0.nii.gz", "p1.nii.gz"])
    sitk.WriteImage(volume(2, origin=(-20.0, 15.0, -27.5)), str(folder / "p2.nii.gz"))
    with pytest.raises(CaseError, match=r"phase file p2.nii.gz is not on the grid of p0.nii.gz .*origin"):
        ExamPhaseReader(folder)
    four = phase_folder(tmp_path / "four", ["p0.nii.gz"])
    sitk.WriteImage(sitk.JoinSeries([volume(1), volume(2)]), str(four / "p1.nii.gz"))
    with pytest.raises(CaseError, match=r"phase file p1.nii.gz holds a 4-D image"):
        read_exam(four, phase=0)

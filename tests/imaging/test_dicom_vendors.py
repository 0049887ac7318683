"""Real scanner DICOM (../shared/data/dicom-vendors, see its README) read through read_exam,
the path `deltarad extract` takes, against dcm2niix's independent reading in ref/.

Volumes are compared in physical space: ours resampled (nearest neighbour, identity transform)
onto the reference's grid, which holds only when both put every voxel centre at the same LPS
point; voxels falling outside ours would show as the sentinel and are counted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from deltarad.errors import CaseError
from deltarad.imaging.io import read_exam

OUTSIDE = -1e9


@pytest.fixture(scope="module")
def vendors(shared_data) -> Path:
    return shared_data / "dicom-vendors"


def reference_volume(path: Path, k: int | None = None) -> sitk.Image:
    ref = sitk.ReadImage(str(path))
    if ref.GetDimension() == 4:
        size = list(ref.GetSize())
        size[3] = 0
        ref = sitk.Extract(ref, size, [0, 0, 0, k])
    return ref


def on_reference_grid(ours: sitk.Image, ref: sitk.Image) -> np.ndarray:
    resampled = sitk.Resample(
        sitk.Cast(ours, sitk.sitkFloat64), ref, sitk.Transform(), sitk.sitkNearestNeighbor, OUTSIDE
    )
    values = sitk.GetArrayFromImage(resampled)
    assert not np.any(values == OUTSIDE), "our volume does not cover the reference's voxels"
    assert ours.GetNumberOfPixels() == ref.GetNumberOfPixels()
    return values


def assert_same_volume(ours: sitk.Image, ref: sitk.Image) -> None:
    assert np.array_equal(on_reference_grid(ours, ref), sitk.GetArrayFromImage(ref).astype(np.float64))


@pytest.mark.parametrize(
    "folder, reference, n_phases",
    [
        ("siemens-xa10-enhanced", "Siemens_REST1_w_SMS_PF7-8_6.nii", 4),
        ("ge-multiphase", "fMRI_Multiphase_Des_2.nii", 10),
        ("siemens-xa30-series-per-phase", "7001_func-bold_task-fa_run-1.nii", 4),
    ],
)
def test_phase_k_equals_reference_volume_k(vendors, folder, reference, n_phases):
    for k in range(n_phases):
        image, notes = read_exam(vendors / folder, phase=k, patient="V1")
        assert_same_volume(image, reference_volume(vendors / folder / "ref" / reference, k))
    with pytest.raises(CaseError, match=f"phase {n_phases} requested but the exam has {n_phases} phases"):
        read_exam(vendors / folder, phase=n_phases, patient="V1")


def test_enhanced_mr_phases_come_from_the_per_frame_groups(vendors):
    _, notes = read_exam(vendors / "siemens-xa10-enhanced", phase=2, patient="V1")
    assert any("4 dynamics told apart by TemporalPositionIdentifier/Index" in n for n in notes)
    assert any("phase 2 of 4 read" in n for n in notes)


def test_ge_multiphase_identical_pixels_told_apart_by_headers(vendors):
    """Its 10 phases hold the same pixels: only TemporalPositionIdentifier orders them."""
    _, notes = read_exam(vendors / "ge-multiphase", phase=4, patient="V1")
    assert "phase 4 of 10 read (TemporalPositionIdentifier/Index 5)" in notes


def test_series_per_phase_notes_say_which_series_became_which_phase(vendors):
    _, notes = read_exam(vendors / "siemens-xa30-series-per-phase", phase=0, patient="V1")
    mapping = next(n for n in notes if "ordered by acquisition time" in n)
    for k, number in enumerate((7001, 7002, 7003, 7004)):
        assert f"series {number} 'func-bold_task-fa_run-1' -> phase {k}" in mapping


@pytest.mark.parametrize("form", ["enhanced", "classic"])
def test_philips_label_and_control_are_refused_without_a_choice(vendors, form):
    with pytest.raises(
        CaseError,
        match=r"2 images share each slice position in one dynamic .*"
        r"Philips label type \(2005,1429\): 'CONTROL', 'LABEL'.*never interleaved",
    ) as err:
        read_exam(vendors / "philips-dynamics" / form, phase=1, patient="V2")
    assert "patient V2" in str(err.value)


@pytest.mark.parametrize(
    "form, reference, ref_index",
    [
        ("enhanced", "1903_WIP_SOURCE_-_3DpCASL_enh.nii.gz", lambda kind, k: 3 * (kind == "LABEL") + k),
        ("classic", "1903_WIP_SOURCE_-_3DpCASL_cl.nii.gz", lambda kind, k: 2 * k + (kind == "LABEL")),
    ],
)
def test_philips_separated_by_label_type_on_the_display_scale(vendors, form, reference, ref_index):
    """dcm2niix orders the enhanced file's volumes CONTROL 1-3 then LABEL 1-3, the classic
    files' volumes by dynamic, CONTROL before LABEL; on Philips' private floating-point scale:
    stored / SS. Ours are stored x RS + RI (RI = 0 here), so ref / ours is the constant
    1 / (RS x SS), to float32 rounding."""
    header = pydicom.dcmread(next((vendors / "philips-dynamics" / "classic").iterdir()), stop_before_pixels=True)
    rs, ri, ss = float(header.RescaleSlope), float(header.RescaleIntercept), float(header[0x2005100E].value)
    assert ri == 0
    for kind in ("CONTROL", "LABEL"):
        for k in range(3):
            image, notes = read_exam(vendors / "philips-dynamics" / form, phase=k, image_kind=kind, patient="V2")
            ref = reference_volume(vendors / "philips-dynamics" / "ref" / reference, ref_index(kind, k))
            ours = on_reference_grid(image, ref)
            theirs = sitk.GetArrayFromImage(ref).astype(np.float64)
            assert np.allclose(theirs, ours / (rs * ss), rtol=2e-6, atol=0)
            assert (
                ours.max() < 1e4 < 1e6 < theirs.max()
            )  # the displayed scale (thousands), not the private one (millions)
    assert any(
        n.startswith(
            "value scale: RescaleSlope/RescaleIntercept 1.33871/0 applied, the values the Philips scanner displays"
        )
        and "(2005,100E, present) is not used" in n
        for n in notes
    )
    assert any("images of kind 'LABEL' read (imaging.image_kind), 120 others left out" in n for n in notes)


def test_classic_and_enhanced_copies_in_one_folder_read_the_enhanced_copy(vendors):
    image, notes = read_exam(vendors / "philips-dynamics", phase=2, image_kind="CONTROL", patient="V2")
    assert any("in the folder twice, as classic and as Enhanced MR: the enhanced copy is read" in n for n in notes)
    classic, _ = read_exam(vendors / "philips-dynamics" / "classic", phase=2, image_kind="CONTROL", patient="V2")
    assert np.array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(classic))


def test_ge_mrdc_names_found_and_refused_as_not_dynamic(vendors):
    """Files named i22.MRDC.1 are found by content; the diffusion series is refused in words."""
    with pytest.raises(
        CaseError,
        match=r"7 images at each of 2 slice positions and no temporal tag .* not a dynamic "
        r"\(DCE\) series; its images differ in diffusion b-value \(0, 1000",
    ) as err:
        read_exam(vendors / "ge-mrdc-names", patient="V3")
    assert "patient V3" in str(err.value) and "MRDC" not in err.value.problem


def test_every_transfer_syntax_decodes_to_the_same_pixels(vendors, tmp_path):
    """One Siemens mosaic in 9 transfer syntaxes (implicit, explicit, big-endian, RLE, JPEG
    lossless, JPEG-LS, JPEG 2000). Each file alone in a folder reads to the same pixels, and its
    64 x 64 tiles are the reference's slices."""
    folder = vendors / "transfer-syntaxes"
    with pytest.raises(CaseError, match="9 images at each of 1 slice positions"):
        read_exam(folder, patient="V4")  # nine copies of one image are not one volume
    syntaxes = set()
    images = {}
    for file in sorted(folder.glob("*.dcm")):
        alone = tmp_path / file.stem
        alone.mkdir()
        shutil.copy(file, alone / file.name)
        image, notes = read_exam(alone, patient="V4")
        assert any("Siemens MOSAIC images (slices tiled in one image) are read as stored" in n for n in notes)
        images[file.stem] = sitk.GetArrayFromImage(image)[0]
        syntaxes.add(str(pydicom.dcmread(file, stop_before_pixels=True).file_meta.TransferSyntaxUID))
    assert len(syntaxes) == 7
    plain = images["1"]
    assert all(np.array_equal(a, plain) for a in images.values())
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "ref" / "1.nii")))  # (35, 64, 64)
    tiles = [plain[r * 64 : (r + 1) * 64, c * 64 : (c + 1) * 64] for r in range(6) for c in range(6)][:35]
    # dcm2niix writes its rows bottom-up (NIfTI's +y is anterior, DICOM rows run posterior)
    assert all(np.array_equal(tile[::-1], ref[k]) for k, tile in enumerate(tiles))

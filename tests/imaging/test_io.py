"""Readers: every format written for real and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from deltarad.errors import CaseError
from deltarad.imaging.io import read_image, read_mask

ROWS, COLS, SLICES = 6, 8, 4
SPACING = (0.7, 0.9, 2.5)  # column, row, slice (mm)
ORIGIN = (-20.0, 15.0, -30.0)


def phase_volume(phase: int) -> np.ndarray:
    """(slices, rows, cols) int16 values that identify phase, slice, row and column."""
    k, j, i = np.meshgrid(np.arange(SLICES), np.arange(ROWS), np.arange(COLS), indexing="ij")
    return (1000 * phase + 100 * k + 10 * j + i).astype(np.int16)


def write_mr_slice(
    path: Path,
    pixels: np.ndarray,
    k: int,
    *,
    series_uid: str,
    study_uid: str,
    phase: int,
    phase_tags: tuple[str, ...] = ("TemporalPositionIdentifier", "TriggerTime", "AcquisitionTime"),
    series_number: int = 5,
    description: str = "DCE 3D",
) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.PatientID = "ANON"
    ds.PatientName = "Anonymous^Test"
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.StudyDate = ds.SeriesDate = "20240115"
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "deltarad tests"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = study_uid[:-2] + ".9"
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.InstanceNumber = phase * SLICES + k + 1
    ds.ImagePositionPatient = [ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SPACING[2]]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [SPACING[1], SPACING[0]]  # row spacing, column spacing
    ds.SliceThickness = SPACING[2]
    ds.SpacingBetweenSlices = SPACING[2]
    ds.MagneticFieldStrength = 3
    ds.RepetitionTime = 4.5
    ds.EchoTime = 1.8
    if "TemporalPositionIdentifier" in phase_tags:
        ds.TemporalPositionIdentifier = phase + 1
        ds.NumberOfTemporalPositions = 3
    if "TriggerTime" in phase_tags:
        ds.TriggerTime = 60000.0 * phase
    if "AcquisitionTime" in phase_tags:
        ds.AcquisitionTime = f"1015{10 + 20 * phase:02d}.000000"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = pixels.astype(np.int16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_exam(folder: Path, phases: int = 3, *, per_phase_series: bool = False, **kw) -> list[str]:
    """A DCE exam of `phases` phases; slices written in shuffled order. Returns the series UIDs."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid()
    uids = [generate_uid() for _ in range(phases)] if per_phase_series else [generate_uid()] * phases
    order = np.random.default_rng(1).permutation(phases * SLICES)
    for n in order:
        p, k = divmod(int(n), SLICES)
        sub = folder / f"phase{p}" if per_phase_series else folder
        sub.mkdir(exist_ok=True)
        write_mr_slice(
            sub / f"IM{n:04d}.dcm",
            phase_volume(p)[k],
            k,
            series_uid=uids[p],
            study_uid=study_uid,
            phase=p,
            series_number=5 + (p if per_phase_series else 0),
            **kw,
        )
    return uids


@pytest.mark.parametrize(
    "phase_tags",
    [("TemporalPositionIdentifier", "TriggerTime", "AcquisitionTime"), ("TriggerTime",), ("AcquisitionTime",)],
    ids=["temporal-position", "trigger-time", "acquisition-time"],
)
def test_multiphase_series_is_split_into_phases(tmp_path, phase_tags):
    write_exam(tmp_path / "exam", phase_tags=phase_tags)
    image = read_image(tmp_path / "exam", phase=2, patient="P1")
    assert np.array_equal(sitk.GetArrayFromImage(image), phase_volume(2))
    assert np.allclose(image.GetSpacing(), SPACING)
    assert np.allclose(image.GetOrigin(), ORIGIN)
    assert np.allclose(image.GetDirection(), np.eye(3).ravel())


def test_one_series_per_phase_and_single_file(tmp_path):
    write_exam(tmp_path / "exam", per_phase_series=True)
    assert np.array_equal(sitk.GetArrayFromImage(read_image(tmp_path / "exam", phase=1)), phase_volume(1))
    one_file = next((tmp_path / "exam" / "phase2").iterdir())
    assert np.array_equal(sitk.GetArrayFromImage(read_image(one_file, phase=0)), phase_volume(2))


def test_several_series_need_a_choice(tmp_path):
    uids = write_exam(tmp_path / "exam", phases=1)
    study_uid = generate_uid()
    other = generate_uid()
    for k in range(2):  # a localiser: another grid, another series
        write_mr_slice(
            tmp_path / "exam" / f"LOC{k}.dcm",
            np.zeros((3, 3), np.int16),
            k,
            series_uid=other,
            study_uid=study_uid,
            phase=0,
            description="localiser",
        )
    with pytest.raises(CaseError, match="2 DICOM series and no choice") as err:
        read_image(tmp_path / "exam", patient="P7")
    assert "patient P7" in str(err.value) and "localiser" in str(err.value)
    image = read_image(tmp_path / "exam", series_uid=uids[0])
    assert np.array_equal(sitk.GetArrayFromImage(image), phase_volume(0))


def test_missing_phase_missing_file_and_truncated_dicom(tmp_path):
    write_exam(tmp_path / "exam")
    with pytest.raises(CaseError, match="phase 5 requested but the exam has 3 phases"):
        read_image(tmp_path / "exam", phase=5)
    with pytest.raises(CaseError, match="file not found"):
        read_image(tmp_path / "nowhere.nii.gz", patient="P2")
    victim = tmp_path / "exam" / "IM0005.dcm"  # phase 1, slice 1
    victim.write_bytes(victim.read_bytes()[:-40])  # an interrupted copy: pixel data cut short
    with pytest.raises(CaseError, match="DICOM") as err:
        read_image(tmp_path / "exam", phase=1, patient="P3")
    assert "patient P3" in str(err.value)


def _image(array: np.ndarray, spacing=SPACING) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(ORIGIN)
    return image


def test_nifti_3d_and_4d_phases(tmp_path):
    vol = phase_volume(0)
    sitk.WriteImage(_image(vol), str(tmp_path / "a.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(read_image(tmp_path / "a.nii.gz")), vol)
    four = sitk.JoinSeries([_image(phase_volume(p)) for p in range(3)])
    sitk.WriteImage(four, str(tmp_path / "dce.nii"))
    assert np.array_equal(sitk.GetArrayFromImage(read_image(tmp_path / "dce.nii", phase=1)), phase_volume(1))
    four_masks = sitk.JoinSeries([sitk.Cast(_image(phase_volume(p)) > 1500, sitk.sitkUInt8) for p in range(3)])
    sitk.WriteImage(four_masks, str(tmp_path / "mask4d.nii.gz"))
    with pytest.raises(CaseError, match="expected a 3D mask, got 4D"):
        read_mask(tmp_path / "mask4d.nii.gz")


def test_nrrd_labelmap_label_choice(tmp_path):
    labels = np.zeros((SLICES, ROWS, COLS), np.uint8)
    labels[1:3, 1:3, 1:3] = 1
    labels[1:3, 4:6, 5:7] = 2
    sitk.WriteImage(_image(labels), str(tmp_path / "labels.nrrd"))
    with pytest.raises(CaseError, match=r"several labels \[1, 2\] and no choice"):
        read_mask(tmp_path / "labels.nrrd", patient="P4")
    mask = read_mask(tmp_path / "labels.nrrd", label=2)
    assert np.array_equal(sitk.GetArrayFromImage(mask), (labels == 2).astype(np.uint8))
    assert mask.GetPixelID() == sitk.sitkUInt8


def test_slicer_seg_nrrd_segments_by_name_and_layer(tmp_path):
    """Two overlapping segments in two layers, as 3D Slicer writes them."""
    tumour = np.zeros((SLICES, ROWS, COLS), np.uint8)
    tumour[1:3, 2:5, 2:6] = 1
    wall = np.zeros_like(tumour)
    wall[:, 4:, :] = 3
    seg = sitk.GetImageFromArray(np.stack([tumour, wall], axis=-1), isVector=True)
    seg.SetSpacing(SPACING)
    seg.SetOrigin(ORIGIN)
    for i, (name, value, layer) in enumerate([("Tumour", 1, 0), ("Chest wall", 3, 1)]):
        seg.SetMetaData(f"Segment{i}_ID", f"Segment_{i + 1}")
        seg.SetMetaData(f"Segment{i}_Name", name)
        seg.SetMetaData(f"Segment{i}_LabelValue", str(value))
        seg.SetMetaData(f"Segment{i}_Layer", str(layer))
    sitk.WriteImage(seg, str(tmp_path / "case.seg.nrrd"))
    assert np.array_equal(sitk.GetArrayFromImage(read_mask(tmp_path / "case.seg.nrrd", label="tumour")), tumour)
    assert np.array_equal(sitk.GetArrayFromImage(read_mask(tmp_path / "case.seg.nrrd", label=3)), wall > 0)
    with pytest.raises(CaseError, match="several segments .*'Tumour'.*'Chest wall'"):
        read_mask(tmp_path / "case.seg.nrrd")
    with pytest.raises(CaseError, match="no segment 'lesion'"):
        read_mask(tmp_path / "case.seg.nrrd", label="lesion")


def test_dicom_seg_read_back_on_the_image_grid(tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    write_exam(tmp_path / "exam", phases=1)
    sources = sorted(
        (pydicom.dcmread(f) for f in (tmp_path / "exam").iterdir()), key=lambda d: float(d.ImagePositionPatient[2])
    )
    lesion = np.zeros((SLICES, ROWS, COLS), bool)
    lesion[1:3, 2:5, 3:7] = True
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Tumour",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=lesion.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=generate_uid(),
        series_number=100,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="deltarad tests",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
        omit_empty_frames=False,
    )
    seg.save_as(tmp_path / "seg.dcm")
    image = read_image(tmp_path / "exam")
    mask = read_mask(tmp_path / "seg.dcm", label="Tumour")
    assert np.allclose(mask.GetOrigin(), image.GetOrigin())
    assert np.allclose(mask.GetSpacing(), image.GetSpacing())
    assert np.array_equal(sitk.GetArrayFromImage(mask), lesion.astype(np.uint8))

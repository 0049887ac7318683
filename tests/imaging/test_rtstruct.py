"""RTSTRUCT masks: structure sets written with pydicom, read back and rasterised on the exam grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from deltarad.config import ImagingSettings
from deltarad.errors import CaseError
from deltarad.features.extract import prepare_timepoint
from deltarad.imaging.io import load_mask, read_mask
from deltarad.imaging.phantom import breast_phantom
from deltarad.imaging.rtstruct import FRAME_OF_REFERENCE_KEY, fill_polygon

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
FRAME = "1.2.826.0.1.3680043.8.498.1"
ROTATED = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # rows and columns swapped, as a rotated scan


def reference(direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0), frame: str | None = FRAME) -> sitk.Image:
    image = sitk.Image(40, 32, 8, sitk.sitkInt16)
    image.SetSpacing((0.8, 0.8, 2.0))
    image.SetOrigin((-20.0, 10.0, -30.0))
    image.SetDirection(direction)
    if frame:
        image.SetMetaData(FRAME_OF_REFERENCE_KEY, frame)
    return image


def box(image: sitk.Image, i: tuple[float, float], j: tuple[float, float], k: float) -> np.ndarray:
    """A rectangle's corners in patient coordinates (mm), given as continuous indices (voxel edges)."""
    corners = [(i[0], j[0]), (i[1], j[0]), (i[1], j[1]), (i[0], j[1])]
    return np.array([image.TransformContinuousIndexToPhysicalPoint((a, b, k)) for a, b in corners])


def write_rtstruct(
    path: Path, rois: dict[str, list[np.ndarray]], *, frame: str = FRAME, kind: str = "CLOSED_PLANAR"
) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.PatientID = "ANON"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StructureSetLabel = "deltarad test"
    referenced = Dataset()
    referenced.FrameOfReferenceUID = frame
    ds.ReferencedFrameOfReferenceSequence = [referenced]
    ds.StructureSetROISequence, ds.ROIContourSequence = [], []
    for number, (name, contours) in enumerate(rois.items(), 1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = frame
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ROIDisplayColor = [255, 0, 0]
        item.ContourSequence = []
        for points in contours:
            contour = Dataset()
            contour.ContourGeometricType = kind
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [f"{v:.6g}" for v in np.asarray(points).ravel()]
            item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(item)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("direction", [(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0), ROTATED], ids=["axial", "rotated"])
def test_square_contour_gives_its_area_in_voxels(tmp_path, direction):
    """A 10 x 6 voxel rectangle (8 x 4.8 mm = 38.4 mm^2 at 0.8 mm) on slices 2-4: exactly those
    60 voxels per slice, through patient coordinates whatever the axes' directions."""
    image = reference(direction)
    contours = [box(image, (4.5, 14.5), (3.5, 9.5), k) for k in (2, 3, 4)]
    mask, notes = load_mask(write_rtstruct(tmp_path / "rs.dcm", {"GTV": contours}), reference=image)
    expected = np.zeros((8, 32, 40), np.uint8)
    expected[2:5, 4:10, 5:15] = 1
    assert np.array_equal(sitk.GetArrayFromImage(mask), expected)
    assert mask.GetMetaData(FRAME_OF_REFERENCE_KEY) == FRAME
    assert notes == ["RTSTRUCT ROI 'GTV': 3 contours rasterised on the exam grid (voxel centres inside)"]


def test_contour_inside_another_is_a_hole(tmp_path):
    image = reference()
    outer, inner = box(image, (9.5, 19.5), (9.5, 19.5), 3), box(image, (12.5, 16.5), (12.5, 16.5), 3)
    mask = sitk.GetArrayFromImage(
        read_mask(write_rtstruct(tmp_path / "rs.dcm", {"GTV": [outer, inner]}), reference=image)
    )
    assert mask.sum() == 100 - 16
    assert not mask[3, 13:17, 13:17].any() and mask[3, 10:20, 10:13].all()


def test_roi_chosen_by_name_and_a_wrong_name_lists_the_rois(tmp_path):
    image = reference()
    rs = write_rtstruct(
        tmp_path / "rs.dcm",
        {"GTV": [box(image, (4.5, 8.5), (4.5, 8.5), 1)], "Skin": [box(image, (0.5, 30.5), (0.5, 30.5), 1)]},
    )
    assert sitk.GetArrayFromImage(read_mask(rs, label="gtv", reference=image)).sum() == 16
    assert sitk.GetArrayFromImage(read_mask(rs, label=2, reference=image)).sum() == 900
    with pytest.raises(
        CaseError, match=r"no segment 'lesion'; segments: \['GTV' \(label 1\), 'Skin' \(label 2\)\]"
    ) as err:
        read_mask(rs, label="lesion", reference=image, patient="P7")
    assert "patient P7" in str(err.value) and "rs.dcm" in str(err.value)
    with pytest.raises(CaseError, match="several segments .*'GTV'.*'Skin'.*set imaging.mask_label"):
        read_mask(rs, reference=image)


def test_contours_between_slices_other_frames_and_bad_types(tmp_path):
    image = reference()
    near = box(image, (4.5, 8.5), (4.5, 8.5), 2.15)  # 0.3 mm off slice 2
    mask, notes = load_mask(write_rtstruct(tmp_path / "near.dcm", {"GTV": [near]}), reference=image)
    assert sitk.GetArrayFromImage(mask)[2].sum() == 16
    assert "1 contours lay between slices (up to 0.3 mm off); each was put on its nearest slice" in notes[1]
    with pytest.raises(CaseError, match="midway between slices 2 and 3"):
        read_mask(
            write_rtstruct(tmp_path / "mid.dcm", {"GTV": [box(image, (4.5, 8.5), (4.5, 8.5), 2.5)]}), reference=image
        )
    tilted = box(image, (4.5, 8.5), (4.5, 8.5), 2)
    tilted[2:, 2] += 2.0
    with pytest.raises(CaseError, match="not parallel to the exam's slices"):
        read_mask(write_rtstruct(tmp_path / "tilt.dcm", {"GTV": [tilted]}), reference=image)
    with pytest.raises(CaseError, match="outside the exam's slices"):
        read_mask(
            write_rtstruct(tmp_path / "out.dcm", {"GTV": [box(image, (4.5, 8.5), (4.5, 8.5), 9)]}), reference=image
        )
    with pytest.raises(CaseError, match="mask and exam are in different frames of reference"):
        read_mask(write_rtstruct(tmp_path / "for.dcm", {"GTV": [near]}, frame="1.2.9"), reference=image)
    with pytest.raises(CaseError, match="is OPEN_PLANAR, not CLOSED_PLANAR"):
        read_mask(write_rtstruct(tmp_path / "open.dcm", {"GTV": [near]}, kind="OPEN_PLANAR"), reference=image)
    with pytest.raises(CaseError, match="read on its exam's grid, and none was given"):
        read_mask(tmp_path / "near.dcm")


def test_even_odd_fill_is_half_open():
    """Centres strictly inside a polygon are in; a centre on its edge is in on the low-index side
    and out on the high-index side, so polygons sharing an edge never overlap."""
    y, x = np.mgrid[0:10, 0:10]
    triangle = np.array([[-0.5, -0.5], [7.5, -0.5], [-0.5, 7.5]])  # hypotenuse through centres x + y = 7
    assert np.array_equal(fill_polygon(triangle, (10, 10)), x + y < 7)
    square = np.array([[2.0, 2.0], [5.0, 2.0], [5.0, 5.0], [2.0, 5.0]])  # edges through centres
    assert np.array_equal(fill_polygon(square, (10, 10)), (x >= 2) & (x < 5) & (y >= 2) & (y < 5))
    left, right = square.copy(), square + [3.0, 0.0]
    assert not (fill_polygon(left, (10, 10)) & fill_polygon(right, (10, 10))).any()


def test_rtstruct_mask_through_prepare_timepoint(tmp_path):
    """An exam whose tumour is given as an RTSTRUCT: contours of the phantom's tumour slices."""
    image, truth = breast_phantom(size=(64, 64, 12), tumour_radius_mm=6.0)
    sitk.WriteImage(image, str(tmp_path / "image.nrrd"))
    t = sitk.GetArrayFromImage(truth)
    contours = []
    for k in np.flatnonzero(t.any(axis=(1, 2))):
        rows, cols = np.flatnonzero(t[k].any(axis=1)), np.flatnonzero(t[k].any(axis=0))
        contours.append(box(image, (cols[0] - 0.5, cols[-1] + 0.5), (rows[0] - 0.5, rows[-1] + 0.5), float(k)))
    rs = write_rtstruct(tmp_path / "rs.dcm", {"Tumour": contours})
    row = {"patient_id": "P1", "baseline_image": str(tmp_path / "image.nrrd"), "baseline_mask": str(rs)}
    exam = prepare_timepoint(row, "baseline", ImagingSettings(n4=False, resample_mm=None))
    boxes = sum(
        int((np.ptp(np.flatnonzero(t[k].any(axis=1))) + 1) * (np.ptp(np.flatnonzero(t[k].any(axis=0))) + 1))
        for k in np.flatnonzero(t.any(axis=(1, 2)))
    )
    assert sitk.GetArrayFromImage(exam.regions["intratumoral", 1]).sum() == boxes
    assert any(n.startswith("reader 1: RTSTRUCT ROI 'Tumour'") for n in exam.notes)
    assert exam.ring_stats[1]["kept_share"] > 0.5


def write_mr_series(folder: Path, image: sitk.Image, frame: str) -> None:
    """`image` as a classic MR series (one file per slice) in frame of reference `frame`."""
    folder.mkdir()
    series, array = generate_uid(), sitk.GetArrayFromImage(image)
    for k in range(image.GetSize()[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{k}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID = "MR", "ANON"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), series, frame
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = list(image.TransformIndexToPhysicalPoint((0, 0, k)))
        ds.ImageOrientationPatient = list(image.GetDirection()[0::3]) + list(image.GetDirection()[1::3])
        ds.PixelSpacing = [image.GetSpacing()[1], image.GetSpacing()[0]]
        ds.SliceThickness = image.GetSpacing()[2]
        ds.Rows, ds.Columns = array.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 1
        ds.PixelData = array[k].astype(np.int16).tobytes()
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)


def test_frame_of_reference_of_a_dicom_exam_is_checked(tmp_path):
    """The exam read from DICOM files: the structure set must be in the files' frame of reference."""
    image, truth = breast_phantom(size=(48, 48, 8), tumour_radius_mm=5.0)
    write_mr_series(tmp_path / "exam", image, FRAME)
    k = int(np.flatnonzero(sitk.GetArrayFromImage(truth).any(axis=(1, 2)))[4])
    contour = [box(image, (20.5, 28.5), (14.5, 22.5), k)]
    row = {"patient_id": "P1", "baseline_image": str(tmp_path / "exam")}
    settings = ImagingSettings(n4=False, resample_mm=None)
    with pytest.raises(CaseError, match="mask and exam are in different frames of reference"):
        prepare_timepoint(
            {**row, "baseline_mask": str(write_rtstruct(tmp_path / "other.dcm", {"GTV": contour}, frame="1.2.9"))},
            "baseline",
            settings,
        )
    exam = prepare_timepoint(
        {**row, "baseline_mask": str(write_rtstruct(tmp_path / "same.dcm", {"GTV": contour}))}, "baseline", settings
    )
    assert sitk.GetArrayFromImage(exam.regions["intratumoral", 1]).sum() == 64

"""Small DICOM exams written with pydicom in the layouts scanners and exports produce.

Pixel value 1000 x phase + 100 x slice + 10 x row + column (int16) says where each voxel came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import EnhancedMRImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

ROWS, COLS, SLICES = 12, 16, 6
PIXEL_MM = (0.8, 0.7)  # between rows, between columns
SLICE_MM = 2.5
ORIGIN = (-30.0, 20.0, -12.0)
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def volume(phase: int, slices: int = SLICES) -> np.ndarray:
    k, j, i = np.meshgrid(np.arange(slices), np.arange(ROWS), np.arange(COLS), indexing="ij")
    return (1000 * phase + 100 * k + 10 * j + i).astype(np.int16)


def position(k: float, origin=ORIGIN) -> list[float]:
    return [origin[0], origin[1], origin[2] + k * SLICE_MM]


def base_dataset(series_uid: str, study_uid: str, **attrs) -> Dataset:
    ds = Dataset()
    ds.Modality = "MR"
    ds.PatientID = attrs.pop("PatientID", "SECRET-ID-123")
    ds.PatientName = attrs.pop("PatientName", "Doe^Jane")
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = attrs.pop("StudyDate", "20240115")
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = study_uid + ".9"
    ds.SeriesNumber = attrs.pop("SeriesNumber", 5)
    ds.SeriesDescription = attrs.pop("SeriesDescription", "t1_fl3d_dyn")
    ds.ProtocolName = attrs.pop("ProtocolName", "t1_fl3d_dyn")
    ds.Manufacturer = attrs.pop("Manufacturer", "deltarad tests")
    ds.ImageType = attrs.pop("ImageType", ["ORIGINAL", "PRIMARY", "M", "ND"])
    ds.RepetitionTime = attrs.pop("RepetitionTime", 4.5)
    ds.EchoTime = attrs.pop("EchoTime", 1.8)
    ds.FlipAngle = attrs.pop("FlipAngle", 12)
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def write_slice(
    path: Path,
    pixels: np.ndarray,
    pos,
    *,
    series_uid: str,
    study_uid: str,
    orientation=AXIAL,
    preamble: bool = True,
    pixel_mm=PIXEL_MM,
    slice_mm=SLICE_MM,
    **attrs,
) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(
        str(path),
        base_dataset(series_uid, study_uid, **attrs),
        file_meta=meta,
        preamble=b"\0" * 128 if preamble else None,
    )
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.ImagePositionPatient = list(pos)
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = list(pixel_mm)
    ds.SliceThickness = slice_mm
    ds.PixelData = pixels.astype(np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:  # a bare dataset: no preamble, no file meta, implicit VR
        ds.file_meta = FileMetaDataset()
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return path


def write_series(
    folder: Path,
    phases: int = 1,
    *,
    series_uid: str | None = None,
    study_uid: str | None = None,
    name=lambda p, k: f"IM{p:02d}{k:03d}.dcm",
    per_slice=None,
    values=volume,
    **attrs,
) -> str:
    """`phases` dynamics of SLICES slices; `per_slice(p, k)` adds or overrides attributes of one image."""
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or "1.2.826.0.1.3680043.10.1"
    for p in range(phases):
        pixels = values(p)
        for k in range(SLICES):
            extra = dict(attrs)
            extra.setdefault("InstanceNumber", p * SLICES + k + 1)
            extra.update(per_slice(p, k) if per_slice else {})
            if extra.pop("skip", False):
                continue
            write_slice(
                folder / name(p, k),
                pixels[k],
                extra.pop("pos", position(k)),
                series_uid=series_uid,
                study_uid=study_uid,
                **extra,
            )
    return series_uid


def series_per_dynamic_folder(root, *, subtraction=True, field_map=True, other_dce=False):
    """Three dynamics, one series each (written out of time order), on one grid, plus a
    subtraction and a field map on the same grid."""
    study = "1.2.826.0.1.3680043.10.7"
    for p, number in ((2, 9), (0, 7), (1, 8)):
        write_series(
            root / f"S{number}",
            1,
            study_uid=study,
            SeriesNumber=number,
            SeriesDescription=f"t1_dyn_{p}",
            AcquisitionTime=f"10{20 + p}00",
            values=lambda _, p=p: volume(p),
        )
    if subtraction:
        write_series(
            root / "S20",
            1,
            study_uid=study,
            SeriesNumber=20,
            SeriesDescription="t1_dyn_SUB",
            ImageType=["DERIVED", "SECONDARY", "SUBTRACTION"],
            AcquisitionTime="102100",
            values=lambda _: volume(5),
        )
    if field_map:
        write_series(
            root / "S3",
            1,
            study_uid=study,
            SeriesNumber=3,
            SeriesDescription="gre_field_mapping",
            ProtocolName="gre_field_mapping",
            RepetitionTime=600,
            EchoTime=4.9,
            AcquisitionTime="101000",
            values=lambda _: volume(6),
        )
    if other_dce:
        for p in range(2):
            write_series(
                root / f"S{30 + p}",
                1,
                study_uid=study,
                SeriesNumber=30 + p,
                SeriesDescription="t1_vibe_dyn",
                ProtocolName="t1_vibe_dyn",
                FlipAngle=10,
                AcquisitionTime=f"10{40 + p}00",
                values=lambda _, p=p: volume(7 + p),
            )


def write_enhanced(
    path: Path,
    phases: int,
    *,
    series_uid: str,
    study_uid: str = "1.2.826.0.1.3680043.10.1",
    slope: float = 1.0,
    intercept: float = 0.0,
    **attrs,
) -> Path:
    """One Enhanced MR file: phases x SLICES frames storing `volume`; its values are stored x slope + intercept."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), base_dataset(series_uid, study_uid, **attrs), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = EnhancedMRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    del ds.ImageType
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.NumberOfFrames = phases * SLICES
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = list(PIXEL_MM)
    measures.SliceThickness = SLICE_MM
    plane = Dataset()
    plane.ImageOrientationPatient = list(AXIAL)
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([plane])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames, stored = [], []
    for p in range(phases):
        values = volume(p)
        for k in range(SLICES):
            item = Dataset()
            pos = Dataset()
            pos.ImagePositionPatient = position(k)
            content = Dataset()
            content.TemporalPositionIndex = p + 1
            content.InStackPositionNumber = k + 1
            content.FrameAcquisitionDateTime = f"20240115101{5 + p}00.000000"
            transform = Dataset()
            transform.RescaleSlope = slope
            transform.RescaleIntercept = intercept
            transform.RescaleType = "US"
            frame_type = Dataset()
            frame_type.FrameType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
            item.PlanePositionSequence = Sequence([pos])
            item.FrameContentSequence = Sequence([content])
            item.PixelValueTransformationSequence = Sequence([transform])
            item.MRImageFrameTypeSequence = Sequence([frame_type])
            frames.append(item)
            stored.append(values[k])
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.stack(stored).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def expected_geometry(image) -> None:
    assert np.allclose(image.GetOrigin(), ORIGIN)
    assert np.allclose(image.GetSpacing(), (PIXEL_MM[1], PIXEL_MM[0], SLICE_MM))
    assert np.allclose(image.GetDirection(), np.eye(3).ravel())


def oblique_direction(about_x_deg: float = 7.3, about_y_deg: float = -4.1) -> np.ndarray:
    """Direction cosines of an oblique axial: the axial axes rotated about x, then about y
    (columns: row direction, column direction, slice normal; LPS)."""
    a, b = np.radians(about_x_deg), np.radians(about_y_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return rx @ ry


def write_oblique_series(
    folder: Path, image, direction: np.ndarray, *, orientation_decimals: int = 6, position_decimals: int = 4
) -> Path:
    """The voxels of a 3D SimpleITK image (int16) as a classic MR series on an oblique grid: its
    origin and spacing, `direction`'s columns as row, column and slice directions. Header values
    rounded as scanners write them (Siemens: 6 decimals of ImageOrientationPatient), so that
    readers recomputing the grid from them differ in the last digits."""
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(image)
    spacing, origin = image.GetSpacing(), np.array(image.GetOrigin())
    series, study = generate_uid(), "1.2.826.0.1.3680043.10.11"
    orientation = [round(float(v), orientation_decimals) for v in (*direction[:, 0], *direction[:, 1])]
    for k in range(array.shape[0]):
        position = origin + direction[:, 2] * spacing[2] * k
        write_slice(
            folder / f"i{k + 1}.MRDC.{k + 1}",
            array[k],
            [round(float(v), position_decimals) for v in position],
            series_uid=series,
            study_uid=study,
            orientation=orientation,
            InstanceNumber=k + 1,
            Rows=array.shape[1],
            Columns=array.shape[2],
            pixel_mm=(spacing[1], spacing[0]),
            slice_mm=spacing[2],
            Manufacturer="GE MEDICAL SYSTEMS",
            SeriesNumber=3,
            SeriesDescription="Ax T1 3D oblique",
            ProtocolName="Ax T1 3D oblique",
        )
    return folder


def series_per_dynamic_with_field_maps(root: Path, *, echoes_as_series: bool = True, dynamics: int = 5) -> None:
    """A Siemens session as exported: one series per dynamic (`dynamics` series of one volume),
    and a field map on the same grid acquired before them at one time: two magnitude echoes
    (two series, or one series holding both echoes) and one phase-difference series."""
    study = "1.2.826.0.1.3680043.10.8"
    for p in range(dynamics):
        write_series(
            root / f"S{10 + p}",
            1,
            study_uid=study,
            SeriesNumber=10 + p,
            SeriesDescription="t1_fl3d_dynaVIEWS",
            ProtocolName="t1_fl3d_dynaVIEWS",
            SequenceName="*fl3d1",
            ScanningSequence="GR",
            AcquisitionTime=f"10{20 + p}00",
            values=lambda _, p=p: volume(p),
        )
    field_map = {
        "study_uid": study,
        "ProtocolName": "gre_field_mapping",
        "SequenceName": "*fm2d2r",
        "ScanningSequence": "GR",
        "RepetitionTime": 488.0,
        "FlipAngle": 60,
        "AcquisitionTime": "101500",
    }
    echoes = ((1, 4.92), (2, 7.38))
    if echoes_as_series:
        for number, (echo, te) in zip((4, 5), echoes):
            write_series(
                root / f"S{number}",
                1,
                SeriesNumber=number,
                SeriesDescription="gre_field_mapping",
                EchoNumbers=echo,
                EchoTime=te,
                values=lambda _, e=echo: volume(6 + e),
                **field_map,
            )
    else:
        uid = generate_uid()
        for echo, te in echoes:
            write_series(
                root / "S4",
                1,
                series_uid=uid,
                SeriesNumber=4,
                SeriesDescription="gre_field_mapping",
                EchoNumbers=echo,
                EchoTime=te,
                values=lambda _, e=echo: volume(6 + e),
                name=lambda p, k, e=echo: f"E{e}_{k:03d}.dcm",
                per_slice=lambda p, k, e=echo: {"InstanceNumber": (e - 1) * SLICES + k + 1},
                **field_map,
            )
    write_series(
        root / "S6",
        1,
        SeriesNumber=6,
        SeriesDescription="gre_field_mapping",
        EchoNumbers=2,
        EchoTime=7.38,
        ImageType=["ORIGINAL", "PRIMARY", "P", "ND"],
        values=lambda _: volume(9),
        **field_map,
    )

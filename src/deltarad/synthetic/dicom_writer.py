"""One DCE exam as a classic DICOM MR series: one file per slice and phase, the phases told
apart by TemporalPositionIdentifier (1 = pre-contrast) and TriggerTime (ms after injection).

Headers carry the geometry (ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
SliceThickness, SpacingBetweenSlices), deterministic UIDs (hashed from the generator's seed,
the patient and the exam) and no identifying data: PatientName and PatientID are the cohort's
pseudonym, dates are a fixed fake calendar, PatientIdentityRemoved is YES.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    PYDICOM_ROOT_UID,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from deltarad._version import __version__
from deltarad.synthetic.grid import Grid

STUDY_TIME = "090000"


@dataclass(frozen=True)
class ExamInfo:
    patient_id: str
    """Pseudonym, used as PatientName and PatientID."""
    age_years: int
    exam: str
    """'baseline' or 'early'."""
    study_date: str
    """YYYYMMDD on the fake calendar."""
    uid_seed: str
    """Feeds every UID of the exam: the same seed gives the same UIDs."""
    manufacturer: str = "deltarad synthetic"
    institution: str = "Synthetic Centre 1"


def write_dce_series(
    folder: Path, phases: np.ndarray, grid: Grid, times_s: Sequence[float] | np.ndarray, info: ExamInfo
) -> Path:
    """Write `phases` (uint16, phase x z x y x) into `folder` (replaced as a whole, atomically)."""
    n_phases, n_slices = phases.shape[:2]
    uid = _uid_factory(info)
    ds = _exam_dataset(grid, info, uid, n_phases, phases)
    # A series' headers differ only in a few elements: encode the rest once.
    static = [_encode(e) for e in ds]
    meta = [_encode(e) for e in ds.file_meta if e.tag not in (0x00020000, 0x00020003)]
    per_slice = [
        [
            _encode(DataElement(0x00200032, "DS", [f"{v:.4f}" for v in pos])),  # ImagePositionPatient
            _encode(DataElement(0x00201041, "DS", f"{pos[2]:.4f}")),  # SliceLocation
        ]
        for pos in map(grid.slice_position, range(n_slices))
    ]
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        instance = 0
        for p in range(n_phases):
            clock = _clock(STUDY_TIME, float(times_s[p]))
            per_phase = [
                _encode(DataElement(0x00080032, "TM", clock)),  # AcquisitionTime
                _encode(DataElement(0x00080033, "TM", clock)),  # ContentTime
                _encode(DataElement(0x00181060, "DS", f"{float(times_s[p]) * 1000.0:.0f}")),  # TriggerTime, ms
                _encode(DataElement(0x00200012, "IS", p + 1)),  # AcquisitionNumber
                _encode(DataElement(0x00200100, "IS", p + 1)),  # TemporalPositionIdentifier
            ]
            for k in range(n_slices):
                instance += 1
                sop = uid("image", p, k)
                sop_meta = _encode(DataElement(0x00020003, "UI", sop))
                per_file = [
                    _encode(DataElement(0x00080018, "UI", sop)),
                    _encode(DataElement(0x00200013, "IS", instance)),
                    _encode(DataElement(0x7FE00010, "OW", phases[p, k].tobytes())),
                ]
                group = sorted([*meta, sop_meta])
                group_length = sum(len(b) for _, b in group)
                body = sorted([*static, *per_phase, *per_slice[k], *per_file])
                (tmp / f"IM{instance:05d}.dcm").write_bytes(
                    b"\0" * 128
                    + b"DICM"
                    + _encode(DataElement(0x00020000, "UL", group_length))[1]
                    + b"".join(b for _, b in group)
                    + b"".join(b for _, b in body)
                )
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def _encode(elem: DataElement) -> tuple[int, bytes]:
    """(tag, bytes) of one element in explicit VR little endian."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_data_element(fp, elem)
    return int(elem.tag), fp.getvalue()


def _uid_factory(info: ExamInfo):
    def uid(*parts: object) -> str:
        return generate_uid(
            PYDICOM_ROOT_UID, entropy_srcs=[info.uid_seed, info.patient_id, info.exam, *map(str, parts)]
        )

    return uid


def _exam_dataset(grid: Grid, info: ExamInfo, uid, n_phases: int, phases: np.ndarray) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"DELTARAD_{__version__}"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.SOPClassUID = MRImageStorage
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = info.study_date
    ds.StudyTime = ds.SeriesTime = STUDY_TIME
    ds.AccessionNumber = ""
    ds.Modality = "MR"
    ds.Manufacturer = info.manufacturer
    ds.InstitutionName = info.institution
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"BREAST DCE MRI ({info.exam})"
    ds.SeriesDescription = "DCE T1 FS dynamic"
    ds.ManufacturerModelName = f"deltarad {__version__}"
    ds.PatientName = info.patient_id
    ds.PatientID = info.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.PatientAge = f"{info.age_years:03d}Y"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic data generated by deltarad; no real patient"
    ds.BodyPartExamined = "BREAST"
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = ["SP", "SS"]
    ds.ScanOptions = "FS"
    ds.MRAcquisitionType = "3D"
    ds.SliceThickness = f"{grid.spacing_mm[2]:.4f}"
    ds.SpacingBetweenSlices = f"{grid.spacing_mm[2]:.4f}"
    ds.RepetitionTime = "4.5"
    ds.EchoTime = "2.1"
    ds.FlipAngle = "12"
    ds.MagneticFieldStrength = "3"
    ds.NumberOfTemporalPositions = n_phases
    ds.PatientPosition = "FFP"
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.StudyID = "1"
    ds.SeriesNumber = 5
    ds.FrameOfReferenceUID = uid("frame of reference")
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = grid.size[1]
    ds.Columns = grid.size[0]
    ds.PixelSpacing = [f"{grid.spacing_mm[1]:.4f}", f"{grid.spacing_mm[0]:.4f}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    top = float(np.percentile(phases[-1], 99.5))
    ds.WindowCenter = f"{top / 2:.0f}"
    ds.WindowWidth = f"{max(top, 1.0):.0f}"
    return ds


def _clock(start_hhmmss: str, seconds: float) -> str:
    total = int(start_hhmmss[:2]) * 3600 + int(start_hhmmss[2:4]) * 60 + int(start_hhmmss[4:6]) + round(seconds)
    return f"{total // 3600:02d}{total % 3600 // 60:02d}{total % 60:02d}"

"""DICOM headers as `Frame` records: the tags read, a classic file's frame, value parsing.

The header pass over a list of files is `frames.read_frames`; Enhanced MR's per-frame functional
groups are read in `enhanced`.
"""

from __future__ import annotations

import datetime as dt
import functools
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.uid import UID

PHILIPS_LABEL_TYPE = 0x20051429
"""Philips private 'label type' (LABEL / CONTROL of arterial spin labelling, and the like)."""
PHILIPS_SCALE_SLOPE = 0x2005100E
"""Philips private floating-point scale: floating value = stored value / this."""
GE_BVALUE = 0x00431039
"""GE private slop_int_6..9; its first value is the diffusion b-value."""

HEADER_TAGS: list[str | int] = [
    "SOPClassUID",
    "Modality",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "ProtocolName",
    "StudyInstanceUID",
    "StudyDate",
    "PatientID",
    "Manufacturer",
    "ImageType",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "RescaleSlope",
    "RescaleIntercept",
    "TemporalPositionIdentifier",
    "TriggerTime",
    "AcquisitionTime",
    "AcquisitionDate",
    "AcquisitionDateTime",
    "SeriesDate",
    "SeriesTime",
    "ContentTime",
    "AcquisitionNumber",
    "InstanceNumber",
    "ScanningSequence",
    "SequenceName",
    "RepetitionTime",
    "EchoTime",
    "FlipAngle",
    "EchoNumbers",
    "DiffusionBValue",
    "FrameOfReferenceUID",
    "PerFrameFunctionalGroupsSequence",
    "SharedFunctionalGroupsSequence",
    PHILIPS_LABEL_TYPE,
    PHILIPS_SCALE_SLOPE,
    GE_BVALUE,
]


def _dictionary_tag(tag: str | int) -> int:
    """The tag of a keyword of pydicom's data dictionary (a private tag is given as its number)."""
    if isinstance(tag, int):
        return tag
    number = tag_for_keyword(tag)
    assert number is not None, f"{tag} is not a keyword of pydicom's data dictionary"  # HEADER_TAGS: standard ones
    return number


WANTED_TAGS = frozenset(_dictionary_tag(t) for t in HEADER_TAGS)


@dataclass(frozen=True, slots=True)
class Frame:
    """One 2-D image: a classic file or one frame of a multi-frame file."""

    file: Path
    frame: int | None
    """Index of the frame in a multi-frame file; None for a single-frame file."""
    form: str
    """'classic' or 'enhanced' (per-frame functional groups)."""
    series_uid: str
    series_number: int | None
    description: str
    protocol: tuple[tuple[str, object], ...]
    """What two series of one acquisition protocol share, as (attribute, value) pairs: ProtocolName,
    SequenceName, ScanningSequence, RepetitionTime, EchoTime, FlipAngle (ms, degrees)."""
    position: tuple[float, ...]
    """ImagePositionPatient: the first voxel's centre (x, y, z), mm, LPS."""
    orientation: tuple[float, ...]
    """ImageOrientationPatient: row then column direction cosines."""
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]
    """(between rows, between columns), mm."""
    slope: float
    intercept: float
    image_type: tuple[str, ...]
    kind: tuple[tuple[str, str], ...]
    """Attributes telling apart images of one position and time: (name, value) pairs."""
    temporal_index: int | None
    trigger_time_ms: float | None
    acquisition_s: float | None
    """Acquisition time in seconds (counted from 0001-01-01 where the date is known)."""
    acquisition_number: int | None
    instance: int
    manufacturer: str
    diffusion_b: float | None
    philips_scale: float | None
    patient_id: str
    study_uid: str
    study_date: str
    time_field: str | None = None
    """The header field `acquisition_s` was read from (AcquisitionDateTime, AcquisitionTime,
    ContentTime or FrameAcquisitionDateTime)."""


_CLOCKS = ("AcquisitionDateTime", "AcquisitionTime", "ContentTime")
"""Where a frame's clock time is read, first given first."""

_BINARY = {"US": "H", "UL": "I", "SS": "h", "SL": "i", "FL": "f", "FD": "d"}


class Header:
    """A dataset's elements decoded on demand, straight from their raw bytes where pydicom left
    them raw (pydicom's own conversion costs ~50 us per element: the header pass of a 1,280-file
    exam would spend seconds in it)."""

    __slots__ = ("ds", "_little", "_elements")

    def __init__(self, ds: pydicom.Dataset):
        self.ds = ds
        self._little = ds.original_encoding[1] is not False
        # pydicom's own tag -> element dict: one lookup per get, no Tag(). Its stubs key it by BaseTag,
        # an int subclass hashing and comparing as its value, so a plain int finds the element.
        self._elements = cast("dict[int, DataElement | RawDataElement]", ds._dict)

    def get(self, key: str | int, default=None):
        tag = key if isinstance(key, int) else keyword_tag(key)
        if tag is None:  # not a keyword of the data dictionary: no element has it
            return default
        raw = self._elements.get(tag)
        if raw is None:
            return default
        if raw.__class__ is not RawDataElement or raw.value is None:  # converted, or a deferred read
            raw = self.ds.get_item(tag)
            if not isinstance(raw, RawDataElement):
                value = raw.value
                return element_value(raw) if isinstance(value, bytes) else value
        vr = raw.VR or _dictionary_vr(tag)
        data = raw.value or b""
        if vr == "SQ":
            return self.ds[tag].value
        if vr in _BINARY:
            values = _binary(self._little, _BINARY[vr], len(data)).unpack(data)
            return values[0] if len(values) == 1 else list(values)
        text = data.decode("latin-1").strip("\0 ")
        return [v.strip() for v in text.split("\\")] if "\\" in text else text

    def __contains__(self, key: str | int) -> bool:
        tag = key if isinstance(key, int) else keyword_tag(key)
        return tag is not None and tag in self.ds


@functools.cache
def _binary(little: bool, code: str, nbytes: int) -> struct.Struct:
    """The unpacker of `nbytes` of binary values of struct `code`."""
    return struct.Struct(("<" if little else ">") + code * (nbytes // struct.calcsize(code)))


@functools.cache
def keyword_tag(keyword: str) -> int | None:
    return tag_for_keyword(keyword)


def _dictionary_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def image_storage(header: Header) -> str | None:
    """None for an image with geometry; otherwise what the file is (its SOP class name)."""
    ds = header.ds
    sop = header.get("SOPClassUID") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", None)
    if sop is None:
        return "no SOP class"
    name = UID(str(sop)).name
    if "Directory" in name:
        return "DICOMDIR"
    if "Image Storage" not in name or "Secondary Capture" in name:
        return name
    return None


def common(ds: Header, file: Path) -> dict:
    """The attributes every frame of a file shares (the Frame fields not about geometry)."""
    date = str(ds.get("AcquisitionDate") or ds.get("SeriesDate") or ds.get("StudyDate") or "")
    scale = ds.get(PHILIPS_SCALE_SLOPE)
    scale = scale[0] if isinstance(scale, list) else scale
    return dict(
        file=file,
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        series_number=as_int(ds.get("SeriesNumber")),
        description=str(ds.get("SeriesDescription", "") or ""),
        protocol=(
            ("ProtocolName", str(ds.get("ProtocolName", "") or "")),
            ("SequenceName", str(find(ds, "SequenceName") or "")),
            ("ScanningSequence", "\\".join(str(v) for v in as_list(find(ds, "ScanningSequence")))),
            ("RepetitionTime", _round(find(ds, "RepetitionTime"))),
            ("EchoTime", _round(find(ds, "EchoTime"))),
            ("FlipAngle", _round(find(ds, "FlipAngle"))),
        ),
        image_type=tuple(str(v) for v in as_list(ds.get("ImageType"))),
        acquisition_number=as_int(ds.get("AcquisitionNumber")),
        instance=as_int(ds.get("InstanceNumber")) or 0,
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        philips_scale=as_float(scale),
        patient_id=str(ds.get("PatientID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        study_date=str(ds.get("StudyDate", "") or date),
        _date=date,
        _time=next((ds.get(k) for k in _CLOCKS if ds.get(k)), None),
        time_field=next((k for k in _CLOCKS if ds.get(k)), None),
    )


def classic_frame(ds: Header, file: Path) -> Frame:
    base = common(ds, file)
    date, time = base.pop("_date"), base.pop("_time")
    spacing = as_list(ds.get("PixelSpacing")) or [1.0, 1.0]
    kind = []
    if ds.get(PHILIPS_LABEL_TYPE) is not None:
        kind.append(("Philips label type (2005,1429)", str(ds.get(PHILIPS_LABEL_TYPE)).strip()))
    if ds.get("EchoNumbers") not in (None, ""):
        kind.append(("EchoNumbers", str(ds.get("EchoNumbers"))))
    bvalue = as_float(ds.get("DiffusionBValue"))
    if bvalue is None and ds.get(GE_BVALUE) is not None:
        values = as_list(ds.get(GE_BVALUE))
        bvalue = as_float(values[0]) if values else None
    return Frame(
        frame=None,
        form="classic",
        position=tuple(float(v) for v in as_list(ds.get("ImagePositionPatient"))),
        orientation=tuple(float(v) for v in as_list(ds.get("ImageOrientationPatient"))),
        rows=int(ds.get("Rows")),
        columns=int(ds.get("Columns")),
        pixel_spacing=(float(spacing[0]), float(spacing[1])),
        slope=as_float(ds.get("RescaleSlope")) or 1.0,
        intercept=as_float(ds.get("RescaleIntercept")) or 0.0,
        kind=(("ImageType", "\\".join(base["image_type"])), *kind),
        temporal_index=as_int(ds.get("TemporalPositionIdentifier")),
        trigger_time_ms=as_float(ds.get("TriggerTime")),
        acquisition_s=seconds(date, time),
        diffusion_b=bvalue,
        **base,
    )


def find(header: Header, keyword: str):
    """`keyword` at the top level, else in the shared functional groups (one sequence deep)."""
    if keyword in header:
        return header.get(keyword)
    for group in _items(header.get("SharedFunctionalGroupsSequence")):
        for element in group:
            if element.VR == "SQ":
                for item in element.value:
                    if keyword in item:
                        return item.get(keyword)
    return None


def seconds(date: str | None, time: object) -> float | None:
    """DICOM DA + TM (or one DT) as seconds; only the order of the results matters."""
    text = str(time or "").strip().replace(":", "")
    if not text:
        return None
    if len(text.split(".")[0]) > 6:  # a DT: YYYYMMDDHHMMSS[.ffffff]
        date, text = text[:8], text[8:]
    try:
        hh, mm, ss = int(text[:2]), int(text[2:4] or 0), float(text[4:] or 0)
    except ValueError:
        return None
    days = 0
    if date and len(str(date).strip()) >= 8:
        try:
            days = dt.date(int(date[:4]), int(date[4:6]), int(date[6:8])).toordinal()
        except ValueError:
            days = 0
    return days * 86400.0 + hh * 3600 + mm * 60 + ss


def _items(seq) -> list:
    return list(seq) if seq is not None else []


def element_value(element):
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("latin-1").strip("\0 ")
        if "\\" in value:
            return value.split("\\")
    return value


def as_list(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (str, bytes, int, float)):
        return [value]
    return list(value)


def as_float(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def as_int(value) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


def _round(value) -> float | None:
    number = as_float(value)
    return round(number, 3) if number is not None else None

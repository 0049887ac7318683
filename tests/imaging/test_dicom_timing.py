"""Each phase's time from the header pass, on real scanner DICOM of several phases
(../shared/data/dicom-vendors), against the headers read independently with pydicom."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest

from deltarad.errors import CaseError
from deltarad.imaging.dicom.exam import exam_volumes, read_dicom_phases
from deltarad.imaging.dicom.timing import phase_times


def _clock(date: str, time: str) -> float:
    time = time.replace(":", "")
    whole, _, fraction = time.partition(".")
    stamp = dt.datetime.strptime(date + whole.ljust(6, "0"), "%Y%m%d%H%M%S")
    return stamp.timestamp() + float("0." + (fraction or "0"))


def independent_times(folder: Path, field: str) -> list[float]:
    """Per phase (its TemporalPositionIdentifier/Index, else its series), the earliest `field`
    of its images, in s after the first phase's: straight from pydicom, without deltarad."""
    per_phase: dict[object, list[float]] = defaultdict(list)
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        if "ref" in file.relative_to(folder).parts:
            continue
        ds = pydicom.dcmread(file, stop_before_pixels=True)
        if "PerFrameFunctionalGroupsSequence" in ds:
            for group in ds.PerFrameFunctionalGroupsSequence:
                content = group.FrameContentSequence[0]
                stamp = str(content.FrameAcquisitionDateTime)
                per_phase[int(content.TemporalPositionIndex)].append(_clock(stamp[:8], stamp[8:]))
            continue
        key = int(ds.TemporalPositionIdentifier) if "TemporalPositionIdentifier" in ds else int(ds.SeriesNumber)
        if field == "TriggerTime":
            per_phase[key].append(float(ds.TriggerTime) / 1000.0)
        elif field == "AcquisitionDateTime":
            stamp = str(ds.AcquisitionDateTime)
            per_phase[key].append(_clock(stamp[:8], stamp[8:]))
        else:
            per_phase[key].append(_clock(str(ds.AcquisitionDate), str(ds.get(field))))
    starts = [min(per_phase[k]) for k in sorted(per_phase)]
    return [t - starts[0] for t in starts]


# folder, image_kind, the field deltarad reads, the times the headers state (s after phase 0)
VENDORS = [
    ("siemens-xa10-enhanced", None, "FrameAcquisitionDateTime", [0, 0.5, 1.0, 1.5]),
    ("philips-dynamics/enhanced", "CONTROL", "FrameAcquisitionDateTime", [0, 127.5, 255.0]),
    ("philips-dynamics/classic", "CONTROL", "AcquisitionTime", [0, 127.5, 255.0]),
    ("ge-multiphase", None, "TriggerTime", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ("siemens-xa30-series-per-phase", None, "AcquisitionDateTime", [0, 1, 2, 3]),
]


@pytest.mark.parametrize("folder, kind, field, stated", VENDORS, ids=[v[0] for v in VENDORS])
def test_each_phase_time_as_its_headers_state(shared_data, folder, kind, field, stated):
    path = shared_data / "dicom-vendors" / folder
    volumes, _ = exam_volumes(path, image_kind=kind)
    times = phase_times(volumes)
    assert times.field == field
    assert times.times_s == pytest.approx(independent_times(path, field), abs=1e-4)
    assert times.times_s == pytest.approx(stated, abs=1e-4)
    assert times.note.startswith(f"phase times [{', '.join(f'{t:g}' for t in stated)}] s after phase 0, from {field}")


def test_philips_trigger_time_agrees_with_its_clock_and_a_disagreement_is_refused(shared_data):
    volumes, _ = exam_volumes(shared_data / "dicom-vendors" / "philips-dynamics" / "classic", image_kind="CONTROL")
    assert independent_times(
        shared_data / "dicom-vendors" / "philips-dynamics" / "classic", "TriggerTime"
    ) == pytest.approx([0, 127.5, 255.0])
    doubled = [
        dataclasses.replace(v, frames=[dataclasses.replace(f, trigger_time_ms=2 * f.trigger_time_ms) for f in v.frames])
        for v in volumes
    ]
    with pytest.raises(
        CaseError,
        match=r"two readings of the phase times: AcquisitionTime gives \[0, 127.5, 255\] s, "
        r"TriggerTime \[0, 255, 510\] s",
    ):
        phase_times(doubled, patient="P1")


def test_phases_the_headers_do_not_time_apart_are_refused(shared_data):
    volumes, _ = exam_volumes(shared_data / "dicom-vendors" / "ge-multiphase")
    untimed = [
        dataclasses.replace(v, frames=[dataclasses.replace(f, trigger_time_ms=None) for f in v.frames]) for v in volumes
    ]  # every GE phase carries the series' AcquisitionTime
    with pytest.raises(CaseError, match=r"do not time the 10 phases apart \(AcquisitionTime gives \[0, 0, 0"):
        phase_times(untimed)


def test_read_dicom_phases_reads_only_the_phases_asked_for(shared_data):
    images, times, n, notes = read_dicom_phases(shared_data / "dicom-vendors" / "siemens-xa10-enhanced", [0, 3])
    assert sorted(images) == [0, 3] and n == 4
    assert times.times_s == pytest.approx([0, 0.5, 1.0, 1.5])
    assert images[3].GetSize() == (64, 64, 6)
    assert any(note.startswith("phase times [0, 0.5, 1, 1.5] s") for note in notes)

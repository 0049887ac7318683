"""A DCE exam from DICOM: find the files, one header pass, choose the volume, read its pixels."""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from deltarad.errors import CaseError
from deltarad.imaging.dicom.finding import dicom_files
from deltarad.imaging.dicom.frames import read_frames
from deltarad.imaging.dicom.grouping import Volume, choose_exam, split_series
from deltarad.imaging.dicom.reading import read_volume
from deltarad.imaging.dicom.timing import PhaseTimes, phase_times


def exam_volumes(
    path: Path,
    *,
    series: str | None = None,
    series_uid: str | None = None,
    image_kind: str | None = None,
    patient: str | None = None,
) -> tuple[list[Volume], list[str]]:
    """Every phase of the exam at `path` (time order) with the notes of how they were found.

    `path`: a folder (searched recursively) or one file, whose series is then read from its
    folder. `series` picks series by SeriesDescription (a glob, case-insensitive) or
    SeriesNumber; `image_kind` picks one kind of image where several share each slice position.
    """
    folder = path if path.is_dir() else path.parent
    frames, notes = read_frames(dicom_files(folder), patient)
    if not path.is_dir():
        mine = [f for f in frames if f.file == path]
        if not mine:
            raise CaseError("not a DICOM image file", patient=patient, file=path)
        frames = [f for f in frames if (f.series_uid, f.form) == (mine[0].series_uid, mine[0].form)]
    elif series_uid is not None:
        frames = [f for f in frames if f.series_uid == series_uid]
        if not frames:
            raise CaseError("no DICOM series with the given SeriesInstanceUID", patient=patient, file=folder)
    if not frames:
        raise CaseError(
            "no DICOM image slices found" + (f" ({'; '.join(notes)})" if notes else ""), patient=patient, file=folder
        )
    volumes, chosen = choose_exam(
        split_series(frames), series=series, image_kind=image_kind, patient=patient, where=folder
    )
    return volumes, notes + chosen + scale_notes(volumes)


def read_dicom_exam(
    path: Path,
    *,
    phase: int = 3,
    series: str | None = None,
    series_uid: str | None = None,
    image_kind: str | None = None,
    patient: str | None = None,
) -> tuple[sitk.Image, list[str]]:
    """One phase (0 = the first in time) of the DICOM exam at `path`, and the notes of what was
    inferred. An exam of a single volume is that volume whatever `phase` says (the user
    exported that phase), said in the notes."""
    volumes, notes = exam_volumes(path, series=series, series_uid=series_uid, image_kind=image_kind, patient=patient)
    where = path if path.is_dir() else path.parent
    if len(volumes) == 1:
        index = 0
        if phase != 0:
            notes.append(f"the DICOM exam holds one volume: it is read as phase {phase}")
    elif not 0 <= phase < len(volumes):
        raise CaseError(
            f"phase {phase} requested but the exam has {len(volumes)} phases (0..{len(volumes) - 1})",
            patient=patient,
            file=where,
        )
    else:
        index = phase
        chosen = volumes[index]
        notes.append(f"phase {index} of {len(volumes)} read" + (f" ({chosen.label})" if chosen.label else ""))
    return read_volume(volumes[index], patient), notes


def scale_notes(volumes: list[Volume]) -> list[str]:
    """Which value scale the exam is read in; Philips always says so (the scale it uses is one
    of two, and the other can differ between exams)."""
    frames = [f for v in volumes for f in v.frames]
    slopes = sorted({(f.slope, f.intercept) for f in frames})
    philips = any("philips" in f.manufacturer.lower() for f in frames)
    if philips:
        private = "present" if any(f.philips_scale is not None for f in frames) else "absent"
        return [
            f"value scale: RescaleSlope/RescaleIntercept {_pairs(slopes)} applied, the values the Philips scanner "
            f"displays; Philips' private floating-point scale (2005,100E, {private}) is not used"
        ]
    if slopes != [(1.0, 0.0)]:
        return [f"value scale: RescaleSlope/RescaleIntercept {_pairs(slopes)} applied"]
    return []


def _pairs(slopes: list[tuple[float, float]]) -> str:
    shown = ", ".join(f"{s:g}/{i:g}" for s, i in slopes[:3])
    return shown + (f" and {len(slopes) - 3} more" if len(slopes) > 3 else "")


def read_dicom_phases(
    path: Path,
    phases: list[int] | None,
    *,
    series: str | None = None,
    series_uid: str | None = None,
    image_kind: str | None = None,
    patient: str | None = None,
) -> tuple[dict[int, sitk.Image], PhaseTimes | None, int, list[str]]:
    """The given phases (None: every phase) of the DICOM exam at `path` (pixels read only for those), every phase's
    time from the same header pass (None where the headers do not time them; the notes say why),
    the number of phases, and the notes."""
    volumes, notes = exam_volumes(path, series=series, series_uid=series_uid, image_kind=image_kind, patient=patient)
    where = path if path.is_dir() else path.parent
    try:
        times = phase_times(volumes, patient=patient, where=where)
        notes.append(times.note)
    except CaseError as exc:
        times = None
        notes.append(f"phase times unknown: {exc.problem}")
    if phases is None:
        phases = list(range(len(volumes)))
    wrong = [k for k in phases if not 0 <= k < len(volumes)]
    if wrong:
        raise CaseError(
            f"phase(s) {wrong} requested but the exam has {len(volumes)} phases (0..{len(volumes) - 1})",
            patient=patient,
            file=where,
        )
    return {k: read_volume(volumes[k], patient) for k in sorted(set(phases))}, times, len(volumes), notes

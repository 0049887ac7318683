"""A DCE exam stored as one NIfTI/NRRD/MHA file per phase in one folder, as many public breast
collections and converters write it (e.g. `<case>_0000.nii.gz`, `<case>_0001.nii.gz`, ...).

The phases are the folder's volume files whose names end in a number, in the order of that
number (the lowest is phase 0, the pre-contrast phase); they must share one name before the
number and one extension, be numbered without a gap, each hold one scalar 3-D volume, and all
lie on one grid as ITK compares grids. Other files there (a mask such as `mask.nrrd` or
`tumour.seg.nrrd`, a file with no number) are left out, and the notes name them. Two numbered
series in one folder are two readings: refused, naming both. A folder that holds DICOM files is
a DICOM exam (deltarad.imaging.dicom), whatever else lies in it.

Such files carry no acquisition times: the kinetics take them from the study file
(kinetics.times_s).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from deltarad.errors import CaseError, library_message
from deltarad.imaging.dicom.finding import looks_like_dicom
from deltarad.imaging.geometry import ITK_COORDINATE_TOLERANCE, ITK_DIRECTION_TOLERANCE

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
"""File name endings read as volumes (the first match wins: `.nii.gz` before `.nii`)."""
MASK_SUFFIXES = (".seg.nrrd",)
"""3D Slicer segmentations: never a phase."""
_NUMBERED = re.compile(r"^(?P<stem>.*?)(?P<number>\d+)$")


@dataclass(frozen=True)
class PhaseFiles:
    """The phase files of an exam folder in phase order, and what was inferred."""

    files: tuple[Path, ...]
    notes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.files)


def volume_suffix(path: Path) -> str | None:
    """The volume ending of a file name (VOLUME_SUFFIXES), or None."""
    name = path.name.lower()
    if name.endswith(MASK_SUFFIXES):
        return None
    return next((s for s in VOLUME_SUFFIXES if name.endswith(s)), None)


def find_phase_files(folder: Path, *, patient: str | None = None) -> PhaseFiles | None:
    """The phase files of `folder`, or None where the folder is a DICOM exam (it has no volume
    files directly in it, or it holds DICOM files); refuses a folder whose volume files do not
    form one numbered series of one grid, in words, naming the files."""
    volumes = sorted(p for p in folder.iterdir() if p.is_file() and volume_suffix(p) is not None)
    if not volumes or _holds_dicom(folder):
        return None
    series: dict[tuple[str, str], list[tuple[int, Path]]] = defaultdict(list)
    unnumbered: list[Path] = []
    for path in volumes:
        suffix = volume_suffix(path)
        assert suffix is not None
        match = _NUMBERED.match(path.name[: -len(suffix)])
        if match is None:
            unnumbered.append(path)
        else:
            series[match["stem"], suffix.lower()].append((int(match["number"]), path))
    multi = {key: files for key, files in series.items() if len(files) > 1}
    if len(multi) > 1:
        named = "; ".join(f"{_pattern(stem, suffix)} ({len(files)} files)" for (stem, suffix), files in multi.items())
        raise CaseError(
            f"the folder holds {len(multi)} numbered series of volume files ({named}): give the exam as a folder "
            "holding one series of phase files",
            patient=patient,
            file=folder,
        )
    if not multi:
        if len(volumes) == 1:
            return PhaseFiles((volumes[0],), (f"the folder's only volume file {volumes[0].name} read",))
        raise CaseError(
            f"the folder holds {len(volumes)} volume files ({_listed(volumes)}) but no numbered series of "
            "phases (<name><number>.nii.gz, e.g. case_0000.nii.gz, case_0001.nii.gz): name one file, or number "
            "the phase files",
            patient=patient,
            file=folder,
        )
    ((stem, suffix), numbered) = next(iter(multi.items()))
    numbered.sort()
    numbers = [n for n, _ in numbered]
    if len(set(numbers)) < len(numbers):
        twice = sorted({n for n in numbers if numbers.count(n) > 1})
        raise CaseError(
            f"phase number(s) {', '.join(map(str, twice))} given by two files of {_pattern(stem, suffix)} "
            f"({_listed([p for n, p in numbered if n in twice])}): one file per phase",
            patient=patient,
            file=folder,
        )
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        raise CaseError(
            f"phase files {_pattern(stem, suffix)} are numbered {numbers[0]}..{numbers[-1]} without "
            f"{', '.join(map(str, missing))}: is a phase missing?",
            patient=patient,
            file=folder,
        )
    files = tuple(p for _, p in numbered)
    _check_one_grid(files, patient)
    notes = [
        f"one file per phase: {len(files)} phases {files[0].name}..{files[-1].name}, phase 0 = "
        f"{files[0].name} (number {numbers[0]})"
    ]
    left_out = [p for p in volumes if p not in files]
    if left_out:
        notes.append(f"left out of the phases (not of the numbered series): {_listed(left_out)}")
    return PhaseFiles(files, tuple(notes))


def _holds_dicom(folder: Path) -> bool:
    return any(p.is_file() and volume_suffix(p) is None and looks_like_dicom(p) for p in folder.rglob("*"))


def _check_one_grid(files: tuple[Path, ...], patient: str | None) -> None:
    """Every file one scalar 3-D volume on the first file's grid (headers only, no pixels)."""
    first: sitk.ImageFileReader | None = None
    for path in files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError as exc:
            raise CaseError(
                f"cannot read phase file {path.name} (unsupported or damaged): {library_message(exc)}",
                patient=patient,
                file=path,
            ) from None
        if reader.GetDimension() != 3 or reader.GetNumberOfComponents() != 1:
            raise CaseError(
                f"phase file {path.name} holds a {reader.GetDimension()}-D image of "
                f"{reader.GetNumberOfComponents()} component(s): one file per phase means one scalar 3-D volume each",
                patient=patient,
                file=path,
            )
        if first is None:
            first = reader
            continue
        tolerance = ITK_COORDINATE_TOLERANCE * first.GetSpacing()[0]
        if (
            reader.GetSize() != first.GetSize()
            or _apart(reader.GetSpacing(), first.GetSpacing()) > tolerance
            or _apart(reader.GetOrigin(), first.GetOrigin()) > tolerance
            or _apart(reader.GetDirection(), first.GetDirection()) > ITK_DIRECTION_TOLERANCE
        ):
            raise CaseError(
                f"phase file {path.name} is not on the grid of {Path(first.GetFileName()).name} (size "
                f"{list(reader.GetSize())} vs {list(first.GetSize())}, spacing {_mm(reader.GetSpacing())} vs "
                f"{_mm(first.GetSpacing())} mm, origin {_mm(reader.GetOrigin())} vs {_mm(first.GetOrigin())} mm): "
                "the phases of one exam share one grid",
                patient=patient,
                file=path,
            )


def _apart(a, b) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def _mm(values) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _pattern(stem: str, suffix: str) -> str:
    return f"{stem}<n>{suffix}"


def _listed(paths: list[Path], most: int = 6) -> str:
    names = [p.name for p in paths]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")

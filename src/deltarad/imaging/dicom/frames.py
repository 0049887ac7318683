"""One header pass over a list of files: every image frame as a `headers.Frame`, pixels unread.

Classic MR files give one frame each (`headers.classic_frame`); Enhanced MR (and any file with
per-frame functional groups) gives one frame per stored frame (`enhanced.enhanced_frames`). Files
of other SOP classes (DICOMDIR, segmentations, structured reports, presentation states, secondary
captures) are left out and counted in the notes.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from deltarad.errors import CaseError
from deltarad.imaging.dicom.enhanced import enhanced_frames
from deltarad.imaging.dicom.headers import WANTED_TAGS, Frame, Header, classic_frame, common, image_storage
from deltarad.imaging.dicom.quickparse import quick_dataset


def read_frames(files: list[Path], patient: str | None) -> tuple[list[Frame], list[str]]:
    """Frames of every image file in `files`; notes say which files were left out and why."""
    frames: list[Frame] = []
    left_out: Counter[str] = Counter()
    for file in files:
        try:
            ds = quick_dataset(file, WANTED_TAGS) or pydicom.dcmread(
                file, stop_before_pixels=True, specific_tags=sorted(WANTED_TAGS), force=True
            )
        except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, struct.error) as exc:
            if not _has_preamble(file):
                continue  # began like a bare dataset but is not one
            raise CaseError(f"unreadable DICOM file: {exc}", patient=patient, file=file) from None
        header = Header(ds)
        try:
            what = image_storage(header)
            if what is not None:
                left_out[what] += 1
            elif "PerFrameFunctionalGroupsSequence" in ds:
                frames += enhanced_frames(ds, file, common(header, file), patient)
            elif "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
                frames.append(classic_frame(header, file))
            else:
                left_out["image without ImagePositionPatient/ImageOrientationPatient"] += 1
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error) as exc:
            raise CaseError(
                f"DICOM header not understood ({type(exc).__name__}: {exc})", patient=patient, file=file
            ) from None
    notes = [f"left out {n} DICOM file(s): {what}" for what, n in sorted(left_out.items())]
    return frames, notes


def _has_preamble(file: Path) -> bool:
    with open(file, "rb") as fh:
        return fh.read(132)[128:132] == b"DICM"

"""DICOM RT Structure Set (RTSTRUCT) contours rasterised on the exam's voxel grid.

An RTSTRUCT holds polygons in patient coordinates (mm, DICOM's LPS, as SimpleITK's physical
space), not voxels, so it is read against the exam it was drawn on:

- the ROI is chosen by name (case-insensitive) or ROI number (imaging.mask_label), or is the only
  one; its contours must be CLOSED_PLANAR;
- the ROI's frame of reference must be the exam's when the exam's is known (a contour in another
  frame of reference lies somewhere else in space);
- each contour goes on the image slice its plane lies on: a contour between slices goes on the
  nearest one (with a note when it lies more than SLICE_TOLERANCE of a spacing off), one midway
  between two slices or across several (not parallel to the slices) is an error;
- a voxel is inside when its centre is inside the polygon by the even-odd rule, and the contours
  on one slice combine by exclusive or, so a contour inside another is a hole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from deltarad.errors import CaseError
from deltarad.imaging.segments import choose_segment

#: Share of the slice spacing a contour's plane may lie off its slice without a note.
SLICE_TOLERANCE = 0.05
#: A contour whose plane lies within this share of a spacing of midway between two slices is ambiguous.
MIDWAY = 0.01
#: The metadata key of a DICOM FrameOfReferenceUID on a SimpleITK image.
FRAME_OF_REFERENCE_KEY = "0020|0052"
#: DICOM modalities that hold masks, not images.
MASK_MODALITIES = ("SEG", "RTSTRUCT")


def frame_of_reference(image: sitk.Image) -> str | None:
    """The image's FrameOfReferenceUID where its metadata holds one."""
    return image.GetMetaData(FRAME_OF_REFERENCE_KEY).strip() if image.HasMetaDataKey(FRAME_OF_REFERENCE_KEY) else None


def dicom_frame_of_reference(path: str | Path) -> str | None:
    """The FrameOfReferenceUID of a DICOM exam (a file, or every image file of a folder), None
    where it is not DICOM or its images are in more than one frame of reference."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
    frames = set()
    for file in files:
        try:
            ds = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["FrameOfReferenceUID", "Modality"])
        except (InvalidDicomError, OSError, EOFError):
            continue
        if ds.get("FrameOfReferenceUID") and ds.get("Modality") not in MASK_MODALITIES:
            frames.add(str(ds.FrameOfReferenceUID))
    return frames.pop() if len(frames) == 1 else None


def check_same_frame(mask_frame: str | None, exam_frame: str | None, *, patient: str | None, file) -> None:
    """CaseError when a mask and its exam both name a frame of reference and they differ."""
    if mask_frame and exam_frame and mask_frame != exam_frame:
        raise CaseError(
            "mask and exam are in different frames of reference (FrameOfReferenceUID): not the same "
            "space (a mask of another study, or one that needs registering first)",
            patient=patient,
            file=file,
        )


def read_rtstruct(
    file: Path, reference: sitk.Image, label: int | str | None, patient: str | None, exam_frame: str | None = None
) -> tuple[sitk.Image, list[str]]:
    """One ROI of an RTSTRUCT as a binary UInt8 mask on `reference`'s grid, and notes.
    `exam_frame`: the exam's FrameOfReferenceUID (default: the one in `reference`'s metadata)."""
    try:
        ds = pydicom.dcmread(file)
    except Exception as exc:  # pydicom raises many types for a damaged file
        raise CaseError(f"cannot read RTSTRUCT: {exc}", patient=patient, file=file) from None
    rois = [
        {
            "name": str(r.get("ROIName", "")),
            "value": int(r.ROINumber),
            "layer": 0,
            "frame": str(r.get("ReferencedFrameOfReferenceUID", "")) or None,
        }
        for r in ds.get("StructureSetROISequence", [])
    ]
    if not rois:
        raise CaseError("RTSTRUCT lists no ROI (StructureSetROISequence is empty)", patient=patient, file=file)
    roi = choose_segment(rois, label, patient, file)
    check_same_frame(roi["frame"], exam_frame or frame_of_reference(reference), patient=patient, file=file)
    contours: list = next(
        (
            c.get("ContourSequence", [])
            for c in ds.get("ROIContourSequence", [])
            if int(c.ReferencedROINumber) == roi["value"]
        ),
        [],
    )
    if not contours:
        raise CaseError(f"ROI {roi['name']!r} has no contours", patient=patient, file=file)
    size = reference.GetSize()
    to_index = _physical_to_index(reference)
    volume = np.zeros(size[::-1], bool)
    off_plane = []
    for n, contour in enumerate(contours, 1):
        where = f"ROI {roi['name']!r} contour {n}"
        kind = str(contour.get("ContourGeometricType", ""))
        if kind != "CLOSED_PLANAR":
            raise CaseError(
                f"{where} is {kind or 'of no type'}, not CLOSED_PLANAR: not a region", patient=patient, file=file
            )
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        index = to_index(points)
        k = _slice_of(index[:, 2], where, patient, file)
        if not 0 <= k < size[2]:
            raise CaseError(
                f"{where} lies outside the exam's slices (slice {k}, the exam has 0..{size[2] - 1})",
                patient=patient,
                file=file,
            )
        offset = float(np.max(np.abs(index[:, 2] - k)))
        if offset > SLICE_TOLERANCE:
            off_plane.append(offset)
        volume[k] ^= fill_polygon(index[:, :2], (size[1], size[0]))
    notes = [
        f"RTSTRUCT ROI {roi['name']!r}: {len(contours)} contours rasterised on the exam grid (voxel centres inside)"
    ]
    if off_plane:
        spacing = reference.GetSpacing()[2]
        notes.append(
            f"RTSTRUCT: {len(off_plane)} contours lay between slices (up to {max(off_plane) * spacing:.2g} mm "
            "off); each was put on its nearest slice"
        )
    mask = sitk.GetImageFromArray(volume.astype(np.uint8))
    mask.CopyInformation(reference)
    if roi["frame"]:
        mask.SetMetaData(FRAME_OF_REFERENCE_KEY, roi["frame"])
    return mask, notes


def _physical_to_index(image: sitk.Image):
    """Physical points (n x 3, mm) to continuous indices (n x 3, SimpleITK order x, y, z)."""
    matrix = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
    inverse, origin = np.linalg.inv(matrix), np.array(image.GetOrigin())
    return lambda points: (points - origin) @ inverse.T


def _slice_of(z: np.ndarray, where: str, patient: str | None, file: Path) -> int:
    """The one slice a contour's continuous slice indices `z` put it on."""
    if z.max() - z.min() > 0.5:
        raise CaseError(
            f"{where} spans slices {z.min():.2f} to {z.max():.2f}: not parallel to the exam's slices",
            patient=patient,
            file=file,
        )
    centre = float(z.mean())
    if abs(centre - np.floor(centre) - 0.5) < MIDWAY:
        below = int(np.floor(centre))
        raise CaseError(
            f"{where} lies midway between slices {below} and {below + 1}: which one is meant is not known",
            patient=patient,
            file=file,
        )
    return int(np.round(centre))


def fill_polygon(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (rows, columns = `shape`) whose centre (x = column, y = row) is inside the polygon
    `xy` (n x 2, continuous indices) by the even-odd rule. A centre on an edge is inside on the
    polygon's low-index side and outside on its high-index side (half-open, so polygons sharing
    an edge do not overlap)."""
    out = np.zeros(shape, bool)
    x0, y0 = xy[:, 0], xy[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    first = max(int(np.ceil(y0.min())), 0)
    last = min(int(np.floor(y0.max())), shape[0] - 1)
    columns = np.arange(shape[1])
    for row in range(first, last + 1):
        crossing = (y0 <= row) != (y1 <= row)
        xs = np.sort(
            x0[crossing] + (row - y0[crossing]) * (x1[crossing] - x0[crossing]) / (y1[crossing] - y0[crossing])
        )
        out[row] = np.searchsorted(xs, columns, side="right") % 2 == 1
    return out

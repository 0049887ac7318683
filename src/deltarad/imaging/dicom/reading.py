"""One SimpleITK volume from the frames of one complete volume: only their pixels are read
(one uncompressed frame per file without pydicom's decoders: quickparse.native_plane).

Geometry: origin = the first slice's ImagePositionPatient (slices ordered along the normal
row x column), direction columns = row direction, column direction, normal (LPS), spacing =
(column spacing, row spacing, the mean step between slice positions), all in mm.
Values: the stored values where no frame is rescaled; otherwise stored value x RescaleSlope +
RescaleIntercept of each frame (for Philips the values the scanner displays, not its private
floating-point scale), integer when every slope and intercept is whole (int16 where it fits,
else int32), float32 otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.pixels import iter_pixels
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from deltarad.errors import CaseError, library_message
from deltarad.imaging.dicom.grouping import Volume, normal
from deltarad.imaging.dicom.quickparse import native_plane


def read_volume(volume: Volume, patient: str | None) -> sitk.Image:
    frames = volume.frames
    by_file: dict[Path, list[int]] = defaultdict(list)
    for k, f in enumerate(frames):
        by_file[f.file].append(k)
    planes: list[np.ndarray] = [np.empty(0)] * len(frames)
    for file, slots in by_file.items():
        decoded = _planes(file, [frames[k].frame for k in slots], patient)
        for k in slots:
            plane = decoded[frames[k].frame]
            if plane.shape != (frames[k].rows, frames[k].columns):
                raise CaseError(
                    f"DICOM pixel data of shape {plane.shape} does not match the header "
                    f"({frames[k].rows} x {frames[k].columns})",
                    patient=patient,
                    file=file,
                )
            planes[k] = plane
    array = np.stack(planes)
    if _rescaled(frames):
        slope = np.array([f.slope for f in frames])[:, None, None]
        intercept = np.array([f.intercept for f in frames])[:, None, None]
        array = _narrow(array * slope + intercept, frames)
    image = sitk.GetImageFromArray(array)
    first = frames[0]
    o = np.asarray(first.orientation, dtype=float)
    image.SetOrigin([float(v) for v in first.position])
    image.SetSpacing([first.pixel_spacing[1], first.pixel_spacing[0], volume.slice_spacing_mm])
    image.SetDirection(np.column_stack([o[:3], o[3:], normal(first.orientation)]).ravel().tolist())
    return image


def _planes(file: Path, indices: list[int | None], patient: str | None) -> dict[int | None, np.ndarray]:
    """The 2-D planes of `file` at `indices` (None: a single-frame file); of a multi-frame file
    only those frames are decoded."""
    decoded: dict[int | None, np.ndarray]
    try:
        plane = native_plane(file) if indices == [None] else None
        if plane is not None:
            decoded = {None: plane}
        elif indices == [None]:
            ds = pydicom.dcmread(file, force=True)
            if "TransferSyntaxUID" not in ds.file_meta:  # a bare dataset: the encoding it was read in
                implicit, little = ds.original_encoding
                ds.file_meta.TransferSyntaxUID = (
                    ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
                )
            decoded = {None: ds.pixel_array}
        else:
            wanted = sorted({i for i in indices if i is not None})  # a multi-frame file's frames: all numbered
            decoded = dict(zip(wanted, iter_pixels(file, indices=wanted)))
    except Exception as exc:  # pydicom and its decoders raise many types for a damaged file
        raise CaseError(
            f"cannot read DICOM pixel data (truncated file or unsupported compression?): {library_message(exc)}",
            patient=patient,
            file=file,
        ) from None
    return {
        k: v.astype(v.dtype.newbyteorder("=")) if v.dtype.byteorder not in ("=", "|") else v for k, v in decoded.items()
    }


def _rescaled(frames) -> bool:
    return any(f.slope != 1.0 or f.intercept != 0.0 for f in frames)


def _narrow(array: np.ndarray, frames) -> np.ndarray:
    whole = all(float(f.slope).is_integer() and float(f.intercept).is_integer() for f in frames)
    if not whole:
        return array.astype(np.float32)
    if array.dtype.kind == "f":
        array = np.rint(array)
    lo, hi = (array.min(), array.max()) if array.size else (0, 0)
    if np.iinfo(np.int16).min <= lo and hi <= np.iinfo(np.int16).max:
        return array.astype(np.int16)
    if array.dtype == np.uint16:
        return array
    return array.astype(np.int32)

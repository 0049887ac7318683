"""Read DCE-MRI exams and tumour segmentations as SimpleITK images (LPS physical space, mm).

Images: a DICOM folder (one series, or several phases), a single DICOM file (its series is read
from its folder), NIfTI (.nii, .nii.gz), NRRD/MHA. Masks: a labelmap (NIfTI/NRRD; its only
non-zero value, whatever it is, or the one chosen), a 3D Slicer .seg.nrrd (segments selected by
name or label value, in any layer), a DICOM-SEG file, or a DICOM RTSTRUCT (contours rasterised on
the exam's grid: deltarad.imaging.rtstruct).

Every failure is a DeltaradError naming the patient, the file and the problem.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from deltarad.errors import CaseError

log = logging.getLogger(__name__)

#: DICOM attributes that order the dynamic phases of one exam, in order of preference.
PHASE_KEYS = ("TemporalPositionIdentifier", "TriggerTime", "AcquisitionTime")
_DICOM_SUFFIXES = {"", ".dcm", ".dicom", ".ima"}


# ----------------------------------------------------------------------------- images


def read_image(path: str | Path, *, phase: int = 3, series_uid: str | None = None, patient: str | None = None) -> sitk.Image:
    """Read one 3D exam; `phase` indexes the dynamic phases in time order (0 = pre-contrast).

    An exam with a single phase is returned whatever `phase` says (the user exported that phase).
    A 4D NIfTI/NRRD is taken as phases along its 4th axis.
    """
    path = _existing(path, patient)
    if path.is_dir() or _is_dicom_file(path):
        return read_dicom_exam(path, phase=phase, series_uid=series_uid, patient=patient)
    image = _sitk_read(path, patient)
    if image.GetNumberOfComponentsPerPixel() > 1:
        raise CaseError("image has vector pixels (several channels); expected a scalar 3D exam", patient=patient, file=path)
    if image.GetDimension() == 4:
        n = image.GetSize()[3]
        index = _phase_index(phase, n, patient, path)
        log.info("patient %s: 4D image %s, taking phase %d of %d", patient, path.name, index, n)
        size = list(image.GetSize())
        size[3] = 0
        image = sitk.Extract(image, size, [0, 0, 0, index])
    if image.GetDimension() != 3:
        raise CaseError(f"expected a 3D image, got {image.GetDimension()}D", patient=patient, file=path)
    return image


@dataclass(frozen=True)
class _Slice:
    file: Path
    series_uid: str
    description: str
    position: tuple[float, float, float]
    orientation: tuple[float, ...]
    rows_cols: tuple[int, int]
    phase_key: dict  # PHASE_KEYS -> value (absent keys missing)
    series_number: int


def read_dicom_exam(path: Path, *, phase: int = 3, series_uid: str | None = None, patient: str | None = None) -> sitk.Image:
    """Read one phase of a DCE exam stored as DICOM.

    Phases come either as one series holding all phases (split by TemporalPositionIdentifier,
    else TriggerTime, else AcquisitionTime) or as one series per phase on the same slice grid
    (ordered by the same keys, then SeriesNumber). Other multi-series folders need `series_uid`.
    """
    folder = path if path.is_dir() else path.parent
    slices = _scan_dicom(folder, patient)
    if not path.is_dir() and series_uid is None:
        series_uid = next(s.series_uid for s in slices if s.file == path)
    by_series: dict[str, list[_Slice]] = defaultdict(list)
    for s in slices:
        by_series[s.series_uid].append(s)
    if series_uid is not None:
        if series_uid not in by_series:
            raise CaseError(f"no DICOM series with SeriesInstanceUID {series_uid}", patient=patient, file=folder)
        phases = _split_phases(by_series[series_uid], patient, folder)
    elif len(by_series) == 1:
        phases = _split_phases(next(iter(by_series.values())), patient, folder)
    elif _one_series_per_phase(by_series):
        phases = sorted(by_series.values(), key=lambda ss: _phase_sort_key(ss[0]))
    else:
        listing = "; ".join(f"{uid} ({ss[0].description or 'no description'}, {len(ss)} files)" for uid, ss in by_series.items())
        raise CaseError(f"{len(by_series)} DICOM series and no choice of series_uid: {listing}", patient=patient, file=folder)
    chosen = phases[_phase_index(phase, len(phases), patient, folder)] if len(phases) > 1 else phases[0]
    return _read_slices(chosen, patient, folder)


def _scan_dicom(folder: Path, patient: str | None) -> list[_Slice]:
    slices = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in _DICOM_SUFFIXES):
        try:
            ds = pydicom.dcmread(file, stop_before_pixels=True)
        except (InvalidDicomError, OSError, EOFError) as exc:
            if file.suffix.lower() in {".dcm", ".dicom", ".ima"}:
                raise CaseError(f"unreadable DICOM file: {exc}", patient=patient, file=file) from None
            continue
        if "ImagePositionPatient" not in ds or "SeriesInstanceUID" not in ds:
            continue  # DICOMDIR, SEG, structured reports: not image slices
        slices.append(
            _Slice(
                file=file,
                series_uid=str(ds.SeriesInstanceUID),
                description=str(ds.get("SeriesDescription", "")),
                position=tuple(float(v) for v in ds.ImagePositionPatient),
                orientation=tuple(round(float(v), 4) for v in ds.ImageOrientationPatient),
                rows_cols=(int(ds.Rows), int(ds.Columns)),
                phase_key={k: _phase_value(ds.get(k)) for k in PHASE_KEYS if ds.get(k) not in (None, "")},
                series_number=int(ds.get("SeriesNumber") or 0),
            )
        )
    if not slices:
        raise CaseError("no DICOM image slices found", patient=patient, file=folder)
    return slices


def _phase_value(value: object) -> float:
    """A phase key as a number: only its order matters (HHMMSS.frac times order like numbers)."""
    return float(str(value))


def _phase_sort_key(s: _Slice) -> tuple:
    return tuple(s.phase_key.get(k, np.inf) for k in PHASE_KEYS) + (s.series_number,)


def _split_phases(series: list[_Slice], patient: str | None, folder: Path) -> list[list[_Slice]]:
    n_positions = len({s.position for s in series})
    if n_positions == len(series):
        return [series]
    for key in PHASE_KEYS:
        if all(key in s.phase_key for s in series):
            groups: dict[float, list[_Slice]] = defaultdict(list)
            for s in series:
                groups[s.phase_key[key]].append(s)
            if len(groups) > 1 and all(len({s.position for s in g}) == len(g) for g in groups.values()):
                log.debug("split series into %d phases by %s", len(groups), key)
                return [groups[k] for k in sorted(groups)]
    raise CaseError(
        f"series has {len(series)} slices at {n_positions} positions and no {'/'.join(PHASE_KEYS)} to split its phases",
        patient=patient,
        file=folder,
    )


def _one_series_per_phase(by_series: dict[str, list[_Slice]]) -> bool:
    """Several single-phase series on the same slice grid: the phases of one exam."""
    grids = {
        (frozenset(s.position for s in ss), ss[0].orientation, ss[0].rows_cols, len(ss)) for ss in by_series.values()
    }
    single = all(len({s.position for s in ss}) == len(ss) for ss in by_series.values())
    return single and len(grids) == 1


def _read_slices(slices: list[_Slice], patient: str | None, folder: Path) -> sitk.Image:
    o = np.array(slices[0].orientation, dtype=float)
    normal = np.cross(o[:3], o[3:])
    ordered = sorted(slices, key=lambda s: float(np.dot(normal, s.position)))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(s.file) for s in ordered])
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise CaseError(f"cannot read DICOM series (truncated or unsupported file?): {_first_line(exc)}", patient=patient, file=folder) from None
    if image.GetDimension() != 3:
        raise CaseError(f"expected a 3D DICOM series, got {image.GetDimension()}D", patient=patient, file=folder)
    return image


def _phase_index(phase: int, n: int, patient: str | None, path: Path) -> int:
    if not 0 <= phase < n:
        raise CaseError(f"phase {phase} requested but the exam has {n} phases (0..{n - 1})", patient=patient, file=path)
    return phase


# ----------------------------------------------------------------------------- masks


def read_mask(path: str | Path, *, label: int | str | None = None, patient: str | None = None,
              reference: sitk.Image | None = None, reference_path: str | Path | None = None) -> sitk.Image:
    """The mask of `load_mask`, without its notes."""
    return load_mask(path, label=label, patient=patient, reference=reference, reference_path=reference_path)[0]


def load_mask(path: str | Path, *, label: int | str | None = None, patient: str | None = None,
              reference: sitk.Image | None = None, reference_path: str | Path | None = None
              ) -> tuple[sitk.Image, list[str]]:
    """Read one segment as a binary UInt8 mask (1 = lesion), and notes on what was inferred.

    `label`: a label value, or a segment name (.seg.nrrd, DICOM-SEG, RTSTRUCT ROI name; an
    RTSTRUCT's ROI number); None = the only segment/label. `reference`: the exam, needed by an
    RTSTRUCT (contours have no voxel grid of their own). A DICOM-SEG or RTSTRUCT mask carries its
    FrameOfReferenceUID in its metadata (rtstruct.FRAME_OF_REFERENCE_KEY) and must share the
    exam's: the one in `reference`'s metadata, else that of the DICOM files at `reference_path`.
    """
    path = _existing(path, patient)
    if path.is_dir() or _is_dicom_file(path):
        from deltarad.imaging import rtstruct

        file, modality = _find_mask_file(path, patient)
        exam_frame = None if reference is None else rtstruct.frame_of_reference(reference)
        if exam_frame is None and reference_path is not None:
            exam_frame = rtstruct.dicom_frame_of_reference(reference_path)
        if modality == "SEG":
            mask = _read_dicom_seg(file, label, patient)
            rtstruct.check_same_frame(rtstruct.frame_of_reference(mask), exam_frame, patient=patient, file=file)
            return mask, []
        if reference is None:
            raise CaseError("an RTSTRUCT has contours, not voxels: it is read on its exam's grid, and none was given",
                            patient=patient, file=file)
        return rtstruct.read_rtstruct(file, reference, label, patient, exam_frame)
    image = _sitk_read(path, patient)
    if path.name.lower().endswith(".seg.nrrd") or any(k.startswith("Segment0_") for k in image.GetMetaDataKeys()):
        return _read_slicer_seg(image, path, label, patient), []
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() > 1:
        raise CaseError(f"expected a 3D mask, got {image.GetDimension()}D with "
                        f"{image.GetNumberOfComponentsPerPixel()} component(s)", patient=patient, file=path)
    values = np.unique(sitk.GetArrayViewFromImage(image))
    labels = [int(v) if float(v).is_integer() else float(v) for v in values if v != 0]
    if isinstance(label, str):
        raise CaseError(f"segment name {label!r} given but a plain labelmap has no names (labels {labels})", patient=patient, file=path)
    notes = []
    if label is None:
        if len(labels) > 1:
            raise CaseError(f"mask has several labels {labels} and no choice: set imaging.mask_label", patient=patient, file=path)
        label = labels[0] if labels else 1
        if label != 1:
            notes.append(f"labelmap's only non-zero value is {label}: taken as the lesion")
    return _binary(image == label), notes


def _read_slicer_seg(image: sitk.Image, path: Path, label: int | str | None, patient: str | None) -> sitk.Image:
    """3D Slicer segmentation: segments described by Segment{i}_Name / _LabelValue / _Layer."""
    meta = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()}
    segments = []
    i = 0
    while f"Segment{i}_Name" in meta or f"Segment{i}_ID" in meta:
        segments.append(
            {
                "name": meta.get(f"Segment{i}_Name", meta.get(f"Segment{i}_ID", "")),
                "value": int(meta.get(f"Segment{i}_LabelValue", i + 1)),
                "layer": int(meta.get(f"Segment{i}_Layer", 0)),
            }
        )
        i += 1
    if not segments:
        raise CaseError("no segments described in the .seg.nrrd header", patient=patient, file=path)
    seg = _choose_segment(segments, label, patient, path)
    layers = image.GetNumberOfComponentsPerPixel()
    if image.GetDimension() != 3:
        raise CaseError(f"expected a 3D segmentation, got {image.GetDimension()}D", patient=patient, file=path)
    layer = sitk.VectorIndexSelectionCast(image, seg["layer"]) if layers > 1 else image
    return _binary(layer == seg["value"])


def _choose_segment(segments: list[dict], label: int | str | None, patient: str | None, path: Path) -> dict:
    names = ", ".join(f"{s['name']!r} (label {s['value']})" for s in segments)
    if label is None:
        if len(segments) > 1:
            raise CaseError(f"several segments [{names}] and no choice: set imaging.mask_label", patient=patient, file=path)
        return segments[0]
    if isinstance(label, str):
        hits = [s for s in segments if s["name"].strip().lower() == label.strip().lower()]
    else:
        hits = [s for s in segments if s["value"] == label]
    if not hits:
        raise CaseError(f"no segment {label!r}; segments: [{names}]", patient=patient, file=path)
    if len(hits) > 1:
        which = ", ".join(f"{s['name']!r} (layer {s['layer']})" for s in hits)
        raise CaseError(f"{len(hits)} segments match {label!r}: {which}; choose one by name in imaging.mask_label",
                        patient=patient, file=path)
    return hits[0]


def _find_mask_file(path: Path, patient: str | None) -> tuple[Path, str]:
    """The DICOM-SEG or RTSTRUCT file at `path` (a file, or the only one in a folder) and its modality."""
    from deltarad.imaging.rtstruct import MASK_MODALITIES

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    found = []
    for file in files:
        try:
            modality = str(pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", ""))
        except (InvalidDicomError, OSError, EOFError):
            continue
        if modality in MASK_MODALITIES:
            found.append((file, modality))
        elif path.is_file():
            raise CaseError(f"DICOM file of modality {modality or 'unknown'} is not a mask (DICOM-SEG or RTSTRUCT)",
                            patient=patient, file=path)
    if len(found) > 1:
        raise CaseError(f"{len(found)} DICOM masks in folder ({', '.join(f.name for f, _ in found)}): name one file",
                        patient=patient, file=path)
    if not found:
        raise CaseError("no DICOM-SEG or RTSTRUCT file in folder", patient=patient, file=path)
    return found[0]


def _read_dicom_seg(file: Path, label: int | str | None, patient: str | None) -> sitk.Image:
    import highdicom as hd

    try:
        seg = hd.seg.segread(file)
    except Exception as exc:  # highdicom/pydicom raise many types for a bad file
        raise CaseError(f"cannot read DICOM-SEG: {_first_line(exc)}", patient=patient, file=file) from None
    segments = [
        {"name": str(seg.get_segment_description(n).segment_label), "value": int(n), "layer": 0}
        for n in seg.segment_numbers
    ]
    chosen = _choose_segment(segments, label, patient, file)
    try:
        volume = seg.get_volume(segment_numbers=[chosen["value"]], combine_segments=True, dtype=np.uint8)
    except (ValueError, RuntimeError) as exc:
        raise CaseError(f"DICOM-SEG frames do not form a regular 3D volume: {_first_line(exc)}", patient=patient, file=file) from None
    # Slices along +normal (row x column), as SimpleITK's series reader orders an image series:
    # right-handed in SimpleITK's (column, row, slice) order is left-handed in highdicom's array order.
    volume = volume.ensure_handedness("LEFT_HANDED", flip_axis=0)
    mask = _binary(volume_to_sitk(np.asarray(volume.array), np.asarray(volume.affine)) > 0)
    frame = str(getattr(seg, "FrameOfReferenceUID", "") or "")
    if frame:
        from deltarad.imaging.rtstruct import FRAME_OF_REFERENCE_KEY

        mask.SetMetaData(FRAME_OF_REFERENCE_KEY, frame)
    return mask


def volume_to_sitk(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """An array indexed (a0, a1, a2) with a 4x4 affine to LPS mm as a SimpleITK image.

    SimpleITK's index (x, y, z) is the array's (a2, a1, a0), so the affine's columns are taken
    in reverse order.
    """
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    columns = affine[:3, :3][:, ::-1]
    spacing = np.linalg.norm(columns, axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((columns / spacing).flatten().tolist())
    image.SetOrigin(affine[:3, 3].tolist())
    return image


# ----------------------------------------------------------------------------- helpers


def _existing(path: str | Path, patient: str | None) -> Path:
    p = Path(path)
    if not p.exists():
        raise CaseError("file not found", patient=patient, file=p)
    return p


def _is_dicom_file(path: Path) -> bool:
    if not path.is_file() or path.name.lower().endswith((".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")):
        return False
    with open(path, "rb") as fh:
        head = fh.read(132)
    return head[128:132] == b"DICM"


def _sitk_read(path: Path, patient: str | None) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise CaseError(f"cannot read image (unsupported or damaged file): {_first_line(exc)}", patient=patient, file=path) from None


def _binary(image: sitk.Image) -> sitk.Image:
    return sitk.Cast(image != 0, sitk.sitkUInt8)


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__

"""Read DCE-MRI exams and tumour segmentations as SimpleITK images (LPS physical space, mm).

Images: a DICOM folder (see deltarad.imaging.dicom for how series, dynamics and volumes are
found), a single DICOM file (its series is read from its folder), NIfTI (.nii, .nii.gz),
NRRD/MHA, or a folder of one such file per phase (deltarad.imaging.phase_files). Masks: a
labelmap (NIfTI/NRRD; its only non-zero value, whatever it is, or the one chosen), a 3D Slicer
.seg.nrrd (segments selected by name or label value, in any layer), a DICOM-SEG file, or a
DICOM RTSTRUCT (contours rasterised on the exam's grid: deltarad.imaging.rtstruct).

Every failure is a DeltaradError naming the patient, the file and the problem.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from deltarad.errors import CaseError, library_message
from deltarad.imaging.dicom import read_dicom_exam
from deltarad.imaging.dicom.exam import exam_volumes
from deltarad.imaging.dicom.finding import looks_like_dicom
from deltarad.imaging.dicom.grouping import Volume
from deltarad.imaging.dicom.reading import read_volume
from deltarad.imaging.dicom.timing import phase_times
from deltarad.imaging.geometry import on_image_grid, same_grid
from deltarad.imaging.phase_files import PhaseFiles, find_phase_files
from deltarad.imaging.segments import choose_segment
from deltarad.tablefile import is_given

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- images


def read_image(
    path: str | Path,
    *,
    phase: int = 3,
    series: str | None = None,
    series_uid: str | None = None,
    image_kind: str | None = None,
    patient: str | None = None,
) -> sitk.Image:
    """The image of `read_exam`, without its notes."""
    return read_exam(path, phase=phase, series=series, series_uid=series_uid, image_kind=image_kind, patient=patient)[0]


def read_exam(
    path: str | Path,
    *,
    phase: int = 3,
    series: str | None = None,
    series_uid: str | None = None,
    image_kind: str | None = None,
    patient: str | None = None,
) -> tuple[sitk.Image, list[str]]:
    """Read one 3D exam and say what was inferred; `phase` indexes the dynamic phases in time
    order (0 = pre-contrast).

    DICOM (a folder, or one file whose series is read from its folder) follows the rules of
    deltarad.imaging.dicom: files found by content, a phase is a complete volume, series picked
    by `series` (SeriesDescription or SeriesNumber) where the folder holds several candidates,
    `image_kind` where several kinds of image share each slice position. An exam with a single
    phase is returned whatever `phase` says (the user exported that phase). A 4D NIfTI/NRRD is
    taken as phases along its 4th axis; a folder of one file per phase as its numbered series
    (deltarad.imaging.phase_files).
    """
    path = _existing(path, patient)
    files = find_phase_files(path, patient=patient) if path.is_dir() else None
    if files is not None:
        return _read_phase_file(files, phase=phase, series=series, patient=patient, folder=path)
    if path.is_dir() or looks_like_dicom(path):
        return read_dicom_exam(
            path, phase=phase, series=series, series_uid=series_uid, image_kind=image_kind, patient=patient
        )
    notes: list[str] = []
    image = _sitk_read(path, patient)
    if image.GetNumberOfComponentsPerPixel() > 1:
        raise CaseError(
            "image has vector pixels (several channels); expected a scalar 3D exam", patient=patient, file=path
        )
    if image.GetDimension() == 4:
        n = image.GetSize()[3]
        index = _phase_index(phase, n, patient, path)
        notes.append(f"4D image: phase {index} of {n} along its 4th axis read")
        size = list(image.GetSize())
        size[3] = 0
        image = sitk.Extract(image, size, [0, 0, 0, index])
    if image.GetDimension() != 3:
        raise CaseError(f"expected a 3D image, got {image.GetDimension()}D", patient=patient, file=path)
    return image, notes


def _read_phase_file(
    files: PhaseFiles, *, phase: int, series: str | None, patient: str | None, folder: Path
) -> tuple[sitk.Image, list[str]]:
    """Phase `phase` of an exam stored as one file per phase (deltarad.imaging.phase_files)."""
    if len(files) == 1:
        image, notes = read_exam(files.files[0], phase=phase, patient=patient)
        return image, [*files.notes, *notes]
    index = _phase_index(phase, len(files), patient, folder)
    notes = [*files.notes, f"phase {index} = {files.files[index].name}"]
    if series:
        notes.append(f"series {series!r} not used: the folder holds phase files, not DICOM series")
    return _sitk_read(files.files[index], patient), notes


class ExamPhaseReader:
    """Every phase of a DCE exam in time order, decoded when asked and once: `reader[k]` is phase k
    whole, `reader.slab(k, z0, z1)` its slices z0..z1-1 only (a DICOM exam decodes only those
    files). `header_times_s`: each phase's start in seconds after phase 0 as the DICOM headers
    state it (None where they do not, and for a 4-D NIfTI/NRRD, whose phases lie along its 4th
    axis, and a folder of one file per phase (deltarad.imaging.phase_files): neither carries
    times); `notes`: what reading inferred. A 3-D file holds one phase: refused, since kinetics
    need them all."""

    def __init__(
        self, path: str | Path, *, series: str | None = None, image_kind: str | None = None, patient: str | None = None
    ):
        path = _existing(path, patient)
        self.patient = patient
        self._volumes: list[Volume] | None = None
        self._image4d: sitk.Image | None = None
        self._files: tuple[Path, ...] | None = None
        self._whole: dict[int, sitk.Image] = {}
        self.header_times_s: tuple[float, ...] | None = None
        files = find_phase_files(path, patient=patient) if path.is_dir() else None
        if files is not None and len(files) > 1:
            self._files, self.n, self.notes = files.files, len(files), list(files.notes)
            return
        if files is not None:
            path = files.files[0]
        if path.is_dir() or looks_like_dicom(path):
            self._volumes, self.notes = exam_volumes(path, series=series, image_kind=image_kind, patient=patient)
            where = path if path.is_dir() else path.parent
            try:
                times = phase_times(self._volumes, patient=patient, where=where)
                self.notes.append(times.note)
                self.header_times_s = times.times_s
            except CaseError as exc:
                self.header_times_s = None
                self.notes.append(f"phase times unknown: {exc.problem}")
            self.n = len(self._volumes)
            return
        image = _sitk_read(path, patient)
        if image.GetDimension() != 4 or image.GetNumberOfComponentsPerPixel() > 1:
            raise CaseError(
                f"kinetics need every phase of the exam, but the file holds one {image.GetDimension()}-D "
                "volume: give a DICOM exam, a 4-D NIfTI/NRRD (phases along the 4th axis) or a folder of one "
                "file per phase",
                patient=patient,
                file=path,
            )
        self._image4d, self.n = image, image.GetSize()[3]
        self.notes = [f"4-D image: its {self.n} phases along the 4th axis"]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> sitk.Image:
        if not 0 <= k < self.n:
            raise IndexError(k)
        if k not in self._whole:
            self._whole[k] = self._read(k, 0, None)
        return self._whole[k]

    def slab(self, k: int, z0: int, z1: int) -> sitk.Image:
        """Slices z0..z1-1 of phase k (the whole phase's geometry, origin at slice z0)."""
        if k in self._whole:
            return self._whole[k][:, :, z0:z1]
        return self._read(k, z0, z1)

    def _read(self, k: int, z0: int, z1: int | None) -> sitk.Image:
        if self._files is not None:
            image = _sitk_read(self._files[k], self.patient)
            return image if z0 == 0 and z1 is None else image[:, :, z0:z1]
        if self._volumes is not None:
            volume = self._volumes[k]
            if z0 == 0 and z1 is None:
                return read_volume(volume, self.patient)
            return read_volume(
                Volume(volume.frames[z0:z1], volume.label, volume.time_s, volume.slice_spacing_mm), self.patient
            )
        assert self._image4d is not None  # the exam is DICOM volumes or one 4-D image
        size = list(self._image4d.GetSize())
        depth = size[2] if z1 is None else z1 - z0
        size[2], size[3] = depth, 0
        return sitk.Extract(self._image4d, size, [0, 0, z0, k])


def _phase_index(phase: int, n: int, patient: str | None, path: Path) -> int:
    if not 0 <= phase < n:
        raise CaseError(f"phase {phase} requested but the exam has {n} phases (0..{n - 1})", patient=patient, file=path)
    return phase


# ----------------------------------------------------------------------------- masks


def read_mask(
    path: str | Path,
    *,
    label: int | str | None = None,
    patient: str | None = None,
    reference: sitk.Image | None = None,
    reference_path: str | Path | None = None,
) -> sitk.Image:
    """The mask of `load_mask`, without its notes."""
    return load_mask(path, label=label, patient=patient, reference=reference, reference_path=reference_path)[0]


def read_analysed_exam(
    path: str | Path, settings, *, series: str | None = None, patient: str | None = None
) -> tuple[sitk.Image, list[str]]:
    """`read_exam` with a study's imaging settings (deltarad.config.ImagingSettings): the phase,
    the image kind, and the series: `series` (a cohort's <timepoint>_series value) when given,
    else settings.series."""
    return read_exam(
        path,
        phase=settings.phase,
        patient=patient,
        image_kind=settings.image_kind,
        series=str(series) if is_given(series) else settings.series,
    )


def read_design_image(
    path: str | Path, settings, spec, *, series: str | None = None, patient: str | None = None
) -> tuple[sitk.Image, sitk.Image | None, list[str]]:
    """The image a design's radiomics are computed on (`spec`, a deltarad.design.ImageSpec) with
    the study's image kind and series (as `read_analysed_exam`), and, for a subtraction, the
    native phase that serves air, body and N4 (None for a phase: the image itself).

    A subtraction {subtract: [a, b]} is phase a minus phase b, voxel by voxel in float32, on the
    exam's grid (both phases must share it); its native phase is b (usually the pre-contrast
    phase: no enhancement, a dark background that the air estimate needs, positive tissue that N4
    can fit). An exam holding a single volume cannot give two phases: refused.
    """
    read = dict(
        patient=patient, image_kind=settings.image_kind, series=str(series) if is_given(series) else settings.series
    )
    if spec.subtract is None:
        if spec.phase is None:
            raise CaseError(f"image: {spec.describe()} cannot be read from an exam file", patient=patient, file=path)
        image, notes = read_exam(path, phase=spec.phase, **read)
        return image, None, notes
    a, b = spec.subtract
    minuend, notes_a = read_exam(path, phase=a, **read)
    subtrahend, notes_b = read_exam(path, phase=b, **read)
    if not same_grid(minuend, subtrahend):
        raise CaseError(
            f"phases {a} and {b} are on different grids: a subtraction needs one grid", patient=patient, file=path
        )
    minuend, subtrahend = sitk.Cast(minuend, sitk.sitkFloat32), sitk.Cast(subtrahend, sitk.sitkFloat32)
    if np.array_equal(sitk.GetArrayViewFromImage(minuend), sitk.GetArrayViewFromImage(subtrahend)):
        raise CaseError(
            f"phases {a} and {b} are the same volume: the subtraction {spec.describe()} needs an exam "
            "with several phases (does the file hold one phase only?)",
            patient=patient,
            file=path,
        )
    image = sitk.Subtract(minuend, subtrahend)
    notes = list(
        dict.fromkeys(
            [*notes_a, *notes_b, f"image: {spec.describe()}, voxel by voxel; air, body and N4 from phase {b}"]
        )
    )
    return image, subtrahend, notes


def read_chest_wall(path: str | Path | sitk.Image, image: sitk.Image, *, patient: str | None = None) -> sitk.Image:
    """A chest-wall mask (a file, or an image: its non-zero voxels) on `image`'s grid: taken on it
    where the grids are the same as ITK compares them (geometry.same_grid), else nearest-neighbour
    resampling."""
    wall = _binary(path) if isinstance(path, sitk.Image) else read_mask(path, patient=patient, reference=image)
    if same_grid(image, wall):
        return on_image_grid(wall, image)[0]
    return sitk.Resample(wall, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def load_mask(
    path: str | Path,
    *,
    label: int | str | None = None,
    patient: str | None = None,
    reference: sitk.Image | None = None,
    reference_path: str | Path | None = None,
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
            raise CaseError(
                "an RTSTRUCT has contours, not voxels: it is read on its exam's grid, and none was given",
                patient=patient,
                file=file,
            )
        return rtstruct.read_rtstruct(file, reference, label, patient, exam_frame)
    image = _sitk_read(path, patient)
    if path.name.lower().endswith(".seg.nrrd") or any(k.startswith("Segment0_") for k in image.GetMetaDataKeys()):
        return _read_slicer_seg(image, path, label, patient), []
    return labelmap_mask(image, label=label, patient=patient, file=path)


def labelmap_mask(
    image: sitk.Image, *, label: int | str | None = None, patient: str | None = None, file: str | Path | None = None
) -> tuple[sitk.Image, list[str]]:
    """The lesion of a plain 3D labelmap as a binary UInt8 mask, and notes on what was inferred:
    `label` = its value; None = the only non-zero value (several are refused, naming them)."""
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() > 1:
        raise CaseError(
            f"expected a 3D mask, got {image.GetDimension()}D with "
            f"{image.GetNumberOfComponentsPerPixel()} component(s)",
            patient=patient,
            file=file,
        )
    labels = _label_values(image)
    if isinstance(label, str):
        raise CaseError(
            f"segment name {label!r} given but a plain labelmap has no names (labels {labels})",
            patient=patient,
            file=file,
        )
    notes = []
    lesion: float | None = label  # the lesion's voxel value (a labelmap's values need not be whole)
    if lesion is None:
        if len(labels) > 1:
            raise CaseError(
                f"mask has several labels {labels} and no choice: set imaging.mask_label", patient=patient, file=file
            )
        lesion = labels[0] if labels else 1
        if lesion != 1:
            notes.append(f"labelmap's only non-zero value is {lesion}: taken as the lesion")
    if lesion == 1 and labels == [1] and image.GetPixelID() == sitk.sitkUInt8:
        return sitk.Cast(image, sitk.sitkUInt8), notes  # already the binary mask: a copy, no comparison
    return _binary(image == lesion), notes


def _label_values(image: sitk.Image) -> list[int | float]:
    """The non-zero values of a labelmap, ascending. A 0/1 mask (nearly every one) is told by its
    minimum and maximum alone (integer voxels), without a pass to list its values."""
    array = sitk.GetArrayViewFromImage(image)
    if array.dtype.kind in "iu":
        extremes = sitk.MinimumMaximumImageFilter()
        extremes.Execute(image)
        low, high = extremes.GetMinimum(), extremes.GetMaximum()
        if low == 0 and high in (0, 1):
            return [int(high)] if high else []
    values = np.unique(array)
    return [int(v) if float(v).is_integer() else float(v) for v in values if v != 0]


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
    seg = choose_segment(segments, label, patient, path)
    layers = image.GetNumberOfComponentsPerPixel()
    if image.GetDimension() != 3:
        raise CaseError(f"expected a 3D segmentation, got {image.GetDimension()}D", patient=patient, file=path)
    layer = sitk.VectorIndexSelectionCast(image, seg["layer"]) if layers > 1 else image
    return _binary(layer == seg["value"])


def _find_mask_file(path: Path, patient: str | None) -> tuple[Path, str]:
    """The DICOM-SEG or RTSTRUCT file at `path` (a file, or the only one in a folder) and its modality."""
    from deltarad.imaging.rtstruct import MASK_MODALITIES

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    found = []
    for file in files:
        try:
            modality = str(
                pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", "")
            )
        except (InvalidDicomError, OSError, EOFError):
            continue
        if modality in MASK_MODALITIES:
            found.append((file, modality))
        elif path.is_file():
            raise CaseError(
                f"DICOM file of modality {modality or 'unknown'} is not a mask (DICOM-SEG or RTSTRUCT)",
                patient=patient,
                file=path,
            )
    if len(found) > 1:
        raise CaseError(
            f"{len(found)} DICOM masks in folder ({', '.join(f.name for f, _ in found)}): name one file",
            patient=patient,
            file=path,
        )
    if not found:
        raise CaseError("no DICOM-SEG or RTSTRUCT file in folder", patient=patient, file=path)
    return found[0]


def _read_dicom_seg(file: Path, label: int | str | None, patient: str | None) -> sitk.Image:
    import highdicom as hd

    try:
        seg = hd.seg.segread(file)
    except Exception as exc:  # highdicom/pydicom raise many types for a bad file
        raise CaseError(f"cannot read DICOM-SEG: {library_message(exc)}", patient=patient, file=file) from None
    segments = [
        {"name": str(seg.get_segment_description(n).segment_label), "value": int(n), "layer": 0}
        for n in seg.segment_numbers
    ]
    chosen = choose_segment(segments, label, patient, file)
    try:
        volume = seg.get_volume(segment_numbers=[chosen["value"]], combine_segments=True, dtype=np.uint8)
    except (ValueError, RuntimeError) as exc:
        raise CaseError(
            f"DICOM-SEG frames do not form a regular 3D volume: {library_message(exc)}", patient=patient, file=file
        ) from None
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
    return looks_like_dicom(path)


def _sitk_read(path: Path, patient: str | None) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise CaseError(
            f"cannot read image (unsupported or damaged file): {library_message(exc)}", patient=patient, file=path
        ) from None


def _binary(image: sitk.Image) -> sitk.Image:
    return sitk.Cast(image != 0, sitk.sitkUInt8)

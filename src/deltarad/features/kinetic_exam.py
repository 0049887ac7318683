"""An exam's contrast kinetics inside extraction: every phase read once, their times, the kinetics
row per reader (kinetics.csv) and a kinetic map as the image radiomics are computed on.

Kinetics are computed on the exam's native grid, before N4 and resampling: FTV's thresholds are
I-SPY's on the scanner's voxels, and the ratios (PE, SER) need no bias correction, since a
multiplicative field cancels in them. Phase times come from the DICOM headers
(imaging.dicom.timing) or, for a 4-D NIfTI/NRRD or a folder of one file per phase, from the
study file's kinetics.times_s; where both exist they must agree (kinetics.exam.exam_times
refuses otherwise). Every choice is a note.

An exam whose kinetics fail (times missing or ambiguous, a phase off the grid) gives a failure
row for stage "kinetics" and keeps its radiomics features: one bad part never sinks the exam's
other outputs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from deltarad.config import ImagingSettings
from deltarad.design import Design, ImageSpec
from deltarad.errors import CaseError, StageError
from deltarad.imaging.geometry import checked_mask
from deltarad.imaging.io import ExamPhaseReader, load_mask
from deltarad.kinetics import (
    DELTA_FTV_PREFIX,
    KINETICS_STAGE,
    VOLUME_CHANGE_PREFIX,
    KineticsSettings,
    delta_ftv,
    exam_kinetics,
    exam_times,
    kinetic_map_image,
    phases_of_study,
)
from deltarad.tablefile import is_given

log = logging.getLogger("deltarad.kinetics")

UNDEFINED_MAP_VALUE = 0.0
"""A kinetic map's undefined voxels (a ratio over 0: S0 = 0 for PE and wash-in, S2 = S0 for SER,
S1 = 0 for wash-out) are set to this before preprocessing, with a note: outside the tumour they
are background (air has S0 = 0), and PyRadiomics never sees NaN."""
MAX_UNDEFINED_TUMOUR_SHARE = 0.01
"""An exam whose map is undefined in more than this share of a reader's tumour voxels is refused:
its features would describe the stand-in value, not the lesion."""
RATIO_MAPS = ("pe", "ser", "wash_in", "wash_out")
"""Maps that are ratios of phases: a multiplicative bias field cancels, so N4 does not correct them."""


@dataclass
class KineticExam:
    """What the kinetics of one exam gave: kinetics.csv rows (one per reader), the notes, and the
    problem where they failed (then no rows)."""

    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    #: reader -> FTV voxels (native grid), for the QC image; not sent back from the worker
    ftv_masks: dict[int, sitk.Image] = field(default_factory=dict)
    #: the exam's phases as read, for the features of the same work unit (read once); not sent back
    phases: ExamPhases | None = None

    def sent_back(self) -> KineticExam:
        """What a worker returns: the rows, notes and problem, without the images."""
        return KineticExam(self.rows, self.notes, self.error)


@dataclass
class ExamPhases:
    """An exam's phases (imaging.io.ExamPhaseReader: decoded when asked), the phase times to use,
    the notes (reading and timing) and the notes of reading alone (for the features' record)."""

    images: ExamPhaseReader
    times_s: tuple[float, ...] | None
    notes: list[str]
    read_notes: list[str] = field(default_factory=list)


def read_phases(
    path: str | Path,
    settings: ImagingSettings,
    kinetics: KineticsSettings,
    *,
    series: str | None = None,
    patient: str | None = None,
) -> ExamPhases:
    """Every phase of the exam at `path` and the phase times to use (kinetics.exam.exam_times),
    with notes saying where they came from."""
    reader = ExamPhaseReader(
        path,
        series=str(series) if is_given(series) else settings.series,
        image_kind=settings.image_kind,
        patient=patient,
    )
    return timed_phases(
        ExamPhases(reader, reader.header_times_s, list(reader.notes), list(reader.notes)),
        kinetics,
        patient=patient,
        file=path,
    )


def timed_phases(
    read: ExamPhases, kinetics: KineticsSettings, *, patient: str | None = None, file: str | Path | None = None
) -> ExamPhases:
    """`read` (times_s: the headers' or None) with the phase times to use (kinetics.exam.exam_times)
    and the note saying where they come from."""
    images = read.images
    times, source = exam_times(read.images.header_times_s, kinetics, patient=patient, file=file)
    if times is not None:
        note = f"kinetics: {len(images)} phases timed [{', '.join(f'{t:g}' for t in times)}] s, from {source}"
    else:
        note = f"kinetics: {len(images)} phases, no phase times (neither the files nor kinetics.times_s)"
    return ExamPhases(images, times, [*read.read_notes, note], read.read_notes)


def exam_kinetic_rows(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    kinetics: KineticsSettings,
    whole_phase: int | None = None,
) -> KineticExam:
    """The kinetics of one exam of a cohort row, per reader (the masks of <timepoint>_mask and
    _mask_reader2 on the exam's native grid); a failure is returned as `error`, never raised.

    Phase `whole_phase` (the analysed phase; else the pre-contrast phase) is decoded whole and
    carries the masks; of the other phases only the slices the masks reach (+ the analysis
    margin and one slice for the neighbour rule) are decoded: FTV, the lesion's curve and the
    curve types look nowhere else, so the values are those of the whole exam."""
    pid = str(case_row["patient_id"])
    path = case_row.get(f"{timepoint}_image")
    out = KineticExam()
    if not is_given(path):
        out.error = f"no {timepoint}_image: the kinetics need the exam"
        return out
    try:
        series = case_row.get(f"{timepoint}_series")
        reader = ExamPhaseReader(
            str(path),
            series=str(series) if is_given(series) else settings.series,
            image_kind=settings.image_kind,
            patient=pid,
        )
        out.phases = ExamPhases(reader, reader.header_times_s, list(reader.notes), list(reader.notes))
        phases = timed_phases(out.phases, kinetics, patient=pid, file=path)
        out.notes = list(phases.notes)
        whole = (
            whole_phase
            if whole_phase is not None and 0 <= whole_phase < len(reader)
            else min(kinetics.pre, len(reader) - 1)
        )
        reference = reader[whole]
        masks = {}
        for number, column in ((1, f"{timepoint}_mask"), (2, f"{timepoint}_mask_reader2")):
            mask_path = case_row.get(column)
            if not is_given(mask_path):
                continue
            mask, _ = load_mask(
                str(mask_path), label=settings.mask_label, patient=pid, reference=reference, reference_path=path
            )
            if not np.any(sitk.GetArrayViewFromImage(mask)):
                raise CaseError(f"reader {number}: the tumour mask is empty", patient=pid, file=mask_path)
            masks[number], _ = checked_mask(mask, reference, patient=pid, file=mask_path)
        z0, z1 = _slab(masks.values(), reference, kinetics.margin_mm)
        slabs = [reader.slab(k, z0, z1) for k in range(len(reader))]
        for slab in slabs[1:]:
            slab.CopyInformation(slabs[0])  # the same frames: one grid, whichever way each was cut
        for number, mask in masks.items():
            mask = mask[:, :, z0:z1]
            mask.CopyInformation(slabs[0])
            result = exam_kinetics(
                slabs,
                mask,
                kinetics,
                times_s=phases.times_s,
                patient_id=pid,
                timepoint=timepoint,
                reader=number,
                file=path,
            )
            out.rows.append(result.row)
            out.ftv_masks[number] = result.ftv_mask
            if result.notes[0] not in out.notes:  # the phase choice, the same for every reader
                out.notes.append(result.notes[0])
            out.notes += [f"reader {number}: {n}" for n in result.notes[1:]]
        return out
    except (StageError, CaseError) as exc:
        return KineticExam(error=exc.problem, phases=out.phases)
    except Exception as exc:  # SimpleITK's errors on one exam must not cost its features
        return KineticExam(error=f"kinetics: {type(exc).__name__}: {exc}", phases=out.phases)


def _slab(masks, reference: sitk.Image, margin_mm: float) -> tuple[int, int]:
    """Slices [z0, z1) that hold every mask dilated by `margin_mm`, and one more each side."""
    depth = reference.GetSize()[2]
    reach = int(np.ceil(margin_mm / reference.GetSpacing()[2])) + 1
    z = np.flatnonzero(np.any([sitk.GetArrayViewFromImage(m).any(axis=(1, 2)) for m in masks], axis=0))
    return max(0, int(z[0]) - reach), min(depth, int(z[-1]) + 1 + reach)


def read_map_image(
    path: str | Path,
    settings: ImagingSettings,
    spec: ImageSpec,
    kinetics: KineticsSettings,
    *,
    series: str | None = None,
    patient: str | None = None,
    read: ExamPhases | None = None,
) -> tuple[sitk.Image, sitk.Image, list[str]]:
    """The kinetic map `spec.map` of the exam at `path` (kinetics.exam.kinetic_map_image, float32,
    NaN where undefined), its native phase (the pre-contrast phase: air, body and N4 come from it),
    and the notes; `read`: the exam's phases already read (the work unit's kinetics read them)."""
    phases = (
        timed_phases(read, kinetics, patient=patient, file=path)
        if read is not None
        else read_phases(path, settings, kinetics, series=series, patient=patient)
    )
    choice = phases_of_study(len(phases.images), phases.times_s, kinetics, patient=patient, file=path)
    assert spec.map is not None  # read_map_image is called for a map design only
    image = kinetic_map_image(spec.map, phases.images, choice, patient=patient, file=path)
    native = sitk.Cast(phases.images[choice.pre], sitk.sitkFloat32)
    return (
        image,
        native,
        [
            *phases.notes,
            choice.note,
            f"image: {spec.describe()} of phases {choice.pre}, {choice.early}, {choice.late}; air, "
            f"body and N4 from phase {choice.pre}",
        ],
    )


def undefined_map_voxels(
    image: sitk.Image,
    masks: Mapping[int, sitk.Image],
    spec: ImageSpec,
    *,
    patient: str | None = None,
    file: str | Path | None = None,
) -> tuple[sitk.Image, list[str]]:
    """A kinetic map with its undefined (NaN) voxels set to UNDEFINED_MAP_VALUE and the note saying
    how many; refused (a StageError of stage "kinetics") where more than MAX_UNDEFINED_TUMOUR_SHARE
    of a reader's tumour voxels are undefined."""
    array = sitk.GetArrayFromImage(image)
    undefined = np.isnan(array)
    if not undefined.any():
        return image, []
    for reader, mask in sorted(masks.items()):
        tumour = sitk.GetArrayViewFromImage(mask) != 0
        share = float(undefined[tumour].mean()) if tumour.any() else 0.0
        if share > MAX_UNDEFINED_TUMOUR_SHARE:
            raise StageError(
                f"kinetics: {spec.describe()} is undefined in {share:.1%} of reader {reader}'s tumour "
                f"voxels (more than {MAX_UNDEFINED_TUMOUR_SHARE:.0%}): a ratio over a zero signal",
                stage=KINETICS_STAGE,
                patient=patient,
                file=file,
            )
    array[undefined] = UNDEFINED_MAP_VALUE
    fixed = sitk.GetImageFromArray(array)
    fixed.CopyInformation(image)
    return fixed, [
        f"image: {int(undefined.sum())} voxel(s) of {spec.describe()} undefined (a ratio over a zero "
        f"signal) set to {UNDEFINED_MAP_VALUE:g}"
    ]


# ----------------------------------------------------------------------------- ΔFTV and shrinkage

VOLUME_FEATURE = "original_shape_VoxelVolume"
"""The tumour volume whose change is `volume_change_<after>`: PyRadiomics' voxel-count volume
(mm3) of reader 1's tumour region, on the resampled grid the features see: like FTV a count of
voxels, so the two changes are measured alike (MeshVolume would smooth the boundary)."""
KINETICS_DELTA_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "delta",
    "ftv_before_ml",
    "ftv_after_ml",
    "delta_ftv",
    "volume_before_mm3",
    "volume_after_mm3",
    "volume_change",
)


def kinetic_deltas(kinetics: pd.DataFrame, features: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Per patient and delta pair of `design` (KINETICS_DELTA_COLUMNS), reader 1: ΔFTV
    (kinetics.exam.delta_ftv: (FTV_after - FTV_before) / FTV_before) and the relative change of the
    tumour volume VOLUME_FEATURE, (V_after - V_before) / V_before; NaN where an exam is missing or
    the baseline value is 0."""
    out = []
    volume = {}
    if VOLUME_FEATURE in features.columns:
        tumour = features[(features["region"] == design.tumour.name) & (features["reader"].astype(int) == 1)]
        volume = {
            (str(p), str(t)): float(v)
            for p, t, v in tumour[["patient_id", "timepoint", VOLUME_FEATURE]].itertuples(index=False)
        }
    for pair in design.deltas:
        ftv = {r["patient_id"]: r for r in delta_ftv(kinetics, pair, reader=1)}
        patients = sorted(set(ftv) | {p for p, t in volume if t == pair.after})
        for p in patients:
            before, after = volume.get((p, pair.before), np.nan), volume.get((p, pair.after), np.nan)
            change = (after - before) / before if before and np.isfinite(before) else np.nan
            f = ftv.get(p, {})
            out.append(
                {
                    "patient_id": p,
                    "delta": pair.name,
                    "ftv_before_ml": f.get("ftv_before_ml", np.nan),
                    "ftv_after_ml": f.get("ftv_after_ml", np.nan),
                    "delta_ftv": f.get("delta_ftv", np.nan),
                    "volume_before_mm3": before,
                    "volume_after_mm3": after,
                    "volume_change": change,
                }
            )
    return pd.DataFrame(out, columns=list(KINETICS_DELTA_COLUMNS))


def with_kinetic_variables(cohort: pd.DataFrame, deltas: pd.DataFrame, design: Design) -> pd.DataFrame:
    """`cohort` with the columns delta_ftv_<after> and volume_change_<after> of `deltas`
    (kinetic_deltas) joined by patient_id (NaN for a patient without them); a cohort column of
    the same name is replaced, with a warning."""
    out = cohort.copy()
    for pair in design.deltas:
        sub = deltas[deltas["delta"] == pair.name].set_index("patient_id")
        for source, prefix in (("delta_ftv", DELTA_FTV_PREFIX), ("volume_change", VOLUME_CHANGE_PREFIX)):
            name = f"{prefix}{pair.after}"
            if name in out.columns:
                log.warning("cohort column %s is replaced by the one kinetics derive", name)
            out[name] = out["patient_id"].astype(str).map(sub[source]).astype(float)
    return out

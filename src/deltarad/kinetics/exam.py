"""One exam's kinetics row (FTV, peak enhancement, time to peak, curve-type shares), its kinetic
maps as images, and ΔFTV between timepoints over a table of rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import SimpleITK as sitk

from deltarad.design import DeltaPair
from deltarad.errors import StageError
from deltarad.kinetics.curves import curve_shares, curve_types, lesion_curve
from deltarad.kinetics.ftv import FTVThresholds, bounding_box, functional_tumour_volume
from deltarad.kinetics.maps import kinetic_map, percent_enhancement
from deltarad.kinetics.settings import KineticsSettings
from deltarad.kinetics.timing import KINETICS_STAGE, PhaseChoice, choose_phases

#: kinetics.csv: one row per exam and reader
KINETICS_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "timepoint",
    "reader",
    "pre_phase",
    "early_phase",
    "late_phase",
    "ftv_ml",
    "pe_peak",
    "ttp_s",
    "share_persistent",
    "share_plateau",
    "share_washout",
)
#: the ΔFTV table: one row per patient, delta and reader
DELTA_FTV_COLUMNS: tuple[str, ...] = ("patient_id", "delta", "reader", "ftv_before_ml", "ftv_after_ml", "delta_ftv")
DELTA_FTV_PREFIX = "delta_ftv_"
VOLUME_CHANGE_PREFIX = "volume_change_"
TIME_AGREEMENT_S = 1.0
"""Header times and the study file's kinetics.times_s are one reading where they differ by at most this."""


@dataclass(frozen=True)
class ExamKinetics:
    row: dict
    """The kinetics.csv row (KINETICS_COLUMNS)."""
    ftv_mask: sitk.Image
    """The FTV voxels (uint8, 1 = counted) on the exam's grid, for QC."""
    choice: PhaseChoice
    notes: list[str]


def exam_times(
    header_times_s: Sequence[float] | None,
    settings: KineticsSettings,
    *,
    patient: str | None = None,
    file: str | Path | None = None,
) -> tuple[tuple[float, ...] | None, str | None]:
    """The phase times to use and where they come from: the headers' or the study file's
    kinetics.times_s, whichever is given; both given, they must agree (relative to phase 0,
    within TIME_AGREEMENT_S), else the two readings are refused, naming both."""
    given = settings.times_s
    if header_times_s is None:
        return (None, None) if given is None else (tuple(float(t) for t in given), "kinetics.times_s")
    if given is None:
        return tuple(float(t) for t in header_times_s), "the DICOM headers"
    ours = np.asarray(header_times_s, float) - header_times_s[0]
    theirs = np.asarray(given, float) - given[0]
    if ours.shape != theirs.shape or np.abs(ours - theirs).max() > TIME_AGREEMENT_S:
        raise StageError(
            f"kinetics: the DICOM headers time the phases at {_seconds(ours)} s but kinetics.times_s "
            f"says {_seconds(theirs)} s; remove kinetics.times_s or correct it",
            stage=KINETICS_STAGE,
            patient=patient,
            file=file,
        )
    return tuple(float(t) for t in header_times_s), "the DICOM headers (kinetics.times_s agrees)"


def exam_kinetics(
    phases: Sequence[sitk.Image],
    mask: sitk.Image,
    settings: KineticsSettings,
    *,
    times_s: Sequence[float] | None,
    patient_id: str,
    timepoint: str,
    reader: int,
    file: str | Path | None = None,
) -> ExamKinetics:
    """The kinetics of one exam: `phases` every phase (0 = the first in time) on one grid,
    `mask` the reader's tumour mask (non-zero = tumour) on that grid, `times_s` each phase's
    acquisition start (s) or None where unknown (then settings must name the phases)."""

    def refuse(problem: str) -> StageError:
        return StageError(problem, stage=KINETICS_STAGE, patient=patient_id, file=file)

    if not phases:
        raise refuse("kinetics: the exam has no phases")
    for k, image in enumerate(phases[1:], start=1):
        if not _same_grid(phases[0], image):
            raise refuse(f"kinetics: phase {k} is not on phase 0's grid (size, spacing, origin or direction differ)")
    if not _same_grid(phases[0], mask):
        raise refuse("kinetics: the tumour mask is not on the exam's grid")
    choice = phases_of_study(len(phases), times_s, settings, patient=patient_id, file=file)
    arrays = [sitk.GetArrayViewFromImage(p) for p in phases]
    tumour = sitk.GetArrayViewFromImage(mask) != 0
    sx, sy, sz = (float(v) for v in phases[0].GetSpacing())
    spacing_zyx = (sz, sy, sx)
    thresholds = ftv_thresholds(settings)
    ftv = functional_tumour_volume(
        arrays[choice.pre],
        arrays[choice.early],
        arrays[choice.late],
        tumour,
        spacing_zyx,
        thresholds,
        margin_mm=settings.margin_mm,
    )
    box = bounding_box(tumour, (0, 0, 0)) if tumour.any() else (slice(0, 0),) * 3
    tumour, arrays = tumour[box], [a[box] for a in arrays]  # the lesion's summary looks only at its mask
    s0, s1, s2 = (arrays[k] for k in (choice.pre, choice.early, choice.late))
    curve = lesion_curve(arrays, tumour, choice.pre)
    with np.errstate(invalid="ignore"):
        enhancing = tumour & (percent_enhancement(s0, s1) >= thresholds.pe_min)
    shares = curve_shares(curve_types(s1, s2, settings.curve_threshold_percent), enhancing)
    ttp = (
        choice.after_injection_s[curve.peak_phase]
        if choice.after_injection_s is not None and curve.peak_phase is not None
        else float("nan")
    )
    row = {
        "patient_id": patient_id,
        "timepoint": timepoint,
        "reader": reader,
        "pre_phase": choice.pre,
        "early_phase": choice.early,
        "late_phase": choice.late,
        "ftv_ml": ftv.ftv_ml,
        "pe_peak": curve.pe_peak,
        "ttp_s": ttp,
        **shares,
    }
    notes = [
        choice.note,
        (
            f"kinetics: FTV {ftv.voxels} voxels ({ftv.ftv_ml:.3f} mL) of {ftv.region_voxels} in the analysis region "
            f"(tumour mask + {settings.margin_mm:g} mm); S0 threshold {ftv.s0_threshold:.4g} = "
            f"{thresholds.s0_fraction:g} x P{thresholds.s0_percentile:g} of S0, PE >= {thresholds.pe_min:g} %, "
            f"SER >= {thresholds.ser_min:g}, >= {thresholds.neighbours_min} of 26 neighbours"
        ),
    ]
    if ftv.undefined_ser:
        notes.append(
            f"kinetics: {ftv.undefined_ser} voxel(s) passing the S0 and PE tests have S2 = S0 (undefined SER) "
            "and are not counted in the FTV"
        )
    if choice.after_injection_s is None:
        notes.append("kinetics: phase times unknown: time to peak not computed")
    ftv_image = sitk.GetImageFromArray(ftv.mask.astype(np.uint8))
    ftv_image.CopyInformation(phases[0])
    return ExamKinetics(row, ftv_image, choice, notes)


def ftv_thresholds(settings: KineticsSettings) -> FTVThresholds:
    """The FTV thresholds of the study file's `kinetics:` settings."""
    return FTVThresholds(
        s0_fraction=settings.s0_fraction,
        s0_percentile=settings.s0_percentile,
        pe_min=settings.pe_min,
        ser_min=settings.ser_min,
        neighbours_min=settings.neighbours_min,
    )


def phases_of_study(
    n_phases: int,
    times_s: Sequence[float] | None,
    settings: KineticsSettings,
    *,
    patient: str | None = None,
    file: str | Path | None = None,
) -> PhaseChoice:
    """The pre, early and late phases as the study's `kinetics:` settings choose them
    (timing.choose_phases with the settings' resolution, overrides and targets)."""
    return choose_phases(
        n_phases,
        times_s,
        resolution_s=settings.temporal_resolution_s,
        pre=settings.pre,
        early=settings.early,
        late=settings.late,
        early_target_s=settings.early_target_s,
        late_target_s=settings.late_target_s,
        patient=patient,
        file=file,
    )


class PhaseImages(Protocol):
    """An exam's phases by number: a list of images, or a reader that decodes each when asked."""

    def __len__(self) -> int: ...

    def __getitem__(self, k: int) -> sitk.Image: ...


def kinetic_map_image(
    name: str,
    phases: PhaseImages,
    choice: PhaseChoice,
    *,
    patient: str | None = None,
    file: str | Path | None = None,
) -> sitk.Image:
    """The kinetic map `name` (deltarad.kinetics.maps) of an exam as a float32 image on its grid;
    undefined voxels are NaN."""
    s0, s1, s2 = (sitk.GetArrayViewFromImage(phases[k]) for k in (choice.pre, choice.early, choice.late))
    after = choice.after_injection_s
    try:
        values = kinetic_map(
            name,
            s0,
            s1,
            s2,
            early_after_injection_s=after[choice.early] if after else None,
            late_after_injection_s=after[choice.late] if after else None,
        )
    except ValueError as exc:
        raise StageError(str(exc), stage=KINETICS_STAGE, patient=patient, file=file) from None
    image = sitk.GetImageFromArray(values.astype(np.float32))
    image.CopyInformation(phases[choice.pre])
    return image


def delta_ftv(rows: Iterable[Mapping], pair: DeltaPair, reader: int = 1) -> list[dict]:
    """ΔFTV = (FTV_after - FTV_before) / FTV_before per patient of `rows` (kinetics.csv rows, or
    a DataFrame of them) that has both timepoints of `pair` read by `reader`; always the
    relative change (I-SPY's), whatever `pair.form`. NaN where FTV_before is 0 (undefined)."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    ftv: dict[tuple[str, str], float] = {}
    for r in rows:
        if int(r["reader"]) != reader or r["timepoint"] not in (pair.before, pair.after):
            continue
        key = (str(r["patient_id"]), str(r["timepoint"]))
        if key in ftv:
            raise ValueError(f"kinetics rows: patient {key[0]} has two rows for timepoint {key[1]}, reader {reader}")
        ftv[key] = float(r["ftv_ml"])
    out = []
    for patient in sorted({p for p, _ in ftv}):
        if (patient, pair.before) not in ftv or (patient, pair.after) not in ftv:
            continue
        before, after = ftv[patient, pair.before], ftv[patient, pair.after]
        change = (after - before) / before if before != 0 else float("nan")
        out.append(dict(zip(DELTA_FTV_COLUMNS, (patient, pair.name, reader, before, after, change))))
    return out


def kinetic_variables(pairs: Iterable[DeltaPair]) -> tuple[str, ...]:
    """The cohort variables a study with a `kinetics:` key gains per delta pair: delta_ftv_<after>
    (ΔFTV, reader 1) and volume_change_<after> (the relative change of reader 1's tumour volume,
    deltarad.features.kinetic_exam), usable in design.references and as clinical candidates."""
    return tuple(name for p in pairs for name in (f"{DELTA_FTV_PREFIX}{p.after}", f"{VOLUME_CHANGE_PREFIX}{p.after}"))


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-4)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-4)
    )


def _seconds(times: np.ndarray) -> str:
    return "[" + ", ".join(f"{t:g}" for t in times) + "]"

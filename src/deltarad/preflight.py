"""Pre-flight check of a study before extraction (`deltarad check`): seconds per exam, no N4, no
features.

Per exam (patient, timepoint): the image read as extraction reads it (one phase's pixels), its
grid, each reader's mask (volume in mL on its own grid, share of it inside the image's field of
view, Dice between readers on the image grid) and the peritumoral ring after air, skin and chest
wall are removed, built on extraction's resampled grid with the public pieces of
deltarad.imaging (the air threshold and the ring come from the uncorrected image there too, so
N4 changes none of them). Per patient: cohort problems, clinical values missing, the outcome
and ultrasound values. Each patient's status says whether a run would leave them out, and why.

Nothing here writes files (deltarad.outputs.write_check does); one bad exam becomes its row, never an
exception.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from deltarad.cohort import load_cohort_cases, read_study_table, unmatched_ids
from deltarad.config import ImagingSettings, Study, imaging_design
from deltarad.design import ULTRASOUND_COLUMN, Design
from deltarad.errors import CaseError, CompleteEarlyResponse, DeltaradError, StudyFileError
from deltarad.imaging import io
from deltarad.imaging.air import exam_air
from deltarad.imaging.finite import non_finite_checked
from deltarad.imaging.geometry import checked_mask
from deltarad.imaging.preprocess import (
    Grid,
    crop_grid,
    itk_threads,
    lesion_box,
    output_grid,
    resample_label,
    resample_mask,
)
from deltarad.imaging.regions import peritumoral_ring
from deltarad.modeling.pipeline import enough_training_patients
from deltarad.modeling.split import study_split
from deltarad.parallel import ParallelSettings, map_units
from deltarad.tablefile import is_given

log = logging.getLogger("deltarad.check")

EXAM_COLUMNS = [
    "patient_id",
    "timepoint",
    "status",
    "image",
    "image_files",
    "phase",
    "reader_notes",
    "size",
    "spacing_mm",
    "mask",
    "mask_ml",
    "mask_in_fov",
    "reader2",
    "reader2_ml",
    "reader2_dice",
    "air_threshold",
    "air_threshold_from",
    "ring_geometric_ml",
    "ring_ml",
    "ring_removed_share",
    "reader2_ring_ml",
    "warnings",
    "error",
    "seconds",
]
PATIENT_COLUMNS = [
    "patient_id",
    "status",
    "left_out_because",
    "warnings",
    "clinical_missing",
    "outcome",
    "ultrasound",
    "reader2",
]
CODING_COLUMNS = ["column", "value", "patients", "maps_to"]

#: A ring that loses more than this share of its geometric shell to air, skin and chest wall is
#: worth a look before extraction (the lesion sits at the skin, the chest wall or in air).
RING_REMOVED_WARNING = 0.5
#: Inter-reader Dice below this suggests the readers outlined different lesions.
DICE_WARNING = 0.5
#: Patients listed on screen per kind (left out, with warnings); check_patients.csv has them all.
SUMMARY_MAX_LINES = 20
#: Extra voxels of extraction's grid kept around ring_mm + skin_mm when the ring is built on a crop.
CROP_MARGIN_VOXELS = 2

_MEANING = {"outcome": {0: "non-pCR", 1: "ALN-pCR"}, "ultrasound": {0: "US-non-pCR", 1: "US-pCR"}}


@dataclass
class StudyCheck:
    """What `check_study` found: one row per exam, one per patient, the outcome coding, problems
    of the whole study (a run would stop) and notes (what was not checked, and why)."""

    exams: pd.DataFrame
    patients: pd.DataFrame
    coding: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def left_out(self) -> pd.DataFrame:
        return self.patients[self.patients["status"] == "left out"]

    @property
    def anyone_left_out(self) -> bool:
        return bool(self.problems) or len(self.left_out) > 0


# ----------------------------------------------------------------------------- one exam


def check_exam(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    *,
    base: Path | None = None,
    design: Design | None = None,
) -> dict:
    """One exam's row (EXAM_COLUMNS); status is ok, warning or failed (then `error` says why).

    `base`: paths under this folder are shown relative to it. `design`: the study's (None: that of
    the imaging settings alone); the image is the design's, and the ring checked is the shell out
    to the design's outermost band (where a band would be emptied, so would the shell's part).
    """
    design = design if design is not None else imaging_design(settings)
    outermost = design.outermost_mm if design.bands else settings.ring_mm
    if outermost != settings.ring_mm:
        settings = settings.model_copy(update={"ring_mm": outermost})
    pid = str(case_row["patient_id"])
    row: dict = dict.fromkeys(EXAM_COLUMNS, None)
    row.update(
        patient_id=pid,
        timepoint=timepoint,
        reader2="no",
        phase=design.image.phase if design.image.phase is not None else design.image.describe(),
    )
    warnings: list[str] = []
    start = time.perf_counter()
    try:
        _check_exam(case_row, timepoint, settings, row, warnings, base, design)
    except CaseError as exc:
        row["error"] = exc.problem + (f" ({_shown_path(exc.file, base)})" if exc.file else "")
    except Exception as exc:  # SimpleITK/pydicom errors of one exam must not stop the check
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["warnings"] = "; ".join(warnings)
    row["status"] = "failed" if row["error"] else ("warning" if warnings else "ok")
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _check_exam(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    row: dict,
    warnings: list[str],
    base: Path | None,
    design: Design,
) -> None:
    pid = row["patient_id"]
    image_path = _required(case_row, f"{timepoint}_image", pid)
    row["image"] = _shown_path(image_path, base)
    row["image_files"] = _file_count(Path(image_path))
    image, native, reader_notes = io.read_design_image(
        image_path, settings, design.image, patient=pid, series=case_row.get(f"{timepoint}_series")
    )
    row["reader_notes"] = "; ".join(reader_notes)
    row["size"] = "x".join(str(n) for n in image.GetSize())
    row["spacing_mm"] = "x".join(f"{s:.4g}" for s in image.GetSpacing())
    masks = _check_masks(
        case_row, timepoint, settings, image, row, warnings, base, later=timepoint != design.timepoints[0]
    )
    image, finite_notes = non_finite_checked(image, masks, design.outermost_mm, patient=pid, file=image_path)
    warnings += finite_notes
    _check_ring(case_row, timepoint, settings, image if native is None else native, masks, row, warnings)


def _check_masks(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    image: sitk.Image,
    row: dict,
    warnings: list[str],
    base: Path | None,
    *,
    later: bool,
) -> dict[int, sitk.Image]:
    """Each reader's mask on the image grid (as extraction checks it); volumes, field of view, Dice."""
    pid = row["patient_id"]
    masks: dict[int, sitk.Image] = {}
    for reader, column in ((1, f"{timepoint}_mask"), (2, f"{timepoint}_mask_reader2")):
        path = case_row.get(column) if reader == 2 else _required(case_row, column, pid)
        if path is None or not is_given(path):
            continue
        drawn = io.read_mask(
            path,
            label=settings.mask_label,
            patient=pid,
            reference=image,
            reference_path=case_row.get(f"{timepoint}_image"),
        )
        if later and reader == 1 and not np.any(sitk.GetArrayViewFromImage(drawn)):
            raise CompleteEarlyResponse(patient=pid, file=path)  # as extraction counts it
        inside = share_inside(drawn, image)
        if reader == 1:
            row.update(mask=_shown_path(path, base), mask_ml=round(volume_ml(drawn), 3), mask_in_fov=round(inside, 4))
        else:
            row.update(reader2="yes", reader2_ml=round(volume_ml(drawn), 3))
        if inside < 1:
            outside = 100 * (1 - inside)
            warnings.append(f"reader {reader}: {outside:.1f}% of the mask lies outside the image's field of view")
        mask, notes = checked_mask(drawn, image, patient=pid, file=path)
        warnings += [f"reader {reader}: {n}" for n in notes]
        masks[reader] = mask
    if 2 in masks:
        row["reader2_dice"] = round(dice(masks[1], masks[2]), 4)
        if row["reader2_dice"] < DICE_WARNING:
            warnings.append(f"readers 1 and 2 overlap little (Dice {row['reader2_dice']:.2f}): the same lesion?")
    return masks


def _check_ring(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    image: sitk.Image,
    masks: dict[int, sitk.Image],
    row: dict,
    warnings: list[str],
) -> None:
    """The air threshold and each reader's ring after exclusions; an empty ring fails the exam."""
    pid = row["patient_id"]
    chest_path = case_row.get(f"{timepoint}_chest_wall")
    chest_wall = (
        io.read_chest_wall(chest_path, image, patient=pid) if chest_path is not None and is_given(chest_path) else None
    )
    threshold, air = exam_air(image, settings.air_threshold)
    row["air_threshold"] = None if threshold.value is None else round(threshold.value, 4)
    row["air_threshold_from"] = threshold.source
    if threshold.value is None:
        warnings.append(threshold.note)
    rings = ring_volumes(image, masks, air, settings, chest_wall=chest_wall)
    geometric_ml, ring_ml = rings[1]
    row["ring_geometric_ml"], row["ring_ml"] = round(geometric_ml, 3), round(ring_ml, 3)
    row["ring_removed_share"] = round(1 - ring_ml / geometric_ml, 4)
    if row["ring_removed_share"] > RING_REMOVED_WARNING:
        warnings.append(
            f"{100 * row['ring_removed_share']:.0f}% of the {settings.ring_mm:g} mm ring removed as air, "
            "skin or chest wall"
        )
    if 2 in rings:
        row["reader2_ring_ml"] = round(rings[2][1], 3)


def ring_volumes(
    image: sitk.Image,
    masks: Mapping[int, sitk.Image],
    air: sitk.Image,
    settings: ImagingSettings,
    *,
    chest_wall: sitk.Image | None = None,
) -> dict[int, tuple[float, float]]:
    """Per reader: (geometric ring, ring after air, skin and chest wall) in mL, on extraction's
    grid (settings.resample_mm) cropped around the lesions; masks and `air` (exam_air) on the
    image's grid. An empty or nearly empty ring is a CaseError, as in extraction."""
    full = output_grid(image, settings.resample_mm)
    lo, hi = lesion_box(masks.values())
    margin_mm = settings.ring_mm + settings.skin_mm + CROP_MARGIN_VOXELS * max(full.spacing)
    grid = crop_grid(full, Grid.of(image), lo, hi, margin_mm)
    body = resample_label(sitk.Cast(air == 0, sitk.sitkUInt8), grid)
    air = resample_label(air, grid)
    wall = resample_label(chest_wall, grid) if chest_wall is not None else None
    voxel_ml = float(np.prod(grid.spacing)) / 1000
    out = {}
    for reader, mask in masks.items():
        tumour = resample_mask(mask, grid)
        if not np.any(sitk.GetArrayViewFromImage(tumour)):
            raise CaseError(f"reader {reader}: lesion smaller than a voxel after resampling")
        ring = peritumoral_ring(
            tumour, ring_mm=settings.ring_mm, air=air, body=body, skin_mm=settings.skin_mm, chest_wall=wall
        )
        ring.check(settings.ring_mm, reader=reader)
        out[reader] = (ring.stats["ring_voxels_geometric"] * voxel_ml, ring.stats["ring_voxels_kept"] * voxel_ml)
    return out


# ----------------------------------------------------------------------------- measures


def volume_ml(mask: sitk.Image) -> float:
    """Volume of the non-zero voxels (mL) on the mask's own grid."""
    return _count(mask) * float(np.prod(mask.GetSpacing())) / 1000


def share_inside(mask: sitk.Image, image: sitk.Image) -> float:
    """Share of the mask's non-zero voxels whose centres lie inside the image's field of view
    (within half a voxel of its outer voxel centres, in physical space)."""
    zyx = np.argwhere(sitk.GetArrayViewFromImage(mask) != 0)
    if len(zyx) == 0:
        return 0.0
    points = _index_to_physical(mask, zyx[:, ::-1].astype(float))
    index = np.linalg.solve(_matrix(image), (points - np.array(image.GetOrigin())).T).T
    inside = np.all((index >= -0.5) & (index <= np.array(image.GetSize()) - 0.5), axis=1)
    return float(inside.mean())


def dice(a: sitk.Image, b: sitk.Image) -> float:
    """Dice coefficient 2|A and B| / (|A| + |B|) of two masks on one grid."""
    x, y = sitk.GetArrayViewFromImage(a) != 0, sitk.GetArrayViewFromImage(b) != 0
    total = int(x.sum() + y.sum())
    return 2 * int(np.logical_and(x, y).sum()) / total if total else 1.0


def _matrix(image: sitk.Image) -> np.ndarray:
    """Index (x, y, z) to physical offset (mm): direction x spacing."""
    return np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())


def _index_to_physical(image: sitk.Image, xyz: np.ndarray) -> np.ndarray:
    return np.array(image.GetOrigin()) + xyz @ _matrix(image).T


def _count(mask: sitk.Image) -> int:
    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))


# ----------------------------------------------------------------------------- the study


def check_study(study: Study, *, parallel: ParallelSettings | None = None, progress: bool = True) -> StudyCheck:
    """Check every exam and patient of the study's cohort (no file written). Exams run as work
    units on `parallel` (default: one after another in this process)."""
    raw = read_study_table(study, study.cohort, "cohort file", study.patient_id).frame
    problems: list[str] = []
    notes: list[str] = []
    has_outcome = study.outcome in raw.columns
    try:
        cohort, failures = load_cohort_cases(study, require_outcome=has_outcome)
    except StudyFileError as exc:
        if not has_outcome:
            raise
        cohort, failures = load_cohort_cases(study, require_outcome=False)  # the file's own problems raise here
        problems.append(f"a run stops: {exc.problem}")
    if not has_outcome:
        notes.append(f"no outcome column '{study.outcome}': the cohort can be scored (predict) but not modelled")
    elif not problems:
        unmatched = _unmatched_feature_rows(study, cohort)
        if unmatched:
            problems.append(f"a run stops: {unmatched}")
        else:  # a note: the exams of a pilot cohort are worth checking before it is large enough to model
            notes += [f"the modelling would stop: {why}" for why in _too_few_for_modelling(study, raw, cohort)]

    settings = study.imaging
    base = study.cohort_path.parent
    exams: list[dict] = []
    design = study.design
    with_images = cohort.columns.intersection([f"{tp}_image" for tp in design.timepoints]).size > 0
    if study.features_path is None and with_images:
        exams = check_exams(cohort, settings, base=base, parallel=parallel, progress=progress, design=design)
    elif study.features_path is None:
        problems.append("the cohort has no image columns and the study file names no feature table")
    else:
        notes.append(f"exams not checked: the study reads its features from {study.features_path}")
    exam_table = pd.DataFrame(exams, columns=EXAM_COLUMNS)
    patients = _patients(study, raw, cohort, failures, exam_table)
    return StudyCheck(exam_table, patients, _coding(study, raw, cohort), problems, notes)


def _unmatched_feature_rows(study: Study, cohort: pd.DataFrame) -> str | None:
    """The run's error when the study's feature table matches no cohort id, else None."""
    if study.features is None or cohort.empty:  # features_path is None just when features is
        return None
    table = read_study_table(study, study.features, "feature table").frame
    if "patient_id" in table.columns and len(table) and not table["patient_id"].isin(cohort["patient_id"]).any():
        return unmatched_ids(study, cohort["patient_id"], table["patient_id"])
    return None


def _too_few_for_modelling(study: Study, raw: pd.DataFrame, cohort: pd.DataFrame) -> list[str]:
    """The run's error when the split leaves too few training patients for the selection and the
    combined model (modeling.pipeline.enough_training_patients), counting every usable patient."""
    split = study_split(list(raw[study.patient_id].astype(str)), study.split.validation_fraction, study.split.seed)
    split = split[split["patient_id"].isin(cohort["patient_id"])]
    training = cohort.set_index("patient_id").loc[split.loc[split["set"] == "training", "patient_id"], study.outcome]
    try:
        enough_training_patients(study, training, len(split))
    except DeltaradError as exc:
        return [exc.problem]
    return []


def check_exams(
    cohort: pd.DataFrame,
    settings: ImagingSettings,
    *,
    base: Path | None = None,
    parallel: ParallelSettings | None = None,
    progress: bool = True,
    design: Design | None = None,
) -> list[dict]:
    """check_exam of every (patient, timepoint of the design) of the cohort, in cohort order."""
    parallel = parallel or ParallelSettings(workers=0)
    design = design if design is not None else imaging_design(settings)
    units = [(row, tp) for row in cohort.to_dict("records") for tp in design.timepoints]
    rows: dict[int, dict] = {}

    def keep(i: int, row: dict) -> None:
        rows[i] = row
        if row["status"] != "ok":
            log.info("check: %s %s: %s", row["patient_id"], row["timepoint"], row["error"] or row["warnings"])

    lost = map_units(
        partial(_check_unit, settings=settings, base=base, one_thread=parallel.workers != 0, design=design),
        units,
        [f"{row['patient_id']} {tp}" for row, tp in units],
        keep,
        settings=parallel,
        stage="check",
        progress=progress,
    )
    for failure in lost:  # the worker died: check_exam itself never raises
        row, tp = units[failure.index]
        rows[failure.index] = {
            **dict.fromkeys(EXAM_COLUMNS),
            "patient_id": str(row["patient_id"]),
            "timepoint": tp,
            "status": "failed",
            "error": failure.error,
        }
    return [rows[i] for i in range(len(units))]


def _check_unit(
    unit: tuple[Mapping, str],
    *,
    settings: ImagingSettings,
    base: Path | None,
    one_thread: bool,
    design: Design | None = None,
) -> dict:
    """The work unit: check_exam of one (cohort row, timepoint); on one ITK thread where workers
    share the cores."""
    row, timepoint = unit
    if not one_thread:
        return check_exam(row, timepoint, settings, base=base, design=design)
    with itk_threads(1):
        return check_exam(row, timepoint, settings, base=base, design=design)


def _patients(
    study: Study, raw: pd.DataFrame, cohort: pd.DataFrame, failures: pd.DataFrame, exams: pd.DataFrame
) -> pd.DataFrame:
    ids = raw[study.patient_id].astype(str).str.strip()
    imputes = getattr(getattr(study, "missing", None), "policy", None) == "mice"
    usable = cohort.set_index("patient_id")
    cohort_error = dict(zip(failures["patient_id"], failures["error"]))
    # the ultrasound read's column: the design's ultrasound reference's (none: the column stays empty)
    read = next((r.columns[0] for r in study.design.references if r.name == ULTRASOUND_COLUMN), None)
    rows = []
    for i, pid in enumerate(ids):
        reasons: list[str] = []
        missing: list[str] = []
        if pid in cohort_error:
            reasons.append(f"cohort: {cohort_error[pid]} (exams not checked)")
        else:
            # a kinetic variable (delta_ftv_<after>) is derived at extraction: not in the cohort file
            missing = [c for c in study.clinical if c in usable.columns and pd.isna(usable.at[pid, c])]
            if missing and not imputes:
                reasons.append(
                    f"no value of {', '.join(repr(c) for c in missing)} (left out of the models that use it)"
                )
        mine = exams[exams["patient_id"] == pid]
        reasons += [f"{r.timepoint}: {r.error}" for r in mine.itertuples() if r.status == "failed"]
        warned = [f"{r.timepoint}: {r.warnings}" for r in mine.itertuples() if r.warnings]
        with_r2 = [r.timepoint for r in mine.itertuples() if r.reader2 == "yes"]
        rows.append(
            {
                "patient_id": pid,
                "status": "left out" if reasons else ("warning" if warned else "ok"),
                "left_out_because": "; ".join(reasons),
                "warnings": "; ".join(warned),
                "clinical_missing": ", ".join(missing) + (" (imputed)" if missing and imputes else ""),
                "outcome": _shown_value(raw[study.outcome].iat[i]) if study.outcome in raw.columns else None,
                "ultrasound": _shown_value(raw[read].iat[i]) if read in raw.columns else None,
                "reader2": "both"
                if len(with_r2) == len(study.design.timepoints)
                else (with_r2[0] if with_r2 else "none"),
            }
        )
    return pd.DataFrame(rows, columns=PATIENT_COLUMNS)


def _coding(study: Study, raw: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """Each value seen in the outcome and the reference models' columns (the study's: the
    ultrasound read), and what the cohort reader made of it (read from its result, so this table
    follows the reader's rule, whatever it is)."""
    ids = raw[study.patient_id].astype(str).str.strip()
    rows = []
    design = study.design
    references = [
        ("ultrasound" if r.name == ULTRASOUND_COLUMN else "reference", c) for r in design.references for c in r.columns
    ]
    for role, column in dict.fromkeys([("outcome", study.outcome), *references]):
        if column not in raw.columns:
            continue
        read = dict(zip(cohort["patient_id"], cohort[column])) if column in cohort.columns else {}
        shown = raw[column].map(_shown_value)
        for value in dict.fromkeys(shown):
            who = ids[shown == value]
            coded = {read[p] for p in who if p in read and not _missing(read[p])}
            maps_to = ", ".join(_meaning(role, v) for v in sorted(coded)) if coded else "refused (patients left out)"
            rows.append({"column": column, "value": value, "patients": len(who), "maps_to": maps_to})
    return pd.DataFrame(rows, columns=CODING_COLUMNS)


def _meaning(role: str, value: float) -> str:
    number = float(value)
    if not number.is_integer():
        return f"{number}"  # no code's meaning: the codes are whole
    code = int(number)
    meaning = _MEANING.get(role, {})
    return f"{code} ({meaning[code]})" if code in meaning else f"{code}"


# ----------------------------------------------------------------------------- output


def summary_lines(result: StudyCheck) -> list[str]:
    """The summary for the screen: counts, who would be left out and why, the outcome coding."""
    exams, patients = result.exams, result.patients
    counts = exams["status"].value_counts()
    lines = []
    if len(exams):
        lines.append(
            f"exams: {len(exams)} checked, {counts.get('ok', 0)} ok, {counts.get('warning', 0)} with "
            f"warnings, {counts.get('failed', 0)} failing ({exams['seconds'].mean():.2f} s per exam)"
        )
    lines.append(f"patients: {len(patients)}, {len(result.left_out)} would be left out")
    lines += _listed([f"  {r.patient_id}: {r.left_out_because}" for r in result.left_out.itertuples()])
    lines += _listed(
        [f"  {r.patient_id} (warning): {r.warnings}" for r in patients[patients["status"] == "warning"].itertuples()]
    )
    for column, part in result.coding.groupby("column", sort=False):
        values = ", ".join(f"{v.value!r} -> {v.maps_to} ({v.patients})" for v in part.itertuples())
        lines.append(f"{column}: {values}")
    lines += [f"study: {p}" for p in result.problems] + [f"note: {n}" for n in result.notes]
    return lines


def _listed(lines: list[str]) -> list[str]:
    if len(lines) <= SUMMARY_MAX_LINES:
        return lines
    return lines[:SUMMARY_MAX_LINES] + [f"  ... and {len(lines) - SUMMARY_MAX_LINES} more: see check_patients.csv"]


# ----------------------------------------------------------------------------- helpers


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _required(case_row: Mapping, column: str, patient: str) -> str:
    value = case_row.get(column)
    if not is_given(value):
        raise CaseError(f"no {column} given", patient=patient)
    return str(value)


def _shown_value(value: object) -> str:
    if pd.isna(value):
        return "(blank)"
    if isinstance(value, (int, float, np.number)):
        return f"{float(value):g}"
    return str(value).strip()


def _shown_path(path: str | Path, base: Path | None) -> str:
    p = Path(path)
    if base is not None:
        try:
            return str(p.relative_to(base))
        except ValueError:
            pass
    return str(p)


def _file_count(path: Path) -> int | None:
    if path.is_dir():
        return sum(1 for p in path.rglob("*") if p.is_file())
    return 1 if path.is_file() else None

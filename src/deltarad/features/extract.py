"""PyRadiomics features per (patient, timepoint, region, reader), the study's way, with less work.

The work unit is one exam, (patient, timepoint): `extract_timepoint` reads the image the design
names once (a phase, or a subtraction of two: deltarad.imaging.io.read_design_image),
preprocesses it once (N4, 1 mm resampling) on the lesion's neighbourhood, builds every region of
the design (the tumour and each peritumoral band) for every reader's mask, computes the filtered
images (wavelet sub-bands) once and reuses them for all masks. It is a pure function of its
arguments (all picklable), ready to be mapped by Dask. The design (deltarad.design) is the
study's; None everywhere below means the design of the imaging settings alone
(config.imaging_design: imaging.phase and the band [0, imaging.ring_mm]).

Each shortcut gives PyRadiomics' values on the whole preprocessed image (tests/features):
- crop: the neighbourhood keeps the outermost band + skin_mm + the filter's support in voxels (wavelet:
  filter length x 2^levels) + 2 voxels; where that reaches the exam border, the whole axis is kept,
  so PyRadiomics' periodic wavelet sees the same data inside the masks; filters rescaled by the
  whole image's maximum (Square, SquareRoot, Logarithm, Exponential) switch cropping off.
- reuse: PyRadiomics' filters do not look at the mask, so one filtered image serves every mask;
  per mask the steps of RadiomicsFeatureExtractor.execute (checkMask, shape, resegmentation,
  crop to the mask, feature classes) run unchanged.
- feature classes: deltarad's engine (`features.engine`: PyRadiomics' classes with their hot parts
  computed exactly and faster) unless `imaging.feature_engine: pyradiomics`.

N4 is fitted on the whole exam (it is global), by deltarad's separable N4 (`imaging.n4`), which
gives ITK's field to within ITK's own thread-count variation, faster (`imaging.n4_implementation:
itk` runs SimpleITK's own).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from threadpoolctl import threadpool_limits

from deltarad import runfolder
from deltarad.config import ImagingSettings, Study, imaging_design
from deltarad.design import FEATURE_KEYS, PERITUMORAL, Design
from deltarad.errors import FAILURE_COLUMNS, CaseError, CompleteEarlyResponse, DeltaradError, StageError
from deltarad.features.engine import Engine, compute_features, compute_shape, feature_classes
from deltarad.features.engine.mask_box import check_mask
from deltarad.features.kinetic_exam import (
    RATIO_MAPS,
    ExamPhases,
    KineticExam,
    exam_kinetic_rows,
    read_map_image,
    undefined_map_voxels,
)
from deltarad.features.pyradiomics import RadiomicsFeatureExtractor, imageoperations, radiomics
from deltarad.features.pyradiomics_errors import region_problem
from deltarad.features.region_qc import exam_qc
from deltarad.features.same_exam import IMAGE_DIGEST, image_digest, same_pixel_problems
from deltarad.features.store import FeatureStore, exam_key_inputs, key_of, settings_fingerprint
from deltarad.imaging.air import exam_air
from deltarad.imaging.finite import non_finite_checked
from deltarad.imaging.geometry import checked_mask
from deltarad.imaging.io import labelmap_mask, load_mask, read_chest_wall, read_design_image
from deltarad.imaging.preprocess import (
    BSPLINE_MARGIN_VOXELS,
    Grid,
    body_mask,
    crop_grid,
    fit_bias_field,
    input_crop,
    itk_threads,
    lesion_box,
    otsu_threshold,
    output_grid,
    resample_image,
    resample_label,
    resample_mask,
)
from deltarad.imaging.regions import peritumoral_bands
from deltarad.kinetics import KINETICS_COLUMNS, KINETICS_STAGE, KineticsSettings
from deltarad.parallel import ParallelSettings, map_units
from deltarad.tablefile import is_given

log = logging.getLogger("deltarad.extract")

KEYS = list(FEATURE_KEYS)

STUDY_PARAMS = Path(__file__).resolve().parent / "params" / "study.yaml"
#: Filters whose output is rescaled by the whole image's maximum: cropping would change them.
_GLOBAL_FILTERS = {"Square", "SquareRoot", "Logarithm", "Exponential", "LBP3D"}
#: PyRadiomics settings that redo preprocessing deltarad owns (imaging settings of the study file).
_REFUSED_SETTINGS = {"normalize": False, "resampledPixelSpacing": None, "preCrop": False}


# ----------------------------------------------------------------------------- PyRadiomics


def load_extractor(params: Path | None = None) -> RadiomicsFeatureExtractor:
    """The PyRadiomics extractor of a parameter file (None = the study's, 851 features), cached
    per file version: an edited file (other modification time or size) is read again."""
    path = Path(params) if params is not None else STUDY_PARAMS
    if not path.is_file():
        raise DeltaradError("PyRadiomics parameter file not found", file=path)
    stat = path.stat()
    return _extractor(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _extractor(path: Path, mtime_ns: int, size: int) -> RadiomicsFeatureExtractor:
    """`load_extractor`'s cache, keyed on the file's version (mtime_ns, size) as well as its path."""
    logger = logging.getLogger(radiomics.__name__)
    # PyRadiomics hands its logger's first handler to pykwalify while it checks a parameter file; the
    # handler its import adds is taken away (features.pyradiomics), so one is lent for the check
    lent = logging.NullHandler() if not logger.handlers else None
    if lent is not None:
        logger.addHandler(lent)
    try:
        extractor = RadiomicsFeatureExtractor(str(path))
    except Exception as exc:  # pykwalify's schema errors
        raise DeltaradError(f"invalid PyRadiomics parameter file: {exc}", file=path) from None
    finally:
        if lent is not None:
            logger.removeHandler(lent)
    for key, off in _REFUSED_SETTINGS.items():
        if extractor.settings.get(key, off) not in (off, None, False):
            raise DeltaradError(
                f"setting '{key}' is not supported: deltarad preprocesses images itself "
                "(imaging.n4 / imaging.resample_mm in the study file)",
                file=path,
            )
    extractor.settings["additionalInfo"] = False
    return extractor


def filter_margin_voxels(extractor: RadiomicsFeatureExtractor) -> int | None:
    """Voxels a filter looks beyond a voxel, or None when its output depends on the whole image."""
    margin = 0
    for image_type, custom in extractor.enabledImagetypes.items():
        args = {**extractor.settings, **(custom or {})}
        if image_type in _GLOBAL_FILTERS:
            return None
        if image_type == "Wavelet":
            import pywt

            length = pywt.Wavelet(args.get("wavelet", "coif1")).dec_len
            margin = max(margin, length * 2 ** (args.get("start_level", 0) + args.get("level", 1)))
        elif image_type == "LoG":
            spacing = min(args.get("resampledPixelSpacing") or [1.0])
            margin = max(margin, math.ceil(4 * max(args.get("sigma", [0]) or [0]) / spacing) + 1)
        elif image_type in {"Gradient", "LBP2D"}:
            margin = max(margin, 2 + int(args.get("lbp2DRadius", 1)))
    return margin + 2


def filtered_images(extractor: RadiomicsFeatureExtractor, image: sitk.Image, mask: sitk.Image) -> list[tuple]:
    """Every enabled (filtered) image as PyRadiomics' generators yield it: (image, name, settings)."""
    out = []
    for image_type, custom in extractor.enabledImagetypes.items():
        args = {**extractor.settings, **(custom or {})}
        out.extend(getattr(imageoperations, f"get{image_type}Image")(image, mask, **args))
    return out


def mask_features(
    extractor: RadiomicsFeatureExtractor,
    image: sitk.Image,
    mask: sitk.Image,
    filtered: list[tuple],
    engine: Engine = "deltarad",
    timings: dict[str, float] | None = None,
) -> dict[str, float]:
    """RadiomicsFeatureExtractor.execute(image, mask) for one mask, with the filtered images given,
    on the feature classes of `engine` (imaging.feature_engine); `timings` adds seconds per class."""
    classes = feature_classes(engine)
    settings = extractor.settings.copy()
    bbox, corrected = check_mask(image, mask, **settings)
    if corrected is not None:
        mask = corrected
    resegmented = None
    if settings.get("resegmentRange") is not None:
        resegmented = imageoperations.resegmentMask(image, mask, **settings)
        bbox, _ = check_mask(image, resegmented, **settings)
    reseg_shape = settings.get("resegmentShape", False)
    shape_mask = resegmented if (reseg_shape and resegmented is not None) else mask
    values = compute_shape(extractor, classes, image, shape_mask, bbox, timings, **settings)
    if resegmented is not None:
        mask = resegmented
    for filtered_image, name, kwargs in filtered:
        cropped_image, cropped_mask = imageoperations.cropToTumorMask(filtered_image, mask, bbox, padDistance=0)
        values.update(compute_features(extractor, classes, cropped_image, cropped_mask, name, timings, **kwargs))
    return {k: _real(v) for k, v in values.items() if not k.startswith("diagnostics_")}


@contextmanager
def radiomics_quiet() -> Iterator[None]:
    """PyRadiomics' messages below ERROR held back while we extract (it warns once per feature class
    and mask, e.g. "GLCM is symmetrical"; our log says what matters), unless the root logger is
    open to DEBUG (a --debug run); its logger's level is restored after."""
    logger = logging.getLogger(radiomics.__name__)
    level = logger.level
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _real(value: object) -> float:
    """A feature value as float (numpy >= 2.5 gives some shape features as complex with zero imaginary part)."""
    return float(np.real(np.asarray(value)))


# ----------------------------------------------------------------------------- work unit


@contextmanager
def _stage(name: str, patient: str | None, timepoint: str | None) -> Iterator[None]:
    stage = f"{timepoint}/{name}" if timepoint else name
    try:
        yield
    except StageError:
        raise
    except CaseError as exc:
        raise StageError(exc.problem, stage=stage, patient=patient, file=exc.file) from exc
    except Exception as exc:  # PyRadiomics/SimpleITK errors on one case must not stop the cohort
        raise StageError(f"{type(exc).__name__}: {exc}", stage=stage, patient=patient) from exc


def exam_design(settings: ImagingSettings, design: Design | None) -> Design:
    """`design`, or (None) the design of the imaging settings alone (module docstring)."""
    return design if design is not None else imaging_design(settings)


@dataclass
class ExamImages:
    """One exam as read, before preprocessing: the analysed image (the design's phase or
    subtraction), each reader's tumour mask (binary, on the image's grid), the chest-wall mask if
    any, the notes of reading, and `native`: the native phase on the same grid that serves air,
    body and N4 where the analysed image is a subtraction (None: the image itself)."""

    image: sitk.Image
    masks: dict[int, sitk.Image]  # reader -> mask
    chest_wall: sitk.Image | None = None
    notes: list[str] = field(default_factory=list)
    native: sitk.Image | None = None
    #: a ratio of phases (a kinetic map such as PE): a multiplicative bias field cancels, N4 is not applied
    bias_free: bool = False


@dataclass
class PreparedExam:
    """One exam ready for PyRadiomics: the preprocessed image and every region mask on its grid."""

    image: sitk.Image
    regions: dict[tuple[str, int], sitk.Image]  # (region, reader) -> mask
    notes: list[str]
    #: reader -> air_threshold (NaN: no air) and the first peritumoral band's Ring.stats
    ring_stats: dict[int, dict[str, float]]
    #: the analysed image's fingerprint as read (same_exam.image_digest)
    image_digest: str = ""
    #: (band, reader) -> air_threshold and the band's Ring.stats, for every band of the design
    band_stats: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)


def read_exam_images(
    image: sitk.Image | str | Path,
    masks: Mapping[int, sitk.Image | str | Path],
    settings: ImagingSettings,
    *,
    chest_wall: sitk.Image | str | Path | None = None,
    series: str | None = None,
    patient: str | None = None,
    timepoint: str | None = None,
    design: Design | None = None,
    kinetics: KineticsSettings | None = None,
    phases: ExamPhases | None = None,
) -> ExamImages:
    """Read and check one exam's pieces, each a SimpleITK image or a path.

    An image path is read as `io.read_design_image` does (the design's phase or subtraction, the
    study's image kind and `series`, else settings.series); an image given is the analysed image
    as it is. A mask path is read as `io.load_mask` (settings.mask_label), a mask image as a
    labelmap (`io.labelmap_mask`). Each mask then goes onto the image's grid as one connected
    lesion (`geometry.checked_mask`). At any exam after the design's first an empty reader-1 mask
    is a complete response (CompleteEarlyResponse). A kinetic map ({map: pe}) is computed from
    every phase on the exam's native grid (features.kinetic_exam, phases chosen by `kinetics`),
    its undefined voxels set to a stated value (kinetic_exam.undefined_map_voxels). `phases`: the
    exam's phases already read from `image` (by the work unit's kinetics): the analysed phase or
    map is taken from them, not read again.
    """
    design = exam_design(settings, design)
    notes: list[str] = []
    image_path = None
    native = None
    if isinstance(image, sitk.Image):
        exam = image
    else:
        image_path = image
        if design.image.map is not None:
            exam, native, notes = read_map_image(
                image,
                settings,
                design.image,
                kinetics or KineticsSettings(),
                series=series,
                patient=patient,
                read=phases,
            )
        elif phases is not None and design.image.phase is not None and 0 <= design.image.phase < len(phases.images):
            exam, native = phases.images[design.image.phase], None
            notes = [*phases.read_notes, f"phase {design.image.phase} of {len(phases.images)} read"]
        else:
            exam, native, notes = read_design_image(image, settings, design.image, series=series, patient=patient)
    checked: dict[int, sitk.Image] = {}
    for reader, given in sorted(masks.items()):
        file: str | Path | None = None
        if isinstance(given, sitk.Image):
            mask, read_notes = labelmap_mask(given, label=settings.mask_label, patient=patient)
        else:
            file = given
            mask, read_notes = load_mask(
                file, label=settings.mask_label, patient=patient, reference=exam, reference_path=image_path
            )
        if timepoint in design.timepoints[1:] and reader == 1 and not np.any(sitk.GetArrayViewFromImage(mask)):
            raise CompleteEarlyResponse(patient=patient or "", file=file if file is not None else "(mask image)")
        mask, mask_notes = checked_mask(mask, exam, patient=patient, file=file)
        checked[reader] = mask
        notes += [f"reader {reader}: {n}" for n in read_notes + mask_notes]
    if design.image.map is not None:
        exam, map_notes = undefined_map_voxels(exam, checked, design.image, patient=patient, file=image_path)
        notes += map_notes
    exam, finite_notes = non_finite_checked(exam, checked, design.outermost_mm, patient=patient, file=image_path)
    wall = read_chest_wall(chest_wall, exam, patient=patient) if chest_wall is not None else None
    return ExamImages(exam, checked, wall, notes + finite_notes, native, bias_free=design.image.map in RATIO_MAPS)


def read_cohort_exam(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    design: Design | None = None,
    kinetics: KineticsSettings | None = None,
    phases: ExamPhases | None = None,
) -> ExamImages:
    """`read_exam_images` of one exam of a cohort row: the paths in its columns <timepoint>_image,
    _mask, _mask_reader2 (optional), _chest_wall (optional) and _series (optional)."""
    pid = str(case_row["patient_id"])
    image_path = case_row.get(f"{timepoint}_image")
    if not is_given(image_path):
        raise CaseError(f"no {timepoint}_image given", patient=pid)
    masks: dict[int, str | Path] = {}
    for reader, column in ((1, f"{timepoint}_mask"), (2, f"{timepoint}_mask_reader2")):
        path = case_row.get(column)
        if is_given(path):
            masks[reader] = str(path)
        elif reader == 1:
            raise CaseError(f"no {column} given", patient=pid)
    chest_path = case_row.get(f"{timepoint}_chest_wall")
    return read_exam_images(
        str(image_path),
        masks,
        settings,
        chest_wall=chest_path if is_given(chest_path) else None,
        series=case_row.get(f"{timepoint}_series"),
        patient=pid,
        timepoint=timepoint,
        design=design,
        kinetics=kinetics,
        phases=phases,
    )


def prepare_exam(
    exam: ExamImages,
    settings: ImagingSettings,
    *,
    patient: str | None = None,
    timepoint: str | None = None,
    crop: bool = True,
    design: Design | None = None,
) -> PreparedExam:
    """Preprocess (N4, resampling to settings.resample_mm) and build the regions of one exam read
    by `read_exam_images`: per reader the tumour and each peritumoral band of the design (air,
    skin_mm below the body surface and the chest wall left out).

    Air, body and N4's bias field come from the exam's native image (`ExamImages.native`, else the
    analysed image); the field corrects the analysed image. For a subtraction a - b that is the
    subtraction divided by the field fitted on phase b, i.e. both phases corrected by one
    multiplicative field, then subtracted: N4 is not fitted on the subtraction itself, whose
    background is near zero and whose values take both signs (N4 fits log intensities).

    `crop=False` processes the whole exam: the reference the cropped path equals.
    """
    design = exam_design(settings, design)
    pid = patient
    image, masks, chest_wall, notes = exam.image, exam.masks, exam.chest_wall, list(exam.notes)
    native = exam.native if exam.native is not None else image
    outermost_mm = design.outermost_mm
    with _stage("preprocess", pid, timepoint):
        margin = filter_margin_voxels(load_extractor(settings.params))
        full = output_grid(image, settings.resample_mm)
        lo, hi = lesion_box(masks.values())
        if crop and margin is not None:
            grid = crop_grid(full, Grid.of(image), lo, hi, outermost_mm + settings.skin_mm + margin * max(full.spacing))
        else:
            grid = full
        threshold, air = exam_air(native, settings.air_threshold)
        notes.append(threshold.note)
        body = sitk.Cast(air == 0, sitk.sitkUInt8)
        source = input_crop(image, grid, BSPLINE_MARGIN_VOXELS)
        if settings.n4 and exam.bias_free:
            notes.append("N4 not applied: the image is a ratio of phases, in which a multiplicative bias field cancels")
        elif settings.n4:
            n4_mask = body_mask(
                native, settings.air_threshold if settings.air_threshold is not None else otsu_threshold(native)
            )
            bias = fit_bias_field(
                native,
                n4_mask,
                shrink=settings.n4_shrink,
                iterations=settings.n4_iterations,
                implementation=settings.n4_implementation,
            )
            source = bias.correct(source)
        prepared = resample_image(source, grid)
        air = resample_label(air, grid)
        body = resample_label(body, grid)
        if chest_wall is not None:
            chest_wall = resample_label(chest_wall, grid)

    regions: dict[tuple[str, int], sitk.Image] = {}
    ring_stats: dict[int, dict[str, float]] = {}
    band_stats: dict[tuple[str, int], dict[str, float]] = {}
    air_threshold = math.nan if threshold.value is None else threshold.value
    with _stage("regions", pid, timepoint):
        for reader, mask in masks.items():
            tumour = resample_mask(mask, grid)
            if not np.any(sitk.GetArrayViewFromImage(tumour)):
                raise CaseError(f"reader {reader}: lesion smaller than a voxel after resampling", patient=pid)
            regions[design.tumour.name, reader] = tumour
            rings = peritumoral_bands(
                tumour, list(design.band_limits_mm), air=air, body=body, skin_mm=settings.skin_mm, chest_wall=chest_wall
            )
            for region, ring in zip(design.bands, rings):
                named = region.name != PERITUMORAL  # the study's ring keeps the study's words
                ring.check(patient=pid, reader=reader, name=region.name if named else None)
                regions[region.name, reader] = ring.region
                band_stats[region.name, reader] = {"air_threshold": air_threshold, **ring.stats}
                notes.append(f"reader {reader}: " + (f"{region.name}: " if named else "") + ring.describe())
            if design.bands:
                ring_stats[reader] = band_stats[design.bands[0].name, reader]
    return PreparedExam(
        prepared, regions, notes, ring_stats, band_stats=band_stats, image_digest=image_digest(exam.image)
    )


def prepare_timepoint(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    *,
    crop: bool = True,
    design: Design | None = None,
    kinetics: KineticsSettings | None = None,
    phases: ExamPhases | None = None,
) -> PreparedExam:
    """Read, check, preprocess (N4, resampling) and build the regions of one exam of a cohort row."""
    pid = str(case_row["patient_id"])
    with _stage("read", pid, timepoint):
        exam = read_cohort_exam(case_row, timepoint, settings, design, kinetics, phases)
    return prepare_exam(exam, settings, patient=pid, timepoint=timepoint, crop=crop, design=design)


def exam_features(
    exam: PreparedExam,
    settings: ImagingSettings,
    *,
    patient: str | None = None,
    timepoint: str | None = None,
    design: Design | None = None,
) -> list[dict]:
    """PyRadiomics features (settings.params) of a prepared exam: one record per (region, reader)
    in the design's order of regions, keys patient_id, timepoint, region, reader, the features,
    and `notes` ("" if nothing)."""
    design = exam_design(settings, design)
    extractor = load_extractor(settings.params)
    records = []
    with _stage("features", patient, timepoint), radiomics_quiet():
        filtered = filtered_images(extractor, exam.image, next(iter(exam.regions.values())))
        for reader in sorted({r for _, r in exam.regions}):
            for region in design.region_names:
                values = _region_features(
                    extractor,
                    exam.image,
                    exam.regions[region, reader],
                    filtered,
                    settings.feature_engine,
                    region,
                    reader,
                )
                records.append(
                    {
                        "patient_id": patient,
                        "timepoint": timepoint,
                        "region": region,
                        "reader": reader,
                        **values,
                        "notes": "; ".join(exam.notes),
                    }
                )
    return records


def _region_features(
    extractor: RadiomicsFeatureExtractor,
    image: sitk.Image,
    mask: sitk.Image,
    filtered: list[tuple],
    engine: Engine,
    region: str,
    reader: int,
) -> dict[str, float]:
    """`mask_features`, with PyRadiomics' refusals of the region said in deltarad's words (a CaseError)."""
    try:
        return mask_features(extractor, image, mask, filtered, engine)
    except ValueError as exc:
        raise CaseError(region_problem(exc, region, reader, image, mask, extractor.settings)) from None


def extract_timepoint(
    case_row: Mapping,
    timepoint: str,
    settings: ImagingSettings,
    *,
    regions_dir: Path | None = None,
    crop: bool = True,
    digest: bool = False,
    design: Design | None = None,
    kinetics: KineticsSettings | None = None,
    ftv: sitk.Image | None = None,
    phases: ExamPhases | None = None,
) -> list[dict]:
    """Features of one exam of a cohort row: one record per (region, reader), keys patient_id,
    timepoint, region, reader, the features, and `notes` (what was corrected or worth a look; ""
    if nothing).

    `settings.params` must be absolute or None. `regions_dir`: where to save the region masks
    (NRRD, for 3D Slicer) and the exam's QC images. `digest`: each record also carries the
    image's fingerprint under same_exam.IMAGE_DIGEST (the cohort compares a patient's exams).
    `kinetics`: how a kinetic map's phases are chosen (design.image {map: ...}); `ftv`: reader
    1's FTV voxels (native grid), shaded in the QC image; `phases`: the exam's phases already read
    (read_exam_images).
    """
    design = exam_design(settings, design)
    pid = str(case_row["patient_id"])
    load_extractor(settings.params)  # a bad parameter file fails before the exam is read
    exam = prepare_timepoint(case_row, timepoint, settings, crop=crop, design=design, kinetics=kinetics, phases=phases)
    if regions_dir is not None:
        runfolder.write_region_masks(regions_dir, pid, timepoint, exam.regions)
        ring_mm = design.band_limits_mm[0][1] if design.bands else settings.ring_mm
        qc = exam_qc(
            exam.image,
            exam.regions,
            pid,
            timepoint,
            ring_mm,
            exam.ring_stats,
            design=design,
            band_stats=exam.band_stats,
            ftv=ftv,
        )
        if qc is not None:
            runfolder.write_exam_qc(regions_dir, qc)
    records = exam_features(exam, settings, patient=pid, timepoint=timepoint, design=design)
    return [{**r, IMAGE_DIGEST: exam.image_digest} for r in records] if digest else records


# ----------------------------------------------------------------------------- cohort


NOTE_COLUMNS = ["patient_id", "timepoint", "reader", "note"]


@dataclass
class Extraction:
    """What extraction made of a cohort: every exam's features (long form: one row per patient,
    timepoint, region, reader), the exams that failed (FAILURE_COLUMNS; an exam whose kinetics
    alone failed has a row of stage "kinetics" and keeps its features), the notes per exam
    (NOTE_COLUMNS: what was inferred or corrected) and, where the study has a `kinetics:` key,
    the kinetics (KINETICS_COLUMNS: one row per exam and reader; else None). Unpacks as
    (features, failures)."""

    features: pd.DataFrame
    failures: pd.DataFrame
    notes: pd.DataFrame
    kinetics: pd.DataFrame | None = None

    def __iter__(self):
        return iter((self.features, self.failures))


def extract_cohort(
    study: Study,
    cohort: pd.DataFrame,
    out_dir: Path,
    *,
    progress: bool = True,
    parallel: ParallelSettings | None = None,
    prune_store: bool = False,
) -> Extraction:
    """Features of every patient's exams.

    Exams run as work units in worker processes (`parallel`; default: one per core). Each
    finished exam is kept in the feature store `out_dir/store/`, so a run started again on the
    same `out_dir` extracts only the exams that are missing or whose files or settings changed,
    and its region masks and QC image go to out_dir/regions/ (deltarad.runfolder) as it finishes.
    The tables (features.csv, extraction_failures.csv, extraction_notes.csv, kinetics.csv) are
    the caller's to write (deltarad.workflow.extract_features). A failing exam is recorded and
    skipped; the other exams go on. Store entries this run does not use (other inputs or
    settings) are kept and counted in the log; `prune_store` deletes them.

    With `study.kinetics` each unit also computes the exam's kinetics (features.kinetic_exam, on
    the native grid before resampling); they are stored beside its features, as an entry of
    their own whose key adds the kinetics settings; an exam lacking either entry is redone whole.
    """
    out_dir = Path(out_dir)
    design = study.design
    kinetics = study.kinetics
    settings = study.imaging.model_copy(update={"params": study.params_path})
    load_extractor(settings.params)  # a bad parameter file stops the run before any case
    settings_fp = settings_fingerprint(settings, settings.params or STUDY_PARAMS, design)
    if design.image.map is not None and kinetics is not None:  # the map's phases depend on them
        settings_fp["kinetics"] = kinetics.model_dump(mode="json")
    store = FeatureStore(out_dir / "store")
    units = [(row, tp) for row in cohort.to_dict("records") for tp in design.timepoints]
    inputs = [exam_key_inputs(row, tp, settings_fp) for row, tp in units]
    keys = [key_of(i) for i in inputs]
    kinetic_keys = (
        [key_of({**i, "kinetics": kinetics.model_dump(mode="json")}) for i in inputs] if kinetics is not None else []
    )
    done: dict[int, list[dict]] = {}
    kinetic_done: dict[int, KineticExam] = {}
    unfingerprinted = 0
    for i, key in enumerate(keys):
        stored = store.load(key)
        if stored is not None and not all(r.get(IMAGE_DIGEST) for r in stored):
            stored, unfingerprinted = None, unfingerprinted + 1  # the same-exam check needs the fingerprint
        stored_kinetics = _from_store(store.load(kinetic_keys[i])) if kinetics is not None else None
        if stored is not None and (kinetics is None or stored_kinetics is not None):
            done[i] = stored
            if stored_kinetics is not None:
                kinetic_done[i] = stored_kinetics
    if unfingerprinted:
        log.info(
            "feature store %s: %d stored exam(s) lack the voxel fingerprint (stored by an older deltarad): "
            "extracted again, so that one exam given at two timepoints is caught",
            store.root,
            unfingerprinted,
        )
    todo = [i for i in range(len(units)) if i not in done]
    log.info(
        "feature store %s: %d of %d exams already extracted, %d to extract",
        store.root,
        len(done),
        len(units),
        len(todo),
    )

    def keep(j: int, result: tuple[list[dict], KineticExam | None]) -> None:
        i = todo[j]
        records, kinetic = result
        store.save(keys[i], records, inputs[i])
        done[i] = records
        if kinetic is not None:
            store.save(kinetic_keys[i], _to_store(kinetic, *units[i]))
            kinetic_done[i] = kinetic

    failed = map_units(
        partial(
            _extract_unit, settings=settings, regions_dir=out_dir / runfolder.REGIONS, design=design, kinetics=kinetics
        ),
        [units[i] for i in todo],
        [f"{units[i][0]['patient_id']} {units[i][1]}" for i in todo],
        keep,
        settings=parallel or ParallelSettings(),
        stage="extract",
        progress=progress,
    )
    failures = [
        {"patient_id": str(units[todo[f.index]][0]["patient_id"]), "stage": f.stage, "error": f.error} for f in failed
    ]
    failures += _drop_same_exams(units, done)
    _report_unused_entries(store, set(keys) | set(kinetic_keys), prune_store)
    records, notes = [], []
    for i in sorted(done):
        for rec in done[i]:
            rec = dict(rec)
            rec.pop(IMAGE_DIGEST, None)
            note = rec.pop("notes")
            if note and rec["region"] == design.tumour.name:
                notes.append(
                    {
                        "patient_id": rec["patient_id"],
                        "timepoint": rec["timepoint"],
                        "reader": rec["reader"],
                        "note": note,
                    }
                )
            records.append(rec)
    features = _feature_table(records, list(cohort["patient_id"].astype(str)), design)
    kinetic_table = None
    if kinetics is not None:
        kinetic_rows = []
        for i in sorted(kinetic_done):
            if i not in done:
                continue  # left out with its exam (the same voxels as another exam)
            pid, timepoint = str(units[i][0]["patient_id"]), units[i][1]
            k = kinetic_done[i]
            kinetic_rows += k.rows
            if k.notes:
                notes.append({"patient_id": pid, "timepoint": timepoint, "reader": 1, "note": "; ".join(k.notes)})
            if k.error is not None:
                failures.append({"patient_id": pid, "stage": KINETICS_STAGE, "error": f"{timepoint}: {k.error}"})
        kinetic_table = pd.DataFrame(kinetic_rows, columns=list(KINETICS_COLUMNS))
    return Extraction(
        features,
        pd.DataFrame(failures, columns=FAILURE_COLUMNS),
        pd.DataFrame(notes, columns=NOTE_COLUMNS),
        kinetic_table,
    )


#: a kinetics store entry: the kinetics rows, each with the exam's notes and problem ("" if none)
_KINETIC_STORE_COLUMNS = [*KINETICS_COLUMNS, "notes", "error"]


def _to_store(kinetic: KineticExam, row: Mapping, timepoint: str) -> list[dict]:
    extra = {"notes": "\x1f".join(kinetic.notes), "error": kinetic.error or ""}
    if kinetic.rows:
        return [{**r, **extra} for r in kinetic.rows]
    empty = dict.fromkeys(KINETICS_COLUMNS, float("nan"))
    return [{**empty, "patient_id": str(row["patient_id"]), "timepoint": timepoint, "reader": 0, **extra}]


def _from_store(records: list[dict] | None) -> KineticExam | None:
    if not records:
        return None
    first = records[0]
    notes = [n for n in str(first.get("notes") or "").split("\x1f") if n]
    error = str(first.get("error") or "") or None
    rows = [] if error else [{c: r[c] for c in KINETICS_COLUMNS} for r in records]
    for r in rows:
        for c in ("reader", "pre_phase", "early_phase", "late_phase"):
            r[c] = int(r[c])
    return KineticExam(rows, notes, error)


def _drop_same_exams(units: list[tuple[Mapping, str]], done: dict[int, list[dict]]) -> list[dict]:
    """Failure rows (stage "extract") for the patients two of whose exams hold the same voxels
    (features.same_exam); their exams are taken out of `done`."""
    problems = same_pixel_problems(units, done)
    for i in [i for i in done if str(units[i][0]["patient_id"]) in problems]:
        del done[i]
    for patient, problem in problems.items():
        log.error("patient %s: %s", patient, problem)
    return [{"patient_id": p, "stage": "extract", "error": problem} for p, problem in problems.items()]


def _report_unused_entries(store: FeatureStore, keep: set[str], prune: bool) -> None:
    if prune:
        count, size = store.prune(keep)
        if count:
            log.info("feature store: deleted %d entries (%.1f MB) this run does not use", count, size / 1e6)
        return
    count, size = store.unused(keep)
    if count:
        log.info(
            "feature store: %d entries (%.1f MB) from other inputs or settings are not used by this run; "
            "`deltarad extract --prune-store` deletes them",
            count,
            size / 1e6,
        )


def _extract_unit(
    unit: tuple[Mapping, str],
    *,
    settings: ImagingSettings,
    regions_dir: Path,
    design: Design | None = None,
    kinetics: KineticsSettings | None = None,
) -> tuple[list[dict], KineticExam | None]:
    """The Dask work unit: extract_timepoint of one (cohort row, timepoint), and with `kinetics`
    the exam's kinetics rows beside its feature records (their failure is returned, not raised),
    on one ITK and one BLAS thread: the workers share the cores (and N4's small matrix products
    run 5x slower on 2 BLAS threads of a busy 2-core machine than on 1)."""
    row, timepoint = unit
    with itk_threads(1), threadpool_limits(1, "blas"):
        if kinetics is None:
            return extract_timepoint(
                row, timepoint, settings, regions_dir=regions_dir, design=design, digest=True
            ), None
        whole = design.image.phase if design is not None else settings.phase
        kinetic = exam_kinetic_rows(
            row, timepoint, settings, kinetics, whole
        )  # phases read once, kept for the features
        records = extract_timepoint(
            row,
            timepoint,
            settings,
            regions_dir=regions_dir,
            design=design,
            digest=True,
            kinetics=kinetics,
            ftv=kinetic.ftv_masks.get(1),
            phases=kinetic.phases,
        )
        return records, kinetic.sent_back()


def _feature_table(records: list[dict], patient_order: list[str], design: Design) -> pd.DataFrame:
    """Long-form table in a fixed row order: cohort order, then the design's timepoints and
    regions, then reader."""
    if not records:
        return pd.DataFrame(columns=KEYS)
    table = pd.DataFrame.from_records(records)
    names = [c for c in records[0] if c not in KEYS]
    rank = {p: i for i, p in enumerate(patient_order)}
    order = table.assign(
        _p=table["patient_id"].map(rank),
        _t=table["timepoint"].map(design.timepoints.index),
        _r=table["region"].map(design.region_names.index),
    ).sort_values(["_p", "_t", "_r", "reader"], kind="stable")
    return order[KEYS + names].reset_index(drop=True)

"""The study file: one YAML document, validated with pydantic. Defaults are the study's values
(Zeng et al., BMC Cancer 2025); relative paths resolve against the study file's folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from deltarad import design as d
from deltarad.errors import StudyFileError
from deltarad.kinetics.settings import MAP_NAMES, KineticsSettings

#: The cohort of a Study made in Python (Study.from_settings): the table given in memory.
IN_MEMORY = Path("(in memory)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitSettings(_Strict):
    """Random split as torch.utils.data.random_split(range(n), [validation_fraction, 1 - it])."""

    validation_fraction: float = Field(0.3, gt=0, lt=1)
    seed: int = Field(
        0,
        ge=-(2**63),
        lt=2**64,
        description="torch.Generator().manual_seed's seed: any int64 or uint64 (torch uses its low 32 bits)",
    )


class SelectionSettings(_Strict):
    """Feature selection per region, fitted on the training set only."""

    icc_min: float = Field(0.8, ge=-1, le=1, description="keep features with inter-reader ICC(2,1) >= this")
    ttest_p: float = Field(0.05, gt=0, le=1, description="keep features with t-test p < this")
    ttest: Literal["welch", "student"] = Field(
        "welch", description="Welch (unequal variances, R's t.test default) or Student (pooled)"
    )
    corr_max: float = Field(0.9, gt=0, le=1, description="prune pairs with |Pearson r| > this")
    lasso_folds: int = Field(10, ge=2, description="cross-validation folds for the LASSO penalty")
    lasso_rule: Literal["min", "1se"] = Field(
        "1se",
        description="the sparsest penalty within one SE of the CV minimum (lambda.1se) or the minimum (lambda.min)",
    )
    lasso_seed: int = Field(0, ge=0, lt=2**32, description="seed of the stratified CV folds (numpy: 0 to 2**32 - 1)")


class ImagingSettings(_Strict):
    """Image reading, preprocessing, regions and feature extraction (owned by deltarad.imaging)."""

    phase: int = Field(3, ge=0, description="DCE phase to analyse: 0 = pre-contrast, 3 = 3rd post-injection")
    mask_label: int | str | None = Field(
        None, description="segment label value or segment name; None = the only non-zero label/segment"
    )
    feature_engine: Literal["deltarad", "pyradiomics"] = Field(
        "deltarad",
        description="feature classes: 'deltarad' computes PyRadiomics' features with its hot parts re-implemented "
        "exactly (deltarad.features.engine, the same values to rounding, faster); 'pyradiomics' runs its own classes",
    )
    n4: bool = True
    n4_shrink: int = Field(4, ge=1, description="N4 fits the bias field on the exam shrunk by this factor per axis")
    n4_iterations: list[int] = Field(
        default_factory=lambda: [50, 40, 30], description="N4 iterations per fitting level (3D Slicer's N4ITK defaults)"
    )
    n4_implementation: Literal["deltarad", "itk"] = Field(
        "deltarad",
        description="N4's code: 'deltarad' computes ITK's N4 algorithm with separable tensor products, replaying "
        "ITK's float32 convergence test (ITK's field to within twice ITK's own 1-vs-2-thread difference or 5e-5 in "
        "log units, tested on a grid of exams and masks; about 20x faster); 'itk' runs SimpleITK's "
        "N4BiasFieldCorrectionImageFilter",
    )
    resample_mm: tuple[float, float, float] | None = (1.0, 1.0, 1.0)
    ring_mm: float = Field(3.0, gt=0, description="peritumoral shell thickness (mm, physical distance)")
    skin_mm: float = Field(2.0, ge=0, description="depth below the body surface excluded from the ring (mm)")
    air_threshold: float | None = Field(
        None,
        description="intensity below which a voxel reached from the field-of-view edge is air; None = estimate it from the edge (deltarad.imaging.air)",
    )
    params: Path | None = Field(None, description="PyRadiomics parameter file; None = the study's (851 features)")
    series: str | None = Field(
        None,
        description="DICOM series of the DCE exam where a folder holds several candidates: SeriesNumber or "
        "SeriesDescription (a glob, case-insensitive); a cohort column <timepoint>_series overrides it per exam",
    )
    image_kind: str | None = Field(
        None,
        description="where several kinds of image share each DICOM slice position (e.g. Philips LABEL/CONTROL, "
        "magnitude/phase): the ImageType, FrameType or Philips (2005,1429) value to read",
    )


class HarmonizeSettings(_Strict):
    """ComBat across centres on the delta features, fitted on training patients only; acts when the
    cohort has the `column` and the training set spans at least 2 centres."""

    method: Literal["combat", "none"] = "combat"
    column: str = Field("centre", description="cohort column naming each patient's centre")
    unseen_centre: Literal["error", "none"] = Field(
        "error", description="a new patient of a centre not in training: stop (error) or score it unharmonised (none)"
    )


class ValidationSettings(_Strict):
    """Internal validation of the whole procedure (selection included) on the training set:
    Harrell's optimism bootstrap and repeated stratified k-fold cross-validation.

    On by default with Harrell's usual 200 resamples: one refit of the procedure takes about
    0.9 s of CPU for 851 features per region and 130 training patients, so about 1.5 minutes on 2
    cores (benchmarks/validation_speed.py).
    Set bootstrap and cv_repeats to 0 to switch it off.
    """

    bootstrap: int = Field(200, ge=0, description="optimism-bootstrap resamples (0 = off)")
    cv_folds: int = Field(5, ge=2, description="folds of the repeated stratified cross-validation")
    cv_repeats: int = Field(2, ge=0, description="repeats of the k-fold cross-validation (0 = off)")
    seed: int = Field(
        0, ge=0, lt=2**32, description="seed of the resamples (each resample has its own fixed seed; 0 to 2**32 - 1)"
    )
    workers: int | None = Field(None, ge=1, description="parallel processes (None = every CPU core)")


class ReportSettings(_Strict):
    """What the report flags in its region QC gallery (deltarad.report.qc)."""

    qc_ring_cut_max: float = Field(
        0.5,
        ge=0,
        le=1,
        description="flag an exam whose ring lost more than this share of its geometric shell (air, skin, chest wall)",
    )
    qc_dice_min: float = Field(0.7, ge=0, le=1, description="flag an exam whose readers' tumour Dice is below this")
    qc_volume_z: float = Field(
        3.0,
        gt=0,
        description="flag a tumour volume change with |robust z| above this (median and 1.4826 MAD of the cohort)",
    )


class TableFile(_Strict):
    """A table file: CSV or text (delimiter, decimal mark and encoding sniffed and logged), XLSX or
    ODS. In the study file either a path (`cohort: cohort.csv`) or this mapping
    (`cohort: {path: cohort.xlsx, sheet: Patients}`)."""

    path: Path
    sheet: str | int | None = Field(
        None, description="XLSX/ODS sheet: its name (or position, 1 = first); None = the only sheet with data"
    )
    delimiter: Literal[",", ";", "\t", "|"] | None = Field(None, description="CSV delimiter; None = sniffed")
    decimal: Literal[".", ","] | None = Field(None, description="CSV decimal mark; None = sniffed per numeric column")


CodedValue = int | float | str


class MissingSettings(_Strict):
    """What a blank clinical value does (deltarad.modeling.missing).

    complete_case: a patient without a value of a variable a model uses is left out of that
    model's fit and evaluation only (listed in failures.csv). mice: multiple imputation by chained
    equations fitted on the training set, estimates pooled by Rubin's rules, predictions averaged.
    """

    policy: Literal["complete_case", "mice"] = "complete_case"
    imputations: int = Field(20, ge=2, description="imputed data sets (m)")
    iterations: int = Field(10, ge=1, description="chained-equation cycles per imputed data set")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of the imputation draws (0 to 2**32 - 1)")


class DeltaEntry(_Strict):
    """One delta of `design.deltas` in its long form: `{pair: [before, after], form: log_ratio}`."""

    pair: tuple[str, str]
    form: Literal["relative", "log_ratio", "difference"] | None = Field(
        None, description="None = the study file's top-level `delta`"
    )


class ImageEntry(_Strict):
    """`design.image`: one of `{phase: 3}`, `{subtract: [1, 0]}` (phase 1 minus phase 0) or `{map: pe}`."""

    phase: int | None = Field(None, ge=0)
    subtract: tuple[int, int] | None = None
    map: str | None = None


class BandEntry(_Strict):
    """A peritumoral band of `design.regions`: `{band_mm: [inner, outer]}` (physical distance, mm)."""

    band_mm: tuple[float, float]


class RadscoreEntry(_Strict):
    """A radscore of `design.radscores`: the delta features of `regions` pooled into one LASSO score."""

    name: str
    regions: list[str]
    label: str | None = Field(None, description="display label; None = the name")
    delta: str | None = Field(None, description="the delta (e.g. early_vs_baseline); None = one radscore per delta")


class ReferenceEntry(_Strict):
    """A reference model of `design.references` on several cohort columns (e.g. a clinical model)."""

    name: str
    columns: list[str] = Field(min_length=1)
    label: str | None = Field(None, description="display label; None = the name")


class DesignSettings(_Strict):
    """The study's design (deltarad.design): every key left out keeps the study's own (Zeng et al.):
    timepoints [baseline, early], the top-level `delta` from baseline to early, `imaging.phase`,
    the tumour and one [0, imaging.ring_mm] band, one radscore per region and the `ultrasound`
    read as the reference."""

    timepoints: list[str] | None = Field(None, description="exam names in time order, at least 2")
    deltas: list[tuple[str, str] | DeltaEntry] | None = Field(
        None,
        description="pairs [before, after] (each may be {pair: [before, after], form: log_ratio}); "
        "default [[first timepoint, second]]",
    )
    image: ImageEntry | None = None
    regions: dict[str, Literal["tumour"] | BandEntry] | None = Field(
        None, description="name: tumour (exactly one) or name: {band_mm: [inner, outer]}"
    )
    radscores: list[RadscoreEntry] | None = None
    references: list[str | ReferenceEntry] | None = Field(
        None,
        description="cohort columns of the reference models ([] for none); a mapping {name, columns} "
        "fits one model on several columns",
    )


class Study(_Strict):
    """A study file."""

    cohort: TableFile = Field(description="CSV, XLSX or ODS, one row per patient")
    features: TableFile | None = Field(
        None, description="long-form feature table (features.csv); else extract from images"
    )
    patient_id: str = "patient_id"
    outcome: str = "outcome"
    ultrasound: str = "ultrasound"
    clinical: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list, description="clinical columns to treat as categorical")
    delta: Literal["relative", "log_ratio", "difference"] = Field(
        "relative",
        description="change from baseline to early: (early - baseline) / baseline (the study's), "
        "log(early / baseline) or early - baseline",
    )
    delta_near_zero: float = Field(
        1e-3,
        ge=0,
        description="relative and log_ratio drop a feature when any patient's |baseline| (reader 1) is "
        "below this fraction of the baseline's SD over patients",
    )
    coding: dict[str, dict[CodedValue, list[CodedValue]]] = Field(
        default_factory=dict,
        description="values as the table writes them, per column and level, e.g. {aln_pcr: {1: [pCR, yes], "
        "0: [non-pCR, no]}}: matched case-insensitively after stripping whitespace (the level itself matches "
        "too, unless the coding gives that value to another level: {1: [2], 0: [1]} reads 2 = pCR, 1 = non-pCR); "
        "the outcome's and the ultrasound's levels must be 0 and 1; any other value of a coded "
        "column leaves that patient out, naming the value",
    )
    reference_levels: dict[str, CodedValue] = Field(
        default_factory=dict,
        description="reference level per categorical variable (combined model, Table 2), e.g. {stage: II}; "
        "default the first level in value order (numbers as numbers, then text)",
    )
    split: SplitSettings = Field(default_factory=SplitSettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    imaging: ImagingSettings = Field(default_factory=ImagingSettings)
    harmonize: HarmonizeSettings = Field(default_factory=HarmonizeSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    name: str | None = Field(None, description="study name for the report's header; None = the study file's name")
    report: ReportSettings = Field(default_factory=ReportSettings)
    missing: MissingSettings = Field(default_factory=MissingSettings)
    kinetics: KineticsSettings | None = Field(
        None,
        description="DCE kinetics (FTV, kinetic maps, curve types: deltarad.kinetics): run when the key is "
        "given, `kinetics: {}` for I-SPY's defaults; extraction then writes kinetics.csv and the cohort gains "
        "delta_ftv_<after> and volume_change_<after> for design.references and clinical",
    )
    design_settings: DesignSettings = Field(
        default_factory=DesignSettings,
        alias="design",
        exclude=True,
        description="the study's design (DesignSettings); Study.design is it as a deltarad.design.Design",
    )

    base_dir: Path = Field(Path("."), exclude=True, description="folder of the study file")
    file_name: str = Field("", exclude=True, description="name of the study file")

    @field_validator("clinical", "categorical")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("columns listed twice")
        return v

    @field_validator("cohort", "features", mode="before")
    @classmethod
    def _path_or_mapping(cls, v: object) -> object:
        """`cohort: cohort.csv` is short for `cohort: {path: cohort.csv}`."""
        return {"path": v} if isinstance(v, (str, Path)) else v

    @field_validator("coding", mode="before")
    @classmethod
    def _spellings_as_lists(cls, v: object) -> object:
        """`{1: pCR}` is short for `{1: [pCR]}`."""
        from deltarad.coding import check_not_boolean

        if not isinstance(v, dict):
            return v
        out = {}
        for col, levels in v.items():
            if isinstance(levels, dict):
                levels = {lvl: (s if isinstance(s, list) else [s]) for lvl, s in levels.items()}
                check_not_boolean(col, levels)
            out[col] = levels
        return out

    @field_validator("coding")
    @classmethod
    def _codings_are_readable(cls, v: dict, info: ValidationInfo) -> dict:
        from deltarad.coding import check_coding

        for column, levels in v.items():
            check_coding(column, levels, binary=column in (info.data.get("outcome"), info.data.get("ultrasound")))
        return v

    @field_validator("reference_levels")
    @classmethod
    def _reference_of_a_variable(cls, v: dict, info: ValidationInfo) -> dict:
        unknown = [name for name in v if name not in info.data.get("clinical", [])]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not among the clinical variables")
        return v

    @classmethod
    def from_settings(cls, settings: Study | Mapping | None = None) -> Study:
        """The study's settings without a study file (the Python API): a Study as it is, a
        mapping of study-file keys (validated, every wrong key or value named), or None for the
        study's defaults. Without a `cohort` key the cohort is the table given in memory."""
        if isinstance(settings, Study):
            return settings
        if settings is not None and not isinstance(settings, Mapping):
            raise StudyFileError(
                f"settings must be a Study, a mapping of study-file keys or None, got {type(settings).__name__}"
            )
        raw = {"cohort": IN_MEMORY, **(settings or {})}
        try:
            study = cls.model_validate({**raw, "base_dir": Path.cwd()})
        except ValidationError as exc:
            raise StudyFileError("; ".join(_format_error(e) for e in exc.errors())) from None
        study.design  # a design that cannot be run is refused here, in words  # noqa: B018
        return study

    def resolve(self, path: Path | None) -> Path | None:
        if path is None:
            return None
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def cohort_path(self) -> Path:
        return self.resolve(self.cohort.path)  # type: ignore[return-value]

    @property
    def features_path(self) -> Path | None:
        return self.resolve(self.features.path) if self.features is not None else None

    @property
    def params_path(self) -> Path | None:
        return self.resolve(self.imaging.params)

    @property
    def design(self) -> d.Design:
        """The design (deltarad.design) this study file declares, its defaults the study's;
        StudyFileError names the key of a design that cannot be run."""
        return study_design(self)


def imaging_design(imaging: ImagingSettings, *, timepoints: tuple[str, ...] = (d.BASELINE, d.EARLY)) -> d.Design:
    """The design of imaging settings alone (no `design:` section): the study's, with the phase
    `imaging.phase` and the peritumoral band [0, imaging.ring_mm]."""
    return d.Design(
        timepoints=timepoints,
        deltas=(d.DeltaPair(timepoints[0], timepoints[1]),),
        image=d.ImageSpec(phase=imaging.phase),
        regions=(d.Region(d.INTRATUMORAL), d.Region(d.PERITUMORAL, (0.0, float(imaging.ring_mm)))),
    )


def study_design(study: Study) -> d.Design:
    """`Study.design`: the `design:` section over the study's defaults (DesignSettings)."""
    given = study.design_settings
    _refuse_conflicts(study)
    try:
        timepoints = tuple(given.timepoints) if given.timepoints is not None else (d.BASELINE, d.EARLY)
        if len(timepoints) < 2:
            raise d.DesignError(f"timepoints: at least 2 are needed, got {list(timepoints)}")
        deltas: tuple[d.DeltaPair, ...]
        if given.deltas is None:
            deltas = (d.DeltaPair(timepoints[0], timepoints[1], study.delta),)
        else:
            deltas = tuple(
                d.DeltaPair(e.pair[0], e.pair[1], e.form or study.delta)
                if isinstance(e, DeltaEntry)
                else d.DeltaPair(e[0], e[1], study.delta)
                for e in given.deltas
            )
        image = d.ImageSpec(phase=study.imaging.phase) if given.image is None else _image(given.image)
        if image.map is not None and study.kinetics is None:
            raise d.DesignError(
                f"image: {{map: {image.map}}} needs the study file's `kinetics:` key, which says how "
                "the phases are timed and chosen (`kinetics: {}` for I-SPY's defaults)"
            )
        regions: tuple[d.Region, ...]
        if given.regions is None:
            regions = (d.Region(d.INTRATUMORAL), d.Region(d.PERITUMORAL, (0.0, float(study.imaging.ring_mm))))
        else:
            regions = tuple(
                d.Region(name, (float(v.band_mm[0]), float(v.band_mm[1])))
                if isinstance(v, BandEntry)
                else d.Region(name)
                for name, v in given.regions.items()
            )
        references = (
            _references(study)
            if given.references is not None
            else (d.Reference(d.ULTRASOUND_COLUMN, d.ULTRASOUND_LABEL, (study.ultrasound,)),)
        )
        radscores = _radscores(given.radscores, deltas) if given.radscores is not None else ()
        return d.Design(
            timepoints=timepoints,
            deltas=deltas,
            image=image,
            regions=regions,
            radscores=radscores,
            references=references,
        )
    except d.DesignError as exc:
        raise StudyFileError(f"design.{exc}") from None


def _image(entry: ImageEntry) -> d.ImageSpec:
    chosen = [k for k in ("phase", "subtract", "map") if getattr(entry, k) is not None]
    if len(chosen) != 1:
        raise d.DesignError(f"image: give one of phase, subtract or map, got {', '.join(chosen) or 'none'}")
    if entry.map is not None:
        if entry.map not in MAP_NAMES:
            raise d.DesignError(f"image: {{map: {entry.map}}} is not a kinetic map; use one of {', '.join(MAP_NAMES)}")
        return d.ImageSpec(map=entry.map)
    if entry.subtract is not None:
        return d.ImageSpec(subtract=(entry.subtract[0], entry.subtract[1]))
    return d.ImageSpec(phase=entry.phase)


def _references(study: Study) -> tuple[d.Reference, ...]:
    out = []
    columns: tuple[str, ...]
    for entry in study.design_settings.references or ():
        if isinstance(entry, str):
            if entry == study.ultrasound:
                out.append(d.Reference(d.ULTRASOUND_COLUMN, d.ULTRASOUND_LABEL, (entry,)))
                continue
            name, label, columns = entry, entry, (entry,)
        else:
            name, label, columns = entry.name, entry.label or entry.name, tuple(entry.columns)
        d.check_name(name, "references: the reference model")
        if len(set(columns)) != len(columns):
            raise d.DesignError(f"references: {name} lists a column twice")
        out.append(d.Reference(name, label, columns))
    names = [r.name for r in out]
    if len(set(names)) != len(names):
        raise d.DesignError(f"references: a model is named twice in {names}")
    return tuple(out)


def _radscores(entries: list[RadscoreEntry], deltas: tuple[d.DeltaPair, ...]) -> tuple[d.Radscore, ...]:
    out = []
    delta_names = [p.name for p in deltas]
    for e in entries:
        if e.delta is not None and e.delta not in delta_names:
            raise d.DesignError(
                f"radscores: {e.name} names delta {e.delta!r}, not in the design ({', '.join(delta_names)})"
            )
        chosen = [p for p in deltas if e.delta in (None, p.name)]
        for p in chosen:
            suffix = f"_{p.after}" if e.delta is None and len(deltas) > 1 else ""
            label = (e.label or e.name) + (f" ({p.after})" if suffix else "")
            out.append(d.Radscore(e.name + suffix, label, tuple(e.regions), p.name))
    return tuple(out)


def _refuse_conflicts(study: Study) -> None:
    """A setting of the study's own design given outside `design:` (imaging.ring_mm, imaging.phase,
    ultrasound) that `design:` contradicts is refused: the same value twice is accepted."""
    given = study.design_settings
    imaging = study.imaging.model_fields_set
    if given.regions is not None and "ring_mm" in imaging:
        bands = [tuple(v.band_mm) for v in given.regions.values() if isinstance(v, BandEntry)]
        if (0, study.imaging.ring_mm) not in bands:
            raise StudyFileError(
                f"imaging.ring_mm ({study.imaging.ring_mm:g} mm) and design.regions (bands "
                f"{', '.join(f'[{a:g}, {b:g}]' for a, b in bands) or 'none'}) both set the peritumoral "
                "band: give it once, under design.regions"
            )
    if given.image is not None and "phase" in imaging and given.image.phase != study.imaging.phase:
        raise StudyFileError(
            f"imaging.phase ({study.imaging.phase}) and design.image both set the analysed image: "
            "give it once, under design.image"
        )
    if given.references is not None and "ultrasound" in study.model_fields_set:
        columns = {c for e in given.references for c in ([e] if isinstance(e, str) else e.columns)}
        if study.ultrasound not in columns:
            raise StudyFileError(
                f"ultrasound names the column {study.ultrasound!r}, which design.references do not "
                "use: give the reference models once, under design.references"
            )


def _format_error(err: Mapping) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{loc}'"
    return f"'{loc}': {err['msg']} (got {err.get('input')!r})"


def with_model_design(study: Study, design: d.Design) -> Study:
    """`study` (a new cohort's) under a frozen model's `design`, so that its exams are read, its
    regions built and its deltas taken as the model's were. A study file that declares a design
    of its own must declare the model's."""
    if study.design_settings.model_fields_set:
        if study.design != design:
            raise StudyFileError(
                "the study file's design: section differs from the model's; leave it out (the "
                "model's applies) or declare the model's design",
                file=study.file_name or None,
            )
        return study
    return study.model_copy(update={"design_settings": DesignSettings.model_validate(design.to_dict())})


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; every wrong key or value is named in the error."""
    path = Path(path)
    if not path.is_file():
        raise StudyFileError("study file not found", file=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise StudyFileError("not a UTF-8 text file (a study file is YAML)", file=path) from None
    except yaml.YAMLError as exc:
        raise StudyFileError(f"not valid YAML: {' '.join(str(exc).split())}", file=path) from None
    if not isinstance(raw, dict):
        raise StudyFileError("expected a mapping of settings at the top level", file=path)
    try:
        study = Study.model_validate({**raw, "base_dir": path.resolve().parent, "file_name": path.name})
    except ValidationError as exc:
        problems = "; ".join(_format_error(e) for e in exc.errors())
        raise StudyFileError(problems, file=path) from None
    try:
        study.design  # noqa: B018
    except StudyFileError as exc:
        raise StudyFileError(exc.problem, file=path) from None
    return study

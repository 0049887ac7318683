"""The study file: one YAML document, validated with pydantic. Defaults are the study's values
(Zeng et al., BMC Cancer 2025); relative paths resolve against the study file's folder."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from deltarad.design import ULTRASOUND_COLUMN, ULTRASOUND_LABEL, Design, Reference
from deltarad.errors import StudyFileError


#: The cohort of a Study made in Python (Study.from_settings): the table given in memory.
IN_MEMORY = Path("(in memory)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitSettings(_Strict):
    """Random split as torch.utils.data.random_split(range(n), [validation_fraction, 1 - it])."""

    validation_fraction: float = Field(0.3, gt=0, lt=1)
    seed: int = Field(0, ge=0)


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
        "1se", description="the sparsest penalty within one SE of the CV minimum (lambda.1se) or the minimum (lambda.min)"
    )
    lasso_seed: int = Field(0, ge=0, description="seed of the stratified CV folds")


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
        description="N4's code: 'deltarad' computes ITK's N4 algorithm with separable tensor products (the same "
        "field to float32 rounding, about 50x faster); 'itk' runs SimpleITK's N4BiasFieldCorrectionImageFilter",
    )
    resample_mm: tuple[float, float, float] | None = (1.0, 1.0, 1.0)
    ring_mm: float = Field(3.0, gt=0, description="peritumoral shell thickness (mm, physical distance)")
    skin_mm: float = Field(2.0, ge=0, description="depth below the body surface excluded from the ring (mm)")
    air_threshold: float | None = Field(
        None, description="intensity below which a voxel reached from the field-of-view edge is air; None = estimate it from the edge (deltarad.imaging.air)"
    )
    params: Path | None = Field(None, description="PyRadiomics parameter file; None = the study's (851 features)")
    series: str | None = Field(
        None, description="DICOM series of the DCE exam where a folder holds several candidates: SeriesNumber or "
        "SeriesDescription (a glob, case-insensitive); a cohort column <timepoint>_series overrides it per exam"
    )
    image_kind: str | None = Field(
        None, description="where several kinds of image share each DICOM slice position (e.g. Philips LABEL/CONTROL, "
        "magnitude/phase): the ImageType, FrameType or Philips (2005,1429) value to read"
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
    seed: int = Field(0, ge=0, description="seed of the resamples (each resample has its own fixed seed)")
    workers: int | None = Field(None, ge=1, description="parallel processes (None = every CPU core)")


class ReportSettings(_Strict):
    """What the report flags in its region QC gallery (deltarad.report.qc)."""

    qc_ring_cut_max: float = Field(0.5, ge=0, le=1, description="flag an exam whose ring lost more than this share "
                                   "of its geometric shell (air, skin, chest wall)")
    qc_dice_min: float = Field(0.7, ge=0, le=1, description="flag an exam whose readers' tumour Dice is below this")
    qc_volume_z: float = Field(3.0, gt=0, description="flag a tumour volume change with |robust z| above this "
                               "(median and 1.4826 MAD of the cohort)")


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
    seed: int = Field(0, ge=0, description="seed of the imputation draws")


class Study(_Strict):
    """A study file."""

    cohort: TableFile = Field(description="CSV, XLSX or ODS, one row per patient")
    features: TableFile | None = Field(None, description="long-form feature table (features.csv); else extract from images")
    patient_id: str = "patient_id"
    outcome: str = "outcome"
    ultrasound: str = "ultrasound"
    clinical: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list, description="clinical columns to treat as categorical")
    delta: Literal["relative", "log_ratio", "difference"] = Field(
        "relative", description="change from baseline to early: (early - baseline) / baseline (the study's), "
        "log(early / baseline) or early - baseline"
    )
    delta_near_zero: float = Field(
        1e-3, ge=0, description="relative and log_ratio drop a feature when any patient's |baseline| (reader 1) is "
        "below this fraction of the baseline's SD over patients"
    )
    coding: dict[str, dict[CodedValue, list[CodedValue]]] = Field(
        default_factory=dict,
        description="values as the table writes them, per column and level, e.g. {aln_pcr: {1: [pCR, yes], "
        "0: [non-pCR, no]}}: matched case-insensitively after stripping whitespace (the level itself always "
        "matches); the outcome's and the ultrasound's levels must be 0 and 1; any other value of a coded "
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
    def from_settings(cls, settings: "Study | Mapping | None" = None) -> "Study":
        """The study's settings without a study file (the Python API): a Study as it is, a
        mapping of study-file keys (validated, every wrong key or value named), or None for the
        study's defaults. Without a `cohort` key the cohort is the table given in memory."""
        if isinstance(settings, Study):
            return settings
        if settings is not None and not isinstance(settings, Mapping):
            raise StudyFileError(f"settings must be a Study, a mapping of study-file keys or None, "
                                 f"got {type(settings).__name__}")
        raw = {"cohort": IN_MEMORY, **(settings or {})}
        try:
            return cls.model_validate({**raw, "base_dir": Path.cwd()})
        except ValidationError as exc:
            raise StudyFileError("; ".join(_format_error(e) for e in exc.errors())) from None

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


def _format_error(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{loc}'"
    return f"'{loc}': {err['msg']} (got {err.get('input')!r})"


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
    return study


def study_design(study: Study) -> Design:
    """The study's design: its `design:` section, else the study's own (Design()) with the
    ultrasound reference read from the study's `ultrasound` column."""
    design = getattr(study, "design", None)
    if design is not None:
        return design
    return Design(references=(Reference(ULTRASOUND_COLUMN, ULTRASOUND_LABEL, (study.ultrasound,)),))

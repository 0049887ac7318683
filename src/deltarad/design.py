"""Ground floor: the study's design as data (timepoints, deltas, image, regions, radscores,
references) and the keys of the long tables. Imports nothing of deltarad.

The default design is exactly Zeng et al.'s: baseline and early exams, one relative delta between
them, the 3rd post-contrast phase, the tumour and one 0-3 mm peritumoral band, one LASSO radscore
per region (Radscore_DIR, Radscore_DPR) and the post-treatment ultrasound read as the reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: keys of the long feature table: one row per (patient, timepoint, region, reader)
FEATURE_KEYS: tuple[str, ...] = ("patient_id", "timepoint", "region", "reader")
#: keys of the long delta table: one row per (patient, delta, region, reader)
DELTA_KEYS: tuple[str, ...] = ("patient_id", "delta", "region", "reader")
READERS: tuple[int, ...] = (1, 2)

DELTA_FORMS: dict[str, str] = {
    "relative": "(after - before) / before",
    "log_ratio": "log(after / before)",
    "difference": "after - before",
}
TUMOUR = "tumour"

#: the study's names, which every default below reproduces
BASELINE, EARLY = "baseline", "early"
INTRATUMORAL, PERITUMORAL = "intratumoral", "peritumoral"
#: the prediction column and label of the default reference model (the ultrasound read)
ULTRASOUND_COLUMN, ULTRASOUND_LABEL = "us", "Ultrasound"
COMBINED, COMBINED_LABEL = "combined", "Combined"

#: joins a region's name to its feature's in a pooled radscore's feature names (intratumoral:original_...)
POOLED_SEPARATOR = ":"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# the study's radscore names (Delta IntRatumoral / Delta PeRitumoral radiomics)
_STUDY_ABBREVIATIONS = {INTRATUMORAL: "DIR", PERITUMORAL: "DPR"}


class DesignError(ValueError):
    """A design that cannot be run; the message names the key and the problem."""


def check_name(name: str, what: str) -> str:
    """A design name (timepoint, region, radscore) must be usable as a column and file name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DesignError(f"{what} {name!r}: use letters, digits and _ , starting with a letter")
    return name


@dataclass(frozen=True)
class Region:
    """The tumour (the reader's mask) or a peritumoral band: the shell between two physical
    distances from the tumour surface, `band_mm` = (inner, outer) in mm, outer > inner >= 0."""

    name: str
    band_mm: tuple[float, float] | None = None

    @property
    def is_tumour(self) -> bool:
        return self.band_mm is None

    def describe(self) -> str:
        if self.band_mm is None:
            return "the tumour mask"
        a, b = self.band_mm
        return f"the {a:g}-{b:g} mm band around the tumour"


@dataclass(frozen=True)
class DeltaPair:
    """The change of every feature from `before` to `after`, in one of DELTA_FORMS."""

    before: str
    after: str
    form: str = "relative"

    @property
    def name(self) -> str:
        return f"{self.after}_vs_{self.before}"

    @property
    def formula(self) -> str:
        return DELTA_FORMS[self.form].replace("after", self.after).replace("before", self.before)


@dataclass(frozen=True)
class ImageSpec:
    """What the radiomics are computed on: one DCE phase (0 = pre-contrast), the subtraction of two
    phases (`subtract` = (a, b): phase a minus phase b, voxel by voxel, on the exam's grid), or a
    kinetic map by name (deltarad.kinetics)."""

    phase: int | None = 3
    subtract: tuple[int, int] | None = None
    map: str | None = None

    def __post_init__(self) -> None:
        if self.subtract is not None or self.map is not None:
            object.__setattr__(self, "phase", None)  # a subtraction or a map replaces the default phase

    def describe(self) -> str:
        if self.subtract is not None:
            return f"phase {self.subtract[0]} minus phase {self.subtract[1]}"
        if self.map is not None:
            return f"the {self.map} map"
        return f"phase {self.phase}"

    @property
    def phases(self) -> tuple[int, ...]:
        """The phases this image needs (a map needs the kinetics' phases: empty here)."""
        if self.subtract is not None:
            return tuple(self.subtract)
        return () if self.phase is None else (self.phase,)


@dataclass(frozen=True)
class Radscore:
    """One LASSO radscore: the delta features of `regions` (pooled when several) for one delta."""

    name: str  # prediction column, e.g. radscore_dir
    label: str  # display label, e.g. DIR
    regions: tuple[str, ...]
    delta: str  # DeltaPair.name


@dataclass(frozen=True)
class Reference:
    """A reference model: logistic regression on cohort columns (binary or continuous)."""

    name: str  # prediction column, e.g. us
    label: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Design:
    """A study's design. `Design()` is the study's own (module docstring)."""

    timepoints: tuple[str, ...] = (BASELINE, EARLY)
    deltas: tuple[DeltaPair, ...] = (DeltaPair(BASELINE, EARLY),)
    image: ImageSpec = field(default_factory=ImageSpec)
    regions: tuple[Region, ...] = (Region(INTRATUMORAL), Region(PERITUMORAL, (0.0, 3.0)))
    radscores: tuple[Radscore, ...] = ()
    references: tuple[Reference, ...] = (Reference(ULTRASOUND_COLUMN, ULTRASOUND_LABEL, ("ultrasound",)),)

    def __post_init__(self) -> None:
        check_design(self)
        if not self.radscores:
            object.__setattr__(self, "radscores", default_radscores(self.regions, self.deltas))

    # -- names -------------------------------------------------------------------------------
    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    @property
    def delta_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.deltas)

    @property
    def tumour(self) -> Region:
        return next(r for r in self.regions if r.is_tumour)

    @property
    def bands(self) -> tuple[Region, ...]:
        return tuple(r for r in self.regions if not r.is_tumour)

    @property
    def band_limits_mm(self) -> tuple[tuple[float, float], ...]:
        """(inner, outer) mm of each band, in the design's order."""
        return tuple(r.band_mm for r in self.regions if r.band_mm is not None)

    @property
    def outermost_mm(self) -> float:
        """The outer distance (mm) of the design's outermost band; 0 without bands."""
        return max((outer for _, outer in self.band_limits_mm), default=0.0)

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise DesignError(f"region {name!r} is not in the design ({', '.join(self.region_names)})")

    def delta(self, name: str) -> DeltaPair:
        for d in self.deltas:
            if d.name == name:
                return d
        raise DesignError(f"delta {name!r} is not in the design ({', '.join(self.delta_names)})")

    @property
    def model_columns(self) -> tuple[str, ...]:
        """Prediction columns in fit order: radscores, references, combined."""
        return (*(r.name for r in self.radscores), *(r.name for r in self.references), COMBINED)

    @property
    def model_labels(self) -> dict[str, str]:
        """Prediction column -> display label, in the order tables and figures show the models."""
        return {
            COMBINED: COMBINED_LABEL,
            **{r.name: r.label for r in self.radscores},
            **{r.name: r.label for r in self.references},
        }

    @property
    def reference_columns(self) -> tuple[str, ...]:
        """The cohort columns the reference models read, each once, in declaration order."""
        return tuple(dict.fromkeys(c for r in self.references for c in r.columns))

    def selection_name(self, radscore: Radscore) -> str:
        """The radscore's name in the selection tables' `region` column: its region (its regions
        joined by +), with its delta after @ when the design has several (intratumoral for the
        study's DIR; ring_0_3@post_vs_baseline)."""
        regions = "+".join(radscore.regions)
        return regions if len(self.deltas) == 1 else f"{regions}@{radscore.delta}"

    @property
    def comparator(self) -> str | None:
        """The model every other is compared with (DeLong, IDI, NRI): the first reference."""
        return self.references[0].name if self.references else None

    def image_columns(self, timepoint: str) -> dict[str, str]:
        """Cohort columns of one timepoint: image, mask, mask_reader2 (and their roles)."""
        return {
            "image": f"{timepoint}_image",
            "mask": f"{timepoint}_mask",
            "mask_reader2": f"{timepoint}_mask_reader2",
        }

    def to_dict(self) -> dict:
        """Plain data for model.json and study.json (Design.from_dict reads it back)."""
        return {
            "timepoints": list(self.timepoints),
            "deltas": [{"pair": [d.before, d.after], "form": d.form} for d in self.deltas],
            "image": {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in (("phase", self.image.phase), ("subtract", self.image.subtract), ("map", self.image.map))
                if v is not None
            },
            "regions": {r.name: (TUMOUR if r.is_tumour else {"band_mm": list(r.band_mm or ())}) for r in self.regions},
            "radscores": [
                {"name": r.name, "label": r.label, "regions": list(r.regions), "delta": r.delta} for r in self.radscores
            ],
            "references": [{"name": r.name, "label": r.label, "columns": list(r.columns)} for r in self.references],
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> Design:
        image = raw.get("image", {})
        return cls(
            timepoints=tuple(raw["timepoints"]),
            deltas=tuple(DeltaPair(d["pair"][0], d["pair"][1], d.get("form", "relative")) for d in raw["deltas"]),
            image=ImageSpec(
                phase=image.get("phase"),
                subtract=tuple(image["subtract"]) if image.get("subtract") else None,
                map=image.get("map"),
            ),
            regions=tuple(Region(n, None if v == TUMOUR else tuple(v["band_mm"])) for n, v in raw["regions"].items()),
            radscores=tuple(Radscore(r["name"], r["label"], tuple(r["regions"]), r["delta"]) for r in raw["radscores"]),
            references=tuple(Reference(r["name"], r["label"], tuple(r["columns"])) for r in raw["references"]),
        )


def pooled_feature(region: str, feature: str) -> str:
    """A feature's name in a pooled radscore: region-prefixed, so two regions' features stay apart."""
    return f"{region}{POOLED_SEPARATOR}{feature}"


def default_radscores(regions: Sequence[Region], deltas: Sequence[DeltaPair]) -> tuple[Radscore, ...]:
    """One radscore per (region, delta). The study's design keeps the study's names
    (radscore_dir / DIR, radscore_dpr / DPR); others are radscore_<region>[_<delta>]."""
    out = []
    for d in deltas:
        for r in regions:
            abbreviation = _STUDY_ABBREVIATIONS.get(r.name)
            if len(deltas) == 1 and abbreviation:
                out.append(Radscore(f"radscore_{abbreviation.lower()}", abbreviation, (r.name,), d.name))
            elif len(deltas) == 1:
                out.append(Radscore(f"radscore_{r.name}", f"Δ{r.name}", (r.name,), d.name))
            else:
                out.append(Radscore(f"radscore_{r.name}_{d.after}", f"Δ{r.name} ({d.after})", (r.name,), d.name))
    return tuple(out)


def check_design(design: Design) -> None:
    """Refuse, in words, a design that cannot be run."""
    tps = design.timepoints
    if len(tps) < 2:
        raise DesignError(f"timepoints: at least 2 are needed, got {list(tps)}")
    for t in tps:
        check_name(t, "timepoint")
    if len(set(tps)) != len(tps):
        raise DesignError(f"timepoints: a name is given twice in {list(tps)}")
    if not design.deltas:
        raise DesignError("deltas: at least one pair of timepoints is needed")
    for d in design.deltas:
        for t in (d.before, d.after):
            if t not in tps:
                raise DesignError(f"deltas: {t!r} is not a declared timepoint ({', '.join(tps)})")
        if d.before == d.after:
            raise DesignError(f"deltas: the pair [{d.before}, {d.after}] compares a timepoint with itself")
        if d.form not in DELTA_FORMS:
            raise DesignError(f"deltas: form must be one of {list(DELTA_FORMS)}, got {d.form!r}")
    if len(set(design.delta_names)) != len(design.deltas):
        raise DesignError("deltas: a pair is given twice")
    names = [r.name for r in design.regions]
    for n in names:
        check_name(n, "region")
    if len(set(names)) != len(names):
        raise DesignError(f"regions: a name is given twice in {names}")
    tumours = [r for r in design.regions if r.is_tumour]
    if len(tumours) != 1:
        raise DesignError(f"regions: exactly one region is the tumour, got {len(tumours)}")
    bands = sorted((r.band_mm, r.name) for r in design.regions if r.band_mm is not None)
    for (a, b), name in bands:
        if not (0 <= a < b):
            raise DesignError(
                f"regions: {name}'s band_mm must be [inner, outer] with 0 <= inner < outer, got [{a}, {b}]"
            )
    for ((a1, b1), n1), ((a2, b2), n2) in zip(bands, bands[1:]):
        if a2 < b1:
            raise DesignError(f"regions: bands {n1} [{a1:g}, {b1:g}] and {n2} [{a2:g}, {b2:g}] mm overlap")
    img = design.image
    chosen = [k for k, v in (("phase", img.phase), ("subtract", img.subtract), ("map", img.map)) if v is not None]
    if len(chosen) != 1:
        raise DesignError(f"image: give one of phase, subtract or map, got {chosen or 'none'}")
    if img.subtract is not None and (len(img.subtract) != 2 or img.subtract[0] == img.subtract[1]):
        raise DesignError(f"image: subtract takes two different phases [a, b] (a minus b), got {list(img.subtract)}")
    for r in design.radscores:
        check_name(r.name, "radscore")
        for region in r.regions:
            if region not in names:
                raise DesignError(
                    f"radscores: {r.name} names region {region!r}, not in the design ({', '.join(names)})"
                )
        if r.delta not in design.delta_names:
            raise DesignError(
                f"radscores: {r.name} names delta {r.delta!r}, not in the design ({', '.join(design.delta_names)})"
            )
    columns = [*(r.name for r in design.radscores), *(r.name for r in design.references)]
    if len(set(columns)) != len(columns) or COMBINED in columns:
        raise DesignError(f"radscore and reference names must be distinct and not {COMBINED!r}: {columns}")

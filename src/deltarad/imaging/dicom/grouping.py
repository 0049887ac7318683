"""Frames -> series -> dynamics -> complete volumes, and which series make the DCE exam.

Rules (each inference is returned as a note; where two readings remain, a CaseError names them):

- A series is one SeriesInstanceUID in one form (classic or enhanced). A classic and an
  enhanced copy of one series in one folder: the enhanced copy is read (its frames carry their
  own geometry and time) and the classic copy is left out.
- A volume (a phase) is complete: every slice position of the series exactly once, one
  orientation, one grid, evenly spaced slices (`check_stack`). Never interleaved.
- Several images at one position within a series: first told apart by image kind (ImageType /
  FrameType, ComplexImageComponent, Philips private label type (2005,1429), EchoNumbers); when
  the kinds differ, `image_kind` picks one (matched against those values) or the series is
  refused naming the attribute and its values. Then the dynamics are split by the first of:
  TemporalPositionIdentifier / TemporalPositionIndex, the file (one volume per file, as
  Siemens XA writes Enhanced MR), TriggerTime, AcquisitionNumber, AcquisitionTime, that gives
  groups each holding every position exactly once; failing those, when acquisition or trigger
  times vary slice by slice, by geometry: in acquisition order (then InstanceNumber) the slice
  positions repeat, each run of them one dynamic. With no time varying: refused (e.g. a
  diffusion series: its images differ in b-value, not in time).
- A folder of several series: DERIVED images (subtraction, MIP, MPR, phase and phase-difference
  images, field maps and other maps) are left out; the others are grouped by grid (orientation,
  size, spacing, slice positions) and protocol (ProtocolName, SequenceName, ScanningSequence,
  TR, TE, flip angle). One group: its series are the exam, their volumes ordered by acquisition
  time (one series per dynamic, the usual Siemens export). Several: a group is dynamic when its
  volumes were acquired at two or more times; series of one acquisition time that differ only by
  echo, image type or reconstruction (a field map's two magnitude echoes) are one acquisition,
  not dynamics. The one dynamic group is the DCE exam and every other series is left out with
  the reason (acquired at one time with which series; the grid or protocol values that differ
  from the DCE series'); with several dynamic groups the `series` setting (SeriesDescription or
  SeriesNumber) must pick, and without it the folder is refused naming the candidates.
- Series of the DCE group holding volumes of one acquisition time are two image types or
  reconstructions of it (e.g. Siemens' ND and DIS2D exported per dynamic: `image_kind` picks one,
  the series of other kinds left out) or copies of it (refused: keep one).
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from deltarad.errors import CaseError
from deltarad.imaging.dicom.headers import Frame

ORIENTATION_TOLERANCE = 1e-3
"""Largest difference between direction cosines of slices of one volume."""
SPACING_TOLERANCE_MM = 0.01
SPACING_TOLERANCE_FRACTION = 0.01
"""Slice steps may differ from their median by max(0.01 mm, 1% of it): recorded in a note."""
DERIVED_TOKENS = {
    "DERIVED",
    "SUBTRACTION",
    "SUB",
    "MIP",
    "MPR",
    "PROJECTION IMAGE",
    "PHASE",
    "P",
    "FIELD_MAP",
    "B0",
    "ADC",
    "TRACEW",
    "FA",
    "MOCO",
    "CPR",
    "REFORMATTED",
    "MAP",
    "T1 MAP",
    "PERFUSION_MAP",
}

_DERIVED_MEANING = {"P": "phase image", "PHASE": "phase image", "FIELD_MAP": "field map", "B0": "field map"}


@dataclass
class Volume:
    """One complete 3-D volume: frames ordered along the slice normal."""

    frames: list[Frame]
    label: str
    time_s: float | None
    slice_spacing_mm: float


@dataclass
class Series:
    frames: list[Frame]
    volumes: list[Volume] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def first(self) -> Frame:
        return self.frames[0]

    @property
    def name(self) -> str:
        f = self.first
        number = f.series_number if f.series_number is not None else "?"
        return f"series {number} '{f.description}'" + (" (enhanced)" if f.form == "enhanced" else "")

    @property
    def time_s(self) -> float:
        times = [f.acquisition_s for f in self.frames if f.acquisition_s is not None]
        return min(times) if times else np.inf

    def derived(self) -> str | None:
        """Why the series is not original DCE images (its ImageType), or None."""
        types = {t.upper() for f in self.frames for t in f.image_type}
        hits = sorted(types & DERIVED_TOKENS)
        if not hits:
            return None
        what = sorted({_DERIVED_MEANING[t] for t in hits if t in _DERIVED_MEANING})
        return f"ImageType {'/'.join(hits)}" + (f" ({', '.join(what)})" if what else "")


def split_series(frames: list[Frame]) -> list[Series]:
    groups: dict[tuple, list[Frame]] = defaultdict(list)
    for f in frames:
        groups[f.series_uid, f.form].append(f)
    series = [Series(g) for g in groups.values()]
    return sorted(series, key=lambda s: (s.time_s, s.first.series_number or 0))


def position_key(f: Frame) -> tuple:
    return tuple(round(v, 2) for v in f.position)


def normal(orientation: tuple[float, ...]) -> np.ndarray:
    o = np.asarray(orientation, dtype=float)
    return np.cross(o[:3], o[3:])


def check_stack(frames: list[Frame], what: str, patient: str | None, where) -> tuple[list[Frame], float, list[str]]:
    """Frames of one volume ordered along the normal, the slice spacing (mm) and notes; a
    CaseError for mixed orientations or grids, duplicate positions, a missing slice or uneven
    spacing beyond the tolerance."""
    first = frames[0]
    o = np.array([f.orientation for f in frames], dtype=float)
    if np.abs(o - o[0]).max() > ORIENTATION_TOLERANCE:
        n_orientations = len({tuple(np.round(row, 3)) for row in o})
        raise CaseError(
            f"{what}: slices of {n_orientations} different orientations (ImageOrientationPatient) in one volume",
            patient=patient,
            file=where,
        )
    grids = {(f.rows, f.columns, tuple(round(s, 4) for s in f.pixel_spacing)) for f in frames}
    if len(grids) > 1:
        raise CaseError(
            f"{what}: slices of different sizes or pixel spacings {sorted(grids)}", patient=patient, file=where
        )
    n = normal(first.orientation)
    depth = np.array([np.dot(n, f.position) for f in frames])
    order = np.argsort(depth, kind="stable")
    ordered = [frames[i] for i in order]
    depth = depth[order]
    if len(ordered) == 1:
        return ordered, 1.0, [f"{what}: a single slice; its slice spacing is unknown, 1 mm assumed"]
    steps = np.diff(depth)
    if steps.min() < 1e-3:
        at = depth[int(np.argmin(steps))]
        raise CaseError(
            f"{what}: two images at one slice position ({at:.2f} mm along the normal)", patient=patient, file=where
        )
    step = float(np.median(steps))
    tolerance = max(SPACING_TOLERANCE_MM, SPACING_TOLERANCE_FRACTION * step)
    worst = int(np.argmax(np.abs(steps - step)))
    notes = []
    if abs(steps[worst] - step) > tolerance:
        gap = steps[worst]
        kind = f"a slice is missing ({round(gap / step) - 1} slice(s))" if gap > 1.5 * step else "uneven slice spacing"
        raise CaseError(
            f"{what}: {kind}: {gap:.3f} mm between the slices at {depth[worst]:.2f} and {depth[worst + 1]:.2f} mm "
            f"along the normal where the spacing is {step:.3f} mm (tolerance {tolerance:.3f} mm)",
            patient=patient,
            file=where,
        )
    if abs(steps[worst] - step) > 1e-3:
        notes.append(
            f"{what}: slice steps differ by up to {abs(steps[worst] - step):.4f} mm (within the "
            f"{tolerance:.3f} mm tolerance); the mean spacing is used"
        )
    p = np.array([f.position for f in ordered], dtype=float)
    lateral = (p - p[0]) - np.outer(depth - depth[0], n)
    if np.abs(lateral).max() > tolerance:
        raise CaseError(
            f"{what}: slice origins drift across the stack by {np.abs(lateral).max():.2f} mm "
            "(a sheared or tilted stack a 3-D grid cannot hold)",
            patient=patient,
            file=where,
        )
    return ordered, float((depth[-1] - depth[0]) / (len(depth) - 1)), notes


def dynamics(series: Series, image_kind: str | None, patient: str | None, where) -> Series:
    """Fill `series.volumes` (in time order) and `series.notes` by the rules of this module."""
    frames = _one_kind(series, image_kind, patient, where)
    groups, rule = _split_in_time(frames, series.name, patient, where)
    volumes = []
    for i, (label, group) in enumerate(groups):
        what = f"{series.name}" + (f", dynamic {i + 1}" if len(groups) > 1 else "")
        ordered, spacing, notes = check_stack(group, what, patient, where)
        series.notes += notes
        times = [f.acquisition_s for f in group if f.acquisition_s is not None]
        volumes.append(Volume(ordered, label, min(times) if times else None, spacing))
    sizes = Counter(len(v.frames) for v in volumes)
    if len(sizes) > 1:
        raise CaseError(
            f"{series.name}: its dynamics hold different numbers of slices {dict(sizes)}: a slice is missing",
            patient=patient,
            file=where,
        )
    if rule:
        series.notes.append(f"{series.name}: {len(volumes)} dynamics told apart by {rule}")
    series.volumes = volumes
    return series


def _one_kind(series: Series, image_kind: str | None, patient: str | None, where) -> list[Frame]:
    frames = series.frames
    per_position = Counter(position_key(f) for f in frames)
    kinds = {f.kind for f in frames}
    if len(kinds) == 1 or max(per_position.values()) == 1:
        return frames
    varying = {name: sorted({dict(k).get(name, "") for k in kinds}) for name in {n for k in kinds for n, _ in k}}
    varying = {name: values for name, values in varying.items() if len(values) > 1}
    described = "; ".join(f"{name}: {', '.join(repr(v) for v in values)}" for name, values in sorted(varying.items()))
    if image_kind is None:
        timed = all(f.temporal_index is not None for f in frames)
        per_dynamic = Counter((position_key(f), f.temporal_index) for f in frames) if timed else per_position
        where_shared = "in one dynamic (TemporalPositionIdentifier)" if timed else "in the series"
        raise CaseError(
            f"{series.name}: {max(per_dynamic.values())} images share each slice position {where_shared} and they differ in {described}; "
            "they are never interleaved into one volume: set imaging.image_kind to one of those values",
            patient=patient,
            file=where,
        )
    wanted = image_kind.strip().lower()
    chosen = [f for f in frames if any(v.strip().lower() == wanted for _, v in f.kind)]
    if not chosen:
        raise CaseError(
            f"{series.name}: no images of kind {image_kind!r} (imaging.image_kind); kinds: {described}",
            patient=patient,
            file=where,
        )
    series.notes.append(
        f"{series.name}: images of kind {image_kind!r} read (imaging.image_kind), "
        f"{len(frames) - len(chosen)} others left out ({described})"
    )
    return chosen


_TIME_KEYS = (
    ("TemporalPositionIdentifier/Index", lambda f: f.temporal_index),
    ("file (one volume per file)", lambda f: str(f.file) if f.form == "enhanced" else None),
    ("TriggerTime", lambda f: f.trigger_time_ms),
    ("AcquisitionNumber", lambda f: f.acquisition_number),
    ("AcquisitionTime", lambda f: f.acquisition_s),
)


def _split_in_time(frames: list[Frame], name: str, patient, where) -> tuple[list[tuple[str, list[Frame]]], str | None]:
    per_position = Counter(position_key(f) for f in frames)
    counts = set(per_position.values())
    if counts == {1}:
        return [("", frames)], None
    if len(counts) > 1:
        few = min(counts)
        lacking = sorted(k for k, c in per_position.items() if c == few)
        raise CaseError(
            f"{name}: slice positions hold different numbers of images {sorted(counts)}: "
            f"{len(lacking)} position(s) hold {few} (an image missing there, or duplicated elsewhere), "
            f"e.g. the one at {lacking[0]} mm",
            patient=patient,
            file=where,
        )
    m = counts.pop()
    for rule, key in _TIME_KEYS:
        values = [key(f) for f in frames]
        if any(v is None for v in values):
            continue
        groups: dict[object, list[Frame]] = defaultdict(list)
        for f, v in zip(frames, values):
            groups[v].append(f)
        if len(groups) == m and all(
            len({position_key(f) for f in g}) == len(per_position) == len(g) for g in groups.values()
        ):
            ordered_groups = sorted(groups.items(), key=lambda kv: _group_order(kv[1], kv[0]))
            return [
                (f"{rule} {k}" if not rule.startswith("file") else f"file {g[0].file.name}", g)
                for k, g in ordered_groups
            ], rule
    times = [(f.acquisition_s, f.trigger_time_ms) for f in frames]
    if len({t for t in times}) > 1 and all(t[0] is not None or t[1] is not None for t in times):
        ordered = sorted(frames, key=lambda f: (f.acquisition_s or 0.0, f.trigger_time_ms or 0.0, f.instance))
        n = len(per_position)
        runs = [ordered[i : i + n] for i in range(0, len(ordered), n)]
        if all(len({position_key(f) for f in run}) == n for run in runs):
            return (
                [(f"acquisition order run {i + 1}", run) for i, run in enumerate(runs)],
                f"geometry: no per-volume temporal tag, and in acquisition order the {n} slice positions repeat",
            )
    differing = _what_differs(frames)
    raise CaseError(
        f"{name}: {m} images at each of {len(per_position)} slice positions and no temporal tag "
        "(TemporalPositionIdentifier, TriggerTime, AcquisitionNumber, AcquisitionTime) separates them into complete "
        f"volumes: not a dynamic (DCE) series{differing}",
        patient=patient,
        file=where,
    )


def _group_order(group: list[Frame], value) -> tuple:
    times = [f.acquisition_s for f in group if f.acquisition_s is not None]
    instances = [f.instance for f in group]
    return (value if isinstance(value, (int, float)) else (min(times) if times else 0.0), min(instances))


def _what_differs(frames: list[Frame]) -> str:
    bvalues = sorted({f.diffusion_b for f in frames if f.diffusion_b is not None})
    if len(bvalues) > 1 or any(b > 0 for b in bvalues):
        return f"; its images differ in diffusion b-value ({', '.join(f'{b:g}' for b in bvalues)} s/mm2): a diffusion series"
    return ""


def choose_exam(
    series_list: list[Series], *, series: str | None, image_kind: str | None, patient: str | None, where
) -> tuple[list[Volume], list[str]]:
    """The DCE exam's volumes in time order (phase 0 first) and the notes of how they were found."""
    chosen, left, notes = choose_series(series_list, series=series, image_kind=image_kind, patient=patient, where=where)
    volumes: list[Volume] = []
    for s in chosen:
        notes += s.notes
        volumes += s.volumes
    if len(chosen) > 1:
        mapping = ", ".join(f"{s.name} -> phase {i}" for i, s in enumerate(chosen) if len(s.volumes) == 1)
        order = (
            "acquisition time" if all(np.isfinite(s.time_s) for s in chosen) else "SeriesNumber (no AcquisitionTime)"
        )
        notes.append(f"{len(chosen)} series on one grid and protocol ordered by {order}: {mapping or _listing(chosen)}")
    mosaic = [s.name for s in chosen if "MOSAIC" in {t.upper() for t in s.first.image_type}]
    if mosaic:
        notes.append(
            f"{', '.join(mosaic)}: Siemens MOSAIC images (slices tiled in one image) are read as stored, "
            "not unpacked into slices"
        )
    elif not left:
        notes += _derived_note(chosen[0])
    notes += [f"left out {s.name}: {reason}" for s, reason in left]
    return volumes, notes


def choose_series(
    series_list: list[Series], *, series: str | None, image_kind: str | None, patient: str | None, where
) -> tuple[list[Series], list[tuple[Series, str]], list[str]]:
    """The series of the DCE exam (time order, their volumes filled), the series left out with
    the reason, and notes; a CaseError where no series or several candidates remain."""
    notes: list[str] = []
    left: list[tuple[Series, str]] = []
    series_list = _drop_classic_copies(series_list, left)
    if series is not None:
        picked = [s for s in series_list if _matches(s, series)]
        if not picked:
            raise CaseError(
                f"no DICOM series matches {series!r} (SeriesDescription or SeriesNumber); series: "
                f"{_listing(series_list)}",
                patient=patient,
                file=where,
            )
        notes.append(f"{len(picked)} of {len(series_list)} series chosen by {series!r}")
        left += [(s, f"not matching {series!r}") for s in series_list if s not in picked]
        series_list = picked
    if image_kind is not None:
        series_list = _of_kind(series_list, image_kind, left, notes)
    if len(series_list) == 1:
        return [dynamics(series_list[0], image_kind, patient, where)], left, notes
    candidates, refused = [], []
    for s in series_list:
        reason = s.derived()
        if reason is None:
            try:
                dynamics(s, image_kind, patient, where)
                candidates.append(s)
                continue
            except CaseError as exc:
                reason = _multi_echo(s) or exc.problem
        refused.append((s, reason))
    clusters: dict[tuple, list[Series]] = defaultdict(list)
    for s in candidates:
        clusters[_signature(s)].append(s)
    groups = list(clusters.values())
    if len(groups) > 1:
        dynamic = [g for g in groups if acquisitions(g) >= 2]
        if len(dynamic) == 1:
            refused += [
                (s, _not_dynamic(s, candidates, dynamic[0][0])) for g in groups if g is not dynamic[0] for s in g
            ]
            groups = dynamic
    if not groups:
        if len({r for _, r in refused}) == 1:
            raise CaseError(refused[0][1], patient=patient, file=where)
        raise CaseError(
            f"no DCE series among {len(series_list)} DICOM series: " + "; ".join(f"{s.name}: {r}" for s, r in refused),
            patient=patient,
            file=where,
        )
    if len(groups) > 1:
        listing = _listing([s for g in groups for s in g])
        raise CaseError(
            f"{sum(len(g) for g in groups)} DICOM series and no choice of series: {listing}; "
            "set imaging.series (SeriesDescription or SeriesNumber) or the cohort's <timepoint>_series column",
            patient=patient,
            file=where,
        )
    chosen = sorted(groups[0], key=lambda s: (s.time_s, s.first.series_number or 0))
    _refuse_copies(chosen, patient, where)
    return chosen, left + refused, notes


def acquisitions(group: list[Series]) -> int:
    """How many acquisitions the volumes of `group` are: volumes of one acquisition time are one
    (echoes, image types, reconstructions of it); a volume without a time counts alone."""
    times = [v.time_s for s in group for v in s.volumes]
    return len({round(t, 3) for t in times if t is not None}) + sum(t is None for t in times)


def _times(s: Series) -> set[float]:
    return {round(v.time_s, 3) for v in s.volumes if v.time_s is not None}


def _not_dynamic(s: Series, candidates: list[Series], dce: Series) -> str:
    """Why a series outside the DCE group is left out: the series acquired at its time (one
    acquisition, not dynamics) and what differs from the DCE series (grid, protocol)."""
    parts = []
    together = [o for o in candidates if o is not s and _times(o) and _times(o) == _times(s)]
    if together:
        differing = _differences(s, together[0], grid=False)
        parts.append(
            f"acquired at one time with {', '.join(o.name for o in together)}"
            + (f" (differing in {differing})" if differing else "")
            + ": one acquisition, not dynamics"
        )
    elif acquisitions([s]) < 2:
        parts.append("a single acquisition, not dynamics")
    differing = _differences(s, dce, grid=True)
    parts.append(
        f"not the DCE series' grid and protocol ({differing} against {dce.name})"
        if differing
        else "on the DCE series' grid and protocol but not among its dynamics"
    )
    return ("field map: " if _field_map(s) else "") + "; ".join(parts)


def _differences(a: Series, b: Series, *, grid: bool) -> str:
    """The grid and protocol attributes (and image kinds) whose values differ between two series."""
    fa, fb = a.first, b.first
    mine, theirs = dict(fa.protocol), dict(fb.protocol)
    if not grid:
        mine |= dict(fa.kind)
        theirs |= dict(fb.kind)
    shown = [
        f"{name} {_value(mine.get(name))}/{_value(theirs.get(name))}"
        for name in mine
        if mine.get(name) != theirs.get(name)
    ]
    if grid:
        sa, sb = _signature(a)[:5], _signature(b)[:5]
        if sa != sb:
            names = ("orientation", "rows", "columns", "pixel spacing", "slice positions")
            shown.insert(0, "grid (" + ", ".join(n for n, x, y in zip(names, sa, sb) if x != y) + ")")
    return ", ".join(shown)


def _value(value) -> str:
    return "none" if value in (None, "") else f"{value:g}" if isinstance(value, float) else f"'{value}'"


def _field_map(s: Series) -> bool:
    """Does the series say it is a field map (ImageType, protocol or sequence name, description)?"""
    f = s.first
    types = {t.upper() for t in f.image_type}
    names = " ".join(
        [str(dict(f.protocol).get("ProtocolName", "")), str(dict(f.protocol).get("SequenceName", "")), f.description]
    ).lower()
    return bool(types & {"FIELD_MAP", "B0"}) or any(
        k in names for k in ("field_map", "fieldmap", "field map", "fm2d", "b0map")
    )


def _multi_echo(s: Series) -> str | None:
    """The reason for leaving out a series holding several echoes at each slice position, all
    acquired at one time (a field map's magnitude images): one acquisition, not dynamics."""
    echoes = sorted({e for f in s.frames if (e := dict(f.kind).get("EchoNumbers")) is not None})
    times = {round(f.acquisition_s, 3) for f in s.frames if f.acquisition_s is not None}
    if len(echoes) < 2 or len(times) > 1:
        return None
    return (
        ("field map: " if _field_map(s) else "") + f"{len(echoes)} echoes (EchoNumbers {', '.join(echoes)}) at "
        "each slice position acquired at one time: one multi-echo acquisition, not a dynamic series"
    )


def _refuse_copies(chosen: list[Series], patient: str | None, where) -> None:
    """Two series whose volumes were acquired at the same times are copies of one acquisition
    (e.g. a converter's classic and enhanced copies under new UIDs), not two dynamics."""
    seen: dict[float, Series] = {}
    for s in chosen:
        for v in s.volumes:
            if v.time_s is None:
                continue
            other = seen.setdefault(v.time_s, s)
            if other is not s:
                raise CaseError(_same_time(other, s), patient=patient, file=where)


def _same_time(a: Series, b: Series) -> str:
    """Why two series of the DCE group with volumes of one acquisition time are refused: two image
    types or reconstructions of one acquisition (a choice to make), or copies of it."""
    ka, kb = dict(a.first.kind), dict(b.first.kind)
    if a.first.form == b.first.form and ka != kb:
        differing = ", ".join(
            f"{name} '{ka.get(name, '')}'/'{kb.get(name, '')}'"
            for name in sorted(set(ka) | set(kb))
            if ka.get(name) != kb.get(name)
        )
        return (
            f"{a.name} and {b.name} hold volumes of the same acquisition time in two image types or reconstructions "
            f"({differing}): one acquisition, not two dynamics; set imaging.image_kind to the one to read "
            "(or imaging.series)"
        )
    return (
        f"{a.name} and {b.name} hold volumes of the same acquisition time: copies of one acquisition, not two "
        "dynamics; keep one, or set imaging.series"
    )


def _of_kind(series_list: list[Series], image_kind: str, left: list, notes: list[str]) -> list[Series]:
    """The series holding images of `image_kind` (imaging.image_kind), where only some do; the
    others are left out (e.g. one of two reconstructions exported per dynamic)."""
    wanted = image_kind.strip().lower()
    of_kind = [s for s in series_list if any(v.strip().lower() == wanted for f in s.frames for _, v in f.kind)]
    if not of_kind or len(of_kind) == len(series_list):
        return series_list
    notes.append(f"{len(of_kind)} of {len(series_list)} series hold images of kind '{image_kind}' (imaging.image_kind)")
    left += [(s, f"no images of kind '{image_kind}' (imaging.image_kind)") for s in series_list if s not in of_kind]
    return of_kind


def _derived_note(s: Series) -> list[str]:
    reason = s.derived()
    return [f"{s.name} is not original images ({reason}) but the only series: read as given"] if reason else []


def _drop_classic_copies(series_list: list[Series], left: list) -> list[Series]:
    forms = defaultdict(set)
    for s in series_list:
        forms[s.first.series_uid].add(s.first.form)
    kept = []
    for s in series_list:
        if s.first.form == "classic" and "enhanced" in forms[s.first.series_uid]:
            left.append(
                (
                    s,
                    "in the folder twice, as classic and as Enhanced MR: the enhanced copy is read "
                    "(per-frame geometry and time), this classic copy left out",
                )
            )
            continue
        kept.append(s)
    return kept


def _matches(s: Series, wanted: str) -> bool:
    text = wanted.strip()
    try:
        number = float(text)  # a cohort column of series numbers may come back as floats
    except ValueError:
        number = None
    if number is not None and number.is_integer():
        return s.first.series_number == int(number)
    return fnmatch.fnmatch(s.first.description.strip().lower(), text.lower())


def _signature(s: Series) -> tuple:
    first = s.volumes[0].frames[0] if s.volumes else s.first
    depths = tuple(round(float(np.dot(normal(first.orientation), f.position)), 1) for f in s.volumes[0].frames)
    return (
        tuple(np.round(first.orientation, 3)),
        first.rows,
        first.columns,
        tuple(round(v, 3) for v in first.pixel_spacing),
        depths,
        first.protocol,
    )


def _listing(series_list: list[Series]) -> str:
    return "; ".join(
        f"{s.name} ({len(s.frames)} images" + (f", {len(s.volumes)} volume(s))" if s.volumes else ")")
        for s in series_list
    )

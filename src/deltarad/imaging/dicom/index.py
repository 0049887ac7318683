"""Index a DICOM export tree: patients, studies (by date), series, each study's DCE exam, and a
draft cohort (the design's timepoints in date order: by default baseline = the first exam,
early = the second; a design of three timepoints takes the third as well).

A study's DCE exam is what `read_exam` would take from the study's series (the rules of
deltarad.imaging.dicom.grouping). Its image path is the deepest folder holding all its files;
when that folder holds other series that would change the choice, the `<timepoint>_series`
column names the series (SeriesNumber or SeriesDescription); when even that cannot single it out
(two studies' files mixed in one folder), the exam is left out and index.csv says why.

No DICOM identifier is written unless `with_ids`: patients are keyed pseudonyms (HMAC-SHA-256 of
the PatientID under the study key, deltarad.imaging.dicom.pseudonyms), the same across runs and
trees under the same key, not recomputable without it; studies are numbered in date order (S1,
S2, ...); no names, UIDs or dates.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deltarad.design import BASELINE, EARLY
from deltarad.errors import CaseError, DeltaradError
from deltarad.imaging.dicom.finding import dicom_files
from deltarad.imaging.dicom.frames import read_frames
from deltarad.imaging.dicom.grouping import Series, choose_series, dynamics, split_series
from deltarad.imaging.dicom.headers import Frame
from deltarad.imaging.dicom.pseudonyms import Pseudonyms

COHORT_COLUMNS = [
    "patient_id",
    "outcome",
    "ultrasound",
    "baseline_image",
    "baseline_series",
    "baseline_mask",
    "early_image",
    "early_series",
    "early_mask",
    "baseline_mask_reader2",
    "early_mask_reader2",
]


def cohort_columns(timepoints: tuple[str, ...]) -> list[str]:
    """The draft cohort's columns for `timepoints` (COHORT_COLUMNS for the study's two)."""
    return [
        "patient_id",
        "outcome",
        "ultrasound",
        *(f"{tp}_{c}" for tp in timepoints for c in ("image", "series", "mask")),
        *(f"{tp}_mask_reader2" for tp in timepoints),
    ]


@dataclass
class Exam:
    """One study's DCE exam as the cohort will point at it."""

    study: str
    image: Path | None
    series: str | None
    problem: str | None = None


def index_tree(
    root: Path,
    *,
    with_ids: bool = False,
    pseudonyms: Pseudonyms | None = None,
    series: str | None = None,
    image_kind: str | None = None,
    timepoints: tuple[str, ...] = (BASELINE, EARLY),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(draft cohort, index) of the DICOM tree at `root`, the exams assigned to `timepoints` in
    date order; see the module docstring. Patients are named by `pseudonyms` (under the study
    key), or by their PatientID with `with_ids`."""
    pseudonym: Callable[[str], str]
    if with_ids:
        pseudonym = str  # the PatientID as it is
    elif pseudonyms is not None:
        pseudonym = pseudonyms
    else:
        raise DeltaradError("patients are named by keyed pseudonyms: give the study's Pseudonyms (or with_ids)")
    columns = cohort_columns(timepoints)
    frames, rows = _scan(root)
    by_patient: dict[str, list[Frame]] = defaultdict(list)
    for f in frames:  # without a PatientID, a study cannot be matched to others: it stands alone
        by_patient[f.patient_id or f"no PatientID, study {f.study_uid}"].append(f)
    cohort = []
    for patient_id in sorted(by_patient, key=pseudonym):
        shown = pseudonym(patient_id)
        if not by_patient[patient_id][0].patient_id:
            rows.append(
                {
                    "patient": shown,
                    "role": "note",
                    "why": "no PatientID in the DICOM: this study stands alone in the draft cohort",
                }
            )
        studies: dict[str, list[Frame]] = defaultdict(list)
        for f in by_patient[patient_id]:
            studies[f.study_uid].append(f)
        ordered = sorted(studies.values(), key=lambda fs: (fs[0].study_date, min((f.acquisition_s or 0.0) for f in fs)))
        exams: list[Exam] = []
        for number, study_frames in enumerate(ordered, start=1):
            study = {"patient": shown, "study": f"S{number}"}
            if with_ids:
                study |= {
                    "patient_id": patient_id,
                    "study_uid": study_frames[0].study_uid,
                    "study_date": study_frames[0].study_date,
                }
            exam, lines = _study(study_frames, frames, study, series, image_kind, with_ids)
            if exam is not None and exam.image is not None:
                exams.append(exam)
            rows += lines
        row = {c: "" for c in columns} | {"patient_id": shown}
        for timepoint, exam in zip(timepoints, exams):
            row[f"{timepoint}_image"] = str(exam.image)
            row[f"{timepoint}_series"] = exam.series or ""
        taken = ", ".join(timepoints[:-1]) + f" and {timepoints[-1]}"
        count = {2: "two", 3: "three", 4: "four"}.get(len(timepoints), str(len(timepoints)))
        for extra, exam in enumerate(exams[len(timepoints) :], start=len(timepoints) + 1):
            rows.append(
                {
                    "patient": shown,
                    "study": exam.study,
                    "role": "left out",
                    "why": f"DCE exam {extra} in date order: the cohort takes the first {count} as {taken}",
                }
            )
        cohort.append(row)
    index = pd.DataFrame(rows)
    order = [
        "patient",
        "study",
        *(["patient_id", "study_uid", "study_date", "series_uid"] if with_ids else []),
        "series_number",
        "series_description",
        "form",
        "images",
        "what",
        "role",
        "why",
        "folder",
    ]
    index = index.reindex(
        columns=[c for c in order if c in index.columns] + [c for c in index.columns if c not in order]
    )
    return pd.DataFrame(cohort, columns=columns), index


def _scan(root: Path) -> tuple[list[Frame], list[dict]]:
    """Every frame under `root`; one index row per file that could not be read (the scan goes on)."""
    if not root.exists():
        raise DeltaradError("folder not found", file=root)
    frames, rows = [], []
    for file in dicom_files(root):
        try:
            found, _ = read_frames([file], patient=None)
        except CaseError as exc:
            rows.append({"role": "left out", "why": exc.problem, "folder": str(file)})
            continue
        frames += found
    if not frames:
        raise DeltaradError("no DICOM images found", file=root)
    return frames, rows


def _study(
    study_frames: list[Frame],
    all_frames: list[Frame],
    study: dict,
    wanted: str | None,
    image_kind: str | None,
    with_ids: bool,
) -> tuple[Exam | None, list[dict]]:
    series_list = split_series(study_frames)
    lines = {id(s): {**study, **_describe(s, image_kind, with_ids)} for s in series_list}
    try:
        chosen, left, _ = choose_series(
            series_list, series=wanted, image_kind=image_kind, patient=study["patient"], where=None
        )
    except CaseError as exc:
        for line in lines.values():
            line |= {"role": "left out", "why": f"no DCE exam chosen in this study: {exc.problem}"}
        return None, list(lines.values())
    exam = _exam_path(chosen, all_frames, wanted, image_kind, study)
    volumes = [v for s in chosen for v in s.volumes]
    for s in chosen:
        phases = ", ".join(str(i) for i, v in enumerate(volumes) if any(v is w for w in s.volumes))
        taken = f"DCE exam of {len(volumes)} phase(s); this series is phase(s) {phases}"
        lines[id(s)] |= {
            "role": "DCE" if exam.problem is None else "left out",
            "why": exam.problem or taken + (f"; read with series {exam.series!r}" if exam.series else ""),
        }
    for s, reason in left:
        lines[id(s)] |= {"role": "left out", "why": reason}
    return exam, list(lines.values())


def _describe(s: Series, image_kind: str | None, with_ids: bool) -> dict:
    first = s.first
    folders = {f.file.parent for f in s.frames}
    what = f"{first.rows} x {first.columns}, {len({f.position for f in s.frames})} slice positions"
    try:
        alone = dynamics(Series(list(s.frames)), image_kind, None, None)
        what += f", {len(alone.volumes)} volume(s)"
    except CaseError as exc:
        what += f" ({exc.problem.split(': ', 1)[-1]})"
    return {
        "series_number": first.series_number,
        "series_description": first.description,
        "form": first.form,
        "images": len(s.frames),
        "what": what,
        "folder": str(_common_folder(folders)),
        **({"series_uid": first.series_uid} if with_ids else {}),
    }


def _exam_path(
    chosen: list[Series], all_frames: list[Frame], wanted: str | None, image_kind: str | None, study: dict
) -> Exam:
    """The folder `read_exam` takes the exam from, and the series setting it needs, if any."""
    mine = {(f.file, f.frame) for s in chosen for f in s.frames}
    folder = _common_folder({f.file.parent for s in chosen for f in s.frames})
    inside = [f for f in all_frames if folder == f.file.parent or folder in f.file.parents]
    numbers = {s.first.series_number for s in chosen}
    descriptions = {s.first.description for s in chosen}
    options = (
        [wanted]
        if wanted
        else [
            None,
            *(str(n) for n in numbers if len(numbers) == 1 and n is not None),
            *(d for d in descriptions if len(descriptions) == 1 and d),
        ]
    )
    for option in options:
        try:
            picked, _, _ = choose_series(
                split_series(inside), series=option, image_kind=image_kind, patient=study["patient"], where=folder
            )
        except CaseError:
            continue
        if {(f.file, f.frame) for s in picked for f in s.frames} == mine:
            return Exam(study["study"], folder, option)
    return Exam(
        study["study"],
        None,
        None,
        problem=f"its folder {folder} holds other images that no series setting "
        "tells apart (files of several studies mixed?)",
    )


def _common_folder(folders: set[Path]) -> Path:
    return Path(os.path.commonpath([str(p) for p in folders]))

"""Write a whole synthetic cohort: images, segmentations, clinical table and study file."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from deltarad.atomic import write_csv, write_text
from deltarad.design import BASELINE, EARLY
from deltarad.errors import DeltaradError
from deltarad.synthetic.anatomy import make_anatomy
from deltarad.synthetic.clinical import (
    CATEGORICAL_COLUMNS,
    CLINICAL_COLUMNS,
    draw_clinical,
)
from deltarad.synthetic.dce import Scanner, phase_times_s, render_exam
from deltarad.synthetic.dicom_writer import ExamInfo, write_dce_series
from deltarad.synthetic.grid import Grid
from deltarad.synthetic.kinetics import KINETIC_PHASES, kinetic_phase_times
from deltarad.synthetic.noise import sigma_in_voxels, smooth_field
from deltarad.synthetic.readers import READER_1, READER_2, draw_mask, write_label_nrrd
from deltarad.synthetic.response import draw_response
from deltarad.synthetic.tumour import draw_tumour

log = logging.getLogger(__name__)

DEMO_SIZE = (96, 96, 40)
DEMO_SPACING_MM = (1.2, 1.2, 1.5)
DEMO_PHASES = 4
REALISTIC_SIZE = (256, 256, 120)
REALISTIC_SPACING_MM = (1.0, 1.0, 1.0)
REALISTIC_PHASES = 8
ANALYSED_PHASE = 3
"""The study analyses the 3rd post-injection phase (phase index 3, TemporalPositionIdentifier 4)."""
EXAM_DATES = {BASELINE: "20000101", EARLY: "20000212", "post": "20000422"}
"""Fake calendar: the early exam 6 weeks (two 21-day courses) after baseline, the post exam
(three-timepoint design) 10 weeks after that."""
STUDY_DESIGN, THREE_TIMEPOINT = "study", "three-timepoint"
#: The designs the generator writes: the study's own (no `design:` section), and a three-timepoint,
#: three-band study (I-SPY-like exams, Braman-like bands): written as the study file's `design:`.
DESIGNS: dict[str, dict | None] = {
    STUDY_DESIGN: None,
    THREE_TIMEPOINT: {
        "timepoints": [BASELINE, EARLY, "post"],
        "deltas": [[BASELINE, EARLY], [BASELINE, "post"]],
        "regions": {
            "intratumoral": "tumour",
            "ring_0_3": {"band_mm": [0, 3]},
            "ring_3_6": {"band_mm": [3, 6]},
            "ring_6_9": {"band_mm": [6, 9]},
        },
        "references": ["ultrasound"],
    },
}
TUMOUR_TEXTURE_MM = 1.0
"""Correlation length of the tumour's enhancement pattern (mm)."""
TUMOUR_BED_SHARE = 0.25
"""Enhancement of the treated tumour bed (fibrosis) as a share of the residual tumour's peak."""


@dataclass(frozen=True)
class _Settings:
    seed: int
    effect: float
    size: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    n_phases: int
    centres: int
    scanners: tuple[Scanner, ...]
    tissue_kinetics: bool = False
    timepoints: tuple[str, ...] = (BASELINE, EARLY)


def generate_cohort(
    out_dir: Path,
    n_patients: int = 187,
    seed: int = 0,
    *,
    effect: float = 1.0,
    shape: tuple[int, int, int] | None = None,
    spacing_mm: tuple[float, float, float] | None = None,
    n_phases: int | None = None,
    realistic: bool = False,
    reader2_fraction: float = 0.4,
    centres: int = 1,
    centre_effect: float = 0.0,
    workers: int | None = None,
    tissue_kinetics: bool = False,
    design: str = STUDY_DESIGN,
) -> Path:
    """Write a synthetic longitudinal breast DCE-MRI cohort into `out_dir`; return its study.yaml.

    `shape` is (columns, rows, slices) in voxels and `spacing_mm` (column, row, slice) spacing;
    left out they are the demo's 96 x 96 x 40 at 1.2 x 1.2 x 1.5 mm with 4 phases, or with
    `realistic` a 256 x 256 x 120 exam at 1 mm with the study's 8 phases. `effect` scales how
    much treatment response differs by outcome (see deltarad.synthetic.response; 0 = none).
    Reader 2 segments round(reader2_fraction * n_patients) patients. With `centres` > 1 each
    patient belongs to a centre whose scanner gain, offset and noise differ by `centre_effect`
    (0 = identical scanners). Patients are written by `workers` processes (None = one per
    CPU). The same arguments give byte-identical files whatever `workers`; patient i is the
    same whatever `n_patients` (apart from whether reader 2 read it) and whatever `effect`
    (apart from its early exam). `tissue_kinetics` draws contrast curves by tissue, a tumour with
    a washout core and a persistent rim, at phases every 80 s (7 unless `n_phases` says;
    deltarad.synthetic.kinetics), for FTV and kinetic maps; off, the exams are as before.
    `design` (DESIGNS): the study's two exams, or THREE_TIMEPOINT:
    a third exam (`post`, a second course of response after the early exam) and the study file's
    `design:` section of three timepoints, two deltas and three peritumoral bands; its baseline and
    early exams are the study design's.
    """
    if design not in DESIGNS:
        raise DeltaradError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
    timepoints = tuple((DESIGNS[design] or {}).get("timepoints", (BASELINE, EARLY)))
    workers = min(os.cpu_count() or 1 if workers is None else workers, max(n_patients, 1))
    sx, sy, sz = (int(v) for v in (shape or (REALISTIC_SIZE if realistic else DEMO_SIZE)))
    dx, dy, dz = (float(v) for v in (spacing_mm or (REALISTIC_SPACING_MM if realistic else DEMO_SPACING_MM)))
    size, spacing = (sx, sy, sz), (dx, dy, dz)
    phases = int(n_phases or (KINETIC_PHASES if tissue_kinetics else REALISTIC_PHASES if realistic else DEMO_PHASES))
    _check(n_patients, size, spacing, phases, reader2_fraction, centres, effect, centre_effect, workers)

    settings = _Settings(
        seed,
        effect,
        size,
        spacing,
        phases,
        centres,
        _scanners(seed, centres, centre_effect),
        tissue_kinetics,
        timepoints,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = np.random.default_rng([seed, 2]).permutation(n_patients)[: round(reader2_fraction * n_patients)]
    with_reader2 = set(chosen.tolist())

    log.info(
        "synthetic cohort: %d patients, %s voxels of %s mm, %d phases, effect %.2g -> %s",
        n_patients,
        "x".join(map(str, size)),
        "x".join(f"{s:g}" for s in spacing),
        phases,
        effect,
        out_dir,
    )
    start = time.perf_counter()
    rows: dict[int, dict] = {}
    step = max(1, n_patients // 20)

    def progress(i: int, row: dict) -> None:
        rows[i] = row
        if len(rows) % step == 0 or len(rows) == n_patients:
            log.info(
                "synthetic cohort: %d/%d patients written (%.1f s)", len(rows), n_patients, time.perf_counter() - start
            )

    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(write_patient, out_dir, settings, i, i in with_reader2): i for i in range(n_patients)
            }
            for future in as_completed(futures):
                progress(futures[future], future.result())
    else:
        for i in range(n_patients):
            progress(i, write_patient(out_dir, settings, i, i in with_reader2))

    columns = ["patient_id", "outcome", "ultrasound", *(["centre"] if centres > 1 else []), *CLINICAL_COLUMNS]
    cohort = pd.DataFrame([rows[i] for i in range(n_patients)])
    image_columns = [f"{tp}_{c}" for c in ("image", "mask", "mask_reader2") for tp in timepoints]
    write_csv(out_dir / "cohort.csv", cohort[[*columns, *image_columns]])
    study = {
        "cohort": "cohort.csv",
        "outcome": "outcome",
        "ultrasound": "ultrasound",
        "clinical": CLINICAL_COLUMNS,
        "categorical": CATEGORICAL_COLUMNS,
        "imaging": {"phase": min(ANALYSED_PHASE, phases - 1)},
    }
    declared = DESIGNS[design]
    if declared is not None:
        study.pop("imaging")  # the design names the image
        study["design"] = {**declared, "image": {"phase": min(ANALYSED_PHASE, phases - 1)}}
    header = f"# Synthetic cohort written by deltarad.synthetic (seed {seed}, effect {effect:g}); no real patient.\n"
    study_path = write_text(out_dir / "study.yaml", header + yaml.safe_dump(study, sort_keys=False))
    log.info(
        "synthetic cohort: done in %.1f s, %d pCR of %d",
        time.perf_counter() - start,
        int(cohort["outcome"].sum()),
        n_patients,
    )
    return study_path


def write_patient(out_dir: Path, settings: _Settings, index: int, reader2: bool) -> dict:
    """Draw and write one patient; return the patient's cohort row (paths relative to out_dir)."""
    patient_id = f"DR{index + 1:04d}"
    streams = np.random.SeedSequence([settings.seed, 1, index]).spawn(6)
    rng_clinical, rng_anatomy, rng_tumour, rng_response, rng_baseline, rng_early = map(np.random.default_rng, streams)

    row = {"patient_id": patient_id, **draw_clinical(rng_clinical)}
    centre = int(rng_clinical.integers(settings.centres))
    if settings.centres > 1:
        row["centre"] = f"C{centre + 1}"

    width, height, depth = (n * s for n, s in zip(settings.size, settings.spacing_mm))
    x0 = 10.0 if row["side"] == "left" else -(width + 10.0)  # LPS: the patient's left is +x
    grid = Grid(settings.size, settings.spacing_mm, (x0, -0.6 * height, -0.5 * depth))

    anatomy = make_anatomy(grid, rng_anatomy, row["side"])
    baseline = draw_tumour(grid, anatomy.breast_interior, 10.0 * row["diameter_cm"], rng_tumour)
    texture = smooth_field(rng_tumour, grid.shape, sigma_in_voxels(TUMOUR_TEXTURE_MM, grid.spacing_zyx))
    early = baseline.after(draw_response(rng_response, row["outcome"], settings.effect))

    # acquisition starts (what the headers state) and the times after injection the signal is drawn at
    starts, times = (
        kinetic_phase_times(settings.n_phases) if settings.tissue_kinetics else (phase_times_s(settings.n_phases),) * 2
    )
    baseline_geometry = baseline.geometry(grid)
    early_geometry = early.geometry(grid)
    exams = {
        BASELINE: (baseline, baseline_geometry, rng_baseline, None),
        EARLY: (early, early_geometry, rng_early, (baseline_geometry[0] < 0) & (early_geometry[0] >= 0)),
    }
    if len(settings.timepoints) > 2:  # a further course of response after the early exam
        rng_post_response, rng_post = map(
            np.random.default_rng, np.random.SeedSequence([settings.seed, 5, index]).spawn(2)
        )
        post = early.after(draw_response(rng_post_response, row["outcome"], settings.effect))
        post_geometry = post.geometry(grid)
        exams[settings.timepoints[2]] = (
            post,
            post_geometry,
            rng_post,
            (baseline_geometry[0] < 0) & (post_geometry[0] >= 0),
        )
    for e, (exam, (tumour, geometry, rng, bed)) in enumerate(exams.items()):
        phases = render_exam(
            grid,
            anatomy,
            tumour,
            geometry,
            texture,
            times,
            rng,
            settings.scanners[centre],
            tumour_bed=bed,
            bed_enhancement=TUMOUR_BED_SHARE * tumour.peak_enhancement,
            tissue_kinetics=settings.tissue_kinetics,
        )
        info = ExamInfo(
            patient_id=patient_id,
            age_years=row["age"],
            exam=exam,
            study_date=EXAM_DATES[exam],
            uid_seed=f"deltarad-synthetic-{settings.seed}",
            manufacturer=settings.scanners[centre].manufacturer,
            institution=f"Synthetic Centre {centre + 1}",
        )
        row[f"{exam}_image"] = f"patients/{patient_id}/{exam}/DCE"
        write_dce_series(out_dir / row[f"{exam}_image"], phases, grid, starts, info)
        for r, (reader, column) in enumerate(((READER_1, f"{exam}_mask"), (READER_2, f"{exam}_mask_reader2"))):
            if reader is READER_2 and not reader2:
                row[column] = ""
                continue
            rng_reader = np.random.default_rng([settings.seed, 4, index, e, r])
            mask = draw_mask(geometry[0], anatomy.breast_interior, grid, reader, rng_reader)
            name = "tumour_reader2.nrrd" if reader is READER_2 else "tumour_reader1.nrrd"
            row[column] = f"patients/{patient_id}/{exam}/{name}"
            write_label_nrrd(out_dir / row[column], mask, grid)
    return row


def _scanners(seed: int, centres: int, centre_effect: float) -> tuple[Scanner, ...]:
    """Per centre: gain exp(0.25 e N), offset 30 e N, noise factor exp(0.3 e N) for strength e."""
    scanners = []
    for c in range(centres):
        g, o, n = np.random.default_rng([seed, 3, c]).standard_normal(3)
        scanners.append(
            Scanner(
                gain=float(np.exp(0.25 * centre_effect * g)),
                offset=float(30.0 * centre_effect * o),
                noise=float(np.exp(0.3 * centre_effect * n)),
                manufacturer=f"deltarad synthetic scanner {c + 1}",
            )
        )
    return tuple(scanners)


def _check(n_patients, size, spacing, phases, reader2_fraction, centres, effect, centre_effect, workers) -> None:
    problems = []
    if n_patients < 1:
        problems.append(f"n_patients must be >= 1 (got {n_patients})")
    if len(size) != 3 or min(size[:2]) < 16 or size[2] < 4:
        problems.append(f"shape must be (columns >= 16, rows >= 16, slices >= 4) (got {size})")
    if len(spacing) != 3 or min(spacing) <= 0:
        problems.append(f"spacing_mm must be three positive numbers (got {spacing})")
    if phases < 2:
        problems.append(f"n_phases must be >= 2: pre-contrast and at least one post-contrast (got {phases})")
    if not 0 <= reader2_fraction <= 1:
        problems.append(f"reader2_fraction must be within [0, 1] (got {reader2_fraction})")
    if centres < 1:
        problems.append(f"centres must be >= 1 (got {centres})")
    if effect < 0 or centre_effect < 0:
        problems.append("effect and centre_effect must be >= 0")
    if workers < 1:
        problems.append(f"workers must be >= 1 (got {workers})")
    if problems:
        raise DeltaradError("; ".join(problems))


def add_kinetics(study_file: Path) -> None:
    """Add `kinetics: {}` (I-SPY's defaults; the phase times from the DICOM headers) to a generated
    study file, and the reference models ultrasound, ΔFTV and volume change of every delta pair."""
    from deltarad.config import load_study
    from deltarad.kinetics import kinetic_variables

    text = study_file.read_text(encoding="utf-8")
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    study = yaml.safe_load(text)
    study["kinetics"] = {}
    pairs = load_study(study_file).design.deltas
    design = study.setdefault("design", {})
    design["references"] = [study.get("ultrasound", "ultrasound"), *kinetic_variables(pairs)]
    write_text(study_file, header + yaml.safe_dump(study, sort_keys=False))

"""What the kinetics stage costs inside extraction: `deltarad extract` on the perf cohort (issue 15's
256 x 256 x 112 exams of 0.9 x 0.9 x 1.2 mm, with contrast curves by tissue: 7 phases timed in their
DICOM headers) without and with the study file's `kinetics: {}`, each from an empty store on the
embedded pool of `--workers` processes; the issue's target is at most 30 % more with kinetics.
In the same run, the competent plain way (benchmarks/extraction.py: a process per worker, SimpleITK
N4, preCrop; radiomics only, it has no kinetics) on the same exams, with the tumours' bins of width
25 per image type (benchmarks/graylevels.py): the target is >= 10x with kinetics on.

    python benchmarks/kinetics.py [--patients 2] [--workers 2] [--repeats 2]

The two runs alternate `--repeats` times and the fastest of each counts (the machine is shared);
the competent way runs `--repeats` times too, its fastest counting.
A second figure, steadier on a busy machine: the work unit itself (features.extract._extract_unit,
every exam once, in this process, one thread), without and with kinetics, alternating, fastest of
`--repeats`.
Writes benchmarks/results/kinetics.json and prints the summary. The cohort is generated once
(benchmarks/results/cohort_kinetic_256x256x112_<n>/) and reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import extraction  # noqa: E402
import graylevels  # noqa: E402
from deltarad.cohort import load_cohort  # noqa: E402
from deltarad.config import load_study  # noqa: E402
from deltarad.kinetics import KineticsSettings  # noqa: E402
from deltarad.parallel import ParallelSettings, machine_cores  # noqa: E402
from deltarad.synthetic import generate_cohort  # noqa: E402
from deltarad.workflow import extract_features  # noqa: E402

RESULTS = HERE / "results"
EXAM_SHAPE = (256, 256, 112)
EXAM_SPACING_MM = (0.9, 0.9, 1.2)


def kinetic_cohort(n_patients: int) -> Path:
    folder = RESULTS / f"cohort_kinetic_256x256x112_{n_patients}"
    study = folder / "study.yaml"
    if not study.is_file():
        generate_cohort(
            folder,
            n_patients=n_patients,
            seed=0,
            shape=EXAM_SHAPE,
            spacing_mm=EXAM_SPACING_MM,
            workers=machine_cores(),
            tissue_kinetics=True,
        )
    return study


def timed_extraction(study_path: Path, out_dir: Path, workers: int, kinetics: KineticsSettings | None) -> dict:
    study = load_study(study_path).model_copy(update={"kinetics": kinetics})
    cohort = load_cohort(study, require_outcome=False)
    shutil.rmtree(out_dir, ignore_errors=True)
    start = time.perf_counter()
    done = extract_features(study, cohort, out_dir, progress=False, parallel=ParallelSettings(workers=workers))
    wall = time.perf_counter() - start
    if len(done.failures):
        raise RuntimeError(f"failed exams: {done.failures.to_dict('records')}")
    return {
        "wall_s": wall,
        "exams": int(done.features[["patient_id", "timepoint"]].drop_duplicates().shape[0]),
        "kinetic_rows": 0 if done.kinetics is None else len(done.kinetics),
    }


def timed_units(study_path: Path, kinetics: KineticsSettings | None, out_dir: Path) -> float:
    """Seconds for the work unit of every exam of the cohort, in this process."""
    from deltarad.features.extract import _extract_unit

    study = load_study(study_path)
    settings = study.imaging.model_copy(update={"params": study.params_path})
    units = [
        (row, tp)
        for row in load_cohort(study, require_outcome=False).to_dict("records")
        for tp in study.design.timepoints
    ]
    start = time.perf_counter()
    for unit in units:
        _extract_unit(unit, settings=settings, regions_dir=out_dir, design=study.design, kinetics=kinetics)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    study = kinetic_cohort(args.patients)
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        runs["off"].append(timed_extraction(study, RESULTS / "kinetics_off", args.workers, None))
        runs["on"].append(timed_extraction(study, RESULTS / "kinetics_on", args.workers, KineticsSettings()))
    without, with_ = (min(runs[k], key=lambda r: r["wall_s"]) for k in ("off", "on"))
    without["all_wall_s"], with_["all_wall_s"] = ([r["wall_s"] for r in runs[k]] for k in ("off", "on"))
    overhead = 100.0 * (with_["wall_s"] - without["wall_s"]) / without["wall_s"]
    unit_runs: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        unit_runs["off"].append(timed_units(study, None, RESULTS / "kinetics_units"))
        unit_runs["on"].append(timed_units(study, KineticsSettings(), RESULTS / "kinetics_units"))
    unit_overhead = 100.0 * (min(unit_runs["on"]) - min(unit_runs["off"])) / min(unit_runs["off"])
    competent_runs = [extraction.competent_pyradiomics(study, args.workers)["wall_s"] for _ in range(args.repeats)]
    competent_s = min(competent_runs)
    bins = {name: int(np.median(c["bins"])) for name, c in graylevels.bins_per_image_type(study).items()}
    result = {
        "patients": args.patients,
        "workers": args.workers,
        "exam_shape": EXAM_SHAPE,
        "without_kinetics": without,
        "with_kinetics": with_,
        "overhead_percent": overhead,
        "units_s": unit_runs,
        "units_overhead_percent": unit_overhead,
        "target_percent": 30.0,
        "competent_s": competent_s,
        "competent_all_s": competent_runs,
        "ratio_with_kinetics": competent_s / with_["wall_s"],
        "median_bins_per_image_type": bins,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kinetics.json").write_text(json.dumps(result, indent=2))
    print(
        f"extraction of {without['exams']} exams ({EXAM_SHAPE[0]}x{EXAM_SHAPE[1]}x{EXAM_SHAPE[2]}) on "
        f"{args.workers} workers: {without['wall_s']:.1f} s without kinetics, {with_['wall_s']:.1f} s with "
        f"({with_['kinetic_rows']} kinetics rows): {overhead:+.1f} % (target <= 30 %); the work units alone, in "
        f"one process: {min(unit_runs['off']):.1f} s without, {min(unit_runs['on']):.1f} s with: {unit_overhead:+.1f} %"
    )
    print(
        f"the competent plain way, same exams and run: {competent_s:.1f} s, {competent_s / with_['wall_s']:.1f}x "
        f"deltarad with kinetics (target >= 10x); tumour bins of width 25, median per image type: "
        + ", ".join(f"{name} {n}" for name, n in bins.items())
    )


if __name__ == "__main__":
    main()

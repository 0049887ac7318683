"""What the kinetics stage costs inside extraction: `deltarad extract` on the perf cohort (issue 15's
256 x 256 x 112 exams of 0.9 x 0.9 x 1.2 mm, with contrast curves by tissue: 7 phases timed in their
DICOM headers) without and with the study file's `kinetics: {}`, each from an empty store on the
embedded pool of `--workers` processes; the issue's target is at most 30 % more with kinetics.
In the same run, the competent plain way (benchmarks/extraction.py: a process per worker, SimpleITK
N4, preCrop; radiomics only, it has no kinetics) on the same exams, with the tumours' bins of width
25 per image type (benchmarks/graylevels.py): the target is >= 10x with kinetics on.

    python benchmarks/kinetics.py [--patients 2] [--workers 2] [--repeats 2] [--bins 30 100 300]

`--bins`: the same measurement on copies of the cohort whose exams have every phase scaled by one
factor so that the analysed phase's reader-1 tumour spans that many bins of width 25 after N4 and
resampling (benchmarks/graylevels.py's rule; real 12-16-bit exams span 30-300, the synthetic ones
about 35; PE and SER do not change with the scale), written as one NRRD file per phase (int16 for
even-numbered patients, float32 for odd ones) and timed by the study file's kinetics.times_s.

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
import pandas as pd
import SimpleITK as sitk
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import extraction  # noqa: E402
import graylevels  # noqa: E402
from deltarad.cohort import load_cohort  # noqa: E402
from deltarad.config import load_study  # noqa: E402
from deltarad.imaging.io import ExamPhaseReader  # noqa: E402
from deltarad.kinetics import KineticsSettings  # noqa: E402
from deltarad.parallel import ParallelSettings, machine_cores  # noqa: E402
from deltarad.synthetic import generate_cohort  # noqa: E402
from deltarad.synthetic.kinetics import kinetic_phase_times  # noqa: E402
from deltarad.workflow import extract_features  # noqa: E402

RESULTS = HERE / "results"
EXAM_SHAPE, EXAM_SPACING_MM = graylevels.EXAM_SHAPE, graylevels.EXAM_SPACING_MM  # issue 15's exams


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


def scaled_kinetic_cohort(bins: int, n_patients: int) -> Path:
    """The kinetic cohort with each exam's phases scaled by one factor (module docstring), written
    once as a folder of phase_0000.nrrd ... per exam."""
    base = kinetic_cohort(n_patients)
    folder = RESULTS / f"cohort_kinetic_{bins}bins_256x256x112_{n_patients}"
    study_path = folder / "study.yaml"
    if study_path.is_file():
        return study_path
    shutil.rmtree(folder, ignore_errors=True)
    study = load_study(base)
    settings = study.imaging.model_copy(update={"params": None})
    cohort = pd.read_csv(base.parent / "cohort.csv", dtype={"patient_id": str}, keep_default_na=False)
    for index, row in cohort.iterrows():
        for timepoint in study.design.timepoints:
            phases = ExamPhaseReader(base.parent / row[f"{timepoint}_image"])
            analysed = sitk.GetArrayViewFromImage(phases[settings.phase]).astype(np.float64)
            tumour = analysed[
                sitk.GetArrayViewFromImage(sitk.ReadImage(str(base.parent / row[f"{timepoint}_mask"]))) > 0
            ]
            factor = bins * graylevels.BIN_WIDTH / float(tumour.max() - tumour.min())
            exam = folder / "patients" / row["patient_id"] / timepoint / "DCE"
            exam.mkdir(parents=True, exist_ok=True)
            integer = index % 2 == 0
            for _ in range(2):  # N4 and resampling change the tumour's range: the factor is corrected once
                for k in range(len(phases)):
                    values = sitk.GetArrayViewFromImage(phases[k]).astype(np.float64)
                    if integer and values.max() * factor > np.iinfo(np.int16).max:
                        raise RuntimeError(f"{bins} bins overflow int16 in {row['patient_id']} {timepoint} phase {k}")
                    graylevels._write_scaled(values, factor, phases[k], exam / f"phase_{k:04d}.nrrd", integer=integer)
                case = {
                    "patient_id": row["patient_id"],
                    f"{timepoint}_image": str(exam),
                    f"{timepoint}_mask": str(base.parent / row[f"{timepoint}_mask"]),
                }
                factor *= bins / graylevels._prepared_bins(case, timepoint, settings)
            cohort.loc[index, f"{timepoint}_image"] = exam.relative_to(folder).as_posix()
            for column in (f"{timepoint}_mask", f"{timepoint}_mask_reader2"):
                if row.get(column):
                    (folder / row[column]).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(base.parent / row[column], folder / row[column])
    cohort.to_csv(folder / "cohort.csv", index=False)
    raw = yaml.safe_load(base.read_text())
    raw["kinetics"] = {"times_s": [float(t) for t in kinetic_phase_times()[0]]}  # phase files carry no times
    study_path.write_text(
        f"# {bins} bins of width 25 across each reader-1 tumour, one file per phase (benchmarks/kinetics.py)\n"
        + yaml.safe_dump(raw, sort_keys=False)
    )
    return study_path


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


def measure(study: Path, workers: int, repeats: int) -> dict:
    """Extraction without and with kinetics, the work units alone, and the competent way on one
    cohort (its own kinetics settings: the phase files' times, else I-SPY's defaults)."""
    kinetics = load_study(study).kinetics or KineticsSettings()
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for _ in range(repeats):
        runs["off"].append(timed_extraction(study, RESULTS / "kinetics_off", workers, None))
        runs["on"].append(timed_extraction(study, RESULTS / "kinetics_on", workers, kinetics))
    without, with_ = (min(runs[k], key=lambda r: r["wall_s"]) for k in ("off", "on"))
    without["all_wall_s"], with_["all_wall_s"] = ([r["wall_s"] for r in runs[k]] for k in ("off", "on"))
    unit_runs: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(repeats):
        unit_runs["off"].append(timed_units(study, None, RESULTS / "kinetics_units"))
        unit_runs["on"].append(timed_units(study, kinetics, RESULTS / "kinetics_units"))
    competent_runs = [extraction.competent_pyradiomics(study, workers)["wall_s"] for _ in range(repeats)]
    competent_s = min(competent_runs)
    return {
        "cohort": study.parent.name,
        "without_kinetics": without,
        "with_kinetics": with_,
        "overhead_percent": 100.0 * (with_["wall_s"] - without["wall_s"]) / without["wall_s"],
        "units_s": unit_runs,
        "units_overhead_percent": 100.0 * (min(unit_runs["on"]) - min(unit_runs["off"])) / min(unit_runs["off"]),
        "target_percent": 30.0,
        "competent_s": competent_s,
        "competent_all_s": competent_runs,
        "ratio_with_kinetics": competent_s / with_["wall_s"],
        "median_bins_per_image_type": {
            name: int(np.median(c["bins"])) for name, c in graylevels.bins_per_image_type(study).items()
        },
    }


def summary(result: dict, workers: int) -> str:
    without, with_, units = result["without_kinetics"], result["with_kinetics"], result["units_s"]
    return (
        f"{result['cohort']}: extraction of {without['exams']} exams ({EXAM_SHAPE[0]}x{EXAM_SHAPE[1]}x"
        f"{EXAM_SHAPE[2]}) on {workers} workers: {without['wall_s']:.1f} s without kinetics, "
        f"{with_['wall_s']:.1f} s with ({with_['kinetic_rows']} kinetics rows): {result['overhead_percent']:+.1f} % "
        f"(target <= 30 %); the work units alone, in one process: {min(units['off']):.1f} s without, "
        f"{min(units['on']):.1f} s with: {result['units_overhead_percent']:+.1f} %\n"
        f"  the competent plain way, same exams and run: {result['competent_s']:.1f} s, "
        f"{result['ratio_with_kinetics']:.1f}x deltarad with kinetics (target >= 10x); tumour bins of width 25, "
        "median per image type: " + ", ".join(f"{n} {b}" for n, b in result["median_bins_per_image_type"].items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bins", type=int, nargs="*", default=[], help="also on cohorts scaled to these bins")
    args = parser.parse_args()
    studies = [kinetic_cohort(args.patients)] + [scaled_kinetic_cohort(b, args.patients) for b in args.bins]
    results = []
    for study in studies:
        results.append(measure(study, args.workers, args.repeats))
        print(summary(results[-1], args.workers), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kinetics.json").write_text(
        json.dumps(
            {"patients": args.patients, "workers": args.workers, "exam_shape": EXAM_SHAPE, "cohorts": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()

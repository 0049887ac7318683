"""Where one exam's time goes in deltarad: read, N4, resample, regions, filters, and each feature
class, on one thread (the way a worker runs it).

The stages of `prepare_timepoint` come from cProfile (cumulative seconds of the functions named in
STAGES); the filters and feature classes from timers around them (features.engine's per-class
timings), so their figures carry no profiler overhead.

    python benchmarks/profile_exam.py STUDY.yaml [--patient ID] [--timepoint baseline] [--engine deltarad]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.features.extract import filtered_images, load_extractor, mask_features, prepare_timepoint
from deltarad.imaging.preprocess import itk_threads

#: stage -> functions of deltarad.imaging whose cumulative time is the stage's
STAGES = {
    "read": ("read_image", "read_mask", "checked_mask"),
    "N4": ("fit_bias_field", "correct"),
    "resample": ("resample_image", "resample_label", "resample_mask"),
    "regions": ("peritumoral",),
}


def profile_exam(study_path: Path, patient: str | None = None, timepoint: str = "baseline",
                 engine: str | None = None) -> dict[str, float]:
    """Seconds per stage and feature class for one exam; keys as in STAGES, then 'filters', the
    class names, 'masks' (how many masks) and 'total'."""
    study = load_study(study_path)
    cohort = load_cohort(study, require_outcome=False)
    rows = cohort.to_dict("records")
    row = next(r for r in rows if patient is None or str(r["patient_id"]) == patient)
    update = {"params": study.params_path, **({"feature_engine": engine} if engine else {})}
    settings = study.imaging.model_copy(update=update)
    extractor = load_extractor(settings.params)
    out: dict[str, float] = {}
    with itk_threads(1):
        start = time.perf_counter()
        profiler = cProfile.Profile()
        exam = profiler.runcall(prepare_timepoint, row, timepoint, settings)
        stats = pstats.Stats(profiler).stats  # (file, line, function) -> (cc, nc, tt, cumtime, callers)
        for stage, functions in STAGES.items():
            out[stage] = sum(v[3] for (file, _, name), v in stats.items()
                             if name in functions and "deltarad" in file and not _nested(v, functions))
        t = time.perf_counter()
        filtered = filtered_images(extractor, exam.image, next(iter(exam.regions.values())))
        out["filters"] = time.perf_counter() - t
        classes: dict[str, float] = {}
        for mask in exam.regions.values():
            mask_features(extractor, exam.image, mask, filtered, settings.feature_engine, classes)
        out.update(classes)
        out["masks"] = len(exam.regions)
        out["total"] = time.perf_counter() - start
    return out


def _nested(entry, functions) -> bool:
    """Whether a profiled function was called from another of the same stage (counted there)."""
    return any(caller[2] in functions for caller in entry[4])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", type=Path)
    parser.add_argument("--patient")
    parser.add_argument("--timepoint", default="baseline")
    parser.add_argument("--engine", choices=("deltarad", "pyradiomics"))
    args = parser.parse_args()
    for name, seconds in profile_exam(args.study, args.patient, args.timepoint, args.engine).items():
        print(f"{name:<12}{seconds:>8.2f}" if name != "masks" else f"{name:<12}{seconds:>8.0f}")


if __name__ == "__main__":
    main()

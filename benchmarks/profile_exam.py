"""Where one exam's time goes in deltarad: read, body mask, N4, resample, regions, filters, and each
feature class, on one ITK and one BLAS thread (the way a worker runs it).

The stages of `prepare_timepoint` are timed by wrapping the deltarad functions named in STAGES for
the duration of the call (in this benchmark process only); the filters and feature classes by
timers around them (features.engine's per-class timings). No profiler: the figures carry no
overhead. 'other' is the rest of the exam's time (checks, crops, PyRadiomics' mask checks).

    python benchmarks/profile_exam.py STUDY.yaml [--patient ID] [--timepoint baseline] [--engine deltarad]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from threadpoolctl import threadpool_limits

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.features import extract
from deltarad.features.extract import filtered_images, load_extractor, mask_features, prepare_timepoint
from deltarad.imaging.preprocess import BiasField, itk_threads

#: stage -> the (owner, function name) pairs prepare_timepoint may call for it (those it does not
#: have are left out: the names moved between deltarad versions)
STAGES = {
    "read": [
        (extract, "read_image"),
        (extract, "read_exam"),
        (extract, "read_analysed_exam"),
        (extract, "load_mask"),
        (extract, "read_mask"),
        (extract, "checked_mask"),
    ],
    "body": [(extract, "otsu_threshold"), (extract, "body_mask"), (extract, "exam_air")],
    "N4": [(extract, "fit_bias_field"), (BiasField, "correct")],
    "resample": [(extract, "resample_image"), (extract, "resample_label"), (extract, "resample_mask")],
    "regions": [(extract, "peritumoral"), (extract, "peritumoral_ring")],
}


@contextmanager
def timed_stages(totals: dict[str, float]) -> Iterator[None]:
    """Inside the block, the functions of STAGES add their seconds to totals[stage]."""
    present = {
        stage: [(owner, name) for owner, name in targets if hasattr(owner, name)] for stage, targets in STAGES.items()
    }
    originals = [(owner, name, getattr(owner, name)) for targets in present.values() for owner, name in targets]
    for stage, targets in present.items():
        totals[stage] = 0.0
        for owner, name in targets:
            setattr(owner, name, _timed(getattr(owner, name), stage, totals))
    try:
        yield
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def _timed(function, stage: str, totals: dict[str, float]):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[stage] += time.perf_counter() - start

    return timed


def profile_exam(
    study_path: Path, patient: str | None = None, timepoint: str = "baseline", engine: str | None = None
) -> dict[str, float]:
    """Seconds per stage and feature class for one exam; keys as in STAGES, then 'filters', the
    class names, 'other', 'masks' (how many masks) and 'total'."""
    study = load_study(study_path)
    cohort = load_cohort(study, require_outcome=False)
    rows = cohort.to_dict("records")
    row = next(r for r in rows if patient is None or str(r["patient_id"]) == patient)
    update = {"params": study.params_path, **({"feature_engine": engine} if engine else {})}
    settings = study.imaging.model_copy(update=update)
    extractor = load_extractor(settings.params)
    out: dict[str, float] = {}
    with itk_threads(1), threadpool_limits(1, "blas"):  # as in a worker (extract._extract_unit)
        start = time.perf_counter()
        with timed_stages(out):
            exam = prepare_timepoint(row, timepoint, settings)
        t = time.perf_counter()
        filtered = filtered_images(extractor, exam.image, next(iter(exam.regions.values())))
        out["filters"] = time.perf_counter() - t
        classes: dict[str, float] = {}
        for mask in exam.regions.values():
            mask_features(extractor, exam.image, mask, filtered, settings.feature_engine, classes)
        out.update(classes)
        total = time.perf_counter() - start
        out["other"] = total - sum(out.values())
        out["masks"] = len(exam.regions)
        out["total"] = total
    return out


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

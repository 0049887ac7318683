"""Feature extraction: the plain PyRadiomics way against deltarad, on one generated cohort.

The plain way, one exam after another in this process: read, SimpleITK's N4 on the whole exam
(on ITK's default thread count, all cores, as a plain script gets it), resampling of the whole
exam, both regions of every reader, then `RadiomicsFeatureExtractor.execute` once per mask (so
the wavelet sub-bands are recomputed for every mask, on the whole exam). It uses deltarad's
`prepare_timepoint(..., crop=False)` for reading, N4, resampling and regions, so both ways build
the same masks and their features can be compared value by value.

The competent plain way (`competent_pyradiomics`), the reference of the speed targets: what a user
who knows PyRadiomics writes. One process per core (ProcessPoolExecutor, one exam per task), each on
one ITK and one BLAS thread (so the processes do not oversubscribe the cores); SimpleITK's N4 on the
exam shrunk as 3D Slicer does it (shrink 4, 50/40/30 iterations); 1 mm resampling and the regions
(3 mm ring by distance, minus air) on the whole exam; `RadiomicsFeatureExtractor.execute` per mask
with `preCrop: true` (the filters run on the mask's box padded by 5 voxels, which covers coif1's
support at level 1: measured, the same values as on the whole exam).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import radiomics
from radiomics.featureextractor import RadiomicsFeatureExtractor
from threadpoolctl import threadpool_limits

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.features.delta import KEYS, TIMEPOINTS
from deltarad.features.extract import STUDY_PARAMS, load_extractor, prepare_timepoint
from deltarad.imaging import preprocess
from deltarad.parallel import ParallelSettings, dask_client
from deltarad.workflow import extract_features


def cohort_of(study_path: Path):
    study = load_study(study_path)
    return study, load_cohort(study, require_outcome=False)


@contextmanager
def itk_n4_threads(n: int) -> Iterator[None]:
    """SimpleITK's N4 on `n` ITK threads inside the block (deltarad pins it to preprocess.N4_THREADS)."""
    pinned, preprocess.N4_THREADS = preprocess.N4_THREADS, n
    try:
        yield
    finally:
        preprocess.N4_THREADS = pinned


def plain_pyradiomics(study_path: Path) -> tuple[pd.DataFrame, float]:
    """Features the plain way and the wall time in seconds."""
    study, cohort = cohort_of(study_path)
    settings = study.imaging.model_copy(update={"params": study.params_path, "n4_implementation": "itk"})
    extractor = load_extractor(settings.params)
    rows = []
    start = time.perf_counter()
    with itk_n4_threads(os.cpu_count() or 1):
        for case in cohort.to_dict("records"):
            for timepoint in TIMEPOINTS:
                exam = prepare_timepoint(case, timepoint, settings, crop=False)
                for (region, reader), mask in sorted(exam.regions.items()):
                    rows.append(_feature_row(case, timepoint, region, reader, extractor.execute(exam.image, mask)))
    return pd.DataFrame(rows), time.perf_counter() - start


def _feature_row(case: dict, timepoint: str, region: str, reader: int, values: dict) -> dict:
    return {
        "patient_id": str(case["patient_id"]),
        "timepoint": timepoint,
        "region": region,
        "reader": reader,
        **{k: float(np.real(v)) for k, v in values.items() if not k.startswith("diagnostics_")},
    }


@lru_cache(maxsize=2)
def _precrop_extractor(params: Path | None) -> RadiomicsFeatureExtractor:
    """PyRadiomics' extractor of the parameter file with preCrop on (deltarad's load_extractor refuses it),
    its log at errors only (as a user silences its per-mask "GLCM is symmetrical" line)."""
    radiomics.setVerbosity(logging.ERROR)
    extractor = RadiomicsFeatureExtractor(str(params or STUDY_PARAMS))
    extractor.settings.update(preCrop=True, additionalInfo=False)
    return extractor


def _competent_exam(unit: tuple) -> tuple[list[dict], float, float]:
    """One exam the competent way, in a pool process: (feature rows, seconds, the process's peak MiB)."""
    case, timepoint, settings = unit
    start = time.perf_counter()
    with preprocess.itk_threads(1), threadpool_limits(1):
        exam = prepare_timepoint(case, timepoint, settings, crop=False)
        extractor = _precrop_extractor(settings.params)
        rows = [
            _feature_row(case, timepoint, region, reader, extractor.execute(exam.image, mask))
            for (region, reader), mask in sorted(exam.regions.items())
        ]
    return rows, time.perf_counter() - start, _peak_rss_mib()


def competent_pyradiomics(study_path: Path, workers: int) -> dict:
    """Features the competent plain way on `workers` processes: features, wall seconds (pool start
    excluded: the pool forks this process, which has everything imported), seconds per exam and
    the peak resident memory of the pool processes (MiB)."""
    study, cohort = cohort_of(study_path)
    settings = study.imaging.model_copy(update={"params": study.params_path, "n4_implementation": "itk"})
    units = [(case, timepoint, settings) for case in cohort.to_dict("records") for timepoint in TIMEPOINTS]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(_peak_rss_mib_after, [0.2] * workers))  # every process started before the clock
        start = time.perf_counter()
        results = list(pool.map(_competent_exam, units))
        wall = time.perf_counter() - start
    return {
        "features": pd.DataFrame([row for rows, _, _ in results for row in rows]),
        "wall_s": wall,
        "exam_s": [seconds for _, seconds, _ in results],
        "peak_rss_mib": max(peak for _, _, peak in results),
    }


def _peak_rss_mib_after(seconds: float) -> float:
    time.sleep(seconds)
    return _peak_rss_mib()


def _peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: VmHWM of /proc/self/status, on Linux.

    (getrusage's ru_maxrss would do elsewhere, but Linux carries it across fork + exec, so a
    worker spawned by a big parent would report the parent's peak.)
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # pragma: no cover - not Linux (macOS reports ru_maxrss in bytes)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def _warm_up() -> float:
    import deltarad.features.extract  # noqa: F401  (imports PyRadiomics, SimpleITK, pywt)

    return _peak_rss_mib()


def deltarad_way(study_path: Path, out_dir: Path, workers: int, imaging: dict | None = None) -> dict:
    """extract_features (extract_cohort + its tables) on a warmed-up embedded cluster of `workers` processes, from an empty store,
    with the study's imaging settings updated by `imaging` (e.g. {"n4_implementation": "itk"}).

    Returns features, wall seconds (cluster start excluded, reported apart), and the peak
    resident memory of each worker process before (imports only) and after the run (MiB).
    """
    study, cohort = cohort_of(study_path)
    study = study.model_copy(update={"imaging": study.imaging.model_copy(update=imaging or {})})
    t0 = time.perf_counter()
    with dask_client(ParallelSettings(workers=workers)) as client:
        client.wait_for_workers(workers)
        idle = client.run(_warm_up)
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        features, failures = extract_features(
            study, cohort, out_dir, progress=False, parallel=ParallelSettings(scheduler=client.scheduler.address)
        )
        wall = time.perf_counter() - start
        peaks = client.run(_peak_rss_mib)
    if len(failures):
        raise RuntimeError(f"deltarad failed on {len(failures)} exam(s): {failures.to_dict('records')}")
    return {
        "features": features,
        "wall_s": wall,
        "startup_s": startup,
        "idle_rss_mib": max(idle.values()),
        "peak_rss_mib": max(peaks.values()),
    }


def deltarad_pool_way(study_path: Path, out_dir: Path, workers: int) -> dict:
    """extract_features as `deltarad extract --workers N` runs it (the embedded forked pool), from an
    empty store; the wall includes starting the pool. No per-worker memory figure."""
    study, cohort = cohort_of(study_path)
    start = time.perf_counter()
    features, failures = extract_features(
        study, cohort, out_dir, progress=False, parallel=ParallelSettings(workers=workers)
    )
    wall = time.perf_counter() - start
    if len(failures):
        raise RuntimeError(f"deltarad failed on {len(failures)} exam(s): {failures.to_dict('records')}")
    return {"features": features, "wall_s": wall, "startup_s": 0.0, "idle_rss_mib": None, "peak_rss_mib": None}


def relative_differences(reference: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """|other - reference| / max(|reference|, 1e-12) per (exam, region, reader) row and feature."""
    a = reference.assign(reader=reference["reader"].astype(int), patient_id=reference["patient_id"].astype(str))
    b = other.assign(reader=other["reader"].astype(int), patient_id=other["patient_id"].astype(str))
    a, b = a.set_index(KEYS).sort_index(), b.set_index(KEYS).sort_index()
    if list(a.index) != list(b.index) or list(a.columns) != list(b.columns):
        raise RuntimeError("the two ways give different rows or feature names")
    y = a.to_numpy(float)
    return pd.DataFrame(np.abs(b.to_numpy(float) - y) / np.maximum(np.abs(y), 1e-12), index=a.index, columns=a.columns)


def max_relative_difference(reference: pd.DataFrame, other: pd.DataFrame) -> tuple[float, str]:
    """The largest relative difference over all shared features and rows, and where."""
    rel = relative_differences(reference, other)
    worst = np.unravel_index(np.nanargmax(rel.to_numpy()), rel.shape)
    return float(np.nanmax(rel.to_numpy())), f"{rel.columns[worst[1]]} ({'/'.join(map(str, rel.index[worst[0]]))})"


def differences_by_class(reference: pd.DataFrame, other: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per feature class (shape, firstorder, glcm, ...; all image types together), over every row and
    feature of the class: median, 99th percentile and max of the relative differences, and the
    99th percentile and max of |difference| / the feature's SD across the rows of its region."""
    rel = relative_differences(reference, other)
    a = reference.assign(reader=reference["reader"].astype(int), patient_id=reference["patient_id"].astype(str))
    b = other.assign(reader=other["reader"].astype(int), patient_id=other["patient_id"].astype(str))
    a, b = a.set_index(KEYS).sort_index(), b.set_index(KEYS).sort_index()
    spread = a.groupby(level="region").transform(lambda column: column.std(ddof=1))
    in_sd = ((b - a).abs() / spread.where(spread > 0)).reindex(columns=rel.columns)
    classes = rel.columns.str.split("_").str[1]
    out = {}
    for name in dict.fromkeys(classes):
        values = rel.loc[:, classes == name].to_numpy().ravel()
        values = values[np.isfinite(values)]
        sds = in_sd.loc[:, classes == name].to_numpy().ravel()
        sds = sds[np.isfinite(sds)]
        out[name] = {
            "median": float(np.median(values)),
            "p99": float(np.percentile(values, 99)),
            "max": float(values.max()),
            "sd_p99": float(np.percentile(sds, 99)) if len(sds) else 0.0,
            "sd_max": float(sds.max()) if len(sds) else 0.0,
        }
    return out

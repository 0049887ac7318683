"""Feature extraction: the plain PyRadiomics way against deltarad, on one generated cohort.

The plain way, one exam after another in this process: read, N4 and resampling of the whole
exam, both regions of every reader, then `RadiomicsFeatureExtractor.execute` once per mask (so
the wavelet sub-bands are recomputed for every mask, on the whole exam). It uses deltarad's
`prepare_timepoint(..., crop=False)` for reading, N4, resampling and regions, so both ways build
the same masks and their features can be compared value by value.
"""
from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.features.delta import KEYS, TIMEPOINTS
from deltarad.features.extract import extract_cohort, load_extractor, prepare_timepoint
from deltarad.parallel import ParallelSettings, dask_client


def cohort_of(study_path: Path):
    study = load_study(study_path)
    return study, load_cohort(study, require_outcome=False)


def plain_pyradiomics(study_path: Path) -> tuple[pd.DataFrame, float]:
    """Features the plain way and the wall time in seconds."""
    study, cohort = cohort_of(study_path)
    settings = study.imaging.model_copy(update={"params": study.params_path})
    extractor = load_extractor(settings.params)
    rows = []
    start = time.perf_counter()
    for case in cohort.to_dict("records"):
        for timepoint in TIMEPOINTS:
            exam = prepare_timepoint(case, timepoint, settings, crop=False)
            for (region, reader), mask in sorted(exam.regions.items()):
                values = extractor.execute(exam.image, mask)
                rows.append({"patient_id": str(case["patient_id"]), "timepoint": timepoint, "region": region,
                             "reader": reader, **{k: float(np.real(v)) for k, v in values.items()
                                                  if not k.startswith("diagnostics_")}})
    return pd.DataFrame(rows), time.perf_counter() - start


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


def deltarad_way(study_path: Path, out_dir: Path, workers: int) -> dict:
    """extract_cohort on a warmed-up embedded cluster of `workers` processes, from an empty store.

    Returns features, wall seconds (cluster start excluded, reported apart), and the peak
    resident memory of each worker process before (imports only) and after the run (MiB).
    """
    study, cohort = cohort_of(study_path)
    t0 = time.perf_counter()
    with dask_client(ParallelSettings(workers=workers)) as client:
        client.wait_for_workers(workers)
        idle = client.run(_warm_up)
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        features, failures = extract_cohort(
            study, cohort, out_dir, progress=False, parallel=ParallelSettings(scheduler=client.scheduler.address)
        )
        wall = time.perf_counter() - start
        peaks = client.run(_peak_rss_mib)
    if len(failures):
        raise RuntimeError(f"deltarad failed on {len(failures)} exam(s): {failures.to_dict('records')}")
    return {"features": features, "wall_s": wall, "startup_s": startup,
            "idle_rss_mib": max(idle.values()), "peak_rss_mib": max(peaks.values())}


def max_relative_difference(plain: pd.DataFrame, ours: pd.DataFrame) -> tuple[float, str]:
    """max |ours - plain| / max(|plain|, 1e-12) over all shared features and rows, and where."""
    a = plain.assign(reader=plain["reader"].astype(int)).set_index(KEYS).sort_index()
    b = ours.assign(reader=ours["reader"].astype(int), patient_id=ours["patient_id"].astype(str)).set_index(KEYS).sort_index()
    if list(a.index) != list(b.index) or list(a.columns) != list(b.columns):
        raise RuntimeError("the two ways give different rows or feature names")
    x, y = b.to_numpy(float), a.to_numpy(float)
    rel = np.abs(x - y) / np.maximum(np.abs(y), 1e-12)
    worst = np.unravel_index(np.nanargmax(rel), rel.shape)
    return float(np.nanmax(rel)), f"{a.columns[worst[1]]} ({'/'.join(map(str, a.index[worst[0]]))})"

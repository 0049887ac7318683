"""N4 alone: SimpleITK's filter on 1, 2 and 8 threads against deltarad's N4, per exam: seconds and
the largest difference between the log bias fields (ITK's own result moves with its thread count:
its float32 sums are split differently)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from extraction import itk_n4_threads

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.imaging.io import read_image
from deltarad.imaging.preprocess import body_mask, fit_bias_field, otsu_threshold

ITK_THREADS = (1, 2, 8)


def _log_field(image: sitk.Image, body: sitk.Image, settings, implementation: str, threads: int = 1) -> tuple[np.ndarray, float]:
    with itk_n4_threads(threads):
        start = time.perf_counter()
        field = fit_bias_field(image, body, shrink=settings.n4_shrink, iterations=settings.n4_iterations,
                               implementation=implementation)
        return sitk.GetArrayFromImage(field.log_field), time.perf_counter() - start


def compare_n4(study_path: Path, n_exams: int = 2) -> list[dict]:
    """One row per exam (the first `n_exams` of the cohort, baseline then early)."""
    study = load_study(study_path)
    cohort = load_cohort(study, require_outcome=False)
    rows = []
    for case in cohort.to_dict("records"):
        for timepoint in ("baseline", "early"):
            if len(rows) == n_exams:
                return rows
            image = read_image(case[f"{timepoint}_image"], phase=study.imaging.phase, patient=str(case["patient_id"]))
            body = body_mask(image, otsu_threshold(image))
            itk = {k: _log_field(image, body, study.imaging, "itk", k) for k in ITK_THREADS}
            ours, ours_s = _log_field(image, body, study.imaging, "deltarad")
            reference = itk[1][0]
            rows.append({
                "exam": f"{case['patient_id']}/{timepoint}",
                "field_range": float(np.ptp(reference)),
                **{f"itk_{k}t_s": s for k, (_, s) in itk.items()},
                "deltarad_s": ours_s,
                **{f"itk_{k}t_vs_itk_1t": float(np.abs(f - reference).max()) for k, (f, _) in itk.items() if k != 1},
                **{f"deltarad_vs_itk_{k}t": float(np.abs(ours - f).max()) for k, (f, _) in itk.items()},
            })
    return rows
